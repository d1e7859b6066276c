//! Differential fuzzing: random operation sequences on the engine and the kernel, with
//! any disagreement shrunk to a minimal script that `vmspace diff` reproduces.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vmspace::{Backend, Config, Mm, Op, Outcome, Seed};
use vmspace_script::{Arg, BinOp, Call, Env, Expr, RunErrorKind, Runner};

use crate::differ::{Differ, Divergence, Step, Unsupported};
use crate::generate::{self, Generator, Weights};
use crate::lockstep::Lockstep;
use crate::outfile;

/// Operations every run starts with (RLIMIT_AS cap, window probe, unmap of the probe);
/// shrinking keeps them.
const PROLOGUE: usize = 3;

/// Something that starts fresh kernel-side processes.
pub trait Spawner {
    /// A new process, its starting layout, and the engine configuration that
    /// matches it (limits, capabilities, sysctls).
    fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String>;
}

/// What to run.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// The seed: the same seed gives the same sequences.
    pub seed: u64,
    /// Total operations.
    pub ops: u64,
    /// Operations per process before a fresh one is started.
    pub run_len: u64,
    /// Relative weights of the operation kinds.
    pub weights: Weights,
    /// Where a reproducer is written.
    pub out_dir: PathBuf,
    /// Time allowed for shrinking a disagreement.
    pub shrink_time: Duration,
    /// Print every operation and the agreed result.
    pub trace: bool,
}

/// The result of a campaign.
#[derive(Clone, Debug)]
pub struct FuzzReport {
    /// The seed.
    pub seed: u64,
    /// Operations run on both backends.
    pub ops: u64,
    /// 0 or 1 (the campaign stops at the first disagreement).
    pub disagreements: u64,
    /// Operations per second of wall-clock time, starting the live processes included
    /// (shrinking excluded).
    pub ops_per_sec: f64,
    /// The first disagreement.
    pub divergence: Option<Divergence>,
    /// The reproducer, if one was written: shrunk, and checked to disagree again on a
    /// fresh process (the unshrunk sequence if only that one did).
    pub repro: Option<PathBuf>,
    /// Operations in the reproducer.
    pub repro_ops: usize,
    /// Operations one side did not model (each ends its run; a fresh process goes on).
    pub unsupported: u64,
    /// The first of them.
    pub first_unsupported: Option<Unsupported>,
    /// Disagreements that did not happen again on a fresh process, neither shrunk nor
    /// whole: not findings (no reproducer is kept); the campaign goes on.
    pub flakes: u64,
    /// The first of them.
    pub first_flake: Option<Divergence>,
    /// The signal (SIGINT, SIGTERM) that stopped the campaign early, if one did.
    pub interrupted: Option<i32>,
}

impl FuzzReport {
    /// The report of a campaign of `seed` before its first operation.
    fn empty(seed: u64) -> Self {
        FuzzReport {
            seed,
            ops: 0,
            disagreements: 0,
            ops_per_sec: 0.0,
            divergence: None,
            repro: None,
            repro_ops: 0,
            unsupported: 0,
            first_unsupported: None,
            flakes: 0,
            first_flake: None,
            interrupted: None,
        }
    }
}

fn mix(seed: u64, run: u64) -> u64 {
    seed ^ run.wrapping_mul(0xA076_1D64_78BD_642F).rotate_left(17)
}

/// Run `ops` on a fresh process; the first disagreement, if any, with the (common)
/// outcomes of the operations before it.
fn replay(
    spawner: &mut dyn Spawner,
    ops: &[Op],
) -> Result<Option<(usize, Divergence, Vec<Outcome>)>, String> {
    let (mut kernel, seed, cfg) = spawner.spawn()?;
    let mut engine = Mm::from_seed(&seed, cfg).map_err(|e| e.to_string())?;
    let mut d = Differ::seeded(&mut engine, kernel.as_mut(), &seed);
    let mut outs = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match d.step(op).map_err(|e| e.message)? {
            Step::Agree(o) => outs.push(o),
            Step::Diverge(div) => {
                outs.push(div.kernel.clone());
                return Ok(Some((i, *div, outs)));
            }
            Step::Unsupported(_) => return Ok(None),
        }
    }
    Ok(d.finish()
        .map_err(|e| e.message)?
        .map(|div| (ops.len().saturating_sub(1), div, outs)))
}

/// Delta debugging (ddmin) of an operation list that makes the backends disagree,
/// until `deadline` or until `stop` says so.
fn shrink(
    spawner: &mut dyn Spawner,
    all: Vec<Op>,
    brk0: u64,
    deadline: Instant,
    stop: &dyn Fn() -> Option<i32>,
) -> Vec<Op> {
    let keep = PROLOGUE.min(all.len());
    let prologue: Vec<Op> = all[..keep].to_vec();
    let mut ops: Vec<Op> = all[keep..].to_vec();
    let mut n = 2usize;
    while ops.len() >= 2 && Instant::now() < deadline && stop().is_none() {
        let chunk = ops.len().div_ceil(n);
        let mut reduced = false;
        for i in 0..n {
            if Instant::now() >= deadline || stop().is_some() {
                break;
            }
            let lo = i * chunk;
            if lo >= ops.len() {
                break;
            }
            let hi = (lo + chunk).min(ops.len());
            let candidate: Vec<Op> = ops[..lo].iter().chain(&ops[hi..]).cloned().collect();
            let full: Vec<Op> = prologue.iter().chain(&candidate).cloned().collect();
            // A candidate that drops the call whose result a later address was taken
            // from would have to name that address by number: not taken.
            let anchored =
                |at: usize, outs: &[Outcome]| render_repro(&full[..=at], outs, brk0).1.is_empty();
            if let Ok(Some((at, _, outs))) = replay(spawner, &full)
                && anchored(at, &outs)
            {
                ops = full[keep..=at.max(keep)].to_vec();
                reduced = true;
                break;
            }
        }
        if reduced {
            n = (n - 1).max(2);
        } else {
            if n >= ops.len() {
                break;
            }
            n = (2 * n).min(ops.len());
        }
    }
    prologue.into_iter().chain(ops).collect()
}

/// Names for addresses: the results of earlier calls, so that a reproducer does not
/// depend on where the agent's own mappings happen to be.
#[derive(Debug, Default)]
struct Symbols {
    /// (name, start, length), latest last.
    syms: Vec<(String, u64, u64)>,
    /// Addresses that had to be written as numbers although they lie where the agent's
    /// own layout is ([`generate::is_layout_address`]).
    layout_literals: Vec<u64>,
}

/// How far before or after a binding's range an address is still named relative to it
/// (the generator derives addresses up to 2 pages either side of a known range).
const NEAR: u64 = 16 * 4096;

impl Symbols {
    fn expr(&mut self, addr: u64) -> Expr {
        // The latest binding whose range holds the address, else the latest one near it.
        let inside = self
            .syms
            .iter()
            .rev()
            .find(|(_, start, len)| *start <= addr && addr - *start <= *len);
        let near = || {
            self.syms.iter().rev().find(|(_, start, len)| {
                addr.checked_add(NEAR).is_some_and(|a| a >= *start)
                    && addr <= start.saturating_add(*len).saturating_add(NEAR)
            })
        };
        if let Some((name, start, _)) = inside.or_else(near) {
            let var = Expr::Var(name.clone());
            return match addr.cmp(start) {
                std::cmp::Ordering::Equal => var,
                std::cmp::Ordering::Greater => Expr::Binary {
                    op: BinOp::Add,
                    lhs: Box::new(var),
                    rhs: Box::new(Expr::hex(addr - *start)),
                },
                std::cmp::Ordering::Less => Expr::Binary {
                    op: BinOp::Sub,
                    lhs: Box::new(var),
                    rhs: Box::new(Expr::hex(*start - addr)),
                },
            };
        }
        if addr == 0 {
            Expr::Null
        } else {
            if generate::is_layout_address(addr) {
                self.layout_literals.push(addr);
            }
            Expr::hex(addr)
        }
    }

    fn bind(&mut self, start: u64, len: u64) -> String {
        let name = format!("m{}", self.syms.len() + 1);
        self.syms
            .push((name.clone(), start, len.div_ceil(4096) * 4096));
        name
    }
}

/// Replace the address arguments of `call` by symbolic expressions.
fn symbolize(call: &mut Call, syms: &mut Symbols) {
    let addr_args: &[usize] = match call {
        Call::Syscall { name, .. } => match *name {
            "mmap" | "munmap" | "mprotect" | "mlock" | "mlock2" | "munlock" | "madvise" => &[0],
            "mremap" => &[0, 4],
            _ => &[],
        },
        Call::Store { addr, .. } | Call::Load { addr, .. } | Call::Fill { addr, .. } => {
            if let Ok(v) = addr.eval(&Env::new()) {
                *addr = syms.expr(v);
            }
            &[]
        }
        _ => &[],
    };
    if let Call::Syscall { args, .. } = call {
        for &i in addr_args {
            if let Some(Arg::Expr(e)) = args.get_mut(i)
                && let Ok(v) = e.eval(&Env::new())
            {
                *e = syms.expr(v);
            }
        }
    }
}

/// The reproducer text: each operation with the kernel's result as the expectation.
/// Addresses are written relative to the results that produced them (`$m1 + 0x3000`,
/// `$m2 - 0x2000`) and `brk` values relative to the starting break (`$brk0`), so the
/// script holds whatever the agent binary's own layout is. The shrinker keeps the calls
/// whose results later addresses are named by, so a reproducer never holds an address
/// of the agent's layout as a number.
pub fn repro_script(header: &str, ops: &[Op], outcomes: &[Outcome], initial_brk: u64) -> String {
    let mut s = String::new();
    for l in header.lines() {
        let _ = writeln!(s, "# {l}");
    }
    s.push_str(&render_repro(ops, outcomes, initial_brk).0);
    s
}

/// The reproducer's lines, and the addresses of the agent's layout it had to write as
/// numbers (none, for a sequence whose every address comes from a result it holds).
fn render_repro(ops: &[Op], outcomes: &[Outcome], initial_brk: u64) -> (String, Vec<u64>) {
    let mut s = String::new();
    let uses_brk = ops.iter().any(|op| matches!(op, Op::Brk { .. }));
    if uses_brk {
        let _ = writeln!(s, "$brk0 = brk(NULL)");
    }
    let mut syms = Symbols::default();
    for (op, o) in ops.iter().zip(outcomes) {
        let mut call = Call::from_op(op);
        symbolize(&mut call, &mut syms);
        let mut line = call.to_string();
        if let Op::Brk { addr } = *op
            && addr >= initial_brk
        {
            line = format!("brk($brk0 + {:#x})", addr - initial_brk);
        }
        let out = match (op, o) {
            (_, Outcome::Done | Outcome::Unsupported(_)) => line,
            (Op::Brk { .. }, Outcome::Value(v)) if *v >= initial_brk => {
                format!("{line} = $brk0 + {:#x}", v - initial_brk)
            }
            (Op::Mmap { len, .. }, Outcome::Value(v))
            | (Op::Mremap { new_len: len, .. }, Outcome::Value(v)) => {
                // A result the arguments named (a hint or MAP_FIXED address taken, a
                // mapping resized in place, an MREMAP_FIXED destination) is written as
                // they were; one the kernel chose gets a binding of its own.
                let named = match *op {
                    Op::Mmap { addr, .. } => addr == *v && addr != 0,
                    Op::Mremap {
                        old_addr,
                        flags,
                        new_addr,
                        ..
                    } => old_addr == *v || (flags & 2 != 0 && new_addr == *v),
                    _ => false,
                };
                if named {
                    format!("{line} = {}", syms.expr(*v))
                } else {
                    let name = syms.bind(*v, *len);
                    format!("${name} = {line}")
                }
            }
            (_, o) => format!("{line} = {o}"),
        };
        let _ = writeln!(s, "{out}");
    }
    (s, syms.layout_literals)
}

/// Run a campaign.
///
/// # Errors
/// A failure of the tool: the output directory cannot be written, or a kernel-side
/// process could not be started or died (the message says how, and after which
/// operation).
pub fn fuzz(
    spawner: &mut dyn Spawner,
    opts: &FuzzOptions,
    progress: impl FnMut(u64),
) -> Result<FuzzReport, String> {
    fuzz_until(spawner, opts, progress, &|| None)
}

/// [`fuzz`], stopping early when `stop` returns a signal number (checked between
/// operations and between shrinking steps): a disagreement found by then is still
/// written (shrunk as far as it got, and checked), and the report says why it stopped.
///
/// # Errors
/// As [`fuzz`].
pub fn fuzz_until(
    spawner: &mut dyn Spawner,
    opts: &FuzzOptions,
    progress: impl FnMut(u64),
    stop: &dyn Fn() -> Option<i32>,
) -> Result<FuzzReport, String> {
    let runs = Runs {
        first: 0,
        stride: 1,
        ops: opts.ops,
    };
    fuzz_runs(spawner, opts, runs, progress, stop, None)
}

/// Which runs of a campaign one worker makes: `first`, `first + stride`, ... until
/// `ops` operations are done.
#[derive(Copy, Clone, Debug)]
struct Runs {
    first: u64,
    stride: u64,
    ops: u64,
}

/// A signal number that is no signal: another worker found a disagreement.
const FOUND_ELSEWHERE: i32 = 0;

/// [`fuzz`] on `jobs` threads at once, each with a spawner of its own (`spawner(k)`,
/// called on thread `k`): thread `k` makes runs `k`, `k + jobs`, `k + 2 jobs`, ... — the
/// runs, and so the operations, that one thread would make — and every thread stops
/// at the first disagreement any of them finds. `progress` is called on this thread
/// with the operations done by all. With `jobs` 1 this is [`fuzz_until`].
///
/// # Errors
/// As [`fuzz`], from any thread (the others stop then).
pub fn fuzz_parallel<'a>(
    spawner: &(dyn Fn(usize) -> Result<Box<dyn Spawner + 'a>, String> + Sync),
    opts: &FuzzOptions,
    jobs: usize,
    mut progress: impl FnMut(u64),
    stop: &(dyn Fn() -> Option<i32> + Sync),
) -> Result<FuzzReport, String> {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    if jobs <= 1 {
        return fuzz_until(spawner(0)?.as_mut(), opts, progress, stop);
    }
    let jobs = jobs as u64;
    let run_len = opts.run_len.max(1);
    let total_runs = opts.ops.div_ceil(run_len);
    let found = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let finished = AtomicUsize::new(0);
    let t0 = Instant::now();
    let reports: Vec<Result<FuzzReport, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|k| {
                let (found, total, finished) = (&found, &total, &finished);
                scope.spawn(move || {
                    // The operations of runs k, k + jobs, ...
                    let ops = (k..total_runs)
                        .step_by(jobs as usize)
                        .map(|r| run_len.min(opts.ops - r * run_len))
                        .sum();
                    let runs = Runs {
                        first: k,
                        stride: jobs,
                        ops,
                    };
                    let mut last = 0;
                    let count = |done: u64| {
                        total.fetch_add(done - last, Ordering::Relaxed);
                        last = done;
                    };
                    let stop_k = || {
                        stop().or_else(|| found.load(Ordering::Relaxed).then_some(FOUND_ELSEWHERE))
                    };
                    let r = spawner(k as usize).and_then(|mut sp| {
                        fuzz_runs(sp.as_mut(), opts, runs, count, &stop_k, Some(found))
                    });
                    if r.is_err() {
                        found.store(true, Ordering::Relaxed);
                    }
                    finished.fetch_add(1, Ordering::Relaxed);
                    r
                })
            })
            .collect();
        while finished.load(Ordering::Relaxed) < jobs as usize {
            progress(total.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(50));
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a fuzz thread panicked".to_string()))
            })
            .collect()
    });
    let mut all = FuzzReport::empty(opts.seed);
    for r in reports {
        let r = r?;
        all.ops += r.ops;
        if r.disagreements > 0 && all.disagreements == 0 {
            all.disagreements = r.disagreements;
            all.divergence = r.divergence;
            all.repro = r.repro;
            all.repro_ops = r.repro_ops;
        }
        all.unsupported += r.unsupported;
        if all.first_unsupported.is_none() {
            all.first_unsupported = r.first_unsupported;
        }
        all.flakes += r.flakes;
        if all.first_flake.is_none() {
            all.first_flake = r.first_flake;
        }
        if let Some(sig) = r.interrupted.filter(|&s| s != FOUND_ELSEWHERE) {
            all.interrupted.get_or_insert(sig);
        }
    }
    all.ops_per_sec = all.ops as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    Ok(all)
}

/// The campaign of one worker: the runs of `runs`. A finding (a disagreement that
/// happened again on a fresh process) sets `found`, when given.
fn fuzz_runs(
    spawner: &mut dyn Spawner,
    opts: &FuzzOptions,
    runs: Runs,
    mut progress: impl FnMut(u64),
    stop: &dyn Fn() -> Option<i32>,
    found_flag: Option<&std::sync::atomic::AtomicBool>,
) -> Result<FuzzReport, String> {
    outfile::check_writable_dir(&opts.out_dir).map_err(|e| {
        format!(
            "the reproducer directory {} is not writable: {e}",
            opts.out_dir.display()
        )
    })?;
    let mut report = FuzzReport::empty(opts.seed);
    let mut done = 0u64;
    let mut busy = Duration::ZERO;
    let mut run = runs.first;
    let rate = |done: u64, busy: Duration| done as f64 / busy.as_secs_f64().max(1e-9);
    while done < runs.ops {
        if let Some(sig) = stop() {
            report.interrupted = Some(sig);
            break;
        }
        let t0 = Instant::now();
        let (mut kernel, seed, cfg) = spawner.spawn()?;
        let mut engine = Mm::from_seed(&seed, cfg).map_err(|e| e.to_string())?;
        if std::env::var_os("VMSPACE_TIMING").is_some() {
            eprintln!(
                "start-up               {:7.1} ms",
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
        let mut generator = Generator::new(mix(opts.seed, run), &seed, opts.weights.clone());
        let mut history = Vec::new();
        let mut outcomes = Vec::new();
        let n = opts.run_len.min(runs.ops - done);
        let mut divergence = None;
        let mut window = 0;
        {
            let vm_size = engine.counters().vm_size_kb * 1024;
            let mut d = Differ::seeded(&mut engine, kernel.as_mut(), &seed);
            let failed = |e: vmspace::BackendError, ops: usize| {
                format!("{} (after {ops} operations of run {run})", e.message)
            };
            for i in 0..n + PROLOGUE as u64 {
                if stop().is_some() {
                    break;
                }
                let op = match i {
                    0 => generator.prologue(vm_size),
                    1 => Generator::window_probe(),
                    2 => match history[1] {
                        Op::Mmap { len, .. } => Op::Munmap { addr: window, len },
                        _ => unreachable!(),
                    },
                    _ => generator.next_op(),
                };
                history.push(op.clone());
                match d.step(&op).map_err(|e| failed(e, history.len()))? {
                    Step::Agree(o) => {
                        if opts.trace {
                            println!("{} = {o}", vmspace_script::format_op(&op));
                        }
                        if i == 1 {
                            let Outcome::Value(w) = o else {
                                return Err(format!("the window probe failed: {o}"));
                            };
                            window = w;
                            generator.set_window(w);
                        }
                        generator.observe(&op, &o);
                        outcomes.push(o);
                    }
                    Step::Diverge(div) => {
                        divergence = Some(*div);
                        break;
                    }
                    Step::Unsupported(u) => {
                        // Not a verdict: the two sides may have parted, so this run
                        // ends here and a fresh process goes on.
                        report.unsupported += 1;
                        report.first_unsupported.get_or_insert(u);
                        history.pop();
                        break;
                    }
                }
                if i < PROLOGUE as u64 {
                    continue;
                }
                done += 1;
                if done.is_multiple_of(64) {
                    progress(done);
                }
            }
            if divergence.is_none() {
                // The whole text and counters, and the last observations were of a
                // live process too.
                divergence = d.finish().map_err(|e| failed(e, history.len()))?;
            }
            if std::env::var_os("VMSPACE_TIMING").is_some() {
                let names = [
                    "kernel call",
                    "engine call",
                    "kernel maps",
                    "engine maps+compare",
                    "pages",
                    "counters",
                ];
                for (name, t) in names.iter().zip(d.timing) {
                    eprintln!(
                        "{name:22} {:7.1} us/op",
                        t.as_secs_f64() * 1e6 / n.max(1) as f64
                    );
                }
            }
        }
        busy += t0.elapsed();
        drop(kernel);
        if let Some(div) = divergence {
            outcomes.push(div.kernel.clone());
            if let Some(found) = keep_finding(
                spawner, opts, run, &div, &history, &outcomes, seed.brk, stop,
            )? {
                if let Some(f) = found_flag {
                    f.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                report.disagreements = 1;
                report.divergence = Some(div);
                report.repro = Some(found.0);
                report.repro_ops = found.1;
                break;
            }
            report.flakes += 1;
            report.first_flake.get_or_insert(div);
        }
        run += runs.stride;
    }
    if report.interrupted.is_none() {
        report.interrupted = stop();
    }
    report.ops = done;
    report.ops_per_sec = rate(done, busy);
    Ok(report)
}

/// A disagreement found on a run: written at once as it was found (`history`, with
/// the kernel's `outcomes`), then shrunk; the shrunk script replaces it if it disagrees
/// again on a fresh process, else the whole one stays if that does. The reproducer's
/// path and length, or `None` (and no file) if neither disagrees again: a flake.
#[allow(clippy::too_many_arguments)]
fn keep_finding(
    spawner: &mut dyn Spawner,
    opts: &FuzzOptions,
    run: u64,
    div: &Divergence,
    history: &[Op],
    outcomes: &[Outcome],
    initial_brk: u64,
    stop: &dyn Fn() -> Option<i32>,
) -> Result<Option<(PathBuf, usize)>, String> {
    let header = |what: &str| {
        format!(
            "vmspace fuzz --seed {} found this disagreement (run {run}{what}); reproduce with: vmspace diff FILE\n{}",
            opts.seed,
            div.to_string().trim_end()
        )
    };
    let write = |path: &Path, text: &str| {
        outfile::write_atomic(path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let path = outfile::reserve(
        &opts.out_dir,
        &format!("vmspace-fuzz-{}-{run}", opts.seed),
        "vms",
    )
    .map_err(|e| {
        format!(
            "cannot create a reproducer in {}: {e}",
            opts.out_dir.display()
        )
    })?;
    let whole = repro_script(&header(", not shrunk yet"), history, outcomes, initial_brk);
    write(&path, &whole)?;
    let deadline = Instant::now() + opts.shrink_time;
    let small = shrink(spawner, history.to_vec(), initial_brk, deadline, stop);
    let (ops, outs, brk) = outcomes_of(spawner, &small)?;
    let shrunk = repro_script(&header(""), &ops, &outs, brk);
    if script_reproduces(spawner, &shrunk)? {
        write(&path, &shrunk)?;
        return Ok(Some((path, ops.len())));
    }
    if script_reproduces(spawner, &whole)? {
        let whole = repro_script(
            &header(", not shrunk: the shrunk sequences did not disagree again"),
            history,
            outcomes,
            initial_brk,
        );
        write(&path, &whole)?;
        return Ok(Some((path, history.len())));
    }
    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    Ok(None)
}

/// Does the reproducer `text`, run by `vmspace diff`'s machinery on a fresh process,
/// end in a disagreement?
fn script_reproduces(spawner: &mut dyn Spawner, text: &str) -> Result<bool, String> {
    let script = vmspace_script::parse_script("reproducer", text)
        .map_err(|e| format!("the reproducer written does not parse: {e}"))?;
    let (mut kernel, seed, cfg) = spawner.spawn()?;
    let mut engine = Mm::from_seed(&seed, cfg).map_err(|e| e.to_string())?;
    let mut lock = Lockstep::new(&mut engine, kernel.as_mut(), &seed);
    let mut runner = Runner::new(script);
    loop {
        match runner.step(&mut lock) {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(false),
            Err(_) if lock.divergence.is_some() => return Ok(true),
            Err(e) if matches!(e.kind, RunErrorKind::Backend(_)) => {
                return Err(format!("while checking the reproducer: {e}"));
            }
            Err(_) => return Ok(false),
        }
    }
}

/// The kernel's outcomes of `ops` on a fresh process, up to the first disagreement.
fn outcomes_of(
    spawner: &mut dyn Spawner,
    ops: &[Op],
) -> Result<(Vec<Op>, Vec<Outcome>, u64), String> {
    let (mut kernel, seed, cfg) = spawner.spawn()?;
    let mut engine = Mm::from_seed(&seed, cfg).map_err(|e| e.to_string())?;
    let mut d = Differ::seeded(&mut engine, kernel.as_mut(), &seed);
    let mut outs = Vec::new();
    for op in ops {
        match d.step(op).map_err(|e| e.message)? {
            Step::Agree(o) => outs.push(o),
            Step::Diverge(div) => {
                outs.push(div.kernel.clone());
                break;
            }
            Step::Unsupported(_) => break,
        }
    }
    Ok((ops[..outs.len()].to_vec(), outs, seed.brk))
}

#[cfg(test)]
mod shrink_tests {
    use super::*;

    /// The engine against an engine without the MREMAP_DONTUNMAP VmLck accounting.
    struct Engines;

    impl Spawner for Engines {
        fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String> {
            let seed = crate::default_seed();
            let cfg = Config {
                mmap_base: seed.mmap_base,
                ..Config::default()
            };
            let kernel = Config {
                dontunmap_locked_vm_quirk: false,
                ..cfg.clone()
            };
            let k = Mm::from_seed(&seed, kernel).map_err(|e| e.to_string())?;
            Ok((Box::new(k), seed, cfg))
        }
    }

    /// The call whose result a later address is taken from stays, even where dropping
    /// it would still show the disagreement: the shrunk script would otherwise name
    /// that result, an address of the agent's layout, by number.
    #[test]
    fn shrinking_keeps_the_calls_that_name_later_addresses() {
        const P: u64 = 4096;
        let seed = crate::default_seed();
        // MAP_PRIVATE|MAP_ANONYMOUS, plus MAP_FIXED|MAP_LOCKED.
        let map = |addr: u64, extra: u64| Op::Mmap {
            addr,
            len: 4 * P,
            prot: 3,
            flags: 0x22 | extra,
            fd: u64::MAX,
            offset: 0,
        };
        // What the kernel picks for the first mapping (the engine agrees with itself).
        let (mut k, _, _) = Engines.spawn().unwrap();
        let Ok(Outcome::Value(v)) = k.apply(&map(0, 0)) else {
            panic!("mmap failed")
        };
        assert!(generate::is_layout_address(v), "{v:#x}");
        let all = vec![
            Op::Setrlimit {
                resource: 9,
                cur: u64::MAX,
                max: u64::MAX,
            },
            Op::Mprotect {
                addr: 0,
                len: 0,
                prot: 0,
            },
            Op::Mprotect {
                addr: 0,
                len: 0,
                prot: 0,
            },
            map(0, 0),
            // The same place again, by address and locked: the first mapping is not
            // needed for the disagreement, only for the name of this address.
            map(v, 0x2010),
            Op::Mremap {
                old_addr: v,
                old_len: 4 * P,
                new_len: 4 * P,
                flags: 1 | 4,
                new_addr: 0,
            },
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        let small = shrink(&mut Engines, all.clone(), seed.brk, deadline, &|| None);
        let (ops, outs, brk0) = outcomes_of(&mut Engines, &small).unwrap();
        let text = repro_script("t", &ops, &outs, brk0);
        assert_eq!(small.len(), all.len(), "{text}");
        assert!(text.contains("$m1 = mmap(NULL, 4p"), "{text}");
        assert!(text.contains("mmap($m1, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS|MAP_LOCKED, -1, 0) = $m1"), "{text}");
    }
}
