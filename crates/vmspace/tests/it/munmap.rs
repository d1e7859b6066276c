//! munmap.

use crate::harness::*;
use vmspace::{Config, Errno, Outcome};

#[test]
fn argument_rules() {
    // Checklist 91 [E:p12].
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    assert_eq!(t.munmap(a + 1, P), Outcome::Error(Errno::EINVAL));
    assert_eq!(t.munmap(a, 0), Outcome::Error(Errno::EINVAL));
    assert_eq!(
        t.munmap(W + 100 * P, 4 * P),
        Outcome::Value(0),
        "an unmapped range is fine"
    );
    assert_eq!(t.munmap(a + 3 * P, 1), Outcome::Value(0));
    assert_eq!(t.vmas(a, a + 4 * P), "[0,3)rw-p");
    assert_eq!(t.munmap(1 << 47, P), Outcome::Error(Errno::EINVAL));
    assert_eq!(t.munmap(a, u64::MAX), Outcome::Error(Errno::EINVAL));
}

#[test]
fn map_count_thresholds() {
    // Checklists 56/57 [E:p07] with a small limit.
    let max = 30;
    let mut t = T::with(Config {
        max_map_count: max,
        ..Config::default()
    });
    let big = t.anon_at(W, 8 * P, PROT_RW);
    let mut i = 0;
    while t.mm.map_count() < max {
        t.anon_at(W + (100 + 2 * i) * P, P, PROT_R);
        i += 1;
    }
    assert_eq!(
        t.munmap(big + 3 * P, P),
        Outcome::Error(Errno::ENOMEM),
        "a hole at max fails"
    );
    assert_eq!(
        t.munmap(big, P),
        Outcome::Value(0),
        "trimming an end at max is fine"
    );
    t.munmap(W + 100 * P, P);
    assert_eq!(t.mm.map_count(), max - 1);
    assert_eq!(
        t.munmap(big + 3 * P, P),
        Outcome::Value(0),
        "a hole at max - 1 is fine"
    );
    assert_eq!(t.mm.map_count(), max);
}

#[test]
fn unmapping_across_vmas_and_holes() {
    let mut t = T::new();
    t.anon_at(W, 2 * P, PROT_RW);
    t.anon_at(W + 3 * P, 2 * P, PROT_R);
    t.anon_at(W + 6 * P, 2 * P, PROT_RW);
    assert_eq!(t.munmap(W + P, 6 * P), Outcome::Value(0));
    assert_eq!(t.vmas(W, W + 8 * P), "[0,1)rw-p [7,8)rw-p");
    assert_eq!(t.pages(W, 8), "0......0");
}

#[test]
fn a_range_may_end_exactly_at_the_top_of_user_space() {
    // docs/probes/munmap-top.c on Linux 6.18 (with ASLR, nothing mapped at the top):
    // munmap(TASK_SIZE - 4K, 4K) = 0, with one byte more EINVAL, at TASK_SIZE EINVAL.
    let mut t = T::new();
    let top = 0x7fff_ffff_f000u64;
    assert_eq!(t.mm.munmap(top - P, P), Ok(0));
    assert_eq!(
        t.mm.munmap(top - P, P + 1).map_err(|e| e.errno()),
        Err(Some(Errno::EINVAL))
    );
    assert_eq!(
        t.mm.munmap(top, P).map_err(|e| e.errno()),
        Err(Some(Errno::EINVAL))
    );
}
