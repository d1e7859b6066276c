//! mremap: the acceptance checklist of shared/spec/linux-semantics.md §12 (each item
//! confirmed on Linux 6.18.44 by the probe named in the spec).

use crate::harness::*;
use vmspace::{Config, Errno, Op, Outcome, Rlimit, Rlimits};

fn v(o: Outcome) -> u64 {
    match o {
        Outcome::Value(v) => v,
        o => panic!("expected success, got {o:?}"),
    }
}

fn e(o: Outcome) -> Errno {
    match o {
        Outcome::Error(e) => e,
        o => panic!("expected an error, got {o:?}"),
    }
}

#[test]
fn phase_a_argument_checks() {
    // Items 1-9.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    let un = W + 100 * P;
    assert_eq!(e(t.mremap(a, P, P, 8, 0)), Errno::EINVAL, "1: flags 8");
    assert_eq!(e(t.mremap(un, P, P, 8, 0)), Errno::EINVAL, "1: unmapped");
    assert_eq!(e(t.mremap(a + 1, P, 2 * P, 0, 0)), Errno::EINVAL, "2");
    assert_eq!(
        e(t.mremap(un + 1, P, 2 * P, 0, 0)),
        Errno::EINVAL,
        "2: unmapped"
    );
    assert_eq!(e(t.mremap(a, P, 0, 0, 0)), Errno::EINVAL, "3: new_size 0");
    assert_eq!(
        e(t.mremap(a, P, u64::MAX, MAYMOVE, 0)),
        Errno::EINVAL,
        "3: ULONG_MAX"
    );
    assert_eq!(
        e(t.mremap(a, P, 1 << 48, MAYMOVE, 0)),
        Errno::EINVAL,
        "3: 2^48"
    );
    assert_eq!(
        e(t.mremap(a, P, P, FIXED, W + 50 * P)),
        Errno::EINVAL,
        "4: FIXED"
    );
    assert_eq!(
        e(t.mremap(a, P, P, DONTUNMAP, W + 50 * P)),
        Errno::EINVAL,
        "4: DONTUNMAP"
    );
    assert_eq!(
        e(t.mremap(a, P, 2 * P, MAYMOVE | DONTUNMAP, 0)),
        Errno::EINVAL,
        "5"
    );
    let d = v(t.mremap(a, 4095, 4096, MAYMOVE | DONTUNMAP, 0));
    assert_ne!(d, a, "5: 4095 vs 4096 is a same-size DONTUNMAP");
    assert_eq!(
        e(t.mremap(a, P, P, MAYMOVE | FIXED, W + 50 * P + 1)),
        Errno::EINVAL,
        "6: unaligned"
    );
    assert_eq!(
        e(t.mremap(a, 2 * P, 2 * P, MAYMOVE | FIXED, a + P)),
        Errno::EINVAL,
        "6: overlap"
    );
    assert_eq!(
        e(t.mremap(a, P, P, MAYMOVE | FIXED, a)),
        Errno::EINVAL,
        "6: equal"
    );
    assert_eq!(
        e(t.mremap(un, 2 * P, 2 * P, MAYMOVE | FIXED, un + P)),
        Errno::EINVAL,
        "7"
    );
    assert_eq!(
        e(t.mremap(a, P, 2 * P, MAYMOVE | FIXED, (1 << 47) - 2 * P)),
        Errno::EINVAL,
        "8"
    );
    assert_eq!(v(t.mremap(a, P, P, MAYMOVE, 0xdead_beef)), a, "9");
}

#[test]
fn phase_b_checks() {
    // Items 10-16 (without mseal) and 68.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    assert_eq!(
        e(t.mremap(W + 100 * P, P, 2 * P, MAYMOVE, 0)),
        Errno::EFAULT,
        "10"
    );
    assert_eq!(
        e(t.mremap(W + 100 * P, P, P, 0, 0)),
        Errno::EFAULT,
        "10: same size"
    );
    assert_eq!(
        e(t.mremap(a, 6 * P, 8 * P, MAYMOVE, 0)),
        Errno::EFAULT,
        "11"
    );
    assert_eq!(v(t.mremap(a, 100 * P, 100 * P, 0, 0)), a, "12");
    assert_eq!(t.vmas(a, a + 4 * P), "[0,4)rw-p");
    assert_eq!(e(t.mremap(a, 0, P, 0, 0)), Errno::EINVAL, "13");
    assert_eq!(
        e(t.mremap(a, 0, P, MAYMOVE, 0)),
        Errno::EINVAL,
        "13: MAYMOVE"
    );
    let s = t.shared_anon_at(W + 20 * P, 2 * P);
    assert_eq!(e(t.mremap(s, 0, P, 0, 0)), Errno::ENOMEM, "14");
    t.anon_at(W + 4 * P, P, PROT_R);
    assert_eq!(e(t.mremap(a, 4 * P, 5 * P, 0, 0)), Errno::ENOMEM, "15");
    assert_eq!(
        e(t.mremap(a, 2 * P, 3 * P, 0, 0)),
        Errno::ENOMEM,
        "15: interior"
    );
}

#[test]
fn shrink() {
    // Items 17, 22, 23, 24, 25, 26.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    fill(&mut t, a, 4, b'a');
    assert_eq!(v(t.mremap(a, 4 * P, 2 * P, 0, 0)), a);
    assert_eq!(t.vmas(a, a + 4 * P), "[0,2)rw-p");
    assert_eq!(t.pages(a, 4), "ab..");
    // 22
    let x = t.anon_at(W + 10 * P, 2 * P, PROT_RW);
    t.anon_at(W + 14 * P, 2 * P, PROT_R);
    t.anon_at(W + 17 * P, 2 * P, PROT_RW);
    assert_eq!(v(t.mremap(x, 10 * P, P, 0, 0)), x);
    assert_eq!(t.vmas(x, x + 10 * P), "[0,1)rw-p");
    // 23
    let q = t.anon_at(W + 30 * P, 8 * P, PROT_RW);
    assert_eq!(v(t.mremap(q + 2 * P, 4 * P, P, 0, 0)), q + 2 * P);
    assert_eq!(t.vmas(q, q + 8 * P), "[0,3)rw-p [6,8)rw-p");
    // 25
    let m = t.anon_at(W + 50 * P, 4 * P, PROT_RW);
    assert_eq!(v(t.mremap(m, 4 * P, 2 * P, MAYMOVE, 0)), m);
    // 24
    let f = t.anon_at(W + 60 * P, 4 * P, PROT_RW);
    fill(&mut t, f, 4, b'a');
    let dst = W + 80 * P;
    assert_eq!(v(t.mremap(f, 4 * P, 2 * P, MAYMOVE | FIXED, dst)), dst);
    assert_eq!(t.pages(dst, 2), "ab");
    assert_eq!(t.pages(f, 4), "....");
    // 26
    let g = t.anon_at(W + 100 * P, 2 * P, PROT_RW);
    t.anon_at(W + 102 * P, 2 * P, PROT_R);
    assert_eq!(
        v(t.mremap(g, 4 * P, P, MAYMOVE | FIXED, W + 120 * P)),
        W + 120 * P
    );
    assert_eq!(t.vmas(g, g + 4 * P), "");
    let h = t.anon_at(W + 140 * P, 2 * P, PROT_RW);
    t.anon_at(W + 142 * P, 2 * P, PROT_R);
    t.anon_at(W + 160 * P, P, PROT_R);
    assert_eq!(
        e(t.mremap(h, 4 * P, 3 * P, MAYMOVE | FIXED, W + 160 * P)),
        Errno::EFAULT
    );
    assert_eq!(
        t.vmas(h, h + 4 * P),
        "[0,2)rw-p [2,4)r--p",
        "nothing changed (6.17+)"
    );
    assert_eq!(
        t.vmas(W + 160 * P, W + 161 * P),
        "[0,1)r--p",
        "the destination survives"
    );
}

#[test]
fn grow_in_place_and_by_moving() {
    // Items 27-32, 101.
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    fill(&mut t, a, 2, b'a');
    assert_eq!(v(t.mremap(a, 2 * P, 4 * P, 0, 0)), a, "27");
    assert_eq!(t.pages(a, 4), "ab00");
    assert_eq!(t.count(a, a + 4 * P), 1);
    // 28
    let b = t.anon_at(W + 10 * P, 2 * P, PROT_RW);
    t.anon_at(W + 14 * P, 2 * P, PROT_RW);
    assert_eq!(v(t.mremap(b, 2 * P, 4 * P, 0, 0)), b);
    assert_eq!(t.vmas(b, b + 6 * P), "[0,6)rw-p");
    let c = t.anon_at(W + 20 * P, 2 * P, PROT_RW);
    t.store(c, b"c");
    let n = t.anon_at(W + 24 * P, 2 * P, PROT_RW);
    t.store(n, b"n");
    assert_eq!(v(t.mremap(c, 2 * P, 4 * P, 0, 0)), c);
    assert_eq!(t.count(c, c + 6 * P), 2);
    // 29
    let d = t.anon_at(W + 40 * P, 3 * P, PROT_RW);
    fill(&mut t, d, 3, b'a');
    t.anon_at(W + 43 * P, P, PROT_R);
    let expected = {
        let mut probe = T::new();
        probe.mm = vmspace::Mm::from_seed(&seed_of(&t), Config::default()).unwrap();
        v(probe.mmap(0, 6 * P, PROT_RW, MAP_PRIVATE | MAP_ANON))
    };
    let nd = v(t.mremap(d, 3 * P, 6 * P, MAYMOVE, 0));
    assert_eq!(nd, expected, "where a fresh 6P mmap would go");
    assert_eq!(t.pages(nd, 6), "abc000");
    assert_eq!(t.pages(d, 3), "...");
    // 30
    let e0 = t.anon_at(W + 60 * P, 2 * P, PROT_RW);
    assert_eq!(v(t.mremap(e0, 2 * P, 4 * P, MAYMOVE, 0)), e0);
    // 31
    let f = t.anon_at(W + 80 * P, 6 * P, PROT_RW);
    fill(&mut t, f, 6, b'a');
    let nf = v(t.mremap(f + 2 * P, 2 * P, 8 * P, MAYMOVE, 0));
    assert_eq!(t.vmas(f, f + 6 * P), "[0,2)rw-p [4,6)rw-p");
    assert_eq!(t.pages(nf, 3), "cd0");
    // 32
    let g = t.anon_at(0x2000_0000_0000 + 5 * P, 2 << 20, PROT_RW);
    t.anon_at(g + (2 << 20), P, PROT_R);
    let ng = v(t.mremap(g, 2 << 20, 4 << 20, MAYMOVE, 0));
    assert_eq!(ng % (2 << 20), 0);
    // 101
    let h = t.anon_at(W + 200 * P, 2 * P, PROT_NONE);
    t.anon_at(W + 202 * P, P, PROT_R);
    let nh = v(t.mremap(h, 2 * P, 4 * P, MAYMOVE, 0));
    assert_ne!(nh, h);
    assert_eq!(t.vmas(h, h + 2 * P), "");
    assert_eq!(t.vmas(nh, nh + 4 * P), "[0,4)---p");
}

fn seed_of(t: &T) -> vmspace::Seed {
    let vmas =
        t.mm.vmas()
            .map(|v| vmspace::SeedVma {
                line: t.mm.maps_line(v),
                vm_flags: Some(v.vm_flags),
                faulted: v.anon.is_some(),
            })
            .collect();
    vmspace::Seed {
        vmas,
        mmap_base: t.mm.config().mmap_base,
        ..Default::default()
    }
}

#[test]
fn fixed() {
    // Items 34, 35, 36, 100.
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    fill(&mut t, a, 2, b'a');
    let victim = t.anon_at(W + 10 * P, 6 * P, PROT_R);
    assert_eq!(
        v(t.mremap(a, 2 * P, 4 * P, MAYMOVE | FIXED, victim + P)),
        victim + P
    );
    assert_eq!(
        t.vmas(victim, victim + 6 * P),
        "[0,1)r--p [1,5)rw-p [5,6)r--p"
    );
    assert_eq!(t.pages(victim + P, 4), "ab00");
    // 35
    let b = t.anon_at(W + 30 * P, 2 * P, PROT_RW);
    let dst = t.anon_at(W + 40 * P, 4 * P, PROT_R);
    assert_eq!(
        e(t.mremap(b, 3 * P, 4 * P, MAYMOVE | FIXED, dst)),
        Errno::EFAULT
    );
    assert_eq!(t.vmas(dst, dst + 4 * P), "[0,4)r--p");
    // 36
    let c = t.anon_at(W + 60 * P, 8 * P, PROT_RW);
    fill(&mut t, c, 8, b'a');
    assert_eq!(
        v(t.mremap(c, 2 * P, 2 * P, MAYMOVE | FIXED, c + 4 * P)),
        c + 4 * P
    );
    assert_eq!(t.count(c, c + 8 * P), 3);
    assert_eq!(t.pages(c, 8), "..cdabgh");
    // 100
    let d = t.anon_at(W + 80 * P, 6 * P, PROT_RW);
    t.store(d, b"x");
    let before = t.mm.map_count();
    t.mremap(d + 2 * P, 2 * P, 2 * P, MAYMOVE | FIXED, W + 100 * P);
    assert_eq!(t.mm.map_count(), before + 2);
}

#[test]
fn dontunmap() {
    // Items 37-41, 47.
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    fill(&mut t, a, 2, b'a');
    let hint = W + 20 * P;
    assert_eq!(
        v(t.mremap(a, 2 * P, 2 * P, MAYMOVE | DONTUNMAP, hint)),
        hint,
        "37"
    );
    assert_eq!(t.vmas(a, a + 2 * P), "[0,2)rw-p");
    assert_eq!(t.pages(a, 2), "00");
    assert_eq!(t.pages(hint, 2), "ab");
    // 38
    let s = t.shared_anon_at(W + 40 * P, 2 * P);
    fill(&mut t, s, 2, b's');
    let ns = v(t.mremap(s, 2 * P, 2 * P, MAYMOVE | DONTUNMAP, W + 50 * P));
    assert_eq!(t.pages(s, 2), "st");
    assert_eq!(t.pages(ns, 2), "st");
    // 39
    let fd = t.ok(Op::MemfdCreate {
        name: "f".into(),
        flags: 0,
    });
    t.ok(Op::Pwrite64 {
        fd,
        data: vec![b'F'; P as usize],
        offset: 0,
    });
    let pf = t.ok(Op::Mmap {
        addr: W + 60 * P,
        len: P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_FIXED,
        fd,
        offset: 0,
    });
    t.store(pf, b"m");
    let npf = v(t.mremap(pf, P, P, MAYMOVE | DONTUNMAP, W + 70 * P));
    assert_eq!(t.pages(pf, 1), "F");
    assert_eq!(t.pages(npf, 1), "m");
    // 40
    let occ = t.anon_at(W + 90 * P, 2 * P, PROT_R);
    let b = t.anon_at(W + 80 * P, 2 * P, PROT_RW);
    let nb = v(t.mremap(b, 2 * P, 2 * P, MAYMOVE | DONTUNMAP, occ));
    assert_ne!(nb, occ);
    assert_eq!(t.vmas(occ, occ + 2 * P), "[0,2)r--p");
    // 47
    assert_eq!(
        e(t.mremap(s, 0, 2 * P, MAYMOVE | DONTUNMAP, W + 120 * P)),
        Errno::EINVAL
    );
}

#[test]
fn dontunmap_of_a_locked_vma_leaks_locked_vm() {
    // Item 41 [E:p05] (6.15+ quirk, on by default).
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    t.ok(Op::Mlock {
        addr: a,
        len: 4 * P,
    });
    assert_eq!(t.vm_lck_kb(), 16);
    let n = v(t.mremap(a, 4 * P, 4 * P, MAYMOVE | DONTUNMAP, W + 20 * P));
    assert!(!t.flags_at(a).contains("lo"));
    assert!(t.flags_at(n).contains("lo"));
    assert_eq!(t.vm_lck_kb(), 32);
    assert_eq!(t.present(n, 4), [true; 4]);
    t.munmap(a, 4 * P);
    t.munmap(n, 4 * P);
    assert_eq!(t.vm_lck_kb(), 16);
    let mut u = T::with(Config {
        dontunmap_locked_vm_quirk: false,
        ..Config::default()
    });
    let a = u.anon_at(W, 4 * P, PROT_RW);
    u.ok(Op::Mlock {
        addr: a,
        len: 4 * P,
    });
    let n = v(u.mremap(a, 4 * P, 4 * P, MAYMOVE | DONTUNMAP, W + 20 * P));
    u.munmap(a, 4 * P);
    u.munmap(n, 4 * P);
    assert_eq!(u.vm_lck_kb(), 0);
}

#[test]
fn duplicates_of_shared_mappings() {
    // Items 45, 46, 47.
    let mut t = T::new();
    let s = t.shared_anon_at(W, 2 * P);
    fill(&mut t, s, 2, b'a');
    let d = v(t.mremap(s, 0, 2 * P, MAYMOVE, 0));
    assert_eq!(t.pages(d, 2), "ab");
    t.store(d, b"Z");
    assert_eq!(t.pages(s, 1), "Z");
    assert_eq!(t.vmas(s, s + 2 * P), "[0,2)rw-s");
    let d2 = v(t.mremap(s + P, 0, 3 * P, MAYMOVE, 0));
    let line =
        t.mm.maps_text()
            .lines()
            .find(|l| l.starts_with(&format!("{d2:x}")))
            .unwrap()
            .to_string();
    assert!(line.contains(" 00001000 00:01 "), "{line}");
    assert_eq!(t.pages(d2, 3), "bBB");
    let fx = W + 40 * P;
    assert_eq!(v(t.mremap(s, 0, P, MAYMOVE | FIXED, fx)), fx);
    assert_eq!(t.pages(fx, 1), "Z");
}

#[test]
fn multi_vma_fixed_moves() {
    // Items 48-53.
    let mut t = T::new();
    let s = W;
    t.anon_at(s, 2 * P, PROT_RW);
    t.anon_at(s + 4 * P, P, PROT_R);
    t.anon_at(s + 6 * P, 3 * P, PROT_RW);
    t.store(s, b"A");
    t.op(Op::Store {
        addr: s + 6 * P,
        data: b"C".to_vec(),
    });
    let dst = W + 100 * P;
    t.anon_at(dst + 2 * P, P, PROT_R); // opposite a source hole
    assert_eq!(
        v(t.mremap(s, 9 * P, 9 * P, MAYMOVE | FIXED, dst)),
        dst,
        "48"
    );
    assert_eq!(t.vmas(s, s + 9 * P), "");
    assert_eq!(
        t.vmas(dst, dst + 9 * P),
        "[0,2)rw-p [2,3)r--p [4,5)r--p [6,9)rw-p",
        "53: the mapping opposite a hole survives"
    );
    assert_eq!(t.pages(dst, 9), "A00.0.C00");
    // 49
    let p = t.anon_at(W + 200 * P, 4 * P, PROT_RW);
    let q = t.anon_at(W + 204 * P, 4 * P, PROT_R);
    assert_eq!(
        v(t.mremap(p + 2 * P, 4 * P, 4 * P, MAYMOVE | FIXED, W + 300 * P)),
        W + 300 * P
    );
    assert_eq!(t.vmas(p, q + 4 * P), "[0,2)rw-p [6,8)r--p");
    assert_eq!(t.vmas(W + 300 * P, W + 304 * P), "[0,2)rw-p [2,4)r--p");
    // 50
    let r = t.anon_at(W + 400 * P, 2 * P, PROT_RW);
    assert_eq!(
        e(t.mremap(r - P, 3 * P, 3 * P, MAYMOVE | FIXED, W + 500 * P)),
        Errno::EFAULT
    );
    assert_eq!(
        v(t.mremap(r, 3 * P, 3 * P, MAYMOVE | FIXED, W + 500 * P)),
        W + 500 * P
    );
    // 51, 52
    let a = t.anon_at(W + 600 * P, 2 * P, PROT_RW);
    t.anon_at(W + 602 * P, 2 * P, PROT_R);
    assert_eq!(v(t.mremap(a, 4 * P, 4 * P, MAYMOVE, 0)), a);
    assert_eq!(
        e(t.mremap(a, 4 * P, 4 * P, MAYMOVE | DONTUNMAP, W + 700 * P)),
        Errno::EFAULT
    );
    assert_eq!(e(t.mremap(a, 4 * P, 6 * P, MAYMOVE, 0)), Errno::EFAULT);
    assert_eq!(
        e(t.mremap(a, 4 * P, 6 * P, MAYMOVE | FIXED, W + 700 * P)),
        Errno::EFAULT
    );
    assert_eq!(
        v(t.mremap(a, 4 * P, 4 * P, MAYMOVE | DONTUNMAP | FIXED, W + 700 * P)),
        W + 700 * P
    );
}

#[test]
fn map_count_thresholds() {
    // Items 54-56 [E:p07] with a small max_map_count.
    let max = 40;
    let fill_to = |t: &mut T, n: u64| {
        let mut i = 0;
        while t.mm.map_count() < n {
            t.anon_at(W + (1000 + 2 * i) * P, P, PROT_R);
            i += 1;
        }
    };
    let mut t = T::with(Config {
        max_map_count: max,
        ..Config::default()
    });
    let a = t.anon_at(W, 2 * P, PROT_RW);
    fill_to(&mut t, max - 6);
    assert_eq!(
        v(t.mremap(a, 2 * P, 2 * P, MAYMOVE | FIXED, W + 10 * P)),
        W + 10 * P,
        "54: max-6"
    );
    fill_to(&mut t, max - 5);
    assert_eq!(
        e(t.mremap(W + 10 * P, 2 * P, 2 * P, MAYMOVE | FIXED, W + 20 * P)),
        Errno::ENOMEM,
        "54: max-5"
    );
    let mut u = T::with(Config {
        max_map_count: max,
        ..Config::default()
    });
    let b = u.anon_at(W, 2 * P, PROT_RW);
    u.anon_at(W + 2 * P, P, PROT_R);
    fill_to(&mut u, max - 4);
    assert_ne!(
        v(u.mremap(b, 2 * P, 4 * P, MAYMOVE, 0)),
        b,
        "55: max-4 moves"
    );
    let mut w = T::with(Config {
        max_map_count: max,
        ..Config::default()
    });
    let c = w.anon_at(W, 2 * P, PROT_RW);
    w.anon_at(W + 2 * P, P, PROT_R);
    fill_to(&mut w, max - 3);
    assert_eq!(
        e(w.mremap(c, 2 * P, 4 * P, MAYMOVE, 0)),
        Errno::ENOMEM,
        "55: max-3"
    );
    // 56: at max, in-place growth and tail shrink succeed.
    let mut x = T::with(Config {
        max_map_count: max,
        ..Config::default()
    });
    let d = x.anon_at(W, 4 * P, PROT_RW);
    fill_to(&mut x, max);
    assert_eq!(v(x.mremap(d, 4 * P, 6 * P, 0, 0)), d);
    assert_eq!(v(x.mremap(d, 6 * P, 5 * P, 0, 0)), d);
    assert_eq!(
        e(x.mremap(d + P, 2 * P, P, 0, 0)),
        Errno::ENOMEM,
        "hole-punching shrink"
    );
}

#[test]
fn rlimits() {
    // Items 59, 60, 67.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    let total = t.mm.counters().vm_size_kb / 4;
    t.ok(Op::Setrlimit {
        resource: 9,
        cur: (total + 8) * P,
        max: u64::MAX,
    });
    assert_eq!(e(t.mremap(a, 4 * P, 20 * P, MAYMOVE, 0)), Errno::ENOMEM);
    assert_eq!(v(t.mremap(a, 4 * P, 12 * P, MAYMOVE, 0)), a);
    assert_eq!(
        v(t.mremap(a, 12 * P, 12 * P, MAYMOVE | FIXED, W + 100 * P)),
        W + 100 * P
    );
}

#[test]
fn rlimit_as_dontunmap_and_data() {
    // Items 59 (DONTUNMAP) and 60.
    let mut t = T::new();
    let a = t.anon_at(W, P, PROT_RW);
    let total = t.mm.counters().vm_size_kb / 4;
    t.ok(Op::Setrlimit {
        resource: 9,
        cur: total * P,
        max: u64::MAX,
    });
    assert_eq!(
        e(t.mremap(a, P, P, MAYMOVE | DONTUNMAP, W + 10 * P)),
        Errno::ENOMEM
    );
    let mut u = T::new();
    let rw = u.anon_at(W, P, PROT_RW);
    let ro = u.anon_at(W + 100 * P, P, PROT_R);
    let data = u.mm.counters().vm_data_kb / 4;
    u.ok(Op::Setrlimit {
        resource: 2,
        cur: (data + 8) * P,
        max: u64::MAX,
    });
    assert_eq!(e(u.mremap(rw, P, 13 * P, MAYMOVE, 0)), Errno::ENOMEM);
    assert_eq!(v(u.mremap(ro, P, 13 * P, MAYMOVE, 0)), ro);
}

#[test]
fn locked_growth() {
    // Items 64-68.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    t.ok(Op::Mlock {
        addr: a,
        len: 4 * P,
    });
    assert_eq!(v(t.mremap(a, 4 * P, 8 * P, 0, 0)), a, "64");
    assert_eq!(t.present(a, 8), [true; 8]);
    assert_eq!(t.vm_lck_kb(), 32);
    t.anon_at(a + 8 * P, P, PROT_R);
    let n = v(t.mremap(a, 8 * P, 12 * P, MAYMOVE, 0));
    assert_eq!(t.present(n, 12), [true; 12], "65");
    assert!(t.flags_at(n).contains("lo"));
    assert_eq!(t.vm_lck_kb(), 48);
    assert_eq!(v(t.mremap(n, 12 * P, 6 * P, 0, 0)), n);
    assert_eq!(t.vm_lck_kb(), 24);
    // 66
    let o = t.anon_at(W + 100 * P, 2 * P, PROT_RW);
    t.ok(Op::Mlock2 {
        addr: o,
        len: 2 * P,
        flags: 1,
    });
    t.mremap(o, 2 * P, 4 * P, 0, 0);
    assert_eq!(t.present(o, 4), [false; 4]);
    assert!(t.flags_at(o).contains("lo") && t.flags_at(o).contains("lf"));
    // 67, 68
    let rl = Rlimits {
        memlock: Rlimit {
            cur: 8 * P,
            max: 8 * P,
        },
        ..Rlimits::default()
    };
    let mut u = T::with(Config {
        privileged: false,
        rlimits: rl,
        ..Config::default()
    });
    let b = u.anon_at(W, 4 * P, PROT_RW);
    u.ok(Op::Mlock {
        addr: b,
        len: 4 * P,
    });
    assert_eq!(
        e(u.mremap(b, 4 * P, 9 * P, MAYMOVE, 0)),
        Errno::EAGAIN,
        "67"
    );
    assert_eq!(
        e(u.mremap(b, 6 * P, 9 * P, MAYMOVE, 0)),
        Errno::EFAULT,
        "68"
    );
    assert_eq!(
        v(u.mremap(b, 4 * P, 8 * P, MAYMOVE, 0)),
        b,
        "67: exactly to the limit"
    );
    // 69
    let mut w = T::new();
    let p = w.ok(Op::Mmap {
        addr: W,
        len: 2 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_POPULATE,
        fd: u64::MAX,
        offset: 0,
    });
    w.mremap(p, 2 * P, 4 * P, 0, 0);
    assert_eq!(w.present(p, 4), [true, true, false, false]);
}

#[test]
fn growth_ignores_the_stack_guard_gap() {
    // Item 89 [E:p11].
    let mut t = T::new();
    let gd = t.ok(Op::Mmap {
        addr: W + 1000 * P,
        len: 4 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    let x = t.anon_at(gd - 18 * P, P, PROT_RW);
    assert_eq!(v(t.mremap(x, P, 18 * P, 0, 0)), x);
}

#[test]
fn touched_ranges_name_new_addr_only_when_the_kernel_reads_it() {
    let m = |flags| Op::Mremap {
        old_addr: W,
        old_len: 2 * P,
        new_len: 4 * P,
        flags,
        new_addr: W + 100 * P,
    };
    assert_eq!(m(MAYMOVE).touched_ranges(), vec![(W, W + 4 * P)]);
    assert_eq!(
        m(MAYMOVE | FIXED).touched_ranges(),
        vec![(W, W + 4 * P), (W + 100 * P, W + 104 * P)]
    );
    assert_eq!(
        m(MAYMOVE | DONTUNMAP).touched_ranges(),
        vec![(W, W + 4 * P), (W + 100 * P, W + 104 * P)]
    );
}

#[test]
fn strict_overcommit_a_duplicate_leaves_the_commit_charge_alone() {
    // Live, vm.overcommit_memory=2 (a C probe; the sysctl set for the probe only):
    // with all but 256 MiB of the commit headroom taken, a 1 GiB private writable
    // mapping fails with ENOMEM and a 16 MiB one succeeds, before and after
    // mremap(shared, 0, 1p or 2p, MREMAP_MAYMOVE) duplicates a shared mapping. The
    // duplicate's source "unmap" is a munmap of 0 bytes, which fails (EINVAL); the
    // kernel's unmap_source_vma then only "gets accounts right" with
    // vm_acct_memory(0): the commit charge is unchanged. Scaled down here (1000 pages
    // of headroom: 4000 fail, 100 succeed).
    let mut cfg = Config::default();
    cfg.overcommit.mode = 2;
    cfg.overcommit.kbytes = 4 * 10_000; // a commit limit of 10000 pages
    cfg.overcommit.total_swap_pages = 0;
    let mut t = T::with(cfg);
    let fill = t.mmap(0, 9000 * P, PROT_RW, MAP_PRIVATE | MAP_ANON);
    assert!(matches!(fill, Outcome::Value(_)), "{fill:?}");
    let s = t.shared_anon_at(W, P);
    let headroom_is_1000_pages = |t: &mut T| {
        assert_eq!(
            t.mmap(0, 4000 * P, PROT_RW, MAP_PRIVATE | MAP_ANON),
            Outcome::Error(Errno::ENOMEM)
        );
        let small = v(t.mmap(0, 100 * P, PROT_RW, MAP_PRIVATE | MAP_ANON));
        assert_eq!(t.munmap(small, 100 * P), Outcome::Value(0));
    };
    headroom_is_1000_pages(&mut t);
    let d1 = v(t.mremap(s, 0, P, MAYMOVE, 0));
    assert_ne!(d1, s);
    headroom_is_1000_pages(&mut t);
    let d2 = v(t.mremap(s, 0, 2 * P, MAYMOVE, 0));
    assert_ne!(d2, s);
    headroom_is_1000_pages(&mut t);
}
