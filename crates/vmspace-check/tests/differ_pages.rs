//! The differ compares page presence and frame sharing over the ranges a call touched
//! (and a rotating slice of everything touched before). Checked here without a kernel:
//! the "kernel" is an engine that hides one present page, and the differ must report
//! that page, by its address, at the call that made it present.

use vmspace::{Backend, BackendError, Config, Counters, Mm, Op, Outcome, PageState};
use vmspace_check::differ::{Differ, Step};

const P: u64 = 4096;
const RW: u64 = 3;
const PRIVATE_ANON: u64 = 0x22;
const FIXED: u64 = 0x10;
const A: u64 = 0x2000_0000;

/// An engine whose pagemap shows the page at `hide` absent.
struct Hider {
    mm: Mm,
    hide: u64,
    /// The most pages asked for at once.
    most: u64,
}

impl Backend for Hider {
    fn name(&self) -> &'static str {
        "hider"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        Ok(self.mm.apply(op))
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        Ok(self.mm.maps_text())
    }
    fn maps_window(&mut self, ranges: &[(u64, u64)]) -> Result<Option<String>, BackendError> {
        Ok(Some(self.mm.maps_window(ranges)))
    }
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        self.most = self.most.max(npages);
        let mut p = self.mm.page_states(start, npages);
        if self.hide >= start && self.hide < start + npages * P {
            p[((self.hide - start) / P) as usize] = PageState::Absent;
        }
        Ok(p)
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        Ok(self.mm.counters())
    }
}

fn engine() -> Mm {
    let seed = vmspace_check::default_seed();
    Mm::from_seed(
        &seed,
        Config {
            mmap_base: seed.mmap_base,
            ..Config::default()
        },
    )
    .unwrap()
}

#[test]
fn a_hidden_page_is_reported_by_its_address_at_the_call_that_made_it() {
    // Two VMAs (different protections), so that the compared pages come in two runs;
    // the hidden page is the third of the second run.
    let b = A + 4 * P;
    let hide = b + 2 * P;
    let seed = vmspace_check::default_seed();
    let mut e = engine();
    let mut k = Hider {
        mm: engine(),
        hide,
        most: 0,
    };
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    for (addr, prot) in [(A, RW), (b, 1)] {
        let op = Op::Mmap {
            addr,
            len: 4 * P,
            prot,
            flags: PRIVATE_ANON | FIXED,
            fd: u64::MAX,
            offset: 0,
        };
        assert!(matches!(d.step(&op), Ok(Step::Agree(_))), "{op:?}");
    }
    // Read faults over both: every page of B maps the zero page.
    let op = Op::Load {
        addr: A + 3 * P,
        len: 5 * P,
    };
    let step = d.step(&op);
    let Ok(Step::Diverge(div)) = step else {
        panic!("the hidden page was not found: {step:?}");
    };
    assert_eq!(div.kind, "pages");
    drop(d);
    // The two runs are read as one span of 8 pages, holes included, no more.
    assert_eq!(k.most, 8, "pages asked for at once");
    assert!(
        div.detail
            .starts_with(&format!("page {hide:#x}: engine present")),
        "{}",
        div.detail
    );
}
