//! `vmspace`: Linux's process address space, modelled and checked against the kernel.
#![forbid(unsafe_code)]

#[cfg(live)]
mod live;

use std::path::PathBuf;
use std::process::ExitCode;
#[cfg(live)]
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
#[cfg(live)]
use live::{LiveSpawner, agent, cmd_diff, cmd_fuzz};
use vmspace::{Config, Mm};
#[cfg(live)]
use vmspace_check::{fuzz::FuzzOptions, generate::Weights};
use vmspace_cli::input::{load_script, parse_size};
use vmspace_cli::term::{color_stdout, paint};
#[cfg(live)]
use vmspace_linux::LiveBackend;
use vmspace_script::{Action, Runner, StepReport};

/// The longest `--timeout` and `--shrink-secs`: a year, in seconds.
#[cfg(live)]
const MAX_SECS: u64 = 365 * 24 * 3600;

const EXIT_HELP: &str = "Exit status: 0 when everything agreed and every assertion held; 1 when an assertion \
failed or the engine and the kernel disagreed (both answered, and the agent was alive throughout); \
2 for bad input (a script that does not parse, bad arguments) or a failure of the tool itself (the \
live agent could not be started or died: the message gives its wait status); 3 when an operation \
is not modelled by one side (`diff` stops there; `fuzz` counts them and starts a fresh agent), \
and nothing disagreed. `fuzz` stopped by SIGINT or SIGTERM prints its summary and exits 130 or \
143 (1 if it had found a disagreement).";

/// The exit status when one side does not model an operation.
#[cfg(live)]
const EXIT_UNSUPPORTED: u8 = 3;

#[derive(Parser, Debug)]
#[command(name = "vmspace", version, about = "Linux's process address space (mmap, mremap, mprotect, ...) as a model, checked against the live kernel", after_help = EXIT_HELP)]
#[cfg_attr(
    not(live),
    command(
        before_help = "This vmspace was built without the live kernel backend (the feature `live`, on Linux x86-64): `diff`, `fuzz` and `bench` are not available."
    )
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a script on the built-in engine, printing each call and its result.
    #[command(
        after_help = "Example:\n  vmspace run examples/mremap-grow.vms --trace\n\nThe engine starts from a built-in layout: the vmspace agent's, captured once on Linux 6.18 (x86-64), with the program shown as /usr/bin/vmspace. `vmspace diff` starts both sides from the live agent's layout on this machine instead, so the addresses the kernel picks can differ between the two commands; scripts name them by their bindings ($a + 2p), and the vDSO as $vdso."
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
        /// The largest script read, in bytes (suffixes K, M, G, T); a larger one is refused.
        #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
        max_input: u64,
    },
    /// Run a script on the engine and on the live kernel in lockstep; stop at the first difference.
    #[command(
        after_help = "Example:\n  vmspace diff examples/mremap-grow.vms\n\nBoth sides start from the live agent's layout on this machine (not `vmspace run`'s built-in one). Compares after every call: the result, the whole maps text (shmem inode numbers normalised), page presence and frame sharing over the touched ranges, and VmSize/VmLck/VmData."
    )]
    #[cfg(live)]
    Diff {
        /// The script.
        file: PathBuf,
        /// Seconds to wait for the live agent on any one request (at most 31536000, a
        /// year).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=MAX_SECS))]
        timeout: u64,
        /// One JSON object per statement instead of text.
        #[arg(long)]
        json: bool,
        /// The agent's RLIMIT_AS (soft limit) before the script starts, on both sides:
        /// a size (suffixes K, M, G, T) or `none`. Default: its starting size plus the
        /// machine's RAM and swap, so that no script can make it take more memory than
        /// the machine has. The script may raise it with setrlimit.
        #[arg(long, value_name = "SIZE")]
        as_cap: Option<String>,
        /// The largest script read, in bytes (suffixes K, M, G, T); a larger one is refused.
        #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
        max_input: u64,
    },
    /// Generate random operations, run them on the engine and the kernel, shrink any disagreement.
    #[command(
        after_help = "Example:\n  vmspace fuzz --seed 1 --ops 20000 --json\n\nThe same seed gives the same operations. On a disagreement the shortest sequence found that still disagrees is written as a script for `vmspace diff`, and its path is printed."
    )]
    #[cfg(live)]
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
        /// madvise, brk, file, process, access, thp).
        #[arg(long, default_value = "")]
        weights: String,
        /// Directory for reproducers.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Seconds allowed for shrinking a disagreement (at most 31536000, a year).
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=MAX_SECS))]
        shrink_secs: u64,
        /// Print the final summary as a JSON object.
        #[arg(long)]
        json: bool,
        /// Print every operation and the result both sides agreed on (one thread).
        #[arg(long)]
        trace: bool,
        /// Threads, each with its own agent on a CPU of its own, making the campaign's
        /// runs between them (the same runs, so the same operations, as one thread);
        /// 0: one per CPU this process may use (at most 64).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=64))]
        jobs: u64,
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
        after_help = "Example:\n  strace -f -e trace=mmap,munmap,mremap,mprotect,madvise,brk,execve -o py.log python3 -c 'import json'\n  vmspace replay py.log\n\nThe process's starting layout is unknown, so addresses the kernel chose (mmap without MAP_FIXED, mremap that moved, the first brk) are adopted: the engine takes the recorded address and says so; later brk calls run on a break started there and are checked. Calls on memory the log never showed being mapped are counted as unknown; everything else is checked. Files the process maps stand in as engine memfds. The log is streamed (one line at a time, each at most 16 MiB; at most --max-input bytes in all): each call is reported as it is read, and with --all the per-process summaries come at the end. Disagreements are reported, not fatal: the exit status is 0 unless the log cannot be read or parsed (2), or --strict is given and a call disagreed (1)."
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
        /// The largest log read, in bytes (suffixes K, M, G, T); a larger one is refused.
        /// The log is streamed, so memory does not grow with it; a line may be at most
        /// 16 MiB.
        #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
        max_input: u64,
    },
    /// Time the engine against the live kernel, side by side, and at scale.
    #[command(
        after_help = "Example:\n  vmspace bench --quick --json\n\nBoth sides run in this process, pinned to one CPU, in interleaved rounds; the kernel side makes raw system calls on memory this process owns. BENCHMARKS.md explains every row."
    )]
    #[cfg(live)]
    Bench(vmspace_cli::bench::BenchArgs),
    #[cfg(live)]
    /// Print the live agent's starting layout in the seed format (used to refresh the
    /// engine's built-in layout).
    #[command(hide = true)]
    Seed,
}

fn main() -> ExitCode {
    #[cfg(live)]
    {
        if std::env::args_os().nth(1).is_some_and(|a| a == "__agent") {
            vmspace_linux::agent_main();
        }
        vmspace_linux::die_on_sigpipe();
    }
    // `print!` panics when standard output cannot be written (`> /dev/full`): that is
    // reported as an error with exit status 2, without the panic's message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_failure(info.payload()).is_none() {
            default_hook(info);
        }
    }));
    let code = match std::panic::catch_unwind(run_cli) {
        Ok(code) => code,
        Err(payload) => match stdout_failure(&*payload) {
            Some(why) => {
                eprintln!("vmspace: error: cannot write to standard output: {why}");
                return ExitCode::from(2);
            }
            None => std::panic::resume_unwind(payload),
        },
    };
    // What is still buffered (a last line without `\n`) is written now; a failure is
    // an error too.
    if let Err(e) = std::io::Write::flush(&mut std::io::stdout()) {
        eprintln!("vmspace: error: cannot write to standard output: {e}");
        return ExitCode::from(2);
    }
    code
}

/// The reason in the panic `print!` raises when standard output cannot be written.
fn stdout_failure(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&'static str>().copied())?;
    msg.strip_prefix("failed printing to stdout: ")
}

fn run_cli() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to standard output, errors to standard error.
            return match e.print() {
                Ok(()) => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
                Err(w) => {
                    eprintln!("vmspace: error: cannot write to standard output: {w}");
                    ExitCode::from(2)
                }
            };
        }
    };
    let r = match cli.cmd {
        Cmd::Run {
            file,
            trace,
            json,
            memory_budget,
            max_input,
        } => cmd_run(&file, trace, json, memory_budget, max_input),
        #[cfg(live)]
        Cmd::Diff {
            file,
            timeout,
            json,
            as_cap,
            max_input,
        } => match as_cap.as_deref().map(|s| match s {
            "none" => Ok(None),
            s => parse_size(s).map(Some),
        }) {
            Some(Err(e)) => {
                eprintln!("vmspace: error: --as-cap: {e}");
                return ExitCode::from(2);
            }
            Some(Ok(cap)) => cmd_diff(
                &file,
                Duration::from_secs(timeout),
                json,
                Some(cap),
                max_input,
            ),
            None => cmd_diff(&file, Duration::from_secs(timeout), json, None, max_input),
        },
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
            max_input,
        } => vmspace_cli::replay::cmd(
            &log,
            &vmspace_cli::replay::ReplayOptions { pids: pid },
            all,
            verbose,
            json,
            strict,
            max_input,
        ),
        #[cfg(live)]
        Cmd::Bench(args) => agent().and_then(|cmd| {
            vmspace_cli::bench::run(&args, &mut LiveSpawner::new(cmd))?;
            Ok(ExitCode::SUCCESS)
        }),
        #[cfg(live)]
        Cmd::Seed => (|| {
            let live = LiveBackend::spawn(&agent()?, Duration::from_secs(10))?;
            print!("{}", vmspace_check::seedfile::to_text(live.seed()));
            Ok(ExitCode::SUCCESS)
        })(),
        #[cfg(live)]
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
            jobs,
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
            cmd_fuzz(&opts, json, if trace { 1 } else { jobs as usize })
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

/// The engine's default process: the vmspace agent's layout on the reference machine,
/// with `memory_budget` bytes of memory.
fn default_engine(memory_budget: u64) -> Mm {
    vmspace_check::default_engine(Config {
        frame_budget: memory_budget / vmspace::addr::PAGE_SIZE,
        ..Config::default()
    })
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
        Action::Op(_) => vmspace_script::outcome_text(&r.outcome),
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
        "outcome": vmspace_script::outcome_text(&r.outcome),
        "ok": r.check.is_ok(),
    });
    if let Err(m) = &r.check {
        v["expected"] = m.expected.clone().into();
    }
    v.to_string()
}

fn cmd_run(
    file: &std::path::Path,
    trace: bool,
    json: bool,
    memory_budget: u64,
    max_input: u64,
) -> Result<ExitCode> {
    let script = load_script(file, max_input)?;
    let mut engine = default_engine(memory_budget);
    let color = color_stdout() && !json;
    let mut runner = Runner::with_env(
        script,
        vmspace_check::layout_env(&vmspace_check::default_seed()),
    );
    let mut failed = 0;
    loop {
        // A load's bytes are memory too: one larger than the budget is refused before
        // it is made (its printing is bounded by `outcome_text`).
        if let Some(stmt) = runner.next_stmt()
            && let Ok(Action::Op(vmspace::Op::Load { len, .. })) = stmt.resolve(runner.env())
            && len > memory_budget
        {
            let line = stmt.source.trim();
            let shown = match line.char_indices().nth(160) {
                Some((i, _)) => format!("{}...", &line[..i]),
                None => line.to_string(),
            };
            eprintln!(
                "{}:{}: error: a load of {len} bytes is more than --memory-budget \
                 ({memory_budget} bytes) allows\n  {shown}",
                file.display(),
                stmt.line,
            );
            return Ok(ExitCode::from(2));
        }
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
    let d = vmspace_check::compare::maps_diff(before, after);
    for l in d.lines() {
        if let Some(x) = l.strip_prefix("- ") {
            println!("{}", paint(color, "31", &format!("    - {x}")));
        } else if let Some(x) = l.strip_prefix("+ ") {
            println!("{}", paint(color, "32", &format!("    + {x}")));
        }
    }
}
