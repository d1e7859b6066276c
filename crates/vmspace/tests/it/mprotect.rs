//! mprotect and merging by protection.

use crate::harness::*;
use vmspace::{Config, Errno, Outcome};

#[test]
fn argument_rules_and_partial_failure() {
    // Checklist 92 [E:p12] and facts 5 (live).
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    t.anon_at(W + 3 * P, 2 * P, PROT_RW);
    assert_eq!(t.mprotect(a + 1, P, PROT_R), Outcome::Error(Errno::EINVAL));
    assert_eq!(t.mprotect(W + 100 * P, 0, PROT_R), Outcome::Value(0));
    assert_eq!(
        t.mprotect(a, 0, 0x10),
        Outcome::Value(0),
        "len 0 returns before the prot check"
    );
    assert_eq!(t.mprotect(a, P, 0x100), Outcome::Error(Errno::EINVAL));
    assert_eq!(
        t.mprotect(a, P, 0x0300_0000),
        Outcome::Error(Errno::EINVAL),
        "GROWSDOWN|GROWSUP"
    );
    assert_eq!(t.mprotect(a, 5 * P, PROT_R), Outcome::Error(Errno::ENOMEM));
    assert_eq!(
        t.vmas(W, W + 5 * P),
        "[0,2)r--p [3,5)rw-p",
        "the VMA before the hole was changed"
    );
    assert_eq!(
        t.mprotect(W + 2 * P, 3 * P, PROT_NONE),
        Outcome::Error(Errno::ENOMEM)
    );
    assert_eq!(
        t.vmas(W, W + 5 * P),
        "[0,2)r--p [3,5)rw-p",
        "starting in a hole changes nothing"
    );
}

#[test]
fn split_and_remerge() {
    // Checklists 70 and 71 [E:p09].
    let mut t = T::new();
    t.anon_at(W, 2 * P, PROT_RW);
    t.anon_at(W + 2 * P, 2 * P, PROT_RW);
    assert_eq!(t.vmas(W, W + 4 * P), "[0,4)rw-p");
    t.anon_at(W + 4 * P, 2 * P, PROT_R);
    assert_eq!(t.vmas(W, W + 6 * P), "[0,4)rw-p [4,6)r--p");
    t.mprotect(W + 4 * P, 2 * P, PROT_RW);
    assert_eq!(t.vmas(W, W + 6 * P), "[0,6)rw-p");
    t.mprotect(W + 2 * P, P, PROT_R);
    assert_eq!(t.vmas(W, W + 6 * P), "[0,2)rw-p [2,3)r--p [3,6)rw-p");
    t.mprotect(W + 2 * P, P, PROT_RW);
    assert_eq!(t.vmas(W, W + 6 * P), "[0,6)rw-p");
}

#[test]
fn map_count_thresholds() {
    // Checklists 56/57 [E:p07]: an interior mprotect needs two splits; at max-1 the
    // first split is kept and the call fails.
    let max = 30;
    let mut t = T::with(Config {
        max_map_count: max,
        ..Config::default()
    });
    let big = t.anon_at(W, 8 * P, PROT_RW);
    let mut i = 0;
    while t.mm.map_count() < max - 1 {
        t.anon_at(W + (100 + 2 * i) * P, P, PROT_R);
        i += 1;
    }
    assert_eq!(
        t.mprotect(big + 3 * P, P, PROT_R),
        Outcome::Error(Errno::ENOMEM)
    );
    assert_eq!(
        t.vmas(big, big + 8 * P),
        "[0,3)rw-p [3,8)rw-p",
        "the first split stays"
    );
    assert_eq!(
        t.mprotect(big + 5 * P, P, PROT_R),
        Outcome::Error(Errno::ENOMEM),
        "at max"
    );
}

#[test]
fn account_flag_follows_writability() {
    // Facts 5.4 (live): an unfaulted anon VMA made read-only loses `ac`; a faulted one
    // keeps it; a read fault (zero page) does not count as faulted.
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    assert!(t.flags_at(a).contains("ac"));
    t.peek(a).unwrap();
    t.mprotect(a, 2 * P, PROT_R);
    assert!(!t.flags_at(a).contains("ac"), "{}", t.flags_at(a));
    t.mprotect(a, 2 * P, PROT_RW);
    t.store(a, b"x");
    t.mprotect(a, 2 * P, PROT_R);
    assert!(t.flags_at(a).contains("ac"));
}

#[test]
fn locked_private_mapping_made_writable_is_prefaulted() {
    // Facts 5 (live): LOCKED r -> rw populates.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_NONE);
    t.op(vmspace::Op::Mlock2 {
        addr: a,
        len: 4 * P,
        flags: 1,
    });
    t.mprotect(a, 4 * P, PROT_R);
    assert_eq!(t.present(a, 4), [false; 4]);
    let b = t.anon_at(W + 16 * P, 4 * P, PROT_R);
    t.op(vmspace::Op::Mlock {
        addr: b,
        len: 4 * P,
    });
    t.mprotect(b, 4 * P, PROT_RW);
    let s = t.mm.page_states(b, 2);
    assert_ne!(
        s[0], s[1],
        "written pages are private copies, not the zero page"
    );
}
