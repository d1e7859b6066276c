//! The differ reads the kernel's full status (for `VmLck`) only after calls that can
//! have changed locked memory, because that read is expensive. Checked here without a
//! kernel: the "kernel" is an engine whose `VmLck` reads 4 kB too high from one call
//! on, and the differ must report the difference at that call for every kind of call
//! that can change locked memory, at the 64th call at the latest for any other, and
//! must not read the status after calls that cannot change locked memory.

mod support;

use support::{Liar, Lie, P, R, RW, map as map_prot};
use vmspace::{Counters, Op};
use vmspace_check::differ::{Differ, Step};

const MAP_LOCKED: u64 = 0x2000;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
const MCL_FUTURE: u64 = 2;

const A: u64 = 0x2000_0000;
const B: u64 = 0x3000_0000;

/// `VmLck` 4 kB too high once `.0` calls were made.
struct LockLie(u64);

impl Lie for LockLie {
    fn status(&self, calls: u64, c: &mut Counters) {
        if calls >= self.0 {
            c.vm_lck_kb += 4;
        }
    }
}

fn map(addr: u64, len: u64, extra: u64) -> Op {
    map_prot(addr, len, RW, extra)
}

/// Run `setup` (which must agree), then `ops`, with a kernel that misreports `VmLck`
/// from the first of `ops` on; the index in `ops` of the call the differ reports, and
/// what it reported.
fn found_at(setup: &[Op], ops: &[Op]) -> Option<(usize, String)> {
    let seed = vmspace_check::default_seed();
    let mut e = support::engine();
    let mut k = Liar::new(LockLie(setup.len() as u64 + 1));
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    for (i, op) in setup.iter().enumerate() {
        match d.step(op) {
            Ok(Step::Agree(_)) => {}
            other => panic!("setup call {i} ({op:?}): {other:?}"),
        }
    }
    for (i, op) in ops.iter().enumerate() {
        match d.step(op) {
            Ok(Step::Agree(_)) => {}
            Ok(Step::Diverge(div)) => return Some((i, format!("{}: {}", div.kind, div.detail))),
            other => panic!("call {i} ({op:?}): {other:?}"),
        }
    }
    None
}

#[test]
fn every_kind_of_call_that_can_change_locked_memory_is_checked_at_once() {
    let cases: Vec<(&str, Vec<Op>, Op)> = vec![
        (
            "mlock",
            vec![map(A, 2 * P, 0)],
            Op::Mlock { addr: A, len: P },
        ),
        ("mmap with MAP_LOCKED", vec![], map(A, P, MAP_LOCKED)),
        (
            // Neither the VMAs nor the engine's locked_vm change: only the kind of call
            // says the kernel's locked memory may have.
            "mlock of memory already locked",
            vec![
                map(A, 2 * P, 0),
                Op::Mlock {
                    addr: A,
                    len: 2 * P,
                },
            ],
            Op::Mlock { addr: A, len: P },
        ),
        (
            // It fails (EEXIST), changing nothing on the engine's side.
            "mmap with MAP_LOCKED that fails",
            vec![map(A, P, 0)],
            Op::Mmap {
                addr: A,
                len: P,
                prot: RW,
                flags: support::PRIVATE_ANON | MAP_FIXED_NOREPLACE | MAP_LOCKED,
                fd: u64::MAX,
                offset: 0,
            },
        ),
        (
            // No lock call, but the engine's locked_vm changes.
            "munmap of locked memory",
            vec![
                map(A, 2 * P, 0),
                Op::Mlock {
                    addr: A,
                    len: 2 * P,
                },
            ],
            Op::Munmap { addr: A, len: P },
        ),
        (
            // locked_vm unchanged on the engine's side, a locked VMA split in the window.
            "mprotect of locked memory",
            vec![
                map(A, 2 * P, 0),
                Op::Mlock {
                    addr: A,
                    len: 2 * P,
                },
            ],
            Op::Mprotect {
                addr: A,
                len: P,
                prot: R,
            },
        ),
        (
            // Under MCL_FUTURE, with nothing locked in the window: the VMAs changed.
            "mprotect under MCL_FUTURE",
            vec![map(A, 2 * P, 0), Op::Mlockall { flags: MCL_FUTURE }],
            Op::Mprotect {
                addr: A,
                len: P,
                prot: R,
            },
        ),
    ];
    for (what, setup, op) in cases {
        // A padding call first, so that the call under test is not any step count's
        // multiple of 64 by accident.
        let mut ops = vec![op];
        ops.push(map(B, P, 0));
        let found = found_at(&setup, &ops);
        assert_eq!(
            found.as_ref().map(|f| f.0),
            Some(0),
            "{what}: the misreported VmLck was found at {found:?}, not at the call"
        );
        assert!(found.unwrap().1.starts_with("counters"), "{what}");
    }
}

#[test]
fn a_difference_after_any_other_call_is_found_by_the_64th_call() {
    // mprotects at B, with no locked memory anywhere: the status is read at the 64th
    // step regardless.
    let setup = [map(B, 2 * P, 0)];
    let ops: Vec<Op> = (0..100)
        .map(|i| Op::Mprotect {
            addr: B,
            len: P,
            prot: if i % 2 == 0 { R } else { RW },
        })
        .collect();
    let found = found_at(&setup, &ops);
    // Step 64 of the run is the 63rd of `ops` (the setup made the first).
    assert_eq!(found.map(|f| f.0), Some(62));
}

#[test]
fn calls_that_cannot_change_locked_memory_do_not_read_the_status() {
    let seed = vmspace_check::default_seed();
    let mut e = support::engine();
    let mut k = Liar::new(LockLie(u64::MAX));
    let mut d = Differ::seeded(&mut e, &mut k, &seed);
    // Locked memory at A; every later call changes VMAs at B only.
    let setup = [
        map(A, 2 * P, 0),
        Op::Mlock {
            addr: A,
            len: 2 * P,
        },
        map(B, 2 * P, 0),
    ];
    for op in &setup {
        assert!(matches!(d.step(op), Ok(Step::Agree(_))), "{op:?}");
    }
    for i in 0..40u64 {
        let op = Op::Mprotect {
            addr: B,
            len: P,
            prot: if i % 2 == 0 { R } else { RW },
        };
        assert!(matches!(d.step(&op), Ok(Step::Agree(_))), "{op:?}");
    }
    drop(d);
    // The mlock read it; the mmap at A changed no locked memory (none yet), the mmap
    // at B neither.
    assert_eq!(k.status_reads, 1);
}
