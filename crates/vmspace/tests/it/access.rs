//! Memory access: zero page, COW, permissions, stack growth, SIGBUS, fault-around,
//! and madvise's effect on contents.

use crate::harness::*;
use vmspace::{Errno, FaultCode, Op, Outcome, PageState, Signal};

#[test]
fn anonymous_pages_zero_page_and_cow() {
    // Facts 3.2 (live): read faults map the shared zero page in every VMA; writes get
    // a new page.
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    let b = t.anon_at(W + 10 * P, P, PROT_R);
    assert_eq!(t.peek(a).unwrap(), 0);
    assert_eq!(t.peek(b).unwrap(), 0);
    let z = t.mm.page_states(a, 1)[0];
    assert_eq!(t.mm.page_states(b, 1)[0], z);
    t.store(a, b"hi");
    assert_ne!(t.mm.page_states(a, 1)[0], z);
    assert_eq!(
        t.op(Op::Load { addr: a, len: 2 }),
        Outcome::Bytes(b"hi".to_vec())
    );
    assert_eq!(t.mm.rss_pages(), 1);
}

#[test]
fn permissions_as_the_cpu_sees_them() {
    // Facts 3.1 (live): PROT_WRITE-only and PROT_EXEC-only are readable; a write to
    // PROT_READ or any access to PROT_NONE is SEGV_ACCERR; no VMA is SEGV_MAPERR;
    // a non-canonical address is SI_KERNEL with address 0.
    let mut t = T::new();
    let w = t.anon_at(W, P, 2);
    let x = t.anon_at(W + 2 * P, P, 4);
    let r = t.anon_at(W + 4 * P, P, 1);
    let n = t.anon_at(W + 6 * P, P, 0);
    assert_eq!(t.peek(w), Ok(0));
    assert_eq!(t.peek(x), Ok(0));
    let f = |o: Outcome| match o {
        Outcome::Fault(f) => (f.signal, f.code, f.addr),
        o => panic!("{o:?}"),
    };
    assert_eq!(
        f(t.op(Op::Store {
            addr: x + 5,
            data: vec![1]
        })),
        (Signal::Segv, FaultCode::AccErr, x + 5)
    );
    assert_eq!(
        f(t.op(Op::Store {
            addr: r,
            data: vec![1]
        })),
        (Signal::Segv, FaultCode::AccErr, r)
    );
    assert_eq!(
        f(t.op(Op::Load {
            addr: n + 7,
            len: 1
        })),
        (Signal::Segv, FaultCode::AccErr, n + 7)
    );
    assert_eq!(
        f(t.op(Op::Load {
            addr: W + 8 * P,
            len: 1
        })),
        (Signal::Segv, FaultCode::MapErr, W + 8 * P)
    );
    assert_eq!(
        f(t.op(Op::Load {
            addr: 0x8000_0000_0000_0000,
            len: 1
        })),
        (Signal::Segv, FaultCode::SiKernel, 0)
    );
    assert_eq!(
        f(t.op(Op::Load {
            addr: 0xffff_ffff_8100_0000,
            len: 1
        })),
        (Signal::Segv, FaultCode::MapErr, 0xffff_ffff_8100_0000)
    );
    // A load that runs from a mapped page into a hole faults at the hole.
    let r2 = t.anon_at(W + 20 * P, P, PROT_RW);
    assert_eq!(
        f(t.op(Op::Load {
            addr: r2 + P - 2,
            len: 4
        })),
        (Signal::Segv, FaultCode::MapErr, r2 + P)
    );
}

#[test]
fn grows_down_vmas_expand_on_access() {
    // Facts 3.3 (live): an access below a grows-down VMA grows it (before the permission
    // check); a prev VMA within the 1 MiB guard gap refuses it.
    let mut t = T::new();
    let gd = t.ok(Op::Mmap {
        addr: W + 1024 * P,
        len: 4 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    t.store(gd - 100 * P, b"s");
    assert_eq!(t.vmas(gd - 100 * P, gd + 4 * P), "[0,104)rw-p");
    assert_eq!(t.present(gd - 100 * P, 2), [true, false]);
    let ro = t.ok(Op::Mmap {
        addr: W + 3000 * P,
        len: 2 * P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    match t.op(Op::Store {
        addr: ro - 1,
        data: vec![1],
    }) {
        Outcome::Fault(f) => assert_eq!(f.code, FaultCode::AccErr),
        o => panic!("{o:?}"),
    }
    assert_eq!(
        t.vmas(ro - P, ro + 2 * P),
        "[0,3)r--p",
        "grown by one page, then ACCERR"
    );
    // prev within the guard gap
    let gd2 = t.ok(Op::Mmap {
        addr: W + 6000 * P,
        len: 2 * P,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN | MAP_FIXED,
        fd: u64::MAX,
        offset: 0,
    });
    t.anon_at(gd2 - 300 * P, P, PROT_R);
    assert!(matches!(
        t.op(Op::Load {
            addr: gd2 - 299 * P + 256 * P - P,
            len: 1
        }),
        Outcome::Fault(_)
    ));
    assert!(matches!(
        t.op(Op::Load {
            addr: gd2 - 299 * P + 256 * P,
            len: 1
        }),
        Outcome::Bytes(_)
    ));
}

#[test]
fn shared_pages_and_sigbus() {
    // Checklist 62 [E:p08]: a shared anon mapping grown in place SIGBUSes beyond the
    // object; shared read faults allocate real pages (facts 3.4).
    let mut t = T::new();
    let a = t.shared_anon_at(W, 2 * P);
    assert_eq!(t.mremap(a, 2 * P, 4 * P, 0, 0), Outcome::Value(a));
    assert_eq!(t.pages(a, 4), "00BB");
    let s = t.mm.page_states(a, 2);
    assert_ne!(s[0], s[1]);
    assert!(matches!(s[0], PageState::Present(_)));
}

#[test]
fn madvise_dontneed_contents() {
    // Checklist 95 [E:p12] and facts 2.4.
    let mut t = T::new();
    let a = t.anon_at(W, 2 * P, PROT_RW);
    t.store(a, b"a");
    let s = t.shared_anon_at(W + 4 * P, P);
    t.store(s, b"s");
    let m = |addr, len, advice| Op::Madvise { addr, len, advice };
    t.ok(m(a, 2 * P, 4));
    t.ok(m(s, P, 4));
    assert_eq!(t.pages(a, 1), "0");
    assert_eq!(t.pages(s, 1), "s", "shared data survives");
    assert_eq!(t.count(a, a + 2 * P), 1, "DONTNEED never splits");
    assert_eq!(t.err(m(a + 1, P, 4)), Errno::EINVAL);
    assert_eq!(t.ok(m(a, 0, 4)), 0);
    t.store(a, b"b");
    assert_eq!(t.err(m(a, 4 * P, 4)), Errno::ENOMEM, "VMA then hole");
    assert_eq!(t.pages(a, 1), "0", "the mapped part was zapped anyway");
    t.ok(Op::Mlock { addr: a, len: P });
    assert_eq!(t.err(m(a, P, 4)), Errno::EINVAL, "locked");
    assert_eq!(t.ok(m(a, P, 24)), 0, "MADV_DONTNEED_LOCKED");
    assert_eq!(
        t.err(m(a, P, 100)),
        Errno::EINVAL,
        "no CONFIG_MEMORY_FAILURE here"
    );
    assert_eq!(t.err(m(a, P, 7)), Errno::EINVAL);
    assert_eq!(
        t.err(m(W + 1000 * P, P, 4)),
        Errno::ENOMEM,
        "no VMA at or after start"
    );
}

#[test]
fn madvise_flag_advice_splits() {
    // Checklist 77 [E:p09] and facts 2.4.
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    t.ok(Op::Madvise {
        addr: a + P,
        len: 2 * P,
        advice: 10,
    });
    assert_eq!(t.count(a, a + 4 * P), 3);
    assert!(t.flags_at(a + P).contains("dc"));
    t.ok(Op::Madvise {
        addr: a + P,
        len: 2 * P,
        advice: 11,
    });
    assert_eq!(t.count(a, a + 4 * P), 1);
    let s = t.shared_anon_at(W + 10 * P, P);
    assert_eq!(
        t.err(Op::Madvise {
            addr: s,
            len: P,
            advice: 18
        }),
        Errno::EINVAL,
        "WIPEONFORK on shared"
    );
    t.ok(Op::Madvise {
        addr: s,
        len: P,
        advice: 12,
    });
    assert!(
        !t.flags_at(s).contains("mg"),
        "MERGEABLE ignored on shared memory"
    );
    t.ok(Op::Madvise {
        addr: a,
        len: P,
        advice: 12,
    });
    assert!(t.flags_at(a).contains("mg"));
}

#[test]
fn madvise_populate() {
    // Facts 2.5 (live).
    let mut t = T::new();
    let m = |addr, len, advice| Op::Madvise { addr, len, advice };
    let n = t.anon_at(W, P, PROT_NONE);
    assert_eq!(t.err(m(n, P, 22)), Errno::EINVAL);
    let r = t.anon_at(W + 2 * P, P, PROT_R);
    assert_eq!(t.ok(m(r, P, 22)), 0);
    assert_eq!(t.err(m(r, P, 23)), Errno::EINVAL);
    let w = t.anon_at(W + 4 * P, P, 2);
    assert_eq!(t.err(m(w, P, 22)), Errno::EINVAL);
    assert_eq!(t.ok(m(w, P, 23)), 0);
    let v = t.anon_at(W + 10 * P, 2 * P, PROT_RW);
    t.anon_at(W + 13 * P, P, PROT_RW);
    assert_eq!(t.err(m(v, 4 * P, 22)), Errno::ENOMEM);
    assert_eq!(t.present(v, 4), [true, true, false, false]);
}

#[test]
fn file_read_faults_map_cached_neighbours() {
    // Facts 3.4 (live): with all pages of a memfd cached, a read of page 20 of a mapping
    // whose first page sits at PTE index 10 mod 16 maps pages 6..=21.
    let mut t = T::new();
    let fd = t.ok(Op::MemfdCreate {
        name: "fa".into(),
        flags: 0,
    });
    t.ok(Op::Pwrite64 {
        fd,
        data: vec![7; 64 * P as usize],
        offset: 0,
    });
    let base = W + 10 * P;
    t.ok(Op::Mmap {
        addr: base,
        len: 64 * P,
        prot: 1,
        flags: MAP_SHARED | MAP_FIXED,
        fd,
        offset: 0,
    });
    t.peek(base + 20 * P).unwrap();
    let present: Vec<u64> = (0..64).filter(|&i| t.present(base + i * P, 1)[0]).collect();
    assert_eq!(present, (6..=21).collect::<Vec<u64>>());
    // A sparse file: only the faulting page.
    let fd2 = t.ok(Op::MemfdCreate {
        name: "sparse".into(),
        flags: 0,
    });
    t.ok(Op::Ftruncate {
        fd: fd2,
        length: 64 * P,
    });
    let b2 = W + 200 * P;
    t.ok(Op::Mmap {
        addr: b2,
        len: 64 * P,
        prot: 1,
        flags: MAP_SHARED | MAP_FIXED,
        fd: fd2,
        offset: 0,
    });
    t.peek(b2 + 5 * P).unwrap();
    assert_eq!((0..64).filter(|&i| t.present(b2 + i * P, 1)[0]).count(), 1);
}

#[test]
fn transparent_huge_pages() {
    // Facts 3.5 (live, THP "madvise" mode) and corpus/thp/thp-faults.vms under diff: a
    // write fault in a MADV_HUGEPAGE VMA covering a whole aligned 2 MiB block maps 512
    // pages; a read fault maps the huge zero page (512 pages shared by every such
    // mapping); a write to it maps a new huge page; zapping one page of a huge zero PMD
    // leaves small zero pages.
    let mut t = T::new();
    let m = |addr, len, advice| Op::Madvise { addr, len, advice };
    let a = t.anon_at(0x2000_0000_0000, 1024 * P, PROT_RW);
    t.ok(m(a, 1024 * P, 14));
    t.store(a + 5 * P, b"x");
    assert_eq!(t.present(a, 512), vec![true; 512]);
    assert_eq!(t.present(a + 512 * P, 1), [false]);
    let s = t.mm.page_states(a, 512);
    assert_ne!(s[0], s[1]);
    t.peek(a + 600 * P).unwrap();
    let z = t.mm.page_states(a + 512 * P, 512);
    assert!(z.iter().all(|p| matches!(p, PageState::Present(_))));
    let b = t.anon_at(0x2000_0040_0000, 512 * P, PROT_R);
    t.ok(m(b, 512 * P, 14));
    t.peek(b + 7 * P).unwrap();
    assert_eq!(
        t.mm.page_states(b, 512),
        z,
        "one huge zero page for everyone"
    );
    assert_eq!(
        t.mm.rss_pages(),
        512,
        "the huge zero page is not resident memory"
    );
    t.store(a + 700 * P, b"y");
    let y = t.mm.page_states(a + 512 * P, 512);
    assert!(
        y.iter().zip(&z).all(|(n, o)| n != o),
        "a whole new huge page"
    );
    t.ok(m(a + 10 * P, P, 4));
    assert_eq!(t.present(a, 512).iter().filter(|&&p| p).count(), 511);
    t.ok(m(b + 3 * P, P, 4));
    let after = t.mm.page_states(b, 512);
    assert_eq!(after[3], PageState::Absent);
    let s0 = t.anon_at(0x2000_1000_0000, P, PROT_R);
    t.peek(s0).unwrap();
    let small_zero = t.mm.page_states(s0, 1)[0];
    assert!(
        after
            .iter()
            .enumerate()
            .all(|(i, p)| i == 3 || *p == small_zero)
    );
    // Not covering a whole aligned block: small pages.
    let c = t.anon_at(0x2000_0080_0000 + 88 * P, 600 * P, PROT_RW);
    t.ok(m(c, 600 * P, 14));
    t.store(c + 550 * P, b"z");
    assert_eq!(t.present(c, 600).iter().filter(|&&p| p).count(), 1);
}

#[test]
fn page_tables_come_out_of_the_memory_budget() {
    // Reading a huge private mapping maps only the shared zero page, but every 2 MiB
    // needs a page table (512 entries); the kernel pays for those tables from RAM
    // and runs out of memory (MADV_POPULATE_* return ENOMEM). The engine charges
    // each table as one frame of its budget.
    const MADV_POPULATE_READ: u64 = 22;
    let budget = 4096;
    let mut t = T::with(vmspace::Config {
        frame_budget: budget,
        ..vmspace::Config::default()
    });
    let len = 1 << 40;
    let a = t.ok(Op::Mmap {
        addr: W,
        len,
        prot: PROT_RW,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_NORESERVE,
        fd: u64::MAX,
        offset: 0,
    });
    assert_eq!(
        t.err(Op::Madvise {
            addr: a,
            len,
            advice: MADV_POPULATE_READ
        }),
        Errno::ENOMEM
    );
    let tables = t.mm.pagetable_tables();
    assert!(tables > budget - 8 && tables <= budget, "{tables} tables");
    // Once the tables are freed, the memory is available again.
    assert_eq!(t.munmap(a, len), Outcome::Value(0));
    assert_eq!(t.mm.pagetable_tables(), 0);
    let b = t.anon_at(W, 4 * P, PROT_RW);
    t.store(b + 3 * P, b"ok");
    assert_eq!(t.peek(b + 3 * P), Ok(b'o'));
}

#[test]
fn rlimit_stack_bounds_the_growth_of_a_grows_down_mapping() {
    // docs/probes/stack-rlimit.c on Linux 6.18: a one-page MAP_GROWSDOWN mapping under
    // RLIMIT_STACK 8 pages grows to 5 and to 8 pages; a touch that needs 9 is SIGSEGV.
    let mut t = T::new();
    let x = 0x3000_0010_0000u64;
    t.ok(Op::Mmap {
        addr: x,
        len: P,
        prot: PROT_RW,
        flags: MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_GROWSDOWN,
        fd: u64::MAX,
        offset: 0,
    });
    t.ok(Op::Setrlimit {
        resource: 3,
        cur: 8 * P,
        max: u64::MAX,
    });
    let store = |t: &mut T, addr: u64| {
        t.mm.apply(&Op::Store {
            addr,
            data: vec![1],
        })
    };
    assert_eq!(store(&mut t, x - 4 * P), Outcome::Done);
    assert_eq!(store(&mut t, x - 7 * P), Outcome::Done);
    assert!(matches!(store(&mut t, x - 8 * P), Outcome::Fault(_)));
}

#[test]
fn raising_a_hard_limit_needs_cap_sys_resource() {
    // docs/probes/rlimit-raise-hard.c on Linux 6.18, as root without CAP_SYS_RESOURCE
    // (CapEff 000001fffeffffff): lowering RLIMIT_STACK's hard limit to 16 MiB is 0,
    // raising it to 32 MiB EPERM, lowering it to 12 MiB 0. With the capability the
    // raise is allowed (do_prlimit).
    for cap in [false, true] {
        let mut t = T {
            mm: vmspace::Mm::new(vmspace::Config {
                cap_sys_resource: cap,
                ..vmspace::Config::default()
            }),
        };
        let set = |t: &mut T, max: u64| {
            t.mm.apply(&Op::Setrlimit {
                resource: 3,
                cur: 8 << 20,
                max,
            })
        };
        assert_eq!(set(&mut t, 16 << 20), Outcome::Value(0));
        let raised = set(&mut t, 32 << 20);
        if cap {
            assert_eq!(raised, Outcome::Value(0));
        } else {
            assert_eq!(raised, Outcome::Error(Errno::EPERM));
        }
        assert_eq!(set(&mut t, 12 << 20), Outcome::Value(0));
    }
}

#[test]
fn after_dropping_root_only_the_same_uid_is_allowed() {
    // docs/probes/setuid-drop.c on Linux 6.18, as root: setuid(1000) = 0, again 0,
    // setuid(0) EPERM.
    let mut t = T {
        mm: vmspace::Mm::new(vmspace::Config {
            privileged: true,
            ..vmspace::Config::default()
        }),
    };
    let setuid = |t: &mut T, uid: u64| t.mm.apply(&Op::Setuid { uid });
    assert_eq!(setuid(&mut t, 1000), Outcome::Value(0));
    assert_eq!(setuid(&mut t, 1000), Outcome::Value(0));
    assert_eq!(setuid(&mut t, 0), Outcome::Error(Errno::EPERM));
}
