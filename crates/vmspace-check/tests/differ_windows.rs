//! The differ compares the maps lines of the VMAs a call could have changed after each
//! step (`Backend::maps_window`), the whole text now and then and at the end. Checked
//! here without a kernel: the "kernel" is an engine whose maps are altered in one
//! place, and the differ must find the alteration — at once when a call names that
//! place, by the end of the run when none does.

mod support;

use support::{Liar, Lie, P, RW, engine};
use vmspace::{Backend, BackendError, Counters, Op, Outcome, PageState};
use vmspace_check::differ::{Differ, Step};

/// Misreport the VMA starting at the address with its write bit flipped.
struct FlipWrite(Option<u64>);

impl Lie for FlipWrite {
    fn maps(&self, text: String) -> String {
        let Some(at) = self.0 else { return text };
        let prefix = format!("{at:x}-");
        text.lines()
            .map(|l| {
                let mut l = l.to_string();
                if l.starts_with(&prefix) {
                    let i = l.find(' ').unwrap() + 2;
                    let c = if &l[i..=i] == "w" { "-" } else { "w" };
                    l.replace_range(i..=i, c);
                }
                l + "\n"
            })
            .collect()
    }
}

fn fixed(addr: u64, len: u64, prot: u64) -> Op {
    support::map(addr, len, prot, 0)
}

const A: u64 = 0x2000_0000;
const B: u64 = 0x3000_0000;

#[test]
fn a_difference_where_the_call_acted_is_found_at_that_call() {
    let mut e = engine();
    let mut k = Liar::new(FlipWrite(Some(A)));
    let seed = vmspace_check::default_seed();
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    // The first call maps A: the window holds it, and it alone is read.
    let Ok(Step::Diverge(div)) = d.step(&fixed(A, P, RW)) else {
        panic!("the misreported VMA was not found at the call that made it");
    };
    assert_eq!(div.kind, "maps");
    drop(d);
    assert_eq!((k.full_reads, k.window_reads), (0, 1));
}

#[test]
fn a_difference_elsewhere_is_found_by_the_end_of_the_run() {
    // Flip the lie on only after A was checked: a liar that misreports A from the
    // second call on, while every later call acts at B.
    let mut e = engine();
    let mut k = Liar::new(FlipWrite(None));
    let seed = vmspace_check::default_seed();
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    assert!(matches!(d.step(&fixed(A, P, RW)), Ok(Step::Agree(_))));
    drop(d);
    k.lie = FlipWrite(Some(A));
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    // Three calls at B: no whole-text comparison is due yet, and no window holds A.
    for i in 0..3 {
        let op = Op::Mprotect {
            addr: A + 0x1000_0000,
            len: P,
            prot: i % 2,
        };
        assert!(matches!(d.step(&op), Ok(Step::Agree(_))), "call {i}");
    }
    let div = d
        .finish()
        .unwrap()
        .expect("the end of the run compares the whole text");
    assert_eq!(div.kind, "maps");
    assert!(div.maps_diff.unwrap().contains(&format!("{A:x}-")));
}

#[test]
fn the_whole_text_is_compared_at_least_every_32_calls() {
    // The liar misreports a VMA of the seeded layout, which no call names.
    let mut e = engine();
    let seed = vmspace_check::default_seed();
    let victim = seed.vmas[0].line.start;
    let mut k = Liar::new(FlipWrite(Some(victim)));
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    let mut at = None;
    for i in 0..100u64 {
        let op = if i == 0 {
            fixed(B, 2 * P, RW)
        } else {
            Op::Mprotect {
                addr: B,
                len: P,
                prot: if i % 2 == 0 { RW } else { 1 },
            }
        };
        match d.step(&op) {
            Ok(Step::Agree(_)) => {}
            Ok(Step::Diverge(div)) => {
                assert_eq!(div.kind, "maps");
                at = Some(i);
                break;
            }
            Ok(Step::Unsupported(u)) => panic!("{u}"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        at,
        Some(31),
        "the first whole-text comparison is at the 32nd call"
    );
}

/// A backend that answers no window (the default of `Backend::maps_window`): the
/// differ reads its whole text instead, after every call that can change the VMAs.
struct NoWindows(Liar<FlipWrite>);

impl Backend for NoWindows {
    fn name(&self) -> &'static str {
        "no windows"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        self.0.apply(op)
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        self.0.maps()
    }
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        self.0.pages(start, npages)
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        self.0.counters()
    }
}

#[test]
fn a_backend_without_windows_is_compared_by_its_whole_text() {
    let mut e = engine();
    let mut k = NoWindows(Liar::new(FlipWrite(Some(A))));
    assert_eq!(k.maps_window(&[(0, 1 << 47)]).unwrap(), None);
    let seed = vmspace_check::default_seed();
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    let Ok(Step::Diverge(div)) = d.step(&fixed(A, P, RW)) else {
        panic!("the misreported VMA was not found at the call that made it");
    };
    assert_eq!(div.kind, "maps");
    drop(d);
    assert_eq!((k.0.full_reads, k.0.window_reads), (1, 0));
}
