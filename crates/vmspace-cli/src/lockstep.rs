//! A [`Backend`] that is two backends in lockstep: every operation runs on both, and the
//! first disagreement becomes a [`Divergence`] (reported to the script runner as a
//! backend failure so that the run stops there).

use vmspace::{Backend, BackendError, Counters, Mm, Op, Outcome, PageState};

use crate::differ::{Differ, Divergence, Step};

/// The engine and the kernel, driven together.
#[derive(Debug)]
pub struct Lockstep<'a> {
    differ: Differ<'a>,
    /// The first disagreement, once there is one.
    pub divergence: Option<Divergence>,
    /// Operations both agreed on.
    pub agreed: u64,
}

impl<'a> Lockstep<'a> {
    /// Drive `engine` and `kernel` together.
    pub fn new(engine: &'a mut Mm, kernel: &'a mut dyn Backend, seed: &vmspace::Seed) -> Self {
        Self {
            differ: Differ::seeded(engine, kernel, seed),
            divergence: None,
            agreed: 0,
        }
    }
}

impl Lockstep<'_> {
    /// End the run: compare everything that the steps compare only where a call could
    /// have changed it (the whole maps texts, every counter). A disagreement becomes
    /// [`divergence`](Self::divergence) and an error.
    pub fn finish(&mut self) -> Result<(), BackendError> {
        if let Some(d) = self.differ.finish()? {
            let message = format!("the engine and the kernel disagree ({})", d.kind);
            self.divergence = Some(d);
            return Err(BackendError { message });
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
                Err(BackendError { message })
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
