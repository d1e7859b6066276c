//! `vmspace`: Linux's process address space, modelled and checked against the kernel.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use vmspace::{Backend, Config, Mm, Seed};
use vmspace_cli::fuzz::{FuzzOptions, Spawner, fuzz};
use vmspace_cli::generate::Weights;
use vmspace_cli::lockstep::Lockstep;
use vmspace_cli::term::{Progress, color_stdout, paint};
use vmspace_linux::{AgentCommand, LiveBackend};
use vmspace_script::{Action, Runner, StepReport};

const EXIT_HELP: &str = "Exit status: 0 when everything agreed and every assertion held; 1 when an assertion \
failed or the engine and the kernel disagreed; 2 for bad input (a script that does not parse, bad \
arguments) or a failure of the tool itself (the live agent could not be started or died).";

#[derive(Parser, Debug)]
#[command(name = "vmspace", version, about = "Linux's process address space (mmap, mremap, mprotect, ...) as a model, checked against the live kernel", after_help = EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a script on the built-in engine, printing each call and its result.
    #[command(
        after_help = "Example:\n  vmspace run examples/mremap-grow.vms --trace\n\nThe engine starts from the layout of the vmspace agent on Linux 6.18 (x86-64)."
    )]
    Run {
        /// The script (strace syntax; see DESIGN.md).
        file: PathBuf,
        /// Also print the maps lines each call changed.
        #[arg(long)]
        trace: bool,
        /// One JSON object per statement instead of text.
        #[arg(long)]
        json: bool,
        /// The engine's memory: frames plus page tables, in bytes (suffixes K, M, G, T).
        /// Faults and populates beyond it fail as Linux's do when memory runs out.
        #[arg(long, default_value = "4G", value_parser = parse_size)]
        memory_budget: u64,
    },
    /// Run a script on the engine and on the live kernel in lockstep; stop at the first difference.
    #[command(
        after_help = "Example:\n  vmspace diff examples/mremap-grow.vms\n\nCompares after every call: the result, the whole maps text (shmem inode numbers normalised), page presence and frame sharing over the touched ranges, and VmSize/VmLck/VmData."
    )]
    Diff {
        /// The script.
        file: PathBuf,
        /// Seconds to wait for the live agent on any one request.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// One JSON object per statement instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Generate random operations, run them on the engine and the kernel, shrink any disagreement.
    #[command(
        after_help = "Example:\n  vmspace fuzz --seed 1 --ops 20000 --json\n\nThe same seed gives the same operations. On a disagreement the shortest sequence found that still disagrees is written as a script for `vmspace diff`, and its path is printed."
    )]
    Fuzz {
        /// Seed of the operation generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of operations.
        #[arg(long, default_value_t = 10_000)]
        ops: u64,
        /// Operations per live process before a fresh one is started.
        #[arg(long, default_value_t = 1000)]
        run_len: u64,
        /// Relative weight of mremap among the operations (others sum to about 80).
        #[arg(long, default_value_t = 24)]
        mremap_weight: u64,
        /// Other weights, as `name=weight,...` (mmap, munmap, mremap, mprotect, lock,
        /// madvise, brk, file, process, access).
        #[arg(long, default_value = "")]
        weights: String,
        /// Directory for reproducers.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Seconds allowed for shrinking a disagreement.
        #[arg(long, default_value_t = 120)]
        shrink_secs: u64,
        /// Print the final summary as a JSON object.
        #[arg(long)]
        json: bool,
        /// Print every operation and the result both sides agreed on.
        #[arg(long)]
        trace: bool,
    },
    /// Draw the address space after every step of a script as an HTML page (or SVG).
    Render(vmspace_cli::render_cmd::RenderArgs),
    /// Walk through the scenarios of mremap(2), step by step on the built-in engine.
    ///
    /// Each step shows the call, its result, and the maps lines it changed.
    #[command(
        after_help = "Examples:\n  vmspace tour                    all eight scenarios\n  vmspace tour --list             their numbers and names\n  vmspace tour realloc            one scenario, by name or number (8)\n  vmspace tour --html tour.html   the same tour as a self-contained web page\n\nThe scenarios are the commented scripts in examples/tour/; each one also passes `vmspace diff` against the live kernel. Colour only on a terminal (NO_COLOR turns it off)."
    )]
    Tour {
        /// One scenario: its number or name (see --list).
        scenario: Option<String>,
        /// List the scenarios.
        #[arg(long)]
        list: bool,
        /// Write the tour as a self-contained HTML page instead of printing it.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// One JSON object per scenario instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay an strace log on the engine and compare the results the kernel recorded.
    #[command(
        after_help = "Example:\n  strace -f -e trace=mmap,munmap,mremap,mprotect,madvise,brk,execve -o py.log python3 -c 'import json'\n  vmspace replay py.log\n\nThe process's starting layout is unknown, so addresses the kernel chose (mmap without MAP_FIXED, mremap that moved, the first brk) are adopted: the engine takes the recorded address and says so; later brk calls run on a break started there and are checked. Calls on memory the log never showed being mapped are counted as unknown; everything else is checked. Files the process maps stand in as engine memfds. Disagreements are reported, not fatal: the exit status is 0 unless the log cannot be read or parsed (2), or --strict is given and a call disagreed (1)."
    )]
    Replay {
        /// The strace log (`strace -f -o FILE ...`; timestamps and -T durations are fine).
        log: PathBuf,
        /// Replay these process ids (comma-separated: threads of one process); default:
        /// the first process in the log.
        #[arg(long, value_delimiter = ',', conflicts_with = "all")]
        pid: Vec<u32>,
        /// Replay every process in the log, each on its own engine, and total them.
        #[arg(long)]
        all: bool,
        /// Print every call with its verdict, not only disagreements.
        #[arg(long)]
        verbose: bool,
        /// The summary as one JSON object (with --verbose, one object per call first).
        #[arg(long)]
        json: bool,
        /// Exit with status 1 when a call disagreed.
        #[arg(long)]
        strict: bool,
    },
    /// Time the engine against the live kernel, side by side, and at scale.
    #[command(
        after_help = "Example:\n  vmspace bench --quick --json\n\nBoth sides run in this process, pinned to one CPU, in interleaved rounds; the kernel side makes raw system calls on memory this process owns. BENCHMARKS.md explains every row."
    )]
    Bench(vmspace_cli::bench::BenchArgs),
    /// Print the live agent's starting layout in the seed format (used to refresh the
    /// engine's built-in layout).
    #[command(hide = true)]
    Seed,
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "__agent") {
        vmspace_linux::agent_main();
    }
    vmspace_linux::die_on_sigpipe();
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run {
            file,
            trace,
            json,
            memory_budget,
        } => cmd_run(&file, trace, json, memory_budget),
        Cmd::Diff {
            file,
            timeout,
            json,
        } => cmd_diff(&file, Duration::from_secs(timeout), json),
        Cmd::Render(args) => vmspace_cli::render_cmd::run(&args),
        Cmd::Tour {
            scenario,
            list,
            html,
            json,
        } => vmspace_cli::tour::cmd(scenario.as_deref(), list, html.as_deref(), json),
        Cmd::Replay {
            log,
            pid,
            all,
            verbose,
            json,
            strict,
        } => vmspace_cli::replay::cmd(
            &log,
            &vmspace_cli::replay::ReplayOptions { pids: pid },
            all,
            verbose,
            json,
            strict,
        ),
        Cmd::Bench(args) => agent().and_then(|cmd| {
            vmspace_cli::bench::run(&args, &mut LiveSpawner::new(cmd))?;
            Ok(ExitCode::SUCCESS)
        }),
        Cmd::Seed => (|| {
            let live = LiveBackend::spawn(&agent()?, Duration::from_secs(10))?;
            print!("{}", vmspace_cli::seedfile::to_text(live.seed()));
            Ok(ExitCode::SUCCESS)
        })(),
        Cmd::Fuzz {
            seed,
            ops,
            run_len,
            mremap_weight,
            weights: weight_spec,
            out,
            shrink_secs,
            json,
            trace,
        } => {
            let weights = match (Weights {
                mremap: mremap_weight,
                ..Weights::default()
            })
            .parse_overrides(&weight_spec)
            {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("vmspace: error: --weights {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = FuzzOptions {
                seed,
                ops,
                run_len: run_len.max(1),
                weights,
                out_dir: out,
                shrink_time: Duration::from_secs(shrink_secs),
                trace,
            };
            cmd_fuzz(&opts, json)
        }
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            // Parse errors already say `FILE:LINE:COL: error: ...` with the line and a
            // caret; everything else gets the program's name.
            if msg
                .split_once(": error: ")
                .is_some_and(|(at, _)| !at.contains(' '))
            {
                eprintln!("{msg}");
            } else {
                eprintln!("vmspace: error: {msg}");
            }
            ExitCode::from(2)
        }
    }
}

fn load_script(file: &PathBuf) -> Result<vmspace_script::Script> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    vmspace_script::parse_script(&file.display().to_string(), &text)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A byte count with an optional binary suffix: `4096`, `0x1000`, `256K`, `512M`, `4G`, `1T`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() && !t.starts_with("0x") => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix {c:?} (use K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n = match num.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => num.parse::<u64>(),
    }
    .map_err(|_| {
        format!("{s:?} is not a size (a number of bytes, optionally with K, M, G or T)")
    })?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// The engine's default process: the vmspace agent's layout on the reference machine,
/// with `memory_budget` bytes of memory.
fn default_engine(memory_budget: u64) -> Mm {
    let seed = vmspace_cli::default_seed();
    Mm::from_seed(
        &seed,
        Config {
            mmap_base: seed.mmap_base,
            frame_budget: memory_budget / vmspace::addr::PAGE_SIZE,
            ..Config::default()
        },
    )
    .expect("the built-in layout is valid")
}

fn action_text(a: &Action) -> String {
    match a {
        Action::Op(op) => vmspace_script::format_op(op),
        Action::Maps => "maps()".to_string(),
        Action::Vmas { start, end } => format!("vmas({start:#x}, {end:#x})"),
    }
}

fn report_line(r: &StepReport, color: bool) -> String {
    let stmt = action_text(&r.action);
    let out = match &r.action {
        Action::Op(_) => r.outcome.to_string(),
        _ => String::new(),
    };
    let mut s = if out.is_empty() {
        stmt
    } else {
        format!("{stmt} = {out}")
    };
    if let Err(m) = &r.check {
        s.push_str(&paint(color, "31", &format!("    # FAILED: {m}")));
    }
    s
}

fn json_line(r: &StepReport) -> String {
    let mut v = serde_json::json!({
        "line": r.line,
        "call": action_text(&r.action),
        "outcome": r.outcome.to_string(),
        "ok": r.check.is_ok(),
    });
    if let Err(m) = &r.check {
        v["expected"] = m.expected.clone().into();
    }
    v.to_string()
}

fn cmd_run(file: &PathBuf, trace: bool, json: bool, memory_budget: u64) -> Result<ExitCode> {
    let script = load_script(file)?;
    let mut engine = default_engine(memory_budget);
    let color = color_stdout() && !json;
    let mut runner = Runner::new(script);
    let mut failed = 0;
    loop {
        let before = trace.then(|| engine.maps_text());
        match runner.step(&mut engine) {
            Ok(None) => break,
            Ok(Some(r)) => {
                if r.check.is_err() {
                    failed += 1;
                }
                if json {
                    println!("{}", json_line(&r));
                } else {
                    println!("{}", report_line(&r, color));
                    if let Some(t) = r.text() {
                        print!("{t}");
                        if !t.ends_with('\n') {
                            println!();
                        }
                    }
                    if let Some(b) = before {
                        print_changes(&b, &engine.maps_text(), color);
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} assertion(s) failed");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_changes(before: &str, after: &str, color: bool) {
    let d = vmspace_cli::compare::maps_diff(before, after);
    for l in d.lines() {
        if let Some(x) = l.strip_prefix("- ") {
            println!("{}", paint(color, "31", &format!("    - {x}")));
        } else if let Some(x) = l.strip_prefix("+ ") {
            println!("{}", paint(color, "32", &format!("    + {x}")));
        }
    }
}

fn agent() -> Result<AgentCommand> {
    AgentCommand::current_exe("__agent")
        .context("cannot find the vmspace executable to start the live agent")
}

/// The engine configuration of a process like the live agent: its limits, the
/// capabilities it inherits from us, and the machine's memory and sysctls.
fn live_config(seed: &Seed, rlimits: vmspace::Rlimits) -> Config {
    let mut cfg = Config {
        mmap_base: seed.mmap_base,
        rlimits,
        ..Config::default()
    };
    if let Ok(st) = std::fs::read_to_string("/proc/self/status") {
        let cap = st
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        let has = |bit: u32| cap & (1 << bit) != 0;
        // CAP_IPC_LOCK 14, CAP_SYS_RAWIO 17, CAP_SYS_RESOURCE 24.
        cfg.privileged = has(14) && has(17);
        cfg.cap_sys_resource = has(24);
    }
    if let Ok(mi) = std::fs::read_to_string("/proc/meminfo") {
        let kb = |key: &str| {
            mi.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let Some(t) = kb("MemTotal:") {
            cfg.overcommit.total_ram_pages = t / 4;
        }
        if let Some(s) = kb("SwapTotal:") {
            cfg.overcommit.total_swap_pages = s / 4;
        }
    }
    if let Ok(m) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        && let Ok(v) = m.trim().parse()
    {
        cfg.max_map_count = v;
    }
    if let Ok(m) = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        && let Ok(v) = m.trim().parse()
    {
        cfg.overcommit.mode = v;
    }
    cfg
}

fn cmd_diff(file: &PathBuf, timeout: Duration, json: bool) -> Result<ExitCode> {
    let script = load_script(file)?;
    let mut live = LiveBackend::spawn(&agent()?, timeout).context("cannot start the live agent")?;
    // One CPU for both sides: a request then needs no cross-CPU wake-up.
    let _ = live.pin_to_current_cpu();
    let seed = live.seed().clone();
    let mut engine = Mm::from_seed(&seed, live_config(&seed, live.rlimits()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let color = color_stdout() && !json;
    let mut lock = Lockstep::new(&mut engine, &mut live, &seed);
    let mut runner = Runner::new(script);
    let mut failed = 0;
    loop {
        match runner.step(&mut lock) {
            Ok(None) => break,
            Ok(Some(r)) => {
                if r.check.is_err() {
                    failed += 1;
                }
                if json {
                    println!("{}", json_line(&r));
                } else {
                    println!("{}", report_line(&r, color));
                }
            }
            Err(e) => {
                if let Some(d) = &lock.divergence {
                    println!(
                        "{}",
                        paint(
                            color,
                            "31",
                            &format!("line {}: {}", e.line, e.source.trim())
                        )
                    );
                    print!("{d}");
                    return Ok(ExitCode::from(1));
                }
                eprintln!("{e}");
                return Ok(ExitCode::from(
                    if matches!(e.kind, vmspace_script::RunErrorKind::Backend(_)) {
                        2
                    } else {
                        1
                    },
                ));
            }
        }
    }
    if lock.finish().is_err()
        && let Some(d) = &lock.divergence
    {
        println!(
            "{}",
            paint(
                color,
                "31",
                "at the end of the script (the whole maps and counters)"
            )
        );
        print!("{d}");
        return Ok(ExitCode::from(1));
    }
    if !json {
        println!(
            "{} operations: the engine and the kernel agree",
            lock.agreed
        );
    }
    if failed > 0 {
        eprintln!("{failed} assertion(s) failed (the engine and the kernel agreed on them)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts agents for fuzz runs and the shrinker: each one while the previous is in use,
/// on the CPUs this process had before the first agent pinned it to one, so that the
/// start-up (two execs and the dynamic loader) overlaps the differ's work.
struct LiveSpawner {
    cmd: AgentCommand,
    cpus: Option<vmspace_linux::CpuAffinity>,
    next: Option<vmspace_linux::Prefetched>,
}

impl LiveSpawner {
    fn new(cmd: AgentCommand) -> Self {
        Self {
            cmd,
            cpus: vmspace_linux::CpuAffinity::of_current_thread().ok(),
            next: None,
        }
    }
}

const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

impl Spawner for LiveSpawner {
    fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String> {
        let live = match self.next.take() {
            Some(p) => p.take(),
            None => LiveBackend::spawn(&self.cmd, AGENT_TIMEOUT),
        }
        .map_err(|e| format!("cannot start the live agent: {e}"))?;
        let _ = live.pin_to_current_cpu();
        if let Some(cpus) = &self.cpus {
            self.next = Some(LiveBackend::spawn_in_background(
                &self.cmd,
                AGENT_TIMEOUT,
                cpus,
            ));
        }
        let seed = live.seed().clone();
        let cfg = live_config(&seed, live.rlimits());
        Ok((Box::new(live), seed, cfg))
    }
}

impl Drop for LiveSpawner {
    fn drop(&mut self) {
        // The agent started for a run that did not come is killed and reaped here.
        if let Some(p) = self.next.take() {
            drop(p.take());
        }
    }
}

fn cmd_fuzz(opts: &FuzzOptions, json: bool) -> Result<ExitCode> {
    let mut spawner = LiveSpawner::new(agent()?);
    let mut bar = Progress::new(opts.ops);
    let report = fuzz(&mut spawner, opts, |n| bar.update(n, "")).map_err(|e| anyhow::anyhow!(e))?;
    bar.finish();
    if let Some(d) = &report.divergence {
        eprint!("{d}");
    }
    if let Some(p) = &report.repro {
        eprintln!(
            "reproducer ({} operations): {}",
            report.repro_ops,
            p.display()
        );
    }
    if json {
        let v = serde_json::json!({
            "seed": report.seed,
            "ops": report.ops,
            "disagreements": report.disagreements,
            "ops_per_sec": (report.ops_per_sec * 10.0).round() / 10.0,
            "repro": report.repro.as_ref().map(|p| p.display().to_string()),
        });
        println!("{v}");
    } else {
        println!(
            "seed {}: {} operations, {} disagreements, {:.0} ops/s",
            report.seed, report.ops, report.disagreements, report.ops_per_sec
        );
    }
    if report.disagreements > 0 {
        return Ok(ExitCode::from(1));
    }
    if report.ops == 0 {
        bail!("no operations were run");
    }
    Ok(ExitCode::SUCCESS)
}
