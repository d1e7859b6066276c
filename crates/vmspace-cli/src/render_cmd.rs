//! `vmspace render`: run a script on the engine and draw the address space after every
//! step as an HTML page (or a bare SVG).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use vmspace::{Backend, Config, Mm, Op, Outcome};
use vmspace_render::{Move, Options, Picture, Selection, Step};
use vmspace_script::{Action, Runner, StepReport};

use crate::term::{color_stdout, paint};

/// Arguments of `vmspace render`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  vmspace render examples/mremap-grow.vms -o mremap-grow.html\n\n\
The script runs on the engine as with `vmspace run`. The page holds one row per step: each \
mapping is a bar on an address axis that compresses empty space, coloured by what backs it; \
bars that are new or changed are outlined, unmapped space is hatched, and moves are arrows. \
Hover for the maps line. See docs/render.md.\n\n\
Exit status: 0 when the picture was written and every assertion held; 1 when it was written \
but an assertion failed or the run stopped early (the picture shows the steps up to there); \
2 when the script cannot be read or parsed or the output cannot be written."
)]
pub struct RenderArgs {
    /// The script (strace syntax; see DESIGN.md).
    pub file: PathBuf,
    /// Where to write the page (or the SVG, with --svg).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Write only the SVG picture instead of an HTML page.
    #[arg(long)]
    pub svg: bool,
    /// Draw every mapping, not only those that change and their neighbours.
    #[arg(long)]
    pub all: bool,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
    /// The largest script read, in bytes (suffixes K, M, G, T); a larger one is refused.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::input::parse_size)]
    pub max_input: u64,
}

/// The label of a step: the call as `vmspace run` prints it.
fn action_text(a: &Action) -> String {
    match a {
        Action::Op(op) => vmspace_script::format_op(op),
        Action::Maps => "maps()".to_string(),
        Action::Vmas { start, end } => format!("vmas({start:#x}, {end:#x})"),
    }
}

fn page_up(x: u64) -> u64 {
    x.saturating_add(4095) & !4095
}

/// The move an `mremap` made, if it moved.
fn moves_of(r: &StepReport) -> Vec<Move> {
    if let (
        Some(&Op::Mremap {
            old_addr,
            old_len,
            new_len,
            ..
        }),
        Outcome::Value(to),
    ) = (r.op(), &r.outcome)
        && *to != old_addr
        && old_len != 0
    {
        return vec![Move {
            from: old_addr..old_addr.saturating_add(page_up(old_len)),
            to: *to..to.saturating_add(page_up(new_len)),
        }];
    }
    Vec::new()
}

fn engine() -> Mm {
    vmspace_check::default_engine(Config::default())
}

fn maps(engine: &mut Mm) -> Result<Vec<vmspace::MapsLine>> {
    let text = engine.maps().map_err(|e| anyhow::anyhow!("{e}"))?;
    vmspace_render::parse_maps(&text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A script run on the engine, step by step.
#[derive(Debug)]
pub struct Collected {
    /// The starting layout, then one step per statement run.
    pub steps: Vec<Step>,
    /// How many assertions failed.
    pub failed: usize,
    /// Why the run stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// Run a script on the engine `vmspace run` uses, keeping the maps after every step.
///
/// # Errors
/// The engine's maps could not be read (never, for the built-in engine).
pub fn collect_steps(script: vmspace_script::Script) -> Result<Collected> {
    let mut engine = engine();
    let mut steps = vec![Step::new(
        "start: the built-in layout (vmspace run's)",
        maps(&mut engine)?,
    )];
    let mut runner = Runner::with_env(
        script,
        vmspace_check::layout_env(&vmspace_check::default_seed()),
    );
    let mut failed = 0;
    let mut stopped = None;
    loop {
        match runner.step(&mut engine) {
            Ok(None) => break,
            Ok(Some(r)) => {
                let mut step =
                    Step::new(action_text(&r.action), maps(&mut engine)?).with_moves(moves_of(&r));
                if matches!(r.action, Action::Op(_)) {
                    step = step.with_result(vmspace_script::outcome_text(&r.outcome));
                }
                if let Err(m) = &r.check {
                    failed += 1;
                    step = step.with_note(format!("FAILED: {m}"));
                }
                steps.push(step);
            }
            Err(e) => {
                let why = e.to_string();
                let first = why.lines().next().unwrap_or_default().to_string();
                steps.push(
                    Step::new(e.source.trim(), maps(&mut engine)?)
                        .with_note(format!("run stopped: {first}"))
                        .with_moves(Vec::new()),
                );
                stopped = Some(why);
                break;
            }
        }
    }
    Ok(Collected {
        steps,
        failed,
        stopped,
    })
}

/// Run `vmspace render`.
///
/// # Errors
/// The script cannot be read or parsed, or the output cannot be written (exit status 2).
pub fn run(args: &RenderArgs) -> Result<ExitCode> {
    // The picture would replace the script it is drawn from.
    if let (Ok(a), Ok(b)) = (
        std::fs::canonicalize(&args.file),
        std::fs::canonicalize(&args.output),
    ) && a == b
    {
        anyhow::bail!(
            "the output {} is the script itself; choose another file with -o",
            args.output.display()
        );
    }
    let script = crate::input::load_script(&args.file, args.max_input)?;
    let Collected {
        steps,
        failed,
        stopped,
    } = collect_steps(script)?;
    let ok = failed == 0 && stopped.is_none();
    let opts = Options {
        title: format!("vmspace render {}", args.file.display()),
        selection: if args.all {
            Selection::All
        } else {
            Selection::Changed
        },
        ..Options::default()
    };
    let picture = Picture::new(&steps, &opts);
    let out = if args.svg {
        picture.svg()
    } else {
        picture.html()
    };
    vmspace_check::outfile::write_atomic(&args.output, out.as_bytes())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let sum = picture.summary();
    if args.json {
        let v = serde_json::json!({
            "output": args.output.display().to_string(),
            "format": if args.svg { "svg" } else { "html" },
            "steps": sum.steps,
            "changed_steps": sum.changed_steps,
            "mappings": sum.mappings,
            "drawn": sum.drawn,
            "moves": sum.moves,
            "width": sum.width,
            "height": sum.height,
            "ok": ok,
        });
        println!("{v}");
    } else {
        let color = color_stdout();
        println!(
            "{} ({} steps, {} of {} mappings drawn)",
            paint(color, "1;32", &args.output.display().to_string()),
            sum.steps,
            sum.drawn,
            sum.mappings
        );
    }
    if let Some(e) = &stopped {
        eprintln!("{e}");
    }
    if failed > 0 {
        eprintln!("{failed} assertion(s) failed");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
