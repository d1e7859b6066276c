//! Pages move, they are not copied: whole PMD tables move as one pointer.

use crate::harness::*;
use vmspace::Op;

#[test]
fn an_aligned_64mib_move_touches_32_table_pointers() {
    let mut t = T::new();
    let len = 64u64 << 20;
    let src = t.anon_at(0x4000_0000_0000, len, PROT_RW);
    t.ok(Op::Madvise {
        addr: src,
        len,
        advice: 23,
    });
    let before = t.mm.pagetable_move_visits();
    let frames: Vec<_> = t.mm.page_states(src, 4);
    let dst = 0x5000_0000_0000;
    t.mremap(src, len, len, MAYMOVE | FIXED, dst);
    assert_eq!(t.mm.pagetable_move_visits() - before, 32);
    assert_eq!(
        t.mm.page_states(dst, 4),
        frames,
        "the same frames, now at the destination"
    );
    assert_eq!(t.present(src, 1), [false]);
    // The same move to a destination one page off alignment visits every entry.
    let before = t.mm.pagetable_move_visits();
    t.mremap(dst, len, len, MAYMOVE | FIXED, 0x6000_0000_1000);
    assert_eq!(t.mm.pagetable_move_visits() - before, 16384);
    assert_eq!(t.mm.page_states(0x6000_0000_1000, 4), frames);
}

#[test]
fn a_touched_terabyte_costs_three_tables() {
    let mut t = T::new();
    let a = t.ok(Op::Mmap {
        addr: 0,
        len: 1 << 40,
        prot: 3,
        flags: MAP_PRIVATE | MAP_ANON | MAP_NORESERVE,
        fd: u64::MAX,
        offset: 0,
    });
    t.store(a + (1 << 39), b"x");
    assert_eq!(
        t.mm.pagetable_tables(),
        3,
        "PUD, PMD and PTE tables below the root"
    );
}

#[test]
fn a_whole_vma_moved_takes_its_tables_with_it() {
    // docs/probes/pagetable-lifetime.c, case 13, on Linux 6.18: VmPTE +12 kB (PUD, PMD
    // and PTE tables) for two touched pages in an empty 512 GiB, still +12 kB after the
    // whole VMA moved 4 GiB up (the source's PMD and PTE tables freed, the
    // destination's made), +0 kB after the destination's munmap.
    let mut t = T::new();
    let b = 0x6000_0000_0000u64;
    let base = t.mm.pagetable_tables();
    let x = t.anon_at(b, 2 * P, PROT_RW);
    t.store(x, b"x");
    t.store(x + P, b"y");
    assert_eq!(t.mm.pagetable_tables() - base, 3);
    t.mremap(x, 2 * P, 2 * P, MAYMOVE | FIXED, b + (4 << 30));
    assert_eq!(t.mm.pagetable_tables() - base, 3);
    t.ok(Op::Munmap {
        addr: b + (4 << 30),
        len: 2 * P,
    });
    assert_eq!(t.mm.pagetable_tables() - base, 0);
}
