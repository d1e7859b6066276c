//! The subcommands that need the live kernel backend (Linux x86-64, feature `live`):
//! `diff`, `fuzz`, `bench` and the hidden `seed`, with the agent they start.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use vmspace::{Backend, Config, Mm, Seed};
use vmspace_check::fuzz::{FuzzOptions, Spawner};
use vmspace_check::lockstep::Lockstep;
use vmspace_cli::input::load_script;
use vmspace_cli::term::{Progress, color_stdout, paint};
use vmspace_linux::{AgentCommand, LiveBackend};
use vmspace_script::Runner;

use crate::{EXIT_UNSUPPORTED, json_line, report_line};

pub(crate) fn agent() -> Result<AgentCommand> {
    AgentCommand::current_exe("__agent")
        .context("cannot find the vmspace executable to start the live agent")
}

/// Print where and how the two sides disagreed; the exit status of a disagreement.
fn print_divergence(color: bool, at: &str, d: &vmspace_check::differ::Divergence) -> ExitCode {
    println!("{}", paint(color, "31", at));
    print!("{d}");
    ExitCode::from(1)
}

/// After the agent failed: the line that changed its own memory, if one did.
fn damage_note(damaged: Option<&(usize, String)>) {
    if let Some((line, what)) = damaged {
        eprintln!(
            "note: line {line} changed the agent's own memory ({what}), which is the likely cause"
        );
    }
}

/// `cap`: `None` for the default (see `--as-cap`), `Some(None)` for no cap.
pub(crate) fn cmd_diff(
    file: &std::path::Path,
    timeout: Duration,
    json: bool,
    cap: Option<Option<u64>>,
    max_input: u64,
) -> Result<ExitCode> {
    let script = load_script(file, max_input)?;
    let mut live = LiveBackend::spawn(&agent()?, timeout).context("cannot start the live agent")?;
    // One CPU for both sides: a request then needs no cross-CPU wake-up.
    let _ = live.pin_to_current_cpu();
    let seed = live.seed().clone();
    let rlimits = live.rlimits();
    let mut engine = Mm::from_seed(&seed, vmspace_linux::engine_config(&seed, rlimits))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The default cap: the agent's own size plus the machine's RAM and swap (as
    // engine_config read them).
    let machine = {
        let o = &engine.config().overcommit;
        (o.total_ram_pages + o.total_swap_pages) * vmspace::addr::PAGE_SIZE
    };
    let cap = cap.unwrap_or_else(|| Some(engine.counters().vm_size_kb * 1024 + machine));
    let color = color_stdout() && !json;
    let mut lock = Lockstep::new(&mut engine, &mut live, &seed);
    if let Some(cap) = cap.filter(|&c| c < rlimits.address_space.cur) {
        let op = vmspace::Op::Setrlimit {
            resource: 9,
            cur: cap,
            max: rlimits.address_space.max,
        };
        match lock.setup(&op) {
            Ok(vmspace::Outcome::Value(0)) => {}
            Ok(o) => bail!("setting the agent's RLIMIT_AS to {cap:#x} returned {o}"),
            Err(e) => bail!("setting the agent's RLIMIT_AS to {cap:#x}: {e}"),
        }
    }
    let mut runner = Runner::with_env(script, vmspace_check::layout_env(&seed));
    let mut failed = 0;
    // The first line that changed the agent's own memory, and which mapping.
    let mut damaged: Option<(usize, String)> = None;
    loop {
        let line = runner.next_stmt().map(|s| s.line);
        let step = runner.step(&mut lock);
        if let (Some(line), Some(what)) = (line, lock.own_touch()) {
            eprintln!(
                "{}:{line}: warning: this call changes the agent's own memory ({what}); the \
                 agent may fail on a later line",
                file.display()
            );
            damaged.get_or_insert((line, what.to_string()));
        }
        match step {
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
                    let at = format!("line {}: {}", e.line, e.source.trim());
                    return Ok(print_divergence(color, &at, d));
                }
                eprintln!("{e}");
                return Ok(ExitCode::from(match e.kind {
                    vmspace_script::RunErrorKind::Backend(_) => {
                        damage_note(damaged.as_ref());
                        2
                    }
                    vmspace_script::RunErrorKind::Unsupported(_) => EXIT_UNSUPPORTED,
                    _ => 1,
                }));
            }
        }
    }
    // The whole text and counters at the end, read from a live agent.
    if let Err(e) = lock.finish() {
        if let Some(d) = &lock.divergence {
            let at = "at the end of the script (the whole maps and counters)";
            return Ok(print_divergence(color, at, d));
        }
        eprintln!("{}: after the last line: {e}", file.display());
        damage_note(damaged.as_ref());
        return Ok(ExitCode::from(2));
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
pub(crate) struct LiveSpawner {
    cmd: AgentCommand,
    cpus: Option<vmspace_linux::CpuAffinity>,
    next: Option<vmspace_linux::Prefetched>,
}

impl LiveSpawner {
    pub(crate) fn new(cmd: AgentCommand) -> Self {
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
        let cfg = vmspace_linux::engine_config(&seed, live.rlimits());
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

pub(crate) fn cmd_fuzz(opts: &FuzzOptions, json: bool, jobs: usize) -> Result<ExitCode> {
    vmspace_linux::catch_stop_signals().context("cannot catch SIGINT and SIGTERM")?;
    let cmd = agent()?;
    // One thread per CPU, each pinned to its own with its agent (a request then needs
    // no cross-CPU wake-up); a single CPU, or --jobs 1, runs as one thread.
    let cpus = vmspace_linux::CpuAffinity::of_current_thread()
        .map(|a| a.cpus())
        .unwrap_or_default();
    let jobs = match jobs {
        0 => cpus.len().clamp(1, 64),
        n => n,
    };
    let factory = |k: usize| -> Result<Box<dyn Spawner>, String> {
        let spawner = LiveSpawner::new(cmd.clone());
        if jobs > 1
            && let Some(&cpu) = cpus.get(k % cpus.len().max(1))
        {
            vmspace_linux::CpuAffinity::pin_current_thread_to(cpu)
                .map_err(|e| format!("cannot pin fuzz thread {k} to CPU {cpu}: {e}"))?;
        }
        Ok(Box::new(spawner))
    };
    let mut bar = Progress::new(opts.ops);
    let report = vmspace_check::fuzz::fuzz_parallel(
        &factory,
        opts,
        jobs,
        |n| bar.update(n, ""),
        &vmspace_linux::stop_requested,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    bar.finish();
    if let Some(sig) = report.interrupted {
        eprintln!(
            "stopped by {}",
            if sig == 15 { "SIGTERM" } else { "SIGINT" }
        );
    }
    if let Some(d) = &report.divergence {
        eprint!("{d}");
    }
    if let Some(p) = &report.repro {
        eprintln!(
            "reproducer ({} operations, checked to disagree again on a fresh agent): {}",
            report.repro_ops,
            p.display()
        );
    }
    if let Some(u) = &report.first_unsupported {
        eprintln!(
            "{} operation(s) not modelled, each ending its run; the first: {u}",
            report.unsupported
        );
    }
    if let Some(d) = &report.first_flake {
        eprintln!(
            "{} disagreement(s) did not happen again on a fresh agent (flakes, not findings; no \
             reproducer kept); the first:",
            report.flakes
        );
        eprint!("{d}");
    }
    if json {
        let v = serde_json::json!({
            "seed": report.seed,
            "ops": report.ops,
            "disagreements": report.disagreements,
            "unsupported": report.unsupported,
            "flakes": report.flakes,
            "interrupted": report.interrupted.is_some(),
            "ops_per_sec": (report.ops_per_sec * 10.0).round() / 10.0,
            "repro": report.repro.as_ref().map(|p| p.display().to_string()),
        });
        println!("{v}");
    } else {
        let mut extra = String::new();
        if report.unsupported > 0 {
            extra += &format!(", {} not modelled", report.unsupported);
        }
        if report.flakes > 0 {
            extra += &format!(", {} flakes", report.flakes);
        }
        println!(
            "seed {}: {} operations, {} disagreements{extra}, {:.0} ops/s",
            report.seed, report.ops, report.disagreements, report.ops_per_sec
        );
    }
    if report.disagreements > 0 {
        return Ok(ExitCode::from(1));
    }
    if let Some(sig) = report.interrupted {
        return Ok(ExitCode::from(128 + sig as u8));
    }
    if report.ops == 0 {
        bail!("no operations were run");
    }
    if report.unsupported > 0 {
        return Ok(ExitCode::from(EXIT_UNSUPPORTED));
    }
    Ok(ExitCode::SUCCESS)
}
