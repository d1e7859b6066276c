//! The differ compares page presence and frame sharing over the ranges a call touched
//! (and a rotating slice of everything touched before). Checked here without a kernel:
//! the "kernel" is an engine that hides one present page, and the differ must report
//! that page, by its address, at the call that made it present.

mod support;

use support::{Liar, Lie, P, RW};
use vmspace::{Op, PageState};
use vmspace_check::differ::{Differ, Step};

const A: u64 = 0x2000_0000;

/// The page at `.0` absent.
struct Hide(u64);

impl Lie for Hide {
    fn pages(&self, start: u64, pages: &mut [PageState]) {
        let n = pages.len() as u64;
        if self.0 >= start && self.0 < start + n * P {
            pages[((self.0 - start) / P) as usize] = PageState::Absent;
        }
    }
}

#[test]
fn a_hidden_page_is_reported_by_its_address_at_the_call_that_made_it() {
    // Two VMAs (different protections), so that the compared pages come in two runs;
    // the hidden page is the third of the second run.
    let b = A + 4 * P;
    let hide = b + 2 * P;
    let seed = vmspace_check::default_seed();
    let mut e = support::engine();
    let mut k = Liar::new(Hide(hide));
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    for (addr, prot) in [(A, RW), (b, 1)] {
        let op = support::map(addr, 4 * P, prot, 0);
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
    assert_eq!(k.most_pages, 8, "pages asked for at once");
    assert!(
        div.detail
            .starts_with(&format!("page {hide:#x}: engine present")),
        "{}",
        div.detail
    );
}
