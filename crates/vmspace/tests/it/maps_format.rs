//! The /proc/pid/maps text.

use crate::harness::*;
use vmspace::{MapsLine, Op};

#[test]
fn unnamed_and_named_lines() {
    // Checklists 78 and 79 [E:p10].
    let mut t = T::new();
    let a = t.anon_at(0x7f00_0000_0000, P, PROT_RW);
    let line = t.mm.maps_line(t.mm.vmas().find(|v| v.start == a).unwrap());
    assert_eq!(
        line.to_string(),
        "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 "
    );
    assert_eq!(line.to_string().len(), 48);
    let s = t.shared_anon_at(0x7f00_0000_4000, 2 * P);
    let text = t.mm.maps_text();
    let sl = text
        .lines()
        .find(|l| l.starts_with(&format!("{s:x}")))
        .unwrap();
    assert!(
        sl.starts_with("7f0000004000-7f0000006000 rw-s 00000000 00:01 "),
        "{sl}"
    );
    assert_eq!(sl.find('/'), Some(73));
    assert!(sl.ends_with("/dev/zero (deleted)"));
    let fd = t.ok(Op::MemfdCreate {
        name: "hello".into(),
        flags: 0,
    });
    t.ok(Op::Ftruncate { fd, length: P });
    t.ok(Op::Mmap {
        addr: 0x7f00_0000_8000,
        len: P,
        prot: 3,
        flags: MAP_SHARED | MAP_FIXED,
        fd,
        offset: 0,
    });
    let text = t.mm.maps_text();
    let ml = text
        .lines()
        .find(|l| l.starts_with("7f0000008000"))
        .unwrap();
    assert!(
        ml.ends_with("/memfd:hello (deleted)") && ml.find('/') == Some(73),
        "{ml}"
    );
    assert_ne!(
        MapsLine::parse(sl).unwrap().inode,
        MapsLine::parse(ml).unwrap().inode
    );
}

#[test]
fn offsets_after_moving_a_middle_page() {
    // Checklist 80 [E:p10].
    let mut t = T::new();
    let fd = t.ok(Op::MemfdCreate {
        name: "f".into(),
        flags: 0,
    });
    t.ok(Op::Ftruncate { fd, length: 8 * P });
    let a = t.ok(Op::Mmap {
        addr: W,
        len: 3 * P,
        prot: 1,
        flags: MAP_PRIVATE | MAP_FIXED,
        fd,
        offset: 3 * P,
    });
    t.mremap(a + P, P, P, MAYMOVE | FIXED, W + 10 * P);
    let offs: Vec<u64> =
        t.mm.maps_text()
            .lines()
            .map(|l| MapsLine::parse(l).unwrap())
            .filter(|l| l.start >= W)
            .map(|l| l.offset)
            .collect();
    assert_eq!(offs, [0x3000, 0x5000, 0x4000]);
}

proptest::proptest! {
    /// Every field at every width is printed as the kernel's `show_vma_header_prefix`
    /// format (`%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu `) prints it, and a name starts
    /// at column 73 or one space after a longer prefix (`seq_pad`).
    #[test]
    fn lines_print_as_the_kernel_format(
        start: u64, end: u64, offset: u64, dev_major: u32, dev_minor: u32, inode: u64,
        perms in 0u8..16, name in proptest::option::of("[a-z/\\[\\] ]{0,40}"),
    ) {
        let line = MapsLine {
            start, end, offset, dev_major, dev_minor, inode,
            read: perms & 1 != 0, write: perms & 2 != 0, exec: perms & 4 != 0,
            shared: perms & 8 != 0, name: name.clone(),
        };
        let p = |bit: u8, c: char, off: char| if perms & bit != 0 { c } else { off };
        let mut want = format!(
            "{start:08x}-{end:08x} {}{}{}{} {offset:08x} {dev_major:02x}:{dev_minor:02x} {inode} ",
            p(1, 'r', '-'), p(2, 'w', '-'), p(4, 'x', '-'), p(8, 's', 'p'),
        );
        if let Some(n) = &name {
            while want.len() < 72 {
                want.push(' ');
            }
            want.push(' ');
            want.push_str(n);
        }
        proptest::prop_assert_eq!(line.to_string(), want);
    }
}

#[test]
fn memfd_names_are_bytes_printed_as_seq_file_path_does() {
    // Live kernel (corpus/regressions/memfd-name-bytes.vms): only the newline is
    // escaped (`\012`); a byte that is not UTF-8 reaches the name unchanged (249 of
    // them are a valid name) and reads as U+FFFD in the maps String.
    let mut t = T::new();
    let names: [(&[u8], &str); 4] = [
        (b"a\nb", "/memfd:a\\012b (deleted)"),
        (b"t\tb\\c/d\r\x01 e", "/memfd:t\tb\\c/d\r\x01 e (deleted)"),
        (b"x\xff\xc3\xa9", "/memfd:x\u{fffd}\u{e9} (deleted)"),
        (b"\n\n\0ignored", "/memfd:\\012\\012 (deleted)"),
    ];
    for (i, (name, want)) in names.into_iter().enumerate() {
        let fd = t.ok(Op::MemfdCreate {
            name: name.to_vec(),
            flags: 0,
        });
        t.ok(Op::Ftruncate { fd, length: P });
        let addr = W + i as u64 * 2 * P;
        t.ok(Op::Mmap {
            addr,
            len: P,
            prot: 1,
            flags: MAP_SHARED | MAP_FIXED,
            fd,
            offset: 0,
        });
        let text = t.mm.maps_text();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{addr:x}")))
            .unwrap();
        assert_eq!(&line[73..], want);
        let vma = t.mm.vmas().find(|v| v.start == addr).unwrap();
        assert_eq!(t.mm.maps_line(vma).name.as_deref(), Some(want));
    }
    assert_eq!(
        t.ok(Op::MemfdCreate {
            name: vec![0xff; 249],
            flags: 0
        }),
        7
    );
}

#[test]
fn windows_are_the_lines_of_the_maps_text_that_intersect() {
    let mut t = T::new();
    let a = t.anon_at(0x7f00_0000_0000, 4 * P, PROT_RW);
    t.ok(Op::Mprotect {
        addr: a + P,
        len: P,
        prot: 1,
    });
    let s = t.shared_anon_at(0x7f00_0001_0000, 2 * P);
    let b = t.anon_at(0x7f00_0002_0000, P, 1);
    let full = t.mm.maps_text();
    let lines_in = |ranges: &[(u64, u64)]| -> String {
        full.lines()
            .filter(|l| {
                let m = MapsLine::parse(l).unwrap();
                m.start < 1 << 47 && ranges.iter().any(|&(x, y)| m.start < y && x < m.end)
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let windows: [&[(u64, u64)]; 9] = [
        &[(0, 1 << 47)],
        &[(a, a + 1)],
        &[(a + P, a + 2 * P)],
        &[(a + P + 1, a + 3 * P)],
        &[(a, a + P), (a + 2 * P, a + 3 * P)],
        &[(a + 4 * P, s)],
        &[(a + 3 * P, s + 1), (s + P, b + 1)],
        &[(b + P, b + 2 * P)],
        &[(0, 0), (a, a)],
    ];
    for w in windows {
        assert_eq!(t.mm.maps_window(w), lines_in(w), "window {w:x?}");
    }
    assert_eq!(t.mm.maps_window(&[(a + 4 * P, s)]), "");
    // As a backend, the engine answers every window.
    let w = [(a, s + 1)];
    assert_eq!(
        vmspace::Backend::maps_window(&mut t.mm, &w).unwrap(),
        Some(lines_in(&w))
    );
}

#[test]
fn vmas_in_lists_each_intersecting_vma_once() {
    let mut t = T::new();
    let a = t.anon_at(0x7f00_0000_0000, 4 * P, PROT_RW);
    let b = t.anon_at(0x7f00_0000_8000, 2 * P, 1);
    let starts = |s: u64, e: u64| t.mm.vmas_in(s, e).map(|v| v.start).collect::<Vec<_>>();
    assert_eq!(starts(a, a + 1), [a]);
    assert_eq!(starts(a + P, b + 1), [a, b]);
    assert_eq!(starts(a + 4 * P, b), Vec::<u64>::new());
    assert_eq!(starts(b, b + 2 * P), [b]);
    // An empty range holds nothing, even inside a VMA.
    assert_eq!(starts(a + P, a + P), Vec::<u64>::new());
    assert_eq!(starts(b + P, b), Vec::<u64>::new());
}
