//! mlock, mlock2, munlock, mlockall.

use crate::harness::*;
use vmspace::{Config, Errno, Op, Rlimit, Rlimits};

#[test]
fn rounding_holes_and_prot_none() {
    // Checklist 94 [E:p12].
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    t.ok(Op::Mlock {
        addr: a + P + 100,
        len: 10,
    });
    assert_eq!(t.count(a, a + 4 * P), 3);
    assert!(t.flags_at(a + P).contains("lo"));
    assert_eq!(t.vm_lck_kb(), 4);
    t.anon_at(W + 6 * P, 2 * P, PROT_RW);
    assert_eq!(
        t.err(Op::Mlock {
            addr: a + 3 * P,
            len: 4 * P
        }),
        Errno::ENOMEM
    );
    assert!(
        t.flags_at(a + 3 * P).contains("lo"),
        "the part before the hole is locked"
    );
    assert_eq!(t.present(a + 3 * P, 1), [false], "...but not populated");
    let n = t.anon_at(W + 20 * P, 2 * P, PROT_NONE);
    assert_eq!(
        t.err(Op::Mlock {
            addr: n,
            len: 2 * P
        }),
        Errno::ENOMEM
    );
    assert!(t.flags_at(n).contains("lo"));
    assert_eq!(
        t.ok(Op::Mlock {
            addr: W + 100 * P,
            len: 0
        }),
        0
    );
}

#[test]
fn lock_and_unlock_split_and_merge() {
    // Checklist 77 [E:p09].
    let mut t = T::new();
    let a = t.anon_at(W, 6 * P, PROT_RW);
    t.ok(Op::Mlock {
        addr: a + 2 * P,
        len: P,
    });
    assert_eq!(t.count(a, a + 6 * P), 3);
    t.ok(Op::Munlock {
        addr: a + 2 * P,
        len: P,
    });
    assert_eq!(t.count(a, a + 6 * P), 1);
    assert_eq!(t.vm_lck_kb(), 0);
}

#[test]
fn limits_without_cap_ipc_lock() {
    // Checklist 67 (mlock part) [E:p05] and facts 1.1 (live).
    let rl = Rlimits {
        memlock: Rlimit {
            cur: 3 * P,
            max: 3 * P,
        },
        ..Rlimits::default()
    };
    let mut t = T::with(Config {
        privileged: false,
        rlimits: rl,
        ..Config::default()
    });
    let a = t.anon_at(W, 8 * P, PROT_RW);
    assert_eq!(
        t.err(Op::Mlock {
            addr: a,
            len: 4 * P
        }),
        Errno::ENOMEM
    );
    t.ok(Op::Mlock {
        addr: a,
        len: 2 * P,
    });
    // Already locked pages are not counted twice.
    t.ok(Op::Mlock {
        addr: a,
        len: 3 * P,
    });
    assert_eq!(
        t.err(Op::Mlock {
            addr: a,
            len: 4 * P
        }),
        Errno::ENOMEM
    );
    assert_eq!(
        t.err(Op::Mlock2 {
            addr: a,
            len: P,
            flags: 2
        }),
        Errno::EINVAL
    );
    let rl0 = Rlimits {
        memlock: Rlimit { cur: 0, max: 0 },
        ..Rlimits::default()
    };
    let mut u = T::with(Config {
        privileged: false,
        rlimits: rl0,
        ..Config::default()
    });
    let b = u.anon_at(W, P, PROT_RW);
    assert_eq!(u.err(Op::Mlock { addr: b, len: 0 }), Errno::EPERM);
    assert_eq!(
        u.err(Op::Mlock2 {
            addr: b,
            len: P,
            flags: 2
        }),
        Errno::EINVAL,
        "mlock2 checks flags first"
    );
    assert_eq!(
        u.ok(Op::Munlock { addr: b, len: P }),
        0,
        "munlock has no limit check"
    );
}

#[test]
fn onfault_and_mlockall() {
    // Checklist 66 [E:p05] and facts 1.4/1.5 (live).
    let mut t = T::new();
    let a = t.anon_at(W, 4 * P, PROT_RW);
    t.ok(Op::Mlock2 {
        addr: a,
        len: 4 * P,
        flags: 1,
    });
    assert!(t.flags_at(a).contains("lo") && t.flags_at(a).contains("lf"));
    assert_eq!(t.present(a, 4), [false; 4]);
    assert_eq!(t.vm_lck_kb(), 16);
    for bad in [0, 4, 8, 2 | 8] {
        assert_eq!(t.err(Op::Mlockall { flags: bad }), Errno::EINVAL, "{bad}");
    }
    t.ok(Op::Mlockall { flags: 2 });
    let b = t.anon_at(W + 16 * P, 4 * P, PROT_RW);
    assert!(t.flags_at(b).contains("lo"));
    assert_eq!(t.present(b, 4), [true; 4]);
    let n = t.anon_at(W + 32 * P, 2 * P, PROT_NONE);
    assert!(
        t.flags_at(n).contains("lo"),
        "PROT_NONE mmap under MCL_FUTURE is locked"
    );
    t.ok(Op::Mlockall { flags: 1 | 4 });
    let c = t.anon_at(W + 48 * P, 2 * P, PROT_RW);
    assert!(
        !t.flags_at(c).contains("lo"),
        "a call without MCL_FUTURE clears it"
    );
    t.ok(Op::Munlockall);
    assert_eq!(t.vm_lck_kb(), 0);
}
