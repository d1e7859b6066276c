//! Merge rules driven by anon_vma identity and pgoff.

use crate::harness::*;
use vmspace::Op;

#[test]
fn moved_faulted_vma_merges_only_back_home() {
    // Checklist 72 [E:p09].
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    t.store(a, b"a");
    t.anon_at(W + 10 * P, 2 * P, PROT_RW);
    assert_eq!(
        t.mremap(a, 2 * P, 2 * P, MAYMOVE | FIXED, W + 12 * P),
        vmspace::Outcome::Value(W + 12 * P)
    );
    assert_eq!(t.count(W + 10 * P, W + 14 * P), 2);
    t.anon_at(W + 2 * P, 2 * P, PROT_RW);
    t.mremap(W + 12 * P, 2 * P, 2 * P, MAYMOVE | FIXED, W);
    assert_eq!(
        t.count(W, W + 4 * P),
        1,
        "back at its origin it merges with a fresh VMA"
    );
}

#[test]
fn moved_unfaulted_vma_merges() {
    // Checklist 73 [E:p09].
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    t.anon_at(W + 10 * P, 2 * P, PROT_RW);
    t.mremap(a, 2 * P, 2 * P, MAYMOVE | FIXED, W + 12 * P);
    assert_eq!(t.count(W + 10 * P, W + 14 * P), 1);
}

#[test]
fn independently_faulted_vmas_never_merge() {
    // Checklist 74 [E:p09].
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    t.store(a, b"a");
    let b = t.anon_at(W + 10 * P, 2 * P, PROT_RW);
    t.store(b, b"b");
    t.mremap(b, 2 * P, 2 * P, MAYMOVE | FIXED, W + 2 * P);
    assert_eq!(t.count(W, W + 4 * P), 2);
    assert_eq!(t.pages(W, 4), "a0b0");
    // A fresh mapping directly after a faulted (unmoved) VMA merges into it.
    let c = t.anon_at(W + 20 * P, 2 * P, PROT_RW);
    t.store(c, b"c");
    t.anon_at(W + 22 * P, 2 * P, PROT_RW);
    assert_eq!(t.count(W + 20 * P, W + 24 * P), 1);
    // After the moved one it does not: the moved VMA keeps its old pgoff.
    t.anon_at(W + 4 * P, 2 * P, PROT_RW);
    assert_eq!(t.count(W, W + 6 * P), 3);
}

#[test]
fn shared_anonymous_mappings_never_merge() {
    // Checklist 76 [E:p09].
    let mut t = T::new();
    t.shared_anon_at(W, 2 * P);
    t.shared_anon_at(W + 2 * P, 2 * P);
    assert_eq!(t.count(W, W + 4 * P), 2);
}

#[test]
fn first_fault_reuses_a_compatible_neighbours_anon_vma() {
    // Facts 3.2 (live): X rw faulted, Y rwx adjacent faulted later, then Y -> rw merges;
    // Z faulted elsewhere and moved next to X does not.
    let mut t = T::new();
    let x = t.anon_at(W, 2 * P, PROT_RW);
    t.store(x, b"x");
    let y = t.anon_at(W + 2 * P, 2 * P, 7);
    t.store(y, b"y");
    t.mprotect(y, 2 * P, PROT_RW);
    assert_eq!(t.count(W, W + 4 * P), 1);
    let z = t.anon_at(W + 100 * P, 2 * P, 7);
    t.store(z, b"z");
    t.mremap(z, 2 * P, 2 * P, MAYMOVE | FIXED, W + 4 * P);
    t.mprotect(W + 4 * P, 2 * P, PROT_RW);
    assert_eq!(t.count(W, W + 6 * P), 2);
    let _ = Op::Munlockall;
}
