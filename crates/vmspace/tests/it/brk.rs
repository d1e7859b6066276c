//! brk.

use crate::harness::*;
use vmspace::{Config, Errno, MapsLine, Mm, Op, Seed, SeedVma};

fn with_heap() -> (T, u64) {
    with_heap_and_data(0)
}

/// A program whose data segment (`end_data - start_data`) is `data_segment` bytes, its
/// break at its start, nothing mapped above.
fn with_heap_and_data(data_segment: u64) -> (T, u64) {
    let (seed, cur) = heap_seed(data_segment);
    (
        T {
            mm: Mm::from_seed(&seed, Config::default()).unwrap(),
        },
        cur,
    )
}

/// The seed of [`with_heap_and_data`] and its break.
fn heap_seed(data_segment: u64) -> (Seed, u64) {
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
        data_segment,
        open_fds: vec![0, 1, 2],
        locked_pages: 0,
    };
    (seed, 0x5555_5555_9000)
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

/// Where the tests below start the break (page aligned, far from the default layout).
const B: u64 = 0x5600_0000_0000;

fn heap_line(t: &T) -> Option<String> {
    t.mm.maps_text()
        .lines()
        .find(|l| l.ends_with("[heap]"))
        .map(str::to_string)
}

#[test]
fn set_brk_base_starts_an_empty_heap_there() {
    // As after execve: start_brk == brk == B, no [heap] line until the break grows.
    let mut t = T::new();
    assert_eq!(t.mm.set_brk_base(B), Ok(()));
    t.mm.check_invariants().unwrap();
    assert_eq!((t.mm.start_brk(), t.mm.brk_value()), (B, B));
    assert_eq!(
        t.ok(Op::Brk { addr: 0 }),
        B,
        "brk(NULL) reads the new break"
    );
    assert_eq!(heap_line(&t), None);

    assert_eq!(t.ok(Op::Brk { addr: B + 0x21000 }), B + 0x21000);
    let heap = heap_line(&t).expect("a [heap] line");
    assert!(
        heap.starts_with(&format!("{:x}-{:x} rw-p 00000000 00:00 0 ", B, B + 0x21000)),
        "{heap}"
    );
    t.store(B + 0x20000, b"x");

    assert_eq!(
        t.ok(Op::Brk { addr: B - P }),
        B + 0x21000,
        "below start_brk: refused, the old break is returned"
    );
    assert_eq!(
        t.mm.set_brk_base(B + 0x10_0000)
            .map_err(|e| e.errno().expect("an errno")),
        Err(Errno::EBUSY),
        "the heap has grown"
    );
    assert_eq!((t.mm.start_brk(), t.mm.brk_value()), (B, B + 0x21000));

    // Shrinking back to the start empties the heap; then the base may move again.
    assert_eq!(t.ok(Op::Brk { addr: B }), B);
    assert_eq!(heap_line(&t), None);
    assert!(!t.mm.maps_text().contains(&format!("{B:x}-")));
    assert_eq!(t.mm.set_brk_base(W), Ok(()));
    assert_eq!(t.ok(Op::Brk { addr: W + 3 * P }), W + 3 * P);
    assert!(
        heap_line(&t)
            .unwrap()
            .starts_with(&format!("{:x}-{:x} ", W, W + 3 * P))
    );
}

#[test]
fn set_brk_base_checks_the_address() {
    let mut t = T::new();
    let task_size = t.mm.config().task_size;
    for bad in [B + 5, B + P / 2, task_size, !(P - 1)] {
        assert_eq!(
            t.mm.set_brk_base(bad)
                .map_err(|e| e.errno().expect("an errno")),
            Err(Errno::EINVAL),
            "{bad:#x}"
        );
    }
    assert_eq!(t.mm.brk_value(), 0, "nothing changed");
    assert_eq!(t.mm.set_brk_base(task_size - P), Ok(()));
}

#[test]
fn set_brk_base_refused_over_a_seeded_heap() {
    // A seeded process whose break is above its start has a heap already.
    let (mut t, cur) = with_heap();
    t.ok(Op::Brk { addr: cur + 2 * P });
    assert_eq!(
        t.mm.set_brk_base(B)
            .map_err(|e| e.errno().expect("an errno")),
        Err(Errno::EBUSY)
    );
    assert!(heap_line(&t).is_some());
}

#[test]
fn a_break_set_by_set_brk_base_keeps_one_free_page() {
    // The growth checks are brk's own: a mapping two pages above the base leaves
    // room for one page of heap.
    let mut t = T::new();
    t.mm.set_brk_base(B).unwrap();
    t.anon_at(B + 2 * P, P, PROT_R);
    assert_eq!(t.ok(Op::Brk { addr: B + 2 * P }), B, "refused");
    assert_eq!(t.ok(Op::Brk { addr: B + P }), B + P);
    assert!(
        heap_line(&t)
            .unwrap()
            .starts_with(&format!("{:x}-{:x} ", B, B + P))
    );
}

#[test]
fn rlimit_data_counts_the_break_to_the_byte_plus_the_data_segment() {
    // check_data_rlimit (include/linux/mm.h): brk fails when (brk - start_brk) +
    // (end_data - start_data) > RLIMIT_DATA, the break counted to the byte. A live
    // process cannot show this boundary alone (its data_vm, which may_expand_vm also
    // holds against RLIMIT_DATA, counts every private writable page, so that check
    // binds first); here the data segment (8 pages) is larger than the seed's
    // writable memory (2 pages), so check_data_rlimit binds.
    let (mut t, cur) = with_heap_and_data(8 * P);
    t.ok(Op::Setrlimit {
        resource: 2,
        cur: 12 * P,
        max: u64::MAX,
    });
    assert_eq!(
        t.ok(Op::Brk {
            addr: cur + 4 * P + 1
        }),
        cur,
        "one byte over"
    );
    assert_eq!(
        t.ok(Op::Brk { addr: cur + 4 * P }),
        cur + 4 * P,
        "exactly at"
    );
    assert_eq!(t.ok(Op::Brk { addr: cur + 2 * P }), cur + 2 * P, "below");
}

#[test]
fn the_heap_starts_a_vma_of_its_own_after_an_anonymous_bss() {
    // A static program's layout under ADDR_NO_RANDOMIZE on Linux 6.18 (docs/probes/brk-static-bss.c,
    // `setarch -R`): its bss beyond the file is an anonymous rw-p VMA ending exactly at
    // start_brk, and the heap the first brk makes is a VMA of its own beside it, never
    // an extension of it (vma_prev_limit(start_brk) finds no VMA ending at start_brk):
    //   004a8000-004ad000 rw-p 00000000 00:00 0
    //   004ad000-004d2000 rw-p 00000000 00:00 0    [heap]
    let lines = [
        "00400000-00401000 r--p 00000000 fe:00 10010883 /tmp/bss",
        "00401000-00479000 r-xp 00001000 fe:00 10010883 /tmp/bss",
        "004a5000-004a8000 rw-p 000a4000 fe:00 10010883 /tmp/bss",
        "004a8000-004ad000 rw-p 00000000 00:00 0",
    ];
    let mut t = T::seeded(&lines, 0x4ad000);
    assert_eq!(t.ok(Op::Brk { addr: 0x4d2000 }), 0x4d2000);
    let maps = t.mm.maps_text();
    assert!(
        maps.contains("004a8000-004ad000 rw-p 00000000 00:00 0 ")
            || maps.contains("004a8000-004ad000 rw-p 00000000 00:00 0\n"),
        "{maps}"
    );
    assert!(maps.contains("004ad000-004d2000 rw-p"), "{maps}");
    // Growing again extends the heap VMA (it now reaches above start_brk).
    assert_eq!(t.ok(Op::Brk { addr: 0x4d4000 }), 0x4d4000);
    let maps = t.mm.maps_text();
    assert!(maps.contains("004ad000-004d4000 rw-p"), "{maps}");
    assert_eq!(
        maps.lines().filter(|l| l.ends_with("[heap]")).count(),
        1,
        "{maps}"
    );
}

#[test]
fn the_heap_may_become_read_only_or_executable_and_is_locked_under_mcl_future() {
    // On Linux 6.18 (docs/probes/brk-heap-flags.c): PROT_READ,
    // PROT_READ|PROT_WRITE|PROT_EXEC and PROT_READ|PROT_WRITE all give 0 (the heap has
    // VM_MAYREAD, VM_MAYWRITE and VM_MAYEXEC); after mlockall(MCL_FUTURE) a brk growth
    // of 2 pages raises VmLck by 8 kB, 3 pages more by 12 kB.
    let (mut t, cur) = with_heap();
    assert_eq!(t.ok(Op::Brk { addr: cur + 4 * P }), cur + 4 * P);
    for prot in [1, 7, 3] {
        assert_eq!(
            t.mm.apply(&Op::Mprotect {
                addr: cur,
                len: P,
                prot
            }),
            vmspace::Outcome::Value(0),
            "mprotect(heap, {prot})"
        );
    }
    let before = t.mm.counters().vm_lck_kb;
    t.ok(Op::Mlockall { flags: 2 });
    assert_eq!(t.ok(Op::Brk { addr: cur + 6 * P }), cur + 6 * P);
    assert_eq!(t.mm.counters().vm_lck_kb - before, 8);
    // 3 pages more extend the locked part (20 kB in all), which stays a VMA of its own
    // beside the unlocked one: two [heap] lines, the second 5 pages.
    assert_eq!(t.ok(Op::Brk { addr: cur + 9 * P }), cur + 9 * P);
    assert_eq!(t.mm.counters().vm_lck_kb - before, 20);
    let heap: Vec<String> =
        t.mm.maps_text()
            .lines()
            .filter(|l| l.ends_with("[heap]"))
            .map(|l| l[..l.find(' ').unwrap()].to_string())
            .collect();
    assert_eq!(
        heap,
        [
            format!("{:x}-{:x}", cur, cur + 4 * P),
            format!("{:x}-{:x}", cur + 4 * P, cur + 9 * P)
        ]
    );
}

#[test]
fn brk_obeys_max_map_count_even_to_extend_the_heap() {
    // do_brk_flags refuses when map_count > vm.max_map_count, before trying to extend
    // the heap: on Linux 6.18 (docs/probes/brk-max-map-count.c, setting vm.max_map_count around its own
    // map_count of 23), growing an existing heap by a page is refused with
    // max_map_count 22 and made with 23.
    let grow = |max: u64| {
        let (seed, cur) = heap_seed(0);
        let mut t = T {
            mm: Mm::from_seed(
                &seed,
                Config {
                    max_map_count: max,
                    ..Config::default()
                },
            )
            .unwrap(),
        };
        t.ok(Op::Brk { addr: cur + P })
            .eq(&(cur + P))
            .then(|| t.ok(Op::Brk { addr: cur + 2 * P }) == cur + 2 * P)
    };
    // The seed has 1 VMA; the first growth makes the heap (2 VMAs).
    assert_eq!(grow(2), Some(true), "map_count 2 = max: grows");
    assert_eq!(grow(1), Some(false), "map_count 2 > max 1: refused");
}
