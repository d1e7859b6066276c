//! A [`Backend`] that is two backends in lockstep: every operation runs on both, and the
//! first disagreement becomes a [`Divergence`] (reported to the script runner as a
//! backend failure so that the run stops there); an operation one side does not model
//! becomes an [`Unsupported`] (reported to the runner as an unsupported outcome, which
//! stops the run too).

use vmspace::{Backend, BackendError, Counters, Mm, Op, Outcome, PageState};

use crate::differ::{Differ, Divergence, Step, Unsupported};

/// The engine and the kernel, driven together.
#[derive(Debug)]
pub struct Lockstep<'a> {
    differ: Differ<'a>,
    /// The first disagreement, once there is one.
    pub divergence: Option<Divergence>,
    /// The operation one side did not model, once there is one.
    pub unsupported: Option<Unsupported>,
    /// Operations both agreed on.
    pub agreed: u64,
}

impl<'a> Lockstep<'a> {
    /// Drive `engine` and `kernel` together.
    pub fn new(engine: &'a mut Mm, kernel: &'a mut dyn Backend, seed: &vmspace::Seed) -> Self {
        Self {
            differ: Differ::seeded(engine, kernel, seed),
            divergence: None,
            unsupported: None,
            agreed: 0,
        }
    }

    /// Which of the agent's own mappings the last operation changed, if it did.
    pub fn own_touch(&self) -> Option<&str> {
        self.differ.own_touch.as_deref()
    }

    /// Perform `op` on both sides before the script starts (not counted; anything but
    /// an agreement is an error).
    ///
    /// # Errors
    /// A failure of the kernel side, a disagreement or an unsupported operation.
    pub fn setup(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        match self.differ.step(op)? {
            Step::Agree(o) => Ok(o),
            Step::Diverge(d) => Err(BackendError::new(d.to_string())),
            Step::Unsupported(u) => Err(BackendError::new(u.to_string())),
        }
    }

    /// Confirm that the kernel side is alive (see [`Differ::confirm`]).
    ///
    /// # Errors
    /// If it is not.
    pub fn confirm(&mut self) -> Result<(), BackendError> {
        self.differ.confirm()
    }

    /// End the run: compare everything that the steps compare only where a call could
    /// have changed it (the whole maps texts, every counter), and confirm the kernel
    /// side is alive. A disagreement becomes [`divergence`](Self::divergence) and an
    /// error.
    ///
    /// # Errors
    /// A disagreement, or a failure of the kernel side.
    pub fn finish(&mut self) -> Result<(), BackendError> {
        if let Some(d) = self.differ.finish()? {
            let message = format!("the engine and the kernel disagree ({})", d.kind);
            self.divergence = Some(d);
            return Err(BackendError::new(message));
        }
        Ok(())
    }
}

impl Backend for Lockstep<'_> {
    fn name(&self) -> &'static str {
        "engine+kernel"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        match self.differ.step(op)? {
            Step::Agree(o) => {
                self.agreed += 1;
                Ok(o)
            }
            Step::Diverge(d) => {
                let message = format!("the engine and the kernel disagree ({})", d.kind);
                self.divergence = Some(*d);
                Err(BackendError::new(message))
            }
            Step::Unsupported(u) => {
                let what = format!("{} ({})", u.what, u.side);
                self.unsupported = Some(u);
                Ok(Outcome::Unsupported(what))
            }
        }
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        self.differ.kernel.maps()
    }
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        self.differ.kernel.pages(start, npages)
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        self.differ.kernel.counters()
    }
}
