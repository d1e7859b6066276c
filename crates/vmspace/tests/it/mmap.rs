//! mmap: placement, hints, MAP_FIXED(_NOREPLACE), argument errors, map_count.

use crate::harness::*;
use vmspace::{Config, Errno, Op, Outcome};

#[test]
fn successive_mmaps_pack_downward_and_merge() {
    // Checklist 82 [E:p11].
    let mut t = T::new();
    let a = t.anon(P, PROT_RW);
    let b = t.anon(P, PROT_RW);
    let c = t.anon(3 * P, PROT_R);
    assert_eq!(a, t.mm.config().mmap_base - P);
    assert_eq!(b, a - P);
    assert_eq!(c, b - 3 * P);
    assert_eq!(t.vmas(c, a + P), "[0,3)r--p [3,5)rw-p");
}

#[test]
fn freed_hole_is_refilled_by_the_highest_fitting_gap() {
    // Checklist 83 [E:p11].
    let mut t = T::new();
    let p1 = t.anon(P, PROT_RW);
    let p2 = t.anon(P, PROT_RW);
    let p3 = t.anon(3 * P, PROT_R);
    t.munmap(p2, P);
    let p4 = t.anon(P, PROT_R);
    assert_eq!(p4, p2);
    t.munmap(p4, P);
    let p5 = t.anon(2 * P, PROT_R);
    assert_eq!(p5, p3 - 2 * P);
    let _ = p1;
}

#[test]
fn hints() {
    // Checklist 84 [E:p11].
    let mut t = T::new();
    let w = W;
    let hint =
        |t: &mut T, addr: u64, len: u64| match t.mmap(addr, len, PROT_R, MAP_PRIVATE | MAP_ANON) {
            Outcome::Value(v) => v,
            o => panic!("{o:?}"),
        };
    assert_eq!(
        hint(&mut t, w + 8 * P, P),
        w + 8 * P,
        "a free hint is used exactly"
    );
    let top = hint(&mut t, w + 8 * P, P);
    assert_eq!(
        top,
        t.mm.config().mmap_base - P,
        "an occupied hint falls back to the top-down search"
    );
    assert_eq!(
        hint(&mut t, w + 20 * P + 123, P),
        w + 20 * P,
        "hints are rounded down"
    );
    t.anon_at(w + 32 * P, P, PROT_R);
    let h5 = hint(&mut t, w + 30 * P, 3 * P);
    assert_ne!(
        h5,
        w + 30 * P,
        "a hint whose whole length is not free is ignored"
    );
    assert_eq!(
        h5,
        top - 3 * P,
        "...and the top-down result is used, not a nearby address"
    );
}

#[test]
fn low_hints_are_raised_and_low_fixed_needs_privilege() {
    // Checklist 85 [E:p11]; root may map at 0 (facts, live).
    let mut t = T::new();
    assert_eq!(
        t.ok(Op::Mmap {
            addr: 0x2000,
            len: P,
            prot: 1,
            flags: MAP_PRIVATE | MAP_ANON,
            fd: u64::MAX,
            offset: 0
        }),
        0x10000
    );
    assert_eq!(
        t.ok(Op::Mmap {
            addr: 0x10001,
            len: P,
            prot: 1,
            flags: MAP_PRIVATE | MAP_ANON,
            fd: u64::MAX,
            offset: 0
        }) % P,
        0
    );
    assert_eq!(t.anon_at(0, P, PROT_R), 0, "root maps page 0");
    let mut u = T::with(Config {
        privileged: false,
        ..Config::default()
    });
    let fixed0 = Op::Mmap {
        addr: 0,
        len: P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    };
    assert_eq!(u.err(fixed0), Errno::EPERM);
    assert_eq!(u.anon_at(0x1000, P, PROT_R), 0x1000);
}

#[test]
fn fixed_and_fixed_noreplace() {
    // Checklist 86 [E:p11].
    let mut t = T::new();
    let v = t.anon_at(W + 40 * P, 4 * P, PROT_R);
    let nr = |addr, len| Op::Mmap {
        addr,
        len,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE,
        fd: u64::MAX,
        offset: 0,
    };
    assert_eq!(t.err(nr(v + P, P)), Errno::EEXIST);
    assert_eq!(t.err(nr(v - P, 2 * P)), Errno::EEXIST, "any overlap");
    assert_eq!(t.err(nr(v - 10 * P + 1, P)), Errno::EINVAL, "unaligned");
    assert_eq!(
        t.ok(Op::Mmap {
            addr: v + P,
            len: P,
            prot: 3,
            flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
            fd: u64::MAX,
            offset: 0
        }),
        v + P
    );
    assert_eq!(t.vmas(v, v + 4 * P), "[0,1)r--p [1,2)rw-p [2,4)r--p");
}

#[test]
fn argument_errors_in_kernel_order() {
    // Checklist 87 [E:p11] and the live runs recorded in the commit notes
    // (shared/spec facts 1.x): every row was run with raw syscall(SYS_mmap) on 6.18.44.
    let mut t = T::new();
    let m = |addr, len, prot, flags, fd, offset| Op::Mmap {
        addr,
        len,
        prot,
        flags,
        fd,
        offset,
    };
    let anon = MAP_PRIVATE | MAP_ANON;
    let cases = [
        (m(0, 0, 3, anon, u64::MAX, 0), Errno::EINVAL),
        (m(0, P, 3, MAP_ANON, u64::MAX, 0), Errno::EINVAL),
        (m(0, P, 3, 0x03 | MAP_ANON, u64::MAX, 0), Errno::EINVAL),
        (m(0, P, 3, 0x04 | MAP_ANON, u64::MAX, 0), Errno::EINVAL),
        (m(0, 2 << 20, 3, anon | 0x40000, u64::MAX, 0), Errno::ENOMEM),
        (m(0, P, 3, anon, u64::MAX, 5), Errno::EINVAL),
        (m(0, P, 3, MAP_PRIVATE, u64::MAX, 0), Errno::EBADF),
        (m(0, P, 3, MAP_PRIVATE, 0, 0), Errno::ENODEV),
        (m(0, u64::MAX, 3, anon, u64::MAX, 0), Errno::ENOMEM),
        (m(0, 1 << 47, 3, anon, u64::MAX, 0), Errno::ENOMEM),
        (
            m((1 << 47) - P + 1, 2 * P, 3, anon | MAP_FIXED, u64::MAX, 0),
            Errno::ENOMEM,
        ),
        (
            m(0x1000_0001, 2 * P, 3, anon | MAP_FIXED, u64::MAX, 0),
            Errno::EINVAL,
        ),
        (
            m(0, P, 3, MAP_SHARED | MAP_ANON | MAP_GROWSDOWN, u64::MAX, 0),
            Errno::EINVAL,
        ),
        (m(0, 0, 3, anon, u64::MAX, 5), Errno::EINVAL),
        (m(0, P, 3, 0, u64::MAX, 0), Errno::EBADF),
    ];
    for (op, want) in cases {
        assert_eq!(t.err(op.clone()), want, "{op:?}");
    }
    // Unknown prot bits are ignored by mmap.
    for prot in [0x13, 0x103, 0x0100_0003] {
        t.ok(m(0, P, prot, anon, u64::MAX, 0));
    }
    // MAP_DROPPABLE is a map type of its own.
    let d = t.ok(m(0, P, 3, 0x08 | MAP_ANON, u64::MAX, 0));
    assert!(t.flags_at(d).contains("nr wf dd"), "{}", t.flags_at(d));
}

#[test]
fn large_anonymous_mappings_are_2mib_aligned() {
    // Checklist 33 [E:p03].
    let mut t = T::new();
    t.anon(P, PROT_RW); // make the frontier unaligned
    let a = t.anon(4 << 20, PROT_RW);
    assert_eq!(a % (2 << 20), 0);
    let b = t.anon(3 << 20, PROT_RW);
    assert_ne!(b % (2 << 20), 0);
    // A hint disables the alignment; a shared mapping is not aligned.
    let s = t.ok(Op::Mmap {
        addr: 0,
        len: 4 << 20,
        prot: 3,
        flags: MAP_SHARED | MAP_ANON,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(s, b - (4 << 20));
}

#[test]
fn guard_gap_below_growsdown_mappings() {
    // Checklists 88 and 90 [E:p11]: hints inside the 256-page gap below a grows-down
    // VMA are refused; MAP_FIXED_NOREPLACE inside it is allowed.
    let mut t = T::new();
    let gd = t.ok(Op::Mmap {
        addr: W + 600 * P,
        len: 4 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    let hint = |t: &mut T, a| {
        t.ok(Op::Mmap {
            addr: a,
            len: P,
            prot: 1,
            flags: MAP_PRIVATE | MAP_ANON,
            fd: u64::MAX,
            offset: 0,
        })
    };
    assert_ne!(hint(&mut t, gd - 10 * P), gd - 10 * P);
    assert_ne!(hint(&mut t, gd - 16 * P), gd - 16 * P);
    assert_eq!(hint(&mut t, gd - 300 * P), gd - 300 * P);
    // The end of the hinted range exactly at the gap is allowed (facts 3).
    assert_eq!(hint(&mut t, gd - 257 * P), gd - 257 * P);
    let nr = Op::Mmap {
        addr: gd - 20 * P,
        len: P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE,
        fd: u64::MAX,
        offset: 0,
    };
    assert_eq!(t.ok(nr), gd - 20 * P);
}

#[test]
fn map_count_limit_allows_one_over() {
    // Checklist 58 [E:p07], with a small max_map_count (the thresholds are relative).
    let mut t = T::with(Config {
        max_map_count: 20,
        ..Config::default()
    });
    let mut i = 0;
    while t.mm.map_count() < 20 {
        t.anon_at(W + i * 2 * P, P, PROT_R);
        i += 1;
    }
    t.anon_at(W + i * 2 * P, P, PROT_R);
    assert_eq!(t.mm.map_count(), 21);
    assert_eq!(
        t.mmap(
            W + (i + 1) * 2 * P,
            P,
            PROT_R,
            MAP_PRIVATE | MAP_ANON | MAP_FIXED
        ),
        Outcome::Error(Errno::ENOMEM)
    );
}

#[test]
fn populate_and_locked() {
    // Facts 4 (live): MAP_POPULATE on rw anon -> resident pages; on PROT_READ -> the zero
    // page; PROT_NONE -> nothing but success; MAP_POPULATE|MAP_NONBLOCK -> nothing.
    let mut t = T::new();
    let a = t.ok(Op::Mmap {
        addr: W,
        len: 4 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_POPULATE,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(t.present(a, 4), [true; 4]);
    let r = t.ok(Op::Mmap {
        addr: W + 8 * P,
        len: 2 * P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_POPULATE,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(t.present(r, 2), [true; 2]);
    let s = t.mm.page_states(r, 2);
    assert_eq!(s[0], s[1], "both map the zero page");
    let n = t.ok(Op::Mmap {
        addr: W + 16 * P,
        len: 2 * P,
        prot: 0,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_POPULATE,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(t.present(n, 2), [false; 2]);
    let nb = t.ok(Op::Mmap {
        addr: W + 24 * P,
        len: 2 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_POPULATE | 0x10000,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(t.present(nb, 2), [false; 2]);
    let l = t.ok(Op::Mmap {
        addr: W + 32 * P,
        len: 2 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_LOCKED,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(t.present(l, 2), [true; 2]);
    assert_eq!(t.vm_lck_kb(), 8);
}

#[test]
fn rlimit_data_and_as() {
    // Checklist 59/60 and facts 5.2 (live): RLIMIT_DATA blocks private rw, not read-only
    // or shared; RLIMIT_AS counts net growth with equality allowed.
    let mut t = T::new();
    t.ok(Op::Setrlimit {
        resource: 2,
        cur: 8 * P,
        max: 8 * P,
    });
    assert_eq!(
        t.mmap(W, 9 * P, PROT_RW, MAP_PRIVATE | MAP_ANON | MAP_FIXED),
        Outcome::Error(Errno::ENOMEM)
    );
    t.ok(Op::Mmap {
        addr: W,
        len: 8 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    t.ok(Op::Mmap {
        addr: W + 16 * P,
        len: 32 * P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    t.ok(Op::Mmap {
        addr: W + 64 * P,
        len: 32 * P,
        prot: 3,
        flags: MAP_SHARED | MAP_ANON | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    let total = t.mm.counters().vm_size_kb / 4;
    t.ok(Op::Setrlimit {
        resource: 9,
        cur: (total + 8) * P,
        max: u64::MAX,
    });
    assert_eq!(
        t.mmap(
            W + 200 * P,
            9 * P,
            PROT_R,
            MAP_PRIVATE | MAP_ANON | MAP_FIXED
        ),
        Outcome::Error(Errno::ENOMEM)
    );
    t.ok(Op::Mmap {
        addr: W + 200 * P,
        len: 8 * P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    // A same-size FIXED replacement needs no headroom.
    t.ok(Op::Mmap {
        addr: W + 200 * P,
        len: 8 * P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
}

#[test]
fn overcommit_mode_0_refuses_only_single_huge_requests() {
    // Checklist 61 and facts 5.3 (live): 30 GiB rw private -> ENOMEM on a 24 GiB machine
    // without swap; NORESERVE or read-only -> success; 20 GiB twice -> both succeed.
    let mut t = T::new();
    let g = 1u64 << 30;
    assert_eq!(
        t.mmap(0, 30 * g, PROT_RW, MAP_PRIVATE | MAP_ANON),
        Outcome::Error(Errno::ENOMEM)
    );
    assert!(matches!(
        t.mmap(0, 30 * g, PROT_RW, MAP_PRIVATE | MAP_ANON | MAP_NORESERVE),
        Outcome::Value(_)
    ));
    let ro = match t.mmap(0, 30 * g, PROT_R, MAP_PRIVATE | MAP_ANON) {
        Outcome::Value(v) => v,
        o => panic!("{o:?}"),
    };
    assert!(matches!(
        t.mmap(0, 20 * g, PROT_RW, MAP_PRIVATE | MAP_ANON),
        Outcome::Value(_)
    ));
    assert!(matches!(
        t.mmap(0, 20 * g, PROT_RW, MAP_PRIVATE | MAP_ANON),
        Outcome::Value(_)
    ));
    assert_eq!(
        t.mmap(0, 30 * g, PROT_R, MAP_SHARED | MAP_ANON),
        Outcome::Error(Errno::ENOMEM),
        "shmem charges at creation"
    );
    assert_eq!(
        t.mprotect(ro, 30 * g, PROT_RW),
        Outcome::Error(Errno::ENOMEM)
    );
}

#[test]
fn hugetlb_is_enomem_or_reported_as_not_modelled() {
    // Spec §4 (live, this machine has no huge pages reserved): MAP_HUGETLB fails with
    // ENOMEM at reservation time; with MAP_NORESERVE the kernel would map it, which
    // the engine does not model, and it says so instead of inventing an errno.
    const MAP_HUGETLB: u64 = 0x4_0000;
    let mut t = T::new();
    let m = |flags| Op::Mmap {
        addr: 0,
        len: 2 << 20,
        prot: PROT_RW,
        flags,
        fd: u64::MAX,
        offset: 0,
    };
    assert_eq!(
        t.err(m(MAP_PRIVATE | MAP_ANON | MAP_HUGETLB)),
        Errno::ENOMEM
    );
    match t.op(m(MAP_PRIVATE | MAP_ANON | MAP_HUGETLB | MAP_NORESERVE)) {
        Outcome::Unsupported(why) => assert!(why.contains("hugetlb"), "{why}"),
        o => panic!("expected Unsupported, got {o:?}"),
    }
}

#[test]
fn fixed_addresses_in_the_last_4095_bytes_are_error_codes() {
    // Live kernel (corpus/regressions/mmap-fixed-error-value-address.vms):
    // __get_unmapped_area takes a MAP_FIXED address in [-4095, -1] for the error code
    // it encodes; -4096 and below fail the TASK_SIZE check.
    let mut t = T::new();
    let cases = [
        (0xffff_ffff_ffff_fff3, Errno::EACCES),
        (u64::MAX, Errno::EPERM),
        (0xffff_ffff_ffff_fffe, Errno::ENOENT),
        (0xffff_ffff_ffff_ffea, Errno::EINVAL),
        (0xffff_ffff_ffff_f001, Errno::from_raw(4095).unwrap()),
        (0xffff_ffff_ffff_f000, Errno::ENOMEM),
    ];
    for (addr, want) in cases {
        for (flags, len) in [
            (MAP_PRIVATE | MAP_ANON | MAP_FIXED, P),
            (MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE, P),
            (MAP_SHARED | MAP_ANON | MAP_FIXED, P),
            (MAP_PRIVATE | MAP_ANON | MAP_FIXED, 512 * P),
        ] {
            let o = t.mmap(addr, len, PROT_R, flags);
            assert_eq!(o, Outcome::Error(want), "{addr:#x} {flags:#x} {len:#x}");
        }
    }
    // Only a length above TASK_SIZE is refused before.
    let too_long = t.mm.config().task_size + P;
    let o = t.mmap(
        0xffff_ffff_ffff_fff3,
        too_long,
        PROT_R,
        MAP_PRIVATE | MAP_ANON | MAP_FIXED,
    );
    assert_eq!(o, Outcome::Error(Errno::ENOMEM));
    // As a hint it is only a hint.
    let Outcome::Value(a) = t.mmap(0xffff_ffff_ffff_fff3, P, PROT_R, MAP_PRIVATE | MAP_ANON) else {
        panic!("a hint at the top should be ignored");
    };
    assert!(a < t.mm.config().task_size);
}

#[test]
fn fixed_noreplace_of_the_whole_space_is_eexist() {
    // Live kernel (corpus/regressions/mmap-fixed-noreplace-whole-space.vms): a fixed
    // address is not held to the search's lower bound; only len > TASK_SIZE is ENOMEM.
    let mut t = T::new();
    t.anon_at(W, P, PROT_R);
    let task_size = t.mm.config().task_size;
    let flags = MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE;
    assert_eq!(
        t.mmap(0, task_size, PROT_R, flags),
        Outcome::Error(Errno::EEXIST)
    );
    assert_eq!(
        t.mmap(P, task_size - P, PROT_R, flags),
        Outcome::Error(Errno::EEXIST)
    );
    assert_eq!(
        t.mmap(0, task_size + P, PROT_R, flags),
        Outcome::Error(Errno::ENOMEM)
    );
    assert_eq!(
        t.mmap(P, task_size, PROT_R, flags),
        Outcome::Error(Errno::ENOMEM)
    );
    let o = t.mmap(0, task_size, PROT_R, MAP_PRIVATE | MAP_ANON);
    assert_eq!(o, Outcome::Error(Errno::ENOMEM));
}

#[test]
fn hugetlb_length_rounded_to_zero_is_einval() {
    // Live kernel (corpus/regressions/mmap-hugetlb-len-wraps.vms): ksys_mmap_pgoff
    // rounds the length up to the huge page size, do_mmap refuses the 0.
    const HUGETLB: u64 = 0x4_0000;
    const HUGE_1GB: u64 = 30 << 26;
    let mut t = T::new();
    let f = MAP_PRIVATE | MAP_ANON | HUGETLB;
    let cases = [
        (0xffff_ffff_ffff_f000, f, Errno::EINVAL),
        (0xffff_ffff_ffe0_0001, f, Errno::EINVAL),
        (0xffff_ffff_ffe0_0000, f, Errno::ENOMEM),
        (0xffff_ffff_c000_0001, f | HUGE_1GB, Errno::EINVAL),
        (0xffff_ffff_c000_0000, f | HUGE_1GB, Errno::ENOMEM),
        (0, f, Errno::EINVAL),
        (P, f, Errno::ENOMEM),
    ];
    for (len, flags, want) in cases {
        assert_eq!(
            t.mmap(P, len, PROT_NONE, flags),
            Outcome::Error(want),
            "{len:#x}"
        );
    }
}
