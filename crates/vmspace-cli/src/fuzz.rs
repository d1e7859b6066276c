//! Differential fuzzing: random operation sequences on the engine and the kernel, with
//! any disagreement shrunk to a minimal script that `vmspace diff` reproduces.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vmspace::{Backend, Config, Mm, Op, Outcome, Seed};
use vmspace_script::{Arg, BinOp, Call, Env, Expr};

use crate::differ::{Differ, Divergence, Step};
use crate::generate::{Generator, Weights};

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
    /// The shrunk reproducer, if one was written.
    pub repro: Option<PathBuf>,
    /// Operations in the reproducer.
    pub repro_ops: usize,
}

fn mix(seed: u64, run: u64) -> u64 {
    seed ^ run.wrapping_mul(0xA076_1D64_78BD_642F).rotate_left(17)
}

/// Run `ops` on a fresh process; the first disagreement, if any.
fn replay(spawner: &mut dyn Spawner, ops: &[Op]) -> Result<Option<(usize, Divergence)>, String> {
    let (mut kernel, seed, cfg) = spawner.spawn()?;
    let mut engine = Mm::from_seed(&seed, cfg).map_err(|e| e.to_string())?;
    let mut d = Differ::seeded(&mut engine, kernel.as_mut(), &seed);
    for (i, op) in ops.iter().enumerate() {
        match d.step(op).map_err(|e| e.message)? {
            Step::Agree(_) => {}
            Step::Diverge(div) => return Ok(Some((i, *div))),
        }
    }
    Ok(d.finish()
        .map_err(|e| e.message)?
        .map(|div| (ops.len().saturating_sub(1), div)))
}

/// Delta debugging (ddmin) of an operation list that makes the backends disagree.
fn shrink(spawner: &mut dyn Spawner, all: Vec<Op>, deadline: Instant) -> Vec<Op> {
    let keep = PROLOGUE.min(all.len());
    let prologue: Vec<Op> = all[..keep].to_vec();
    let mut ops: Vec<Op> = all[keep..].to_vec();
    let mut n = 2usize;
    while ops.len() >= 2 && Instant::now() < deadline {
        let chunk = ops.len().div_ceil(n);
        let mut reduced = false;
        for i in 0..n {
            if Instant::now() >= deadline {
                break;
            }
            let lo = i * chunk;
            if lo >= ops.len() {
                break;
            }
            let hi = (lo + chunk).min(ops.len());
            let candidate: Vec<Op> = ops[..lo].iter().chain(&ops[hi..]).cloned().collect();
            let full: Vec<Op> = prologue.iter().chain(&candidate).cloned().collect();
            if let Ok(Some((at, _))) = replay(spawner, &full) {
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
}

impl Symbols {
    fn expr(&self, addr: u64) -> Expr {
        for (name, start, len) in self.syms.iter().rev() {
            if *start <= addr && addr - *start <= *len {
                let var = Expr::Var(name.clone());
                return if addr == *start {
                    var
                } else {
                    Expr::Binary {
                        op: BinOp::Add,
                        lhs: Box::new(var),
                        rhs: Box::new(Expr::hex(addr - *start)),
                    }
                };
            }
        }
        if addr == 0 {
            Expr::Null
        } else {
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
fn symbolize(call: &mut Call, syms: &Symbols) {
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
/// Addresses are written relative to the results that produced them (`$m1 + 0x3000`)
/// and `brk` values relative to the starting break (`$brk0`), so the script holds
/// whatever the agent binary's own layout is.
pub fn repro_script(header: &str, ops: &[Op], outcomes: &[Outcome], initial_brk: u64) -> String {
    let mut s = String::new();
    for l in header.lines() {
        let _ = writeln!(s, "# {l}");
    }
    let uses_brk = ops
        .iter()
        .any(|op| matches!(op, Op::Brk { addr } if *addr >= initial_brk));
    if uses_brk {
        let _ = writeln!(s, "$brk0 = brk(NULL)");
    }
    let mut syms = Symbols::default();
    for (op, o) in ops.iter().zip(outcomes) {
        let mut call = Call::from_op(op);
        symbolize(&mut call, &syms);
        let mut line = call.to_string();
        if let Op::Brk { addr } = *op
            && uses_brk
            && addr >= initial_brk
        {
            line = format!("brk($brk0 + {:#x})", addr - initial_brk);
        }
        let out = match (op, o) {
            (_, Outcome::Done | Outcome::Unsupported(_)) => line,
            (Op::Brk { .. }, Outcome::Value(v)) if uses_brk && *v >= initial_brk => {
                format!("{line} = $brk0 + {:#x}", v - initial_brk)
            }
            (Op::Mmap { len, .. }, Outcome::Value(v))
            | (Op::Mremap { new_len: len, .. }, Outcome::Value(v)) => {
                let e = syms.expr(*v);
                if matches!(e, Expr::Num { .. }) || matches!(op, Op::Mmap { addr: 0, .. }) {
                    let name = syms.bind(*v, *len);
                    format!("${name} = {line}")
                } else {
                    format!("{line} = {e}")
                }
            }
            (_, o) => format!("{line} = {o}"),
        };
        let _ = writeln!(s, "{out}");
    }
    s
}

/// Run a campaign.
pub fn fuzz(
    spawner: &mut dyn Spawner,
    opts: &FuzzOptions,
    mut progress: impl FnMut(u64),
) -> Result<FuzzReport, String> {
    let mut done = 0u64;
    let mut busy = Duration::ZERO;
    let mut run = 0u64;
    while done < opts.ops {
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
        let n = opts.run_len.min(opts.ops - done);
        let mut divergence = None;
        let mut window = 0;
        {
            let vm_size = engine.counters().vm_size_kb * 1024;
            let mut d = Differ::seeded(&mut engine, kernel.as_mut(), &seed);
            for i in 0..n + PROLOGUE as u64 {
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
                match d.step(&op).map_err(|e| {
                    format!(
                        "{} (after {} operations of run {run})",
                        e.message,
                        history.len()
                    )
                })? {
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
                        generator.observe(&op, &o)
                    }
                    Step::Diverge(div) => {
                        divergence = Some(*div);
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
                divergence = d
                    .finish()
                    .map_err(|e| format!("{} (at the end of run {run})", e.message))?;
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
            let deadline = Instant::now() + opts.shrink_time;
            let small = shrink(spawner, history, deadline);
            let (ops, outcomes, initial_brk) = outcomes_of(spawner, &small)?;
            let header = format!(
                "vmspace fuzz --seed {} found this disagreement (run {run}); reproduce with: vmspace diff FILE\n{}",
                opts.seed,
                div.to_string().trim_end()
            );
            let path = opts
                .out_dir
                .join(format!("vmspace-fuzz-{}-{run}.vms", opts.seed));
            write_file(&path, &repro_script(&header, &ops, &outcomes, initial_brk))?;
            return Ok(FuzzReport {
                seed: opts.seed,
                ops: done,
                disagreements: 1,
                ops_per_sec: done as f64 / busy.as_secs_f64().max(1e-9),
                divergence: Some(div),
                repro: Some(path),
                repro_ops: ops.len(),
            });
        }
        run += 1;
    }
    Ok(FuzzReport {
        seed: opts.seed,
        ops: done,
        disagreements: 0,
        ops_per_sec: done as f64 / busy.as_secs_f64().max(1e-9),
        divergence: None,
        repro: None,
        repro_ops: 0,
    })
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
        }
    }
    Ok((ops[..outs.len()].to_vec(), outs, seed.brk))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
