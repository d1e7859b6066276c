//! `vmspace bench`: the engine against the live kernel, side by side, and at scale.
//!
//! Both sides run in this process, pinned to one CPU (vCPU 0), in interleaved rounds:
//! each round measures every operation on the engine and on the kernel, the order
//! alternating from round to round. The kernel side is not the agent: a pipe round
//! trip costs more than most of the calls under test, so the kernel is called with raw
//! system calls in a tight loop on memory this process owns
//! ([`vmspace_linux::kbench`]). Every operation is written once ([`ops`]) over a trait
//! both sides implement ([`space`]), so the layouts and loops are the same.
//!
//! Output: a Markdown table (or one JSON object per line with `--json`) of medians
//! over the rounds, with min-max, the ratio kernel/engine and the project's target;
//! then how the small operations scale with the number of VMAs, memory figures and the
//! fuzzing rates. `--clock cpu` times with the thread's CPU time instead of elapsed
//! time, for a machine other processes are using.

mod ops;
mod space;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use vmspace::{Config, Mm, Op, Outcome, Seed};
use vmspace_linux::kbench;

pub use ops::Clock;
use ops::Ctx;
use space::{Engine, GIB, KernelSide, MAP_NORESERVE, P, PRIV_ANON, PROT_RW, Space};
use vmspace_check::fuzz::{FuzzOptions, Spawner};
use vmspace_check::generate::{Generator, Weights};

/// Seed of the differ's run. (Seed 1 reaches an integer overflow in the engine's
/// `remap_move` within 2,000 operations, which panics in debug builds.)
const FUZZ_SEED: u64 = 2;

/// Options of `vmspace bench`.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// One JSON object per line instead of tables.
    #[arg(long)]
    pub json: bool,
    /// A short run for CI: 3 rounds, 15 ms per operation, realloc to 64 MiB (under a
    /// minute).
    #[arg(long)]
    pub quick: bool,
    /// Rounds (default 5, or 3 with --quick).
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Measuring time per operation per round, in ms (default 300, or 15 with --quick).
    #[arg(long)]
    pub ms: Option<u64>,
    /// Only the operations (and sections: mem, fuzz) whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only the engine side, no ratios: for profiling the engine under valgrind, whose
    /// emulation of mremap cannot run the kernel side.
    #[arg(long)]
    pub engine_only: bool,
    /// What the timed sections read: elapsed time, or this thread's CPU time (which
    /// does not count other processes that ran on the CPU: for a busy machine).
    #[arg(long, value_enum, default_value_t = Clock::Wall)]
    pub clock: Clock,
    /// The CPU to pin to (0..=1023).
    #[arg(long, default_value_t = 0, value_parser = parse_cpu)]
    pub cpu: usize,
}

/// A CPU number a CPU set can hold: below 1024 (glibc's `CPU_SETSIZE`).
fn parse_cpu(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a CPU number"))?;
    if n >= 1024 {
        return Err(format!(
            "CPU {n} is out of range: a CPU set holds CPUs 0..=1023"
        ));
    }
    Ok(n)
}

/// What a row is compared against.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Target {
    /// The engine at least this many times faster.
    Faster(f64),
    /// No target.
    None,
}

/// One result row.
struct RowSpec {
    id: &'static str,
    /// One op = ...
    per: &'static str,
    target: Target,
    what: String,
}

fn rows(n_vmas: u64, realloc_top: u64) -> Vec<RowSpec> {
    let r = |id, per, target, what: &str| RowSpec {
        id,
        per,
        target,
        what: what.to_string(),
    };
    use Target::{Faster, None as NoTarget};
    let top = human_bytes(realloc_top);
    vec![
        r(
            "mmap_munmap_1p",
            "pair",
            Faster(10.0),
            "mmap(NULL, 1 page, rw, private anon) + munmap; untouched; the page is a VMA of its own",
        ),
        r(
            "mmap_munmap_1p_merge",
            "pair",
            Faster(10.0),
            "the same, the page extending a written 1-page rw VMA above it (munmap splits it again)",
        ),
        r(
            "mprotect_split_merge",
            "pair",
            Faster(10.0),
            "3-page rw VMA: mprotect(middle, r) then (middle, rw): split, re-merge; untouched",
        ),
        r(
            "mprotect_split_merge_touched",
            "pair",
            Faster(10.0),
            "the same with the 3 pages written (PTEs to change)",
        ),
        r(
            "mprotect_merge_split",
            "pair",
            Faster(10.0),
            "1-page rw VMA between 1-page r-- VMAs: mprotect(r) (3 merge), mprotect(rw) (split again)",
        ),
        r(
            "mremap_toggle_1p_2p",
            "call",
            Faster(10.0),
            "mremap 1 -> 2 pages in place, then 2 -> 1; the page written",
        ),
        r(
            "mremap_move_4p",
            "call",
            Faster(10.0),
            "4 written pages, MAYMOVE|FIXED back and forth, both ends in one 2 MiB region",
        ),
        r(
            "mremap_move_4p_far",
            "call",
            Faster(10.0),
            "the same, ends in different 2 MiB regions (a PTE table allocated and freed per call)",
        ),
        r(
            "mremap_move_64m_aligned",
            "call",
            Faster(5.0),
            "64 MiB written, MAYMOVE|FIXED back and forth, src and dst 2 MiB aligned",
        ),
        r(
            "mremap_move_64m_unaligned",
            "call",
            Faster(2.0),
            "the same, dst 4 KiB past a 2 MiB boundary (16,384 PTEs moved one by one)",
        ),
        r(
            "mremap_move_1g_sparse",
            "call",
            Faster(10.0),
            "1 GiB MAP_NORESERVE, untouched, 2 MiB aligned, MAYMOVE|FIXED back and forth",
        ),
        r(
            "mremap_dontunmap_64m",
            "call",
            Faster(5.0),
            "64 MiB written, 2 MiB aligned, MAYMOVE|FIXED|DONTUNMAP to a fresh hole; the unmap of the emptied source not timed",
        ),
        r(
            "vmas_build_10k",
            "build",
            Faster(1.0),
            "build 10,000 1-page VMAs, MAP_FIXED one by one, r--/rw- alternating, into a PROT_NONE reservation",
        ),
        r(
            "mmap_munmap_1p_10k",
            "pair",
            Faster(10.0),
            "as mmap_munmap_1p with those 10,000 VMAs above the landing spot (address search)",
        ),
        r(
            "mmap_munmap_1p_10k_merge",
            "pair",
            Faster(10.0),
            "as mmap_munmap_1p_merge with the 10,000 VMAs",
        ),
        r(
            "mprotect_merge_split_10k",
            "pair",
            Faster(10.0),
            "as mprotect_merge_split, in the middle of the 10,000",
        ),
        r(
            "vmas_build",
            "build",
            Faster(1.0),
            &format!(
                "build {} 1-page VMAs (to vm.max_map_count) the same way",
                group(n_vmas)
            ),
        ),
        r(
            "vmas_teardown",
            "call",
            NoTarget,
            "munmap of those VMAs in one call",
        ),
        r(
            "mmap_munmap_1p_65k",
            "pair",
            Faster(10.0),
            &format!(
                "as mmap_munmap_1p with the {} VMAs above the landing spot",
                group(n_vmas)
            ),
        ),
        r(
            "mprotect_merge_split_65k",
            "pair",
            Faster(10.0),
            &format!(
                "as mprotect_merge_split, in the middle of the {}",
                group(n_vmas)
            ),
        ),
        r(
            "vmas_build_hole",
            "build",
            Faster(1.0),
            &format!(
                "build {} 1-page VMAs into a hole (no reservation to split)",
                group(n_vmas)
            ),
        ),
        r(
            "vmas_teardown_hole",
            "call",
            NoTarget,
            "munmap of those VMAs in one call",
        ),
        r(
            "realloc_mremap",
            "loop",
            NoTarget,
            &format!(
                "realloc 4 KiB -> {top} by doubling with mremap(MAYMOVE), new half written after each step: whole loop"
            ),
        ),
        r(
            "realloc_mremap_resize",
            "loop",
            NoTarget,
            "  of which the mremap calls",
        ),
        r(
            "realloc_copy",
            "loop",
            NoTarget,
            &format!(
                "realloc 4 KiB -> {top} by doubling with mmap(2x) + memcpy + munmap(old), new half written: whole loop (the engine's memcpy: loads and stores of 2 MiB through the engine)"
            ),
        ),
        r(
            "realloc_copy_resize",
            "loop",
            NoTarget,
            "  of which mmap + memcpy + munmap",
        ),
    ]
}

/// The measured cases: each fills some rows.
#[derive(Copy, Clone, Debug)]
enum Case {
    Base,
    Mprotect,
    Toggle,
    Move4p,
    Move64m,
    Move1g,
    Dontunmap,
    Vmas10k,
    VmasMax,
    ReallocMremap,
    ReallocCopy,
}

const CASES: [Case; 11] = [
    Case::Base,
    Case::Mprotect,
    Case::Toggle,
    Case::Move4p,
    Case::Move64m,
    Case::Move1g,
    Case::Dontunmap,
    Case::Vmas10k,
    Case::VmasMax,
    Case::ReallocMremap,
    Case::ReallocCopy,
];

impl Case {
    fn rows(self) -> &'static [&'static str] {
        match self {
            Case::Base => &[
                "mmap_munmap_1p",
                "mmap_munmap_1p_merge",
                "mprotect_merge_split",
            ],
            Case::Mprotect => &["mprotect_split_merge", "mprotect_split_merge_touched"],
            Case::Toggle => &["mremap_toggle_1p_2p"],
            Case::Move4p => &["mremap_move_4p", "mremap_move_4p_far"],
            Case::Move64m => &["mremap_move_64m_aligned", "mremap_move_64m_unaligned"],
            Case::Move1g => &["mremap_move_1g_sparse"],
            Case::Dontunmap => &["mremap_dontunmap_64m"],
            Case::Vmas10k => &[
                "vmas_build_10k",
                "mmap_munmap_1p_10k",
                "mmap_munmap_1p_10k_merge",
                "mprotect_merge_split_10k",
            ],
            Case::VmasMax => &[
                "vmas_build",
                "vmas_teardown",
                "mmap_munmap_1p_65k",
                "mprotect_merge_split_65k",
                "vmas_build_hole",
                "vmas_teardown_hole",
            ],
            Case::ReallocMremap => &["realloc_mremap", "realloc_mremap_resize"],
            Case::ReallocCopy => &["realloc_copy", "realloc_copy_resize"],
        }
    }

    fn run<S: Space>(self, s: &mut S, ctx: &Ctx) -> space::R<ops::Out> {
        match self {
            Case::Base => ops::base(s, ctx),
            Case::Mprotect => ops::mprotect(s, ctx),
            Case::Toggle => ops::toggle(s, ctx),
            Case::Move4p => ops::move_4p(s, ctx),
            Case::Move64m => ops::move_64m(s, ctx),
            Case::Move1g => ops::move_1g_sparse(s, ctx),
            Case::Dontunmap => ops::dontunmap(s, ctx),
            Case::Vmas10k => ops::vmas_10k(s, ctx),
            Case::VmasMax => ops::vmas_max(s, ctx),
            Case::ReallocMremap => ops::realloc(s, ctx, false),
            Case::ReallocCopy => ops::realloc(s, ctx, true),
        }
    }
}

/// Per-side samples of every row (and `row:field` extra).
#[derive(Default)]
struct Samples {
    engine: BTreeMap<&'static str, Vec<f64>>,
    kernel: BTreeMap<&'static str, Vec<f64>>,
}

#[derive(Copy, Clone, Debug)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

fn stat(v: &[f64]) -> Option<Stat> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    let median = if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    };
    Some(Stat {
        median,
        min: s[0],
        max: s[s.len() - 1],
    })
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_bytes(b: u64) -> String {
    if b >= GIB && b.is_multiple_of(GIB) {
        format!("{} GiB", b / GIB)
    } else if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}

/// A duration in ns, for people.
fn human_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "—".into()
    } else if ns < 10_000.0 {
        format!("{} ns", group(ns.round() as u64))
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e7 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns < 1e10 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A ratio for people: one decimal, more below 1 (where the engine is slower).
fn fmt_ratio(r: f64) -> String {
    if r >= 1.0 {
        format!("{r:.1}x")
    } else if r >= 0.01 {
        format!("{r:.2}x")
    } else {
        format!("{r:.4}x")
    }
}

/// `x` to 4 significant digits.
fn sig4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // The decimal exponent, counted rather than taken from log10 (see `log2`).
    let (_, e) = split_exponent(x.abs(), 10.0);
    let scale = 10f64.powi(3 - e);
    (x * scale).round() / scale
}

/// `x` (positive, finite) as `m * base^e` with `m` in `[1, base)`: `(m, e)`.
fn split_exponent(x: f64, base: f64) -> (f64, i32) {
    let (mut m, mut e) = (x, 0i32);
    while m >= base {
        m /= base;
        e += 1;
    }
    while m < 1.0 {
        m *= base;
        e -= 1;
    }
    (m, e)
}

/// log2 of a positive, finite `x`, to within 2^-40, without libm.
///
/// The `vmspace` binary is also the live agent, and every library it links is five more
/// lines in the agent's `/proc/pid/maps`, which the differ reads after nearly every
/// operation; `f64::log2` and `f64::log10` were this binary's only uses of libm.
/// (`tests/agent_layout.rs` keeps it that way.)
fn log2(x: f64) -> f64 {
    // x = m * 2^e with m in [1, 2); then the bits of log2(m) one by one, by squaring.
    let (mut m, e) = split_exponent(x, 2.0);
    let (mut frac, mut bit) = (0.0, 0.5);
    for _ in 0..40 {
        m *= m;
        if m >= 2.0 {
            m /= 2.0;
            frac += bit;
        }
        bit /= 2.0;
    }
    f64::from(e) + frac
}

fn status_kb(key: &str) -> Option<u64> {
    let st = std::fs::read_to_string("/proc/self/status").ok()?;
    vmspace_linux::procfs::status_kb(&st, key)
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Bytes the kernel's VMA and maple-tree slabs hold (`/proc/slabinfo`, root only).
fn kernel_vma_slab_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/slabinfo").ok()?;
    let mut total = 0;
    let mut found = 0;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 3 && (f[0] == "vm_area_struct" || f[0] == "maple_node") {
            let active: u64 = f[1].parse().ok()?;
            let size: u64 = f[3].parse().ok()?;
            total += active * size;
            found += 1;
        }
    }
    (found == 2).then_some(total)
}

/// The machine, for the header.
struct Machine {
    cpu: String,
    ncpu: usize,
    kernel: String,
    ram_gib: f64,
    thp: String,
    clocksource: String,
    max_map_count: u64,
    pinned: String,
}

impl Machine {
    fn read(pin: &str) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "?".into());
        let ncpu = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_kb = vmspace_linux::procfs::status_kb(&mem, "MemTotal").unwrap_or(0);
        Self {
            cpu,
            ncpu,
            kernel: format!(
                "Linux {} {}",
                read_trim("/proc/sys/kernel/osrelease"),
                std::env::consts::ARCH
            ),
            ram_gib: ram_kb as f64 / (1 << 20) as f64,
            thp: read_trim("/sys/kernel/mm/transparent_hugepage/enabled"),
            clocksource: read_trim(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            ),
            max_map_count: read_trim("/proc/sys/vm/max_map_count")
                .parse()
                .unwrap_or(65530),
            pinned: pin.to_string(),
        }
    }
}

/// Time the host took from `cpu` (steal, /proc/stat), in ms.
fn cpu_steal_ms(cpu: usize) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&name))?;
    let ticks: u64 = line.split_whitespace().nth(8)?.parse().ok()?;
    Some(ticks * 10)
}

/// The cost of an empty timed section (two clock readings).
fn clock_pair_ns(clock: Clock, epoch: Instant) -> f64 {
    let now = || match clock {
        Clock::Wall => epoch.elapsed().as_nanos() as u64,
        Clock::Cpu => kbench::thread_cpu_ns(),
    };
    let mut sum = 0u64;
    let n = 20_000;
    for _ in 0..n {
        let t0 = now();
        sum += now().saturating_sub(std::hint::black_box(t0));
    }
    sum as f64 / f64::from(n)
}

/// getppid() per call: the floor for entering and leaving the kernel.
fn syscall_floor_ns(ms: u64) -> f64 {
    let target = Duration::from_millis(ms.max(5));
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < target {
        for _ in 0..64 {
            std::hint::black_box(kbench::getppid());
        }
        n += 64;
    }
    t0.elapsed().as_nanos() as f64 / n as f64
}

struct Out {
    json: bool,
}

impl Out {
    fn line(&self, v: &Value) {
        if self.json {
            println!("{v}");
        }
    }
    fn text(&self, s: &str) {
        if !self.json {
            println!("{s}");
        }
    }
}

/// Run the benchmark. `spawner` starts live agents for the differ's rate.
///
/// # Errors
/// If either side fails an operation or an integrity check (the benchmark only times
/// successful calls), or the live agent cannot be started.
pub fn run(args: &BenchArgs, spawner: &mut dyn Spawner) -> Result<()> {
    let rounds = args.rounds.unwrap_or(if args.quick { 3 } else { 5 }).max(1);
    let ms = args.ms.unwrap_or(if args.quick { 15 } else { 300 }).max(1);
    let realloc_top = if args.quick { 64 << 20 } else { GIB };
    // Sections other than the operations (mem, fuzz) run when the filter names them
    // or a part of their name.
    let selected = |name: &str| {
        args.filter
            .as_deref()
            .is_none_or(|f| name.contains(f) || f.starts_with(name))
    };
    let started = Instant::now();
    let steal0 = cpu_steal_ms(args.cpu);
    let progress = std::io::stderr().is_terminal();
    let out = Out { json: args.json };

    let pin = match kbench::pin_to_cpu(args.cpu) {
        Ok(()) => format!(
            "pinned to CPU {}",
            kbench::current_cpu().unwrap_or(args.cpu)
        ),
        Err(e) => format!("not pinned ({e})"),
    };
    let machine = Machine::read(&pin);
    let seed = vmspace_check::default_seed();
    let mut kernel = KernelSide::new().map_err(|e| anyhow!(e))?;
    let arena = kernel.arena();
    let mut engine =
        Engine::new(seed.clone(), machine.max_map_count, arena).map_err(|e| anyhow!(e))?;

    // The 65,530-VMA case builds as many VMAs as the fuller side has room for below
    // vm.max_map_count (at most the default 65,530), 8 kept free: the operations among
    // them map and split.
    let have_k = kernel.vma_count().map_err(|e| anyhow!(e))?;
    let have_e = engine.vma_count().map_err(|e| anyhow!(e))?;
    let n_vmas = (machine.max_map_count.min(65_530))
        .saturating_sub(have_k.max(have_e))
        .saturating_sub(8);
    if n_vmas < 20_000 {
        bail!(
            "vm.max_map_count ({}) leaves too little room",
            machine.max_map_count
        );
    }
    let epoch = Instant::now();
    let clock_ns = clock_pair_ns(args.clock, epoch);
    let floor = syscall_floor_ns(ms.min(100));
    let ctx = Ctx {
        clock: args.clock,
        epoch,
        target: Duration::from_millis(ms),
        warmup: Duration::from_millis(ms / 10),
        n_vmas,
        realloc_top,
        clock_ns,
        filter: args.filter.as_ref().map(|f| {
            let exact = rows(0, 0).iter().any(|r| r.id == f.as_str());
            (f.clone(), exact)
        }),
    };

    let clock_name = match args.clock {
        Clock::Wall => "wall (CLOCK_MONOTONIC)",
        Clock::Cpu => "cpu (CLOCK_THREAD_CPUTIME_ID)",
    };
    let header = json!({
        "kind": "machine",
        "op": "machine",
        "cpu": machine.cpu,
        "cpus": machine.ncpu,
        "kernel": machine.kernel,
        "ram_gib": round1(machine.ram_gib),
        "thp": machine.thp,
        "clocksource": machine.clocksource,
        "max_map_count": machine.max_map_count,
        "pinning": machine.pinned,
        "rounds": rounds,
        "ms_per_op": ms,
        "quick": args.quick,
        "process_vmas_kernel": have_k,
        "process_vmas_engine": have_e,
        "syscall_floor_ns": round1(floor),
        "clock": clock_name,
        "clock_pair_ns": round1(clock_ns),
        "loadavg": read_trim("/proc/loadavg"),
    });
    out.line(&header);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# vmspace bench{}: the engine against the live kernel ({}), in this process",
        if args.quick { " --quick" } else { "" },
        machine.kernel
    );
    let _ = writeln!(
        t,
        "# {}; {} CPUs; {:.1} GiB RAM; THP {}; clocksource {}; vm.max_map_count {}",
        machine.cpu,
        machine.ncpu,
        machine.ram_gib,
        machine.thp,
        machine.clocksource,
        machine.max_map_count
    );
    let _ = writeln!(
        t,
        "# {}; {rounds} interleaved rounds, {ms} ms per operation per side per round; medians [min-max]; load average {}",
        machine.pinned,
        read_trim("/proc/loadavg")
    );
    let _ = writeln!(
        t,
        "# kernel: raw system calls in a tight loop, on memory this process owns; \
         getppid() = {floor:.0} ns; clock: {clock_name}, a pair of readings = {clock_ns:.0} ns"
    );
    let _ = writeln!(
        t,
        "# layout: this process has {have_k} VMAs, the engine (the agent's layout) {have_e}; \
         both add an 8 GiB PROT_NONE arena at {arena:#x}"
    );
    out.text(&t);

    // ---- memory: measured first, while the heap is fresh; printed after the table -----
    let mem = if selected("mem") {
        Some(memory(
            &seed,
            machine.max_map_count,
            arena,
            (!args.engine_only).then_some(&mut kernel),
            &ctx,
        )?)
    } else {
        None
    };

    // ---- side by side ----------------------------------------------------------------
    let specs: Vec<RowSpec> = rows(n_vmas, realloc_top)
        .into_iter()
        .filter(|r| ctx.wants(r.id))
        .collect();
    let mut samples = Samples::default();
    let cases: Vec<Case> = CASES
        .iter()
        .copied()
        .filter(|c| c.rows().iter().any(|r| ctx.wants(r)))
        .collect();
    let realloc_selected = cases
        .iter()
        .any(|c| matches!(c, Case::ReallocMremap | Case::ReallocCopy));
    if realloc_selected && !args.engine_only {
        // Fault in and free the realloc variants' peak once, so that no round pays
        // for guest memory the VM has not backed yet.
        kernel.reset().map_err(|e| anyhow!(e))?;
        let w = realloc_top * 3 / 2;
        let a = kernel
            .mmap(0, w, PROT_RW, PRIV_ANON)
            .map_err(|e| anyhow!(e))?;
        kernel.touch(a, w).map_err(|e| anyhow!(e))?;
        kernel.munmap(a, w).map_err(|e| anyhow!(e))?;
    }
    for case in &cases {
        for round in 0..rounds {
            if progress {
                eprint!("\r\x1b[K{:?}: round {} of {rounds}", case, round + 1);
            }
            let engine_first = round % 2 == 0;
            for side in 0..2 {
                if (side == 0) != engine_first && args.engine_only {
                    continue;
                }
                if (side == 0) == engine_first {
                    let o = case
                        .run(&mut engine, &ctx)
                        .map_err(|e| anyhow!("{case:?}: {e}"))?;
                    engine.reset().map_err(|e| anyhow!(e))?;
                    for (k, v) in o {
                        samples.engine.entry(k).or_default().push(v);
                    }
                } else {
                    let o = case
                        .run(&mut kernel, &ctx)
                        .map_err(|e| anyhow!("{case:?}: {e}"))?;
                    kernel.reset().map_err(|e| anyhow!(e))?;
                    for (k, v) in o {
                        samples.kernel.entry(k).or_default().push(v);
                    }
                }
            }
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    let report = op_rows(&specs, &samples, n_vmas, rounds, args.engine_only);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n| op | one op = | engine | kernel | kernel/engine | target | engine min-max | kernel min-max |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---|---|---|");
    for (spec, v) in &report {
        out.line(v);
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let ratio = match v["ratio"].as_f64() {
            Some(r) => fmt_ratio(r),
            None => "—".into(),
        };
        let target = match spec.target {
            Target::Faster(x) => match v["met"].as_bool() {
                Some(true) => format!("≥{x}x met"),
                Some(false) => format!("≥{x}x **missed**"),
                None => format!("≥{x}x"),
            },
            Target::None => "—".into(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} – {} | {} – {} |",
            spec.id,
            spec.per,
            human_ns(f("engine_ns")),
            human_ns(f("kernel_ns")),
            ratio,
            target,
            human_ns(f("engine_min_ns")),
            human_ns(f("engine_max_ns")),
            human_ns(f("kernel_min_ns")),
            human_ns(f("kernel_max_ns")),
        );
    }
    if !report.is_empty() {
        let _ = writeln!(t, "\nOperations:");
        for (spec, v) in &report {
            let mut extra = String::new();
            let n = |k: &str| group(v[k].as_f64().unwrap_or(0.0) as u64);
            if v.get("bytes_copied_engine").is_some() {
                let _ = write!(
                    extra,
                    " [bytes copied: engine {}, kernel {}; the buffer moved {} times on the engine, {} on the kernel]",
                    n("bytes_copied_engine"),
                    n("bytes_copied_kernel"),
                    n("moves_engine"),
                    n("moves_kernel"),
                );
            }
            if let Some(pe) = v.get("per_vma_engine_ns") {
                let _ = write!(
                    extra,
                    " [per VMA: engine {}, kernel {}]",
                    human_ns(pe.as_f64().unwrap_or(f64::NAN)),
                    human_ns(v["per_vma_kernel_ns"].as_f64().unwrap_or(f64::NAN))
                );
            }
            let _ = writeln!(t, "- `{}`: {}{extra}", spec.id, spec.what);
        }
    }
    if !report.is_empty() {
        out.text(&t);
        let scale = scale_lines(&report, n_vmas, have_k, have_e);
        let mut t = String::from(
            "\nScaling (O(log n) check: time at the larger size over time at the smaller):\n\n\
             | op | sizes | engine | kernel | engine growth | kernel growth | O(log n)? |\n\
             |---|---|---|---|---:|---:|---|\n",
        );
        for v in &scale {
            out.line(v);
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {} | {} |",
                v["op"].as_str().unwrap_or(""),
                v["sizes"].as_str().unwrap_or(""),
                v["engine_text"].as_str().unwrap_or(""),
                v["kernel_text"].as_str().unwrap_or(""),
                fmt_ratio(v["engine_growth"].as_f64().unwrap_or(f64::NAN)),
                fmt_ratio(v["kernel_growth"].as_f64().unwrap_or(f64::NAN)),
                if v["met"].as_bool().unwrap_or(false) {
                    "yes"
                } else {
                    "**no**"
                },
            );
        }
        if !scale.is_empty() {
            out.text(&t);
        }
    }

    drop(engine);

    if let Some(mem) = mem {
        let mut t = String::from(
            "\nMemory:\n\n| figure | engine | kernel | target |\n|---|---:|---:|---|\n",
        );
        for (v, row) in &mem {
            out.line(v);
            t.push_str(row);
            t.push('\n');
        }
        out.text(&t);
    }

    // ---- fuzzing rates ---------------------------------------------------------------
    if selected("fuzz") {
        let mut t = String::from(
            "\nFuzzing rates:\n\n| figure | operations | ops/s | target |\n|---|---:|---:|---|\n",
        );
        let n = if args.quick { 100_000 } else { 1_000_000 };
        let (ops, secs) = fuzz_engine_only(&seed, n, &ctx);
        let rate = ops as f64 / secs;
        let met = rate >= 1e6;
        let v = json!({
            "kind": "throughput",
            "op": "fuzz_engine_only",
            "ops": ops,
            "secs": round3(secs),
            "ops_per_sec": rate.round(),
            "target_ops_per_sec": 1_000_000,
            "met": met,
        });
        out.line(&v);
        let _ = writeln!(
            t,
            "| engine only: the fuzzer's operations generated and applied, a fresh process every 1,000 (`fuzz_engine_only`; {} clock) | {} | {} | ≥1,000,000 {} |",
            clock_name,
            group(ops),
            group(rate.round() as u64),
            if met { "met" } else { "**missed**" }
        );
        if !args.engine_only {
            let n = if args.quick { 2_000 } else { 20_000 };
            let dir = std::env::temp_dir().join("vmspace-bench-fuzz");
            let opts = FuzzOptions {
                seed: FUZZ_SEED,
                ops: n,
                run_len: 1000,
                weights: Weights::default(),
                out_dir: dir,
                shrink_time: Duration::from_secs(10),
                trace: false,
            };
            let r = vmspace_check::fuzz::fuzz(spawner, &opts, |_| {})
                .map_err(|e| anyhow!(e))
                .context("the differ's rate")?;
            let met = r.ops_per_sec >= 20_000.0;
            let v = json!({
                "kind": "throughput",
                "op": "fuzz_differ",
                "ops": r.ops,
                "ops_per_sec": r.ops_per_sec.round(),
                "disagreements": r.disagreements,
                "target_ops_per_sec": 20_000,
                "met": met,
            });
            out.line(&v);
            let _ = writeln!(
                t,
                "| the differ: engine and live agent in lockstep, as `vmspace fuzz` (`fuzz_differ`; wall clock, agent start-ups included; {} disagreements) | {} | {} | ≥20,000 {} |",
                r.disagreements,
                group(r.ops),
                group(r.ops_per_sec.round() as u64),
                if met { "met" } else { "**missed**" }
            );
        }
        out.text(&t);
    }
    let steal = match (steal0, cpu_steal_ms(args.cpu)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let v = json!({
        "kind": "run",
        "op": "run",
        "secs": round1(started.elapsed().as_secs_f64()),
        "loadavg_end": read_trim("/proc/loadavg"),
        "cpu_steal_ms": steal,
    });
    out.line(&v);
    out.text(&format!(
        "\n# run took {:.0} s; load average at the end {}; time stolen from CPU {} by the host: {} ms",
        started.elapsed().as_secs_f64(),
        read_trim("/proc/loadavg"),
        args.cpu,
        steal.map_or("?".into(), |s| s.to_string())
    ));
    Ok(())
}

/// The JSON object of every row that has samples on both sides.
fn op_rows<'a>(
    specs: &'a [RowSpec],
    s: &Samples,
    n_vmas: u64,
    rounds: u32,
    engine_only: bool,
) -> Vec<(&'a RowSpec, Value)> {
    let mut out = Vec::new();
    for spec in specs {
        let Some(e) = s.engine.get(spec.id).and_then(|v| stat(v)) else {
            continue;
        };
        let k = match s.kernel.get(spec.id).and_then(|v| stat(v)) {
            Some(k) => k,
            None if engine_only => Stat {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            },
            None => continue,
        };
        let ratio = k.median / e.median;
        let mut v = json!({
            "kind": "op",
            "op": spec.id,
            "per": spec.per,
            "what": spec.what,
            "rounds": rounds,
            "engine_ns": round1(e.median),
            "kernel_ns": round1(k.median),
            "ratio": sig4(ratio),
            "engine_min_ns": round1(e.min),
            "engine_max_ns": round1(e.max),
            "kernel_min_ns": round1(k.min),
            "kernel_max_ns": round1(k.max),
        });
        if let Target::Faster(x) = spec.target {
            v["target"] = format!("engine >= {x}x faster").into();
            v["target_ratio"] = x.into();
            if ratio.is_finite() {
                v["met"] = (ratio >= x).into();
            }
        }
        let n = match spec.id {
            "vmas_build_10k" => Some(10_000),
            "vmas_build" | "vmas_teardown" | "vmas_build_hole" | "vmas_teardown_hole" => {
                Some(n_vmas)
            }
            _ => None,
        };
        if let Some(n) = n {
            v["n_vmas"] = n.into();
            v["per_vma_engine_ns"] = round1(e.median / n as f64).into();
            v["per_vma_kernel_ns"] = round1(k.median / n as f64).into();
        }
        for field in ["bytes_copied", "moves", "vmas_above"] {
            let key = format!("{}:{field}", spec.id);
            let side = |m: &BTreeMap<&'static str, Vec<f64>>| {
                m.get(key.as_str()).and_then(|v| stat(v)).map(|s| s.median)
            };
            if let (Some(a), Some(b)) = (side(&s.engine), side(&s.kernel)) {
                v[format!("{field}_engine")] = a.into();
                v[format!("{field}_kernel")] = b.into();
            }
        }
        out.push((spec, v));
    }
    out
}

/// How the small operations grow with the number of VMAs.
fn scale_lines(report: &[(&RowSpec, Value)], n_vmas: u64, have_k: u64, have_e: u64) -> Vec<Value> {
    let get = |id: &str| {
        report.iter().find(|(s, _)| s.id == id).map(|(_, v)| {
            (
                v["engine_ns"].as_f64().unwrap_or(0.0),
                v["kernel_ns"].as_f64().unwrap_or(0.0),
            )
        })
    };
    let base_n = have_k.max(have_e);
    let mut out = Vec::new();
    let mut line = |op: &str, sizes: String, small: (f64, f64), large: (f64, f64), bound: f64| {
        let eg = large.0 / small.0;
        let kg = large.1 / small.1;
        out.push(json!({
            "kind": "scale",
            "op": op,
            "sizes": sizes,
            "engine_growth": sig4(eg),
            "kernel_growth": sig4(kg),
            "log_bound": round3(bound),
            "met": eg <= bound,
            "engine_text": format!("{} -> {}", human_ns(small.0), human_ns(large.0)),
            "kernel_text": format!("{} -> {}", human_ns(small.1), human_ns(large.1)),
        }));
    };
    // log2(n1)/log2(n0), with a factor 1.5 for noise; a cost linear in n would grow
    // by n1/n0 (about 6.5x from 10,000 to 65,000).
    let bound = |n0: f64, n1: f64| 1.5 * log2(n1) / log2(n0);
    for op in ["mmap_munmap_1p", "mprotect_merge_split"] {
        let (Some(b), Some(m), Some(l)) = (
            get(op),
            get(&format!("{op}_10k")),
            get(&format!("{op}_65k")),
        ) else {
            continue;
        };
        line(
            op,
            format!("{base_n} -> {} VMAs", group(n_vmas)),
            b,
            l,
            bound(base_n as f64, n_vmas as f64),
        );
        line(
            op,
            format!("10,000 -> {} VMAs", group(n_vmas)),
            m,
            l,
            bound(10_000.0, n_vmas as f64),
        );
    }
    if let (Some(m), Some(l)) = (get("vmas_build_10k"), get("vmas_build")) {
        let per = |x: (f64, f64), n: f64| (x.0 / n, x.1 / n);
        line(
            "vmas_build per VMA",
            format!("10,000 -> {} VMAs", group(n_vmas)),
            per(m, 10_000.0),
            per(l, n_vmas as f64),
            bound(10_000.0, n_vmas as f64),
        );
    }
    out
}

/// Memory figures: the engine's bytes per VMA and peak RSS for the 65,530-VMA case
/// (against the kernel's VMA slabs), page tables of a 1 TiB mapping touched once.
fn memory(
    seed: &Seed,
    max_map_count: u64,
    arena: u64,
    mut kernel: Option<&mut KernelSide>,
    ctx: &Ctx,
) -> Result<Vec<(Value, String)>> {
    let n = ctx.n_vmas;
    let e = |s: String| anyhow!(s);
    let mut out = Vec::new();

    // Bytes per VMA: the C allocator's bytes in use before and after the build (the
    // engine allocates nothing else meanwhile), and the resident set.
    let mut eng = Engine::new(seed.clone(), max_map_count, arena).map_err(e)?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss0 = status_kb("VmRSS").unwrap_or(0);
    let heap0 = kbench::heap_in_use();
    ops::build_only(&mut eng, ctx, n).map_err(e)?;
    let heap1 = kbench::heap_in_use();
    let rss1 = status_kb("VmRSS").unwrap_or(0);
    let hwm = status_kb("VmHWM").unwrap_or(0);
    drop(eng);
    let per_vma = heap1.saturating_sub(heap0) as f64 / n as f64;
    let rss_per_vma = rss1.saturating_sub(rss0) as f64 * 1024.0 / n as f64;

    // The kernel's side: vm_area_struct and maple_node slab bytes (system-wide, so
    // approximate).
    let (mut slab0, mut slab1) = (None, None);
    if let Some(kernel) = kernel.as_deref_mut() {
        kernel.reset().map_err(e)?;
        slab0 = kernel_vma_slab_bytes();
        ops::build_only(kernel, ctx, n).map_err(e)?;
        slab1 = kernel_vma_slab_bytes();
        kernel.reset().map_err(e)?;
    }
    let k_per_vma = match (slab0, slab1) {
        (Some(a), Some(b)) if b > a => Some(b.saturating_sub(a) as f64 / n as f64),
        _ => None,
    };
    let met = per_vma <= 128.0;
    out.push((
        json!({
            "kind": "memory",
            "op": "mem_bytes_per_vma",
            "n_vmas": n,
            "engine_bytes_per_vma": round1(per_vma),
            "engine_heap_bytes": heap1.saturating_sub(heap0),
            "engine_rss_bytes_per_vma": round1(rss_per_vma),
            "kernel_slab_bytes_per_vma": k_per_vma.map(round1),
            "target_max": 128,
            "met": met,
        }),
        format!(
            "| bytes per VMA ({} one-page VMAs; engine: heap bytes in use, RSS growth {:.0} B/VMA; kernel: vm_area_struct + maple_node slabs) | {:.1} | {} | ≤128 {} |",
            group(n),
            rss_per_vma,
            per_vma,
            k_per_vma.map_or("?".into(), |k| format!("{k:.1}")),
            if met { "met" } else { "**missed**" }
        ),
    ));
    out.push((
        json!({
            "kind": "memory",
            "op": "mem_peak_rss_65k",
            "n_vmas": n,
            "engine_peak_rss_kb": hwm,
            "rss_before_kb": rss0,
            "engine_peak_rss_growth_kb": hwm.saturating_sub(rss0),
        }),
        format!(
            "| peak RSS of this process while the engine holds the {} VMAs (VmHWM after clear_refs; growth over the {} kB before) | {} kB (+{} kB) | — | report |",
            group(n),
            group(rss0),
            group(hwm),
            group(hwm.saturating_sub(rss0)),
        ),
    ));

    // 1 TiB MAP_NORESERVE touched once.
    let mut eng = Engine::new(seed.clone(), max_map_count, arena).map_err(e)?;
    let t0 = eng.mm.pagetable_tables();
    let a = eng
        .mmap(0, 1 << 40, PROT_RW, PRIV_ANON | MAP_NORESERVE)
        .map_err(e)?;
    eng.touch(a, P).map_err(e)?;
    let tables = eng.mm.pagetable_tables() - t0;
    drop(eng);
    let (mut pte0, mut pte1) = (None, None);
    if let Some(kernel) = kernel {
        kernel.reset().map_err(e)?;
        pte0 = status_kb("VmPTE");
        let a = kernel
            .mmap(0, 1 << 40, PROT_RW, PRIV_ANON | MAP_NORESERVE)
            .map_err(e)?;
        kernel.touch(a, P).map_err(e)?;
        pte1 = status_kb("VmPTE");
        kernel.reset().map_err(e)?;
    }
    let ktables = match (pte0, pte1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) / 4),
        _ => None,
    };
    let met = tables <= 4;
    out.push((
        json!({
            "kind": "memory",
            "op": "mem_1tib_touched_once",
            "engine_tables": tables,
            "kernel_tables": ktables,
            "target_max": 4,
            "met": met,
        }),
        format!(
            "| page-table nodes for a 1 TiB MAP_NORESERVE mapping touched once (kernel: VmPTE growth / 4 KiB) | {} | {} | ≤4 {} |",
            tables,
            ktables.map_or("?".into(), |k| k.to_string()),
            if met { "met" } else { "**missed**" }
        ),
    ));
    Ok(out)
}

/// The fuzzer's operations on the engine alone: generated from a seed, applied, the
/// generator told the outcome; a fresh process every 1,000 operations, as
/// `vmspace fuzz` does. Returns the operations and the seconds they took.
fn fuzz_engine_only(seed: &Seed, total: u64, ctx: &Ctx) -> (u64, f64) {
    let cfg = Config {
        mmap_base: seed.mmap_base,
        ..Config::default()
    };
    let t0 = ctx.now();
    let mut done = 0u64;
    let mut run = 0u64;
    while done < total {
        let Ok(mut mm) = Mm::from_seed(seed, cfg.clone()) else {
            break;
        };
        let mut g = Generator::new(
            1 ^ run.wrapping_mul(0xA076_1D64_78BD_642F),
            seed,
            Weights::default(),
        );
        let vm_size = mm.counters().vm_size_kb * 1024;
        let first = g.prologue(vm_size);
        let o = mm.apply(&first);
        g.observe(&first, &o);
        let probe = Generator::window_probe();
        let o = mm.apply(&probe);
        if let (Outcome::Value(w), Op::Mmap { len, .. }) = (&o, &probe) {
            g.set_window(*w);
            g.observe(&probe, &o);
            let unmap = Op::Munmap {
                addr: *w,
                len: *len,
            };
            let o = mm.apply(&unmap);
            g.observe(&unmap, &o);
        }
        let n = 1000.min(total - done);
        for _ in 0..n {
            let op = g.next_op();
            let o = mm.apply(&op);
            g.observe(&op, &o);
        }
        done += n;
        run += 1;
    }
    (done, ctx.since(t0) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_without_libm_matches_std() {
        for x in [
            1.0, 2.0, 3.0, 10.0, 1000.0, 10_000.0, 65_536.0, 65_000.0, 0.3, 1e12,
        ] {
            assert!(
                (log2(x) - x.log2()).abs() < 1e-9,
                "{x}: {} vs {}",
                log2(x),
                x.log2()
            );
        }
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(sig4(123_456.0), 123_500.0);
        assert_eq!(sig4(0.012_345_6), 0.012_35);
        assert_eq!(sig4(-9.999_9), -10.0);
        assert_eq!(sig4(1.0), 1.0);
        assert_eq!(sig4(0.0), 0.0);
    }
}
