//! Running a script on a backend, one statement at a time.

use std::fmt;

use vmspace::{Backend, BackendError, Fault, Op, Outcome};

use crate::ast::{Expect, Script, Stmt};
use crate::check::{Mismatch, check, vmas_text};
use crate::eval::{Action, Env, EvalError};

/// What one statement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// Index of the statement in [`Script::stmts`].
    pub index: usize,
    /// Its line in the file.
    pub line: usize,
    /// What was asked of the backend.
    pub action: Action,
    /// What the backend answered. For `maps()` and `vmas()`, [`Outcome::Bytes`] holding
    /// the maps text and the layout text.
    pub outcome: Outcome,
    /// The comparison with the statement's expectation (`Ok` when there is none).
    pub check: Result<(), Mismatch>,
}

impl StepReport {
    /// The operation, if the statement was one (not `maps()` or `vmas()`).
    pub fn op(&self) -> Option<&Op> {
        match &self.action {
            Action::Op(op) => Some(op),
            _ => None,
        }
    }

    /// The text of a `maps()` or `vmas()` step.
    pub fn text(&self) -> Option<&str> {
        match (&self.action, &self.outcome) {
            (Action::Maps | Action::Vmas { .. }, Outcome::Bytes(b)) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunErrorKind {
    /// The statement could not be evaluated (an unbound `$name`, ...).
    Eval(EvalError),
    /// The backend itself failed (not the modelled call).
    Backend(BackendError),
    /// `$name = call(...)` and the call did not return a value.
    BindFailed {
        /// The name.
        name: String,
        /// What the call returned instead.
        outcome: Outcome,
    },
    /// A memory access faulted and the script did not say `= SIGSEGV` / `= SIGBUS`.
    UnexpectedFault(Fault),
    /// The backend does not model this operation.
    Unsupported(String),
}

/// A run that stopped early: which statement, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunError {
    /// The script's file name.
    pub file: String,
    /// Index of the statement in [`Script::stmts`].
    pub index: usize,
    /// Its line in the file.
    pub line: usize,
    /// Its source text.
    pub source: String,
    /// Why the run stopped.
    pub kind: RunErrorKind,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        match &self.kind {
            RunErrorKind::Eval(e) => write!(f, "{e}")?,
            RunErrorKind::Backend(e) => write!(f, "backend failed: {e}")?,
            RunErrorKind::BindFailed { name, outcome } => write!(
                f,
                "`${name}` names a success, but the call returned {outcome}"
            )?,
            RunErrorKind::UnexpectedFault(x) => write!(
                f,
                "the access faulted ({x}); write `= SIGSEGV` or `= SIGBUS` after it if that is expected"
            )?,
            RunErrorKind::Unsupported(why) => {
                write!(f, "the backend does not support this: {why}")?
            }
        }
        // The statement's text, cut after 160 characters (a line can be megabytes long).
        let line = self.source.trim();
        match line.char_indices().nth(160) {
            Some((i, _)) => write!(f, "\n  {}...", &line[..i]),
            None => write!(f, "\n  {line}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The reports of a whole run, and the error that stopped it, if one did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// One report per statement run.
    pub reports: Vec<StepReport>,
    /// Why the run stopped before the end, if it did.
    pub error: Option<RunError>,
}

impl RunResult {
    /// Did every statement run and every expectation hold?
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.reports.iter().all(|r| r.check.is_ok())
    }

    /// The reports whose expectation failed.
    pub fn mismatches(&self) -> impl Iterator<Item = &StepReport> {
        self.reports.iter().filter(|r| r.check.is_err())
    }
}

/// Runs a script on any backend: for each statement, resolve it with the bindings so
/// far, apply it, check the expectation, then bind. A failed expectation is reported
/// and the run goes on; a failed binding, a fault nobody expected, an unsupported
/// operation or a backend failure stop it.
///
/// The backend is passed to each step rather than owned, so one runner per backend can
/// step two backends in lockstep.
#[derive(Clone, Debug)]
pub struct Runner {
    script: Script,
    env: Env,
    next: usize,
    stopped: bool,
}

impl Runner {
    /// A runner at the first statement, with no bindings.
    pub fn new(script: Script) -> Self {
        Self::with_env(script, Env::new())
    }

    /// A runner at the first statement, with the given bindings.
    pub fn with_env(script: Script, env: Env) -> Self {
        Runner {
            script,
            env,
            next: 0,
            stopped: false,
        }
    }

    /// The script.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// The bindings so far.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The bindings, to change.
    pub fn env_mut(&mut self) -> &mut Env {
        &mut self.env
    }

    /// Index of the statement the next step runs.
    pub fn next_index(&self) -> usize {
        self.next
    }

    /// The statement the next step runs, if any.
    pub fn next_stmt(&self) -> Option<&Stmt> {
        if self.stopped {
            return None;
        }
        self.script.stmts.get(self.next)
    }

    /// Has the run reached the end or stopped on an error?
    pub fn is_done(&self) -> bool {
        self.next_stmt().is_none()
    }

    /// Run the next statement. `Ok(None)` when there is none left (or the run has
    /// stopped).
    ///
    /// # Errors
    /// A [`RunError`] for a statement that stops the run; later steps return `Ok(None)`.
    pub fn step(&mut self, backend: &mut dyn Backend) -> Result<Option<StepReport>, RunError> {
        if self.next_stmt().is_none() {
            return Ok(None);
        }
        let index = self.next;
        self.next += 1;
        let stmt = &self.script.stmts[index];
        let result = run_stmt(stmt, &mut self.env, backend);
        match result {
            Ok((action, outcome, check)) => Ok(Some(StepReport {
                index,
                line: stmt.line,
                action,
                outcome,
                check,
            })),
            Err(kind) => {
                self.stopped = true;
                Err(RunError {
                    file: self.script.file_name.clone(),
                    index,
                    line: stmt.line,
                    source: stmt.source.clone(),
                    kind,
                })
            }
        }
    }

    /// Run every remaining statement.
    pub fn run(&mut self, backend: &mut dyn Backend) -> RunResult {
        let mut reports = Vec::new();
        loop {
            match self.step(backend) {
                Ok(Some(r)) => reports.push(r),
                Ok(None) => {
                    return RunResult {
                        reports,
                        error: None,
                    };
                }
                Err(e) => {
                    return RunResult {
                        reports,
                        error: Some(e),
                    };
                }
            }
        }
    }
}

type StepParts = (Action, Outcome, Result<(), Mismatch>);

fn run_stmt(
    stmt: &Stmt,
    env: &mut Env,
    backend: &mut dyn Backend,
) -> Result<StepParts, RunErrorKind> {
    let action = stmt.resolve(env).map_err(RunErrorKind::Eval)?;
    // Expected values are evaluated before the call, with the same bindings.
    if let Some(Expect::Value(e) | Expect::NotValue(e)) = &stmt.expect {
        e.eval(env).map_err(RunErrorKind::Eval)?;
    }
    let outcome = match &action {
        Action::Op(op) => backend.apply(op).map_err(RunErrorKind::Backend)?,
        Action::Maps => Outcome::Bytes(backend.maps().map_err(RunErrorKind::Backend)?.into_bytes()),
        Action::Vmas { start, end } => {
            let maps = backend.maps().map_err(RunErrorKind::Backend)?;
            Outcome::Bytes(vmas_text(&maps, *start, *end).into_bytes())
        }
    };
    match &outcome {
        Outcome::Unsupported(why) => return Err(RunErrorKind::Unsupported(why.clone())),
        Outcome::Fault(f) if !matches!(stmt.expect, Some(Expect::Signal(_))) => {
            return Err(RunErrorKind::UnexpectedFault(*f));
        }
        _ => {}
    }
    let checked = match &stmt.expect {
        Some(e) => check(e, &outcome, env),
        None => Ok(()),
    };
    if let Some(name) = &stmt.bind {
        match &outcome {
            Outcome::Value(v) => env.set(name, *v),
            other => {
                return Err(RunErrorKind::BindFailed {
                    name: name.clone(),
                    outcome: other.clone(),
                });
            }
        }
    }
    Ok((action, outcome, checked))
}
