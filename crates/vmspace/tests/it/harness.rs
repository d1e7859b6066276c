//! A test harness around `Mm`: every operation checks the invariants.

use vmspace::{Config, Errno, Fault, Mm, Op, Outcome, PageState};

pub(crate) const P: u64 = 4096;
/// A window far from everything the default layout places.
pub(crate) const W: u64 = 0x1000_0000_0000;

pub(crate) const PROT_NONE: u64 = 0;
pub(crate) const PROT_R: u64 = 1;
pub(crate) const PROT_RW: u64 = 3;
pub(crate) const MAP_SHARED: u64 = 0x01;
pub(crate) const MAP_PRIVATE: u64 = 0x02;
pub(crate) const MAP_FIXED: u64 = 0x10;
pub(crate) const MAP_ANON: u64 = 0x20;
pub(crate) const MAP_GROWSDOWN: u64 = 0x100;
pub(crate) const MAP_LOCKED: u64 = 0x2000;
pub(crate) const MAP_NORESERVE: u64 = 0x4000;
pub(crate) const MAP_POPULATE: u64 = 0x8000;
pub(crate) const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
pub(crate) const MAYMOVE: u64 = 1;
pub(crate) const FIXED: u64 = 2;
pub(crate) const DONTUNMAP: u64 = 4;

pub(crate) struct T {
    pub mm: Mm,
}

impl T {
    pub(crate) fn new() -> Self {
        Self::with(Config::default())
    }

    pub(crate) fn with(cfg: Config) -> Self {
        Self { mm: Mm::new(cfg) }
    }

    pub(crate) fn op(&mut self, op: Op) -> Outcome {
        let o = self.mm.apply(&op);
        if let Err(e) = self.mm.check_invariants() {
            panic!(
                "invariant broken after {op:?} -> {o:?}: {e}\n{}",
                self.mm.maps_text()
            );
        }
        o
    }

    /// A call that must succeed; returns its value.
    pub(crate) fn ok(&mut self, op: Op) -> u64 {
        match self.op(op.clone()) {
            Outcome::Value(v) => v,
            o => panic!(
                "{op:?} should succeed, got {o:?} ({})\n{}",
                self.mm.last_reason(),
                self.mm.maps_text()
            ),
        }
    }

    /// A call that must fail; returns its errno.
    pub(crate) fn err(&mut self, op: Op) -> Errno {
        match self.op(op.clone()) {
            Outcome::Error(e) => e,
            o => panic!("{op:?} should fail, got {o:?}\n{}", self.mm.maps_text()),
        }
    }

    pub(crate) fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> Outcome {
        self.op(Op::Mmap {
            addr,
            len,
            prot,
            flags,
            fd: u64::MAX,
            offset: 0,
        })
    }

    /// A process whose layout is these maps lines (each VMA faulted, flags derived
    /// from the line), its break at `brk` (where the heap would start).
    pub(crate) fn seeded(lines: &[&str], brk: u64) -> T {
        Self::seeded_with(lines, brk, vmspace::Config::default())
    }

    /// [`T::seeded`] with a configuration of its own.
    pub(crate) fn seeded_with(lines: &[&str], brk: u64, cfg: vmspace::Config) -> T {
        let seed = vmspace::Seed {
            vmas: lines
                .iter()
                .map(|l| vmspace::SeedVma {
                    line: vmspace::MapsLine::parse(l).unwrap(),
                    vm_flags: None,
                    faulted: true,
                })
                .collect(),
            mmap_base: vmspace::Config::default().mmap_base,
            start_brk: brk,
            brk,
            start_stack: 0,
            data_segment: 0,
            open_fds: vec![0, 1, 2],
            locked_pages: 0,
        };
        T {
            mm: vmspace::Mm::from_seed(&seed, cfg).unwrap(),
        }
    }

    /// Private anonymous mapping at a fixed address.
    pub(crate) fn anon_at(&mut self, addr: u64, len: u64, prot: u64) -> u64 {
        self.ok(Op::Mmap {
            addr,
            len,
            prot,
            flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
            fd: u64::MAX,
            offset: 0,
        })
    }

    /// Private anonymous mapping wherever the kernel would put it.
    pub(crate) fn anon(&mut self, len: u64, prot: u64) -> u64 {
        self.ok(Op::Mmap {
            addr: 0,
            len,
            prot,
            flags: MAP_PRIVATE | MAP_ANON,
            fd: u64::MAX,
            offset: 0,
        })
    }

    pub(crate) fn shared_anon_at(&mut self, addr: u64, len: u64) -> u64 {
        self.ok(Op::Mmap {
            addr,
            len,
            prot: PROT_RW,
            flags: MAP_SHARED | MAP_ANON | MAP_FIXED,
            fd: u64::MAX,
            offset: 0,
        })
    }

    pub(crate) fn mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    ) -> Outcome {
        self.op(Op::Mremap {
            old_addr: old,
            old_len,
            new_len,
            flags,
            new_addr,
        })
    }

    pub(crate) fn munmap(&mut self, addr: u64, len: u64) -> Outcome {
        self.op(Op::Munmap { addr, len })
    }

    pub(crate) fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Outcome {
        self.op(Op::Mprotect { addr, len, prot })
    }

    pub(crate) fn store(&mut self, addr: u64, data: &[u8]) {
        match self.op(Op::Store {
            addr,
            data: data.to_vec(),
        }) {
            Outcome::Done => {}
            o => panic!("store at {addr:#x} failed: {o:?}"),
        }
    }

    /// First byte of the page at `addr`: a value, or the signal.
    pub(crate) fn peek(&mut self, addr: u64) -> Result<u8, Fault> {
        match self.op(Op::Load { addr, len: 1 }) {
            Outcome::Bytes(b) => Ok(b[0]),
            Outcome::Fault(f) => Err(f),
            o => panic!("load at {addr:#x}: {o:?}"),
        }
    }

    /// The conformance-case notation: first byte of each page, `0` for zero,
    /// a letter for data, `.` unmapped, `B` SIGBUS, `S` mapped but not readable.
    pub(crate) fn pages(&mut self, base: u64, n: u64) -> String {
        (0..n)
            .map(|i| match self.peek(base + i * P) {
                Ok(0) => '0',
                Ok(b) if b.is_ascii_graphic() => b as char,
                Ok(_) => '?',
                Err(f) if f.signal == vmspace::Signal::Bus => 'B',
                Err(f) if f.code == vmspace::FaultCode::AccErr => 'S',
                Err(_) => '.',
            })
            .collect()
    }

    /// The VMAs intersecting `[start, end)` as `[a,b)rw-p` page indices relative to start.
    pub(crate) fn vmas(&self, start: u64, end: u64) -> String {
        let mut out = Vec::new();
        for line in self.mm.maps_text().lines() {
            let l = vmspace::MapsLine::parse(line).unwrap();
            if l.end <= start || l.start >= end {
                continue;
            }
            let s = l.start.max(start);
            let e = l.end.min(end);
            let p = l.perms();
            out.push(format!(
                "[{},{}){}",
                (s - start) / P,
                (e - start) / P,
                std::str::from_utf8(&p).unwrap()
            ));
        }
        out.join(" ")
    }

    pub(crate) fn count(&self, start: u64, end: u64) -> usize {
        if self.vmas(start, end).is_empty() {
            0
        } else {
            self.vmas(start, end).split(' ').count()
        }
    }

    pub(crate) fn present(&self, addr: u64, n: u64) -> Vec<bool> {
        self.mm
            .page_states(addr, n)
            .iter()
            .map(|s| matches!(s, PageState::Present(_)))
            .collect()
    }

    pub(crate) fn vm_lck_kb(&self) -> u64 {
        self.mm.counters().vm_lck_kb
    }

    pub(crate) fn flags_at(&self, addr: u64) -> String {
        self.mm
            .vm_flags_at(addr)
            .map(|f| f.to_smaps())
            .unwrap_or_default()
    }
}

pub(crate) fn fill(t: &mut T, base: u64, npages: u64, first: u8) {
    for i in 0..npages {
        t.op(Op::Fill {
            addr: base + i * P,
            len: P,
            byte: first + i as u8,
        });
    }
}
