//! brk.

use crate::harness::*;
use vmspace::{Config, MapsLine, Mm, Op, Seed, SeedVma};

fn with_heap() -> (T, u64) {
    let line = MapsLine::parse("555555557000-555555559000 rw-p 00002000 fe:00 1234 /usr/bin/demo")
        .unwrap();
    let seed = Seed {
        vmas: vec![SeedVma {
            line,
            vm_flags: None,
            faulted: true,
        }],
        mmap_base: Config::default().mmap_base,
        start_brk: 0x5555_5555_9000,
        brk: 0x5555_5555_9000,
        start_stack: 0,
        data_segment: 0,
        open_fds: vec![0, 1, 2],
        locked_pages: 0,
    };
    let mm = Mm::from_seed(&seed, Config::default()).unwrap();
    (T { mm }, 0x5555_5555_9000)
}

#[test]
fn grow_shrink_and_query() {
    // Checklist 96 [E:p13].
    let (mut t, cur) = with_heap();
    assert!(
        !t.mm.maps_text().contains("[heap]"),
        "no heap VMA until the break grows"
    );
    assert_eq!(
        t.ok(Op::Brk {
            addr: cur + 3 * P + 5
        }),
        cur + 3 * P + 5
    );
    let heap =
        t.mm.maps_text()
            .lines()
            .find(|l| l.ends_with("[heap]"))
            .unwrap()
            .to_string();
    assert!(
        heap.starts_with(&format!("{:x}-{:x} rw-p", cur, cur + 4 * P)),
        "{heap}"
    );
    t.store(cur + 2 * P, b"x");
    assert_eq!(t.ok(Op::Brk { addr: cur + P }), cur + P);
    assert_eq!(t.pages(cur, 4), "0...");
    assert_eq!(t.ok(Op::Brk { addr: cur + 3 * P }), cur + 3 * P);
    assert_eq!(t.pages(cur, 3), "000", "regrown pages read zero");
    assert_eq!(
        t.ok(Op::Brk { addr: 0x1000 }),
        cur + 3 * P,
        "a failed brk returns the current break"
    );
    assert_eq!(t.ok(Op::Brk { addr: 0 }), cur + 3 * P);
}

#[test]
fn one_free_page_must_remain() {
    // Checklist 97 [E:p13].
    let (mut t, cur) = with_heap();
    t.anon_at(cur + 2 * P, P, PROT_R);
    assert_eq!(
        t.ok(Op::Brk { addr: cur + 2 * P }),
        cur,
        "refused: no free page would remain"
    );
    assert_eq!(t.ok(Op::Brk { addr: cur + P }), cur + P);
}

#[test]
fn shrink_needs_a_vma_and_rlimit_data_applies_to_shrinking() {
    // Facts 6 (live).
    let (mut t, cur) = with_heap();
    t.ok(Op::Brk { addr: cur + 4 * P });
    t.munmap(cur, 4 * P);
    assert_eq!(
        t.ok(Op::Brk { addr: cur + P }),
        cur + 4 * P,
        "no VMA in [newbrk, oldbrk)"
    );
    let (mut u, cur) = with_heap();
    u.ok(Op::Brk { addr: cur + 4 * P });
    u.ok(Op::Setrlimit {
        resource: 2,
        cur: 0,
        max: u64::MAX,
    });
    assert_eq!(u.ok(Op::Brk { addr: cur + P }), cur + 4 * P);
}

#[test]
fn moving_the_heap_drops_its_label() {
    // Checklist 81 [E:p10]: the [heap] label follows start_brk..brk, not the VMA.
    let (mut t, cur) = with_heap();
    t.ok(Op::Brk { addr: cur + 4 * P });
    assert!(t.mm.maps_text().contains("[heap]"));
    let to = t.ok(Op::Mremap {
        old_addr: cur,
        old_len: 4 * P,
        new_len: 4 * P,
        flags: 3,
        new_addr: W,
    });
    assert_eq!(to, W);
    assert!(!t.mm.maps_text().contains("[heap]"), "{}", t.mm.maps_text());
}
