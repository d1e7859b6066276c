//! A "kernel" for testing the differ without one: the engine, misreporting in one
//! place chosen by a [`Lie`], and counting what the differ asks of it.
#![allow(dead_code)]

use vmspace::{Backend, BackendError, Config, Counters, Mm, Op, Outcome, PageState};

pub(crate) const P: u64 = 4096;
pub(crate) const R: u64 = 1;
pub(crate) const RW: u64 = 3;
pub(crate) const PRIVATE_ANON: u64 = 0x22;
pub(crate) const FIXED: u64 = 0x10;

/// The engine `vmspace run` starts (the built-in layout).
pub(crate) fn engine() -> Mm {
    vmspace_check::default_engine(Config::default())
}

/// A private anonymous read-write (or `prot`) mapping at `addr` with MAP_FIXED and
/// `extra` flags.
pub(crate) fn map(addr: u64, len: u64, prot: u64, extra: u64) -> Op {
    Op::Mmap {
        addr,
        len,
        prot,
        flags: PRIVATE_ANON | FIXED | extra,
        fd: u64::MAX,
        offset: 0,
    }
}

/// Where a [`Liar`] misreports; every method's default tells the truth. `calls` is
/// the number of calls applied so far.
pub(crate) trait Lie {
    fn maps(&self, text: String) -> String {
        text
    }
    fn pages(&self, _start: u64, _pages: &mut [PageState]) {}
    fn status(&self, _calls: u64, _counters: &mut Counters) {}
    /// Whether the backend answers for maps windows (`Backend::maps_window`).
    fn windows(&self) -> bool {
        true
    }
}

/// The engine as a backend, misreporting as `lie` says.
pub(crate) struct Liar<L> {
    pub(crate) mm: Mm,
    pub(crate) lie: L,
    pub(crate) calls: u64,
    pub(crate) full_reads: u64,
    pub(crate) window_reads: u64,
    pub(crate) status_reads: u64,
    /// The most pages asked for at once.
    pub(crate) most_pages: u64,
}

impl<L: Lie> Liar<L> {
    pub(crate) fn new(lie: L) -> Self {
        Self {
            mm: engine(),
            lie,
            calls: 0,
            full_reads: 0,
            window_reads: 0,
            status_reads: 0,
            most_pages: 0,
        }
    }
}

impl<L: Lie> Backend for Liar<L> {
    fn name(&self) -> &'static str {
        "liar"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        self.calls += 1;
        Ok(self.mm.apply(op))
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        self.full_reads += 1;
        Ok(self.lie.maps(self.mm.maps_text()))
    }
    fn maps_window(&mut self, ranges: &[(u64, u64)]) -> Result<Option<String>, BackendError> {
        if !self.lie.windows() {
            return Ok(None);
        }
        self.window_reads += 1;
        Ok(Some(self.lie.maps(self.mm.maps_window(ranges))))
    }
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        self.most_pages = self.most_pages.max(npages);
        let mut p = self.mm.page_states(start, npages);
        self.lie.pages(start, &mut p);
        Ok(p)
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        Ok(self.mm.counters())
    }
    fn status_counters(&mut self) -> Result<Counters, BackendError> {
        self.status_reads += 1;
        let mut c = self.mm.counters();
        self.lie.status(self.calls, &mut c);
        Ok(c)
    }
}
