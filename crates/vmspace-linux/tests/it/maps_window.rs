//! `LiveBackend::maps_window` (one `PROCMAP_QUERY` per VMA) against the whole maps text.

use vmspace::{Backend, Op};

use crate::*;

/// The lines of a full maps text that intersect any of `ranges`, without the gate line.
fn lines_in(full: &str, ranges: &[(u64, u64)]) -> String {
    let mut out = String::new();
    for line in full.lines() {
        let l = vmspace::MapsLine::parse(line).expect("a maps line");
        if l.start >= 1 << 47 {
            continue;
        }
        if ranges.iter().any(|&(s, e)| l.start < e && s < l.end) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn windows_show_exactly_the_lines_of_the_maps_text() {
    let mut b = spawn();
    let ro = mmap_anon(&mut b, 3 * PAGE, PROT_READ);
    let rw = mmap_anon(&mut b, 2 * PAGE, PROT_RW);
    let shared = value(
        &mut b,
        mmap_op(2 * PAGE, PROT_RW, MAP_SHARED | MAP_ANONYMOUS, u64::MAX),
    );
    // A memfd whose name holds a newline (the maps text escapes it as \012), mapped
    // shared read-only at an offset, and executable.
    let fd = value(
        &mut b,
        Op::MemfdCreate {
            name: "odd\nname x".into(),
            flags: 0,
        },
    );
    value(
        &mut b,
        Op::Ftruncate {
            fd,
            length: 8 * PAGE,
        },
    );
    let file = value(
        &mut b,
        Op::Mmap {
            addr: 0,
            len: 2 * PAGE,
            prot: PROT_READ | 4,
            flags: MAP_SHARED,
            fd,
            offset: 3 * PAGE,
        },
    );
    let private = value(
        &mut b,
        Op::Mmap {
            addr: 0,
            len: PAGE,
            prot: PROT_READ,
            flags: MAP_PRIVATE,
            fd,
            offset: PAGE,
        },
    );
    let full = b.maps().unwrap();
    assert!(full.contains("/memfd:odd\\012name x (deleted)"), "{full}");
    // Everything below the gate.
    let all = [(0, 1 << 47)];
    assert_eq!(
        b.maps_window(&all).unwrap().as_deref(),
        Some(&*lines_in(&full, &all))
    );
    // Single pages, ranges spanning several VMAs, holes, the seeded layout's own
    // mappings (file-backed, [heap], [stack], [vdso]), and ranges that meet at a VMA.
    let mut windows: Vec<Vec<(u64, u64)>> = vec![
        vec![(ro + PAGE, ro + 2 * PAGE)],
        vec![(ro, rw + 2 * PAGE)],
        vec![(shared, shared + 1), (file, file + PAGE)],
        vec![(private - 16 * PAGE, private)],
        vec![(0, PAGE)],
        vec![(ro, ro + PAGE), (ro + 2 * PAGE, ro + 3 * PAGE)],
    ];
    for line in full.lines() {
        let l = vmspace::MapsLine::parse(line).unwrap();
        if l.start < 1 << 47 {
            windows.push(vec![(l.start, l.start + PAGE)]);
            windows.push(vec![(l.end - 1, l.end + PAGE)]);
        }
    }
    for w in &mut windows {
        w.sort_unstable();
        let got = b.maps_window(w).unwrap();
        assert_eq!(got.as_deref(), Some(&*lines_in(&full, w)), "window {w:x?}");
    }
}
