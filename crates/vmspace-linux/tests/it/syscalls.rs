//! System calls through the agent: results, errnos, and their effect on the layout.

use vmspace::{Backend, Errno, Op, Outcome};

use crate::*;

const RLIMIT_MEMLOCK: u64 = 8;

#[test]
fn mmap_shows_up_in_maps_and_counters() {
    let mut b = spawn();
    let before = b.counters().unwrap();
    // PROT_READ, so it cannot merge with the read-write anonymous neighbours.
    let a = mmap_anon(&mut b, 16 * PAGE, PROT_READ);
    // The first mapping below the start-up layout lands in the highest gap that fits.
    let maps = b.maps().unwrap();
    let line = format!("{a:08x}-{:08x} r--p 00000000 00:00 0 \n", a + 16 * PAGE);
    assert!(maps.contains(&line), "{maps}");
    let after = b.counters().unwrap();
    assert_eq!(after.vm_size_kb, before.vm_size_kb + 64);
    assert_eq!(after.map_count, before.map_count + 1);
    assert_eq!(
        after.vm_data_kb, before.vm_data_kb,
        "not writable: not data_vm"
    );
    assert_eq!(
        value(
            &mut b,
            Op::Munmap {
                addr: a,
                len: 16 * PAGE
            }
        ),
        0
    );
    assert_eq!(b.counters().unwrap(), before);
}

#[test]
fn errnos_pass_through() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 2 * PAGE, PROT_RW);
    assert_eq!(
        apply(
            &mut b,
            Op::Munmap {
                addr: a + 1,
                len: PAGE
            }
        ),
        Outcome::Error(Errno::EINVAL)
    );
    assert_eq!(
        apply(
            &mut b,
            mmap_op(0, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX)
        ),
        Outcome::Error(Errno::EINVAL)
    );
    assert_eq!(
        apply(&mut b, mmap_op(PAGE, PROT_RW, MAP_SHARED, 77)),
        Outcome::Error(Errno::EBADF)
    );
    // mremap always gets five registers: growing in place into a taken page fails.
    let grow = Op::Mremap {
        old_addr: a,
        old_len: PAGE,
        new_len: 3 * PAGE,
        flags: 0,
        new_addr: 0,
    };
    let above = a + 2 * PAGE;
    let taken = b
        .maps()
        .unwrap()
        .lines()
        .any(|l| l.starts_with(&format!("{above:08x}-")));
    assert!(taken, "something is mapped right above");
    assert_eq!(apply(&mut b, grow), Outcome::Error(Errno::ENOMEM));
    // ... and MREMAP_FIXED (2) | MAYMOVE (1) uses the fifth.
    let dest = mmap_anon(&mut b, 4 * PAGE, PROT_READ);
    let mv = Op::Mremap {
        old_addr: a,
        old_len: PAGE,
        new_len: PAGE,
        flags: 3,
        new_addr: dest + PAGE,
    };
    assert_eq!(value(&mut b, mv), dest + PAGE);
    assert_eq!(
        apply(
            &mut b,
            Op::Madvise {
                addr: a,
                len: PAGE,
                advice: 12345
            }
        ),
        Outcome::Error(Errno::EINVAL)
    );
    assert_eq!(
        apply(&mut b, Op::Mlockall { flags: 0 }),
        Outcome::Error(Errno::EINVAL)
    );
}

#[test]
fn brk_is_the_raw_system_call() {
    let mut b = spawn();
    let seed_brk = b.seed().brk;
    assert_eq!(value(&mut b, Op::Brk { addr: 0 }), seed_brk);
    // A request it cannot satisfy returns the unchanged break, not an error.
    assert_eq!(value(&mut b, Op::Brk { addr: 1 }), seed_brk);
    assert_eq!(
        value(
            &mut b,
            Op::Brk {
                addr: seed_brk + 3 * PAGE + 1
            }
        ),
        seed_brk + 3 * PAGE + 1
    );
    let maps = b.maps().unwrap();
    let heap = format!(
        "{:x}-{:x} rw-p 00000000 00:00 0                          [heap]",
        b.seed().start_brk,
        seed_brk + 4 * PAGE
    );
    assert!(maps.contains(&heap), "{maps}");
}

#[test]
fn memlock_limit_binds_only_without_cap_ipc_lock() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 4 * PAGE, PROT_RW);
    let limit = Op::Setrlimit {
        resource: RLIMIT_MEMLOCK,
        cur: PAGE,
        max: PAGE,
    };
    assert_eq!(value(&mut b, limit), 0);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", b.pid())).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max locked memory") && l.contains(" 4096 ")),
        "{limits}"
    );
    // As root (CAP_IPC_LOCK) the limit is ignored.
    assert_eq!(
        value(
            &mut b,
            Op::Mlock {
                addr: a,
                len: 2 * PAGE
            }
        ),
        0
    );
    assert_eq!(b.counters().unwrap().vm_lck_kb, 8);
    assert_eq!(
        value(
            &mut b,
            Op::Munlock {
                addr: a,
                len: 2 * PAGE
            }
        ),
        0
    );
    assert_eq!(b.counters().unwrap().vm_lck_kb, 0);
    // After dropping root it binds: beyond it ENOMEM, within it fine.
    assert_eq!(value(&mut b, Op::Setuid { uid: 65534 }), 0);
    assert_eq!(
        apply(
            &mut b,
            Op::Mlock {
                addr: a,
                len: 2 * PAGE
            }
        ),
        Outcome::Error(Errno::ENOMEM)
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Mlock2 {
                addr: a + 1,
                len: 1,
                flags: 0
            }
        ),
        Outcome::Value(0)
    );
    assert_eq!(b.counters().unwrap().vm_lck_kb, 4);
    // A zero limit without the capability is EPERM; an unprivileged raise of the hard
    // limit is EPERM too.
    assert_eq!(
        value(
            &mut b,
            Op::Setrlimit {
                resource: RLIMIT_MEMLOCK,
                cur: 0,
                max: 0
            }
        ),
        0
    );
    assert_eq!(
        apply(&mut b, Op::Mlock { addr: a, len: PAGE }),
        Outcome::Error(Errno::EPERM)
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Setrlimit {
                resource: RLIMIT_MEMLOCK,
                cur: PAGE,
                max: PAGE
            }
        ),
        Outcome::Error(Errno::EPERM)
    );
    assert_eq!(
        apply(&mut b, Op::Setuid { uid: 0 }),
        Outcome::Error(Errno::EPERM)
    );
}

#[test]
fn memfd_names_reach_the_kernel_as_given() {
    let mut b = spawn();
    // The kernel's limit is 249 bytes (NAME_MAX - "memfd:".len()).
    assert_eq!(
        value(
            &mut b,
            Op::MemfdCreate {
                name: "n".repeat(249).into(),
                flags: 0
            }
        ),
        3
    );
    for len in [250, 300, 5000, (1 << 20) + 10] {
        assert_eq!(
            apply(
                &mut b,
                Op::MemfdCreate {
                    name: "n".repeat(len).into(),
                    flags: 0
                }
            ),
            Outcome::Error(Errno::EINVAL),
            "{len}"
        );
    }
    assert_eq!(
        apply(
            &mut b,
            Op::MemfdCreate {
                name: "x".into(),
                flags: 0x100
            }
        ),
        Outcome::Error(Errno::EINVAL)
    );
    assert_eq!(
        value(
            &mut b,
            Op::MemfdCreate {
                name: "".into(),
                flags: 1
            }
        ),
        4
    );
    let link = std::fs::read_link(format!("/proc/{}/fd/4", b.pid())).unwrap();
    assert_eq!(link.to_str(), Some("/memfd: (deleted)"));
    assert_eq!(value(&mut b, Op::Close { fd: 3 }), 0);
    assert_eq!(
        value(
            &mut b,
            Op::MemfdCreate {
                name: "again".into(),
                flags: 0
            }
        ),
        3
    );
}

#[test]
fn harness_descriptors_cannot_be_closed() {
    let mut b = spawn();
    for fd in [0, 1, 2, 1000, 1001, (1 << 32) | 1000] {
        assert!(
            matches!(apply(&mut b, Op::Close { fd }), Outcome::Unsupported(_)),
            "{fd}"
        );
    }
    assert_eq!(
        apply(&mut b, Op::Close { fd: 3 }),
        Outcome::Error(Errno::EBADF)
    );
    assert_eq!(
        apply(&mut b, Op::Close { fd: u64::MAX }),
        Outcome::Error(Errno::EBADF)
    );
    // Still answering.
    assert_eq!(value(&mut b, Op::Brk { addr: 0 }), b.seed().brk);
}

#[test]
fn ftruncate_past_rlimit_fsize_is_efbig_not_a_dead_agent() {
    let mut b = spawn();
    let fd = value(
        &mut b,
        Op::MemfdCreate {
            name: "f".into(),
            flags: 0,
        },
    );
    assert_eq!(
        value(
            &mut b,
            Op::Setrlimit {
                resource: 1,
                cur: PAGE,
                max: PAGE
            }
        ),
        0
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Ftruncate {
                fd,
                length: 2 * PAGE
            }
        ),
        Outcome::Error(Errno::EFBIG)
    );
    assert_eq!(value(&mut b, Op::Ftruncate { fd, length: PAGE }), 0);
    assert_eq!(
        apply(
            &mut b,
            Op::Pwrite64 {
                fd,
                data: vec![1; 10],
                offset: PAGE - 4
            }
        ),
        Outcome::Value(4)
    );
}
