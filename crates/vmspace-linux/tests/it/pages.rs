//! Page presence and frame identity from /proc/<pid>/pagemap.

use vmspace::{Backend, Op, Outcome, PageState};

use crate::*;

fn frame(p: PageState) -> u64 {
    match p {
        PageState::Present(pfn) => pfn,
        PageState::Absent => panic!("page absent"),
    }
}

#[test]
fn pages_appear_when_touched() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 3 * PAGE, PROT_RW);
    assert_eq!(b.pages(a, 3).unwrap(), [PageState::Absent; 3]);
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a + PAGE + 9,
                data: vec![1]
            }
        ),
        Outcome::Done
    );
    let p = b.pages(a, 3).unwrap();
    assert_eq!(p[0], PageState::Absent);
    assert!(frame(p[1]) != 0, "root sees real frame numbers");
    assert_eq!(p[2], PageState::Absent);
    // MADV_DONTNEED drops it again.
    assert_eq!(
        value(
            &mut b,
            Op::Madvise {
                addr: a,
                len: 3 * PAGE,
                advice: 4
            }
        ),
        0
    );
    assert_eq!(b.pages(a, 3).unwrap(), [PageState::Absent; 3]);
}

#[test]
fn read_faults_on_private_anonymous_memory_map_the_shared_zero_page() {
    let mut b = spawn();
    let a = mmap_anon(&mut b, 2 * PAGE, PROT_RW);
    let c = mmap_anon(&mut b, PAGE, PROT_READ);
    for addr in [a, a + PAGE, c] {
        assert_eq!(
            apply(&mut b, Op::Load { addr, len: 1 }),
            Outcome::Bytes(vec![0])
        );
    }
    let zero = frame(b.pages(a, 1).unwrap()[0]);
    assert_eq!(b.pages(a, 2).unwrap(), [PageState::Present(zero); 2]);
    assert_eq!(b.pages(c, 1).unwrap(), [PageState::Present(zero)]);
    // A write replaces it with a page of its own.
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: a,
                data: vec![1]
            }
        ),
        Outcome::Done
    );
    let own = frame(b.pages(a, 1).unwrap()[0]);
    assert_ne!(own, zero);
    assert_eq!(b.pages(a + PAGE, 1).unwrap(), [PageState::Present(zero)]);
}

#[test]
fn two_shared_mappings_of_a_memfd_page_share_its_frame() {
    let mut b = spawn();
    let fd = value(
        &mut b,
        Op::MemfdCreate {
            name: "shared".into(),
            flags: 0,
        },
    );
    assert_eq!(
        value(
            &mut b,
            Op::Ftruncate {
                fd,
                length: 2 * PAGE
            }
        ),
        0
    );
    let x = value(&mut b, mmap_op(2 * PAGE, PROT_RW, MAP_SHARED, fd));
    let y = value(&mut b, mmap_op(2 * PAGE, PROT_READ, MAP_SHARED, fd));
    assert_ne!(x, y);
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: x + PAGE,
                data: b"hi".to_vec()
            }
        ),
        Outcome::Done
    );
    assert_eq!(
        b.pages(y, 2).unwrap(),
        [PageState::Absent; 2],
        "not yet touched through y"
    );
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: y + PAGE,
                len: 2
            }
        ),
        Outcome::Bytes(b"hi".to_vec())
    );
    let px = b.pages(x, 2).unwrap();
    let py = b.pages(y, 2).unwrap();
    assert_eq!(px[0], PageState::Absent);
    assert_eq!(py[0], PageState::Absent);
    assert_eq!(frame(px[1]), frame(py[1]));
    // A private mapping of the same file reads the same frame until it writes.
    let z = value(&mut b, mmap_op(2 * PAGE, PROT_RW, MAP_PRIVATE, fd));
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: z + PAGE,
                len: 2
            }
        ),
        Outcome::Bytes(b"hi".to_vec())
    );
    assert_eq!(b.pages(z + PAGE, 1).unwrap(), [px[1]]);
    assert_eq!(
        apply(
            &mut b,
            Op::Store {
                addr: z + PAGE,
                data: b"!".to_vec()
            }
        ),
        Outcome::Done
    );
    assert_ne!(b.pages(z + PAGE, 1).unwrap(), [px[1]]);
    assert_eq!(
        apply(
            &mut b,
            Op::Load {
                addr: x + PAGE,
                len: 2
            }
        ),
        Outcome::Bytes(b"hi".to_vec())
    );
}

#[test]
fn pages_beyond_user_space_are_absent() {
    let mut b = spawn();
    let p = b.pages(0x7fff_ffff_e000, 4).unwrap();
    assert_eq!(p.len(), 4);
    assert!(
        matches!(p[0], PageState::Present(_)),
        "top page of the stack"
    );
    assert_eq!(p[1..], [PageState::Absent; 3]);
    assert_eq!(b.pages(!0xfff, 2).unwrap(), [PageState::Absent; 2]);
}

#[test]
fn a_read_longer_than_one_chunk_keeps_every_page_in_its_place() {
    // pagemap is read in chunks of 8,192 entries: touch pages on both sides of the
    // chunk boundaries of a 20,000-page read and nowhere else.
    let mut b = spawn();
    let n = 20_000;
    let a = mmap_anon(&mut b, n * PAGE, PROT_RW);
    let touched = [0, 1, 8_191, 8_192, 8_193, 16_383, 16_384, 19_999];
    for &i in &touched {
        assert_eq!(
            apply(
                &mut b,
                Op::Store {
                    addr: a + i * PAGE,
                    data: vec![7]
                }
            ),
            Outcome::Done
        );
    }
    let p = b.pages(a, n).unwrap();
    assert_eq!(p.len(), n as usize);
    let present: Vec<u64> = (0..n)
        .filter(|&i| p[i as usize] != PageState::Absent)
        .collect();
    assert_eq!(present, touched);
    // Each page's own frame: the same as a read of that page alone.
    for &i in &touched {
        assert_eq!(
            b.pages(a + i * PAGE, 1).unwrap()[0],
            p[i as usize],
            "page {i}"
        );
    }
}
