//! Comparing two backends after an operation: results, maps text, page presence and
//! frame identity, counters.

use std::collections::HashMap;
use std::fmt::Write;

use vmspace::{Counters, MapsLine, Outcome, PageState};

/// Do two outcomes agree? Faults agree when signal, code and address agree.
pub fn outcomes_agree(engine: &Outcome, kernel: &Outcome) -> bool {
    engine == kernel
}

/// The maps text with the inode numbers of shmem objects (device 00:01: shared
/// anonymous memory and memfds) replaced by the order of their first appearance, so
/// that two processes with the same sharing structure compare equal.
pub fn normalize_maps(text: &str) -> String {
    let mut ids: HashMap<u64, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        // Only shmem lines (device 00:01) need rewriting; skip parsing the others.
        let parsed = if line.contains(" 00:01 ") {
            MapsLine::parse(line)
        } else {
            Err(vmspace::maps::MapsParseError { what: "" })
        };
        match parsed {
            Ok(mut l) if (l.dev_major, l.dev_minor) == (0, 1) => {
                let n = ids.len() + 1;
                let id = *ids.entry(l.inode).or_insert(n);
                l.inode = id as u64;
                let _ = writeln!(out, "{l}");
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Compares maps texts line by line, allowing shmem lines (device 00:01) to differ in
/// their inode numbers as long as the two sides' numbers correspond one to one (learned
/// as they appear, and kept across calls).
#[derive(Debug, Default)]
pub struct MapsMatcher {
    e2k: FrameMap,
    k2e: FrameMap,
}

impl MapsMatcher {
    /// Are the two texts the same up to the shmem inode correspondence?
    ///
    /// Only shmem lines may differ, so the texts are compared as runs of bytes between
    /// the engine's shmem lines (found by a substring search), which must be identical,
    /// and the shmem lines one by one.
    pub fn same(&mut self, engine: &str, kernel: &str) -> bool {
        const DEV: &str = " 00:01 ";
        let (mut e, mut k) = (engine, kernel);
        loop {
            // The next engine line that shows device 00:01 somewhere.
            let Some(hit) = e.find(DEV) else {
                // No shmem line left on the engine's side: the rest must be identical
                // (a kernel shmem line there differs in its device already).
                return e == k;
            };
            let line_start = e[..hit].rfind('\n').map_or(0, |i| i + 1);
            let line_end = e[hit..].find('\n').map_or(e.len(), |i| hit + i);
            // Everything before that line is identical on both sides.
            if k.len() < line_start || e.as_bytes()[..line_start] != k.as_bytes()[..line_start] {
                return false;
            }
            let (a, rest_e) = e[line_start..].split_at(line_end - line_start);
            let k_rest = &k[line_start..];
            let k_end = k_rest.find('\n').unwrap_or(k_rest.len());
            let (b, rest_k) = k_rest.split_at(k_end);
            let shmem = is_shmem_line(a) || is_shmem_line(b);
            if (a != b || shmem) && !self.same_line(a, b) {
                return false;
            }
            // Continue after the newline (or at the end of both).
            if rest_e.is_empty() || rest_k.is_empty() {
                return rest_e == rest_k;
            }
            (e, k) = (&rest_e[1..], &rest_k[1..]);
        }
    }

    fn same_line(&mut self, a: &str, b: &str) -> bool {
        // "start-end perms offset MM:mm inode name": compare everything but the inode
        // of a shmem line, whose numbers must correspond one to one.
        let (Some((ap, ai, an)), Some((bp, bi, bn))) = (split_inode(a), split_inode(b)) else {
            return false;
        };
        if !ap.ends_with(" 00:01") || ap != bp || an.trim_start() != bn.trim_start() {
            return a == b;
        }
        match (self.e2k.get(&ai), self.k2e.get(&bi)) {
            (Some(&k), Some(&e)) => k == bi && e == ai,
            (None, None) => {
                self.e2k.insert(ai, bi);
                self.k2e.insert(bi, ai);
                true
            }
            // One side's object is known, paired with another.
            _ => false,
        }
    }
}

/// Whether a maps line is of a shmem object (device `00:01`, the fourth field).
fn is_shmem_line(line: &str) -> bool {
    let b = line.as_bytes();
    let mut spaces = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b' ' {
            spaces += 1;
            if spaces == 3 {
                return b[i + 1..].starts_with(b"00:01 ");
            }
        }
    }
    false
}

/// Split a maps line into (everything before the inode, the inode, everything after).
fn split_inode(line: &str) -> Option<(&str, u64, &str)> {
    // The inode is the fifth space-separated field.
    let b = line.as_bytes();
    let mut spaces = b
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == b' ')
        .map(|(i, _)| i);
    let before = spaces.nth(3)?;
    let after = spaces.next().unwrap_or(line.len());
    let inode = line[before + 1..after].parse().ok()?;
    Some((&line[..before], inode, &line[after..]))
}

/// A readable diff of two maps texts: unchanged lines with two spaces, lines only the
/// engine has with `-`, lines only the kernel has with `+`.
pub fn maps_diff(engine: &str, kernel: &str) -> String {
    let e: Vec<&str> = engine.lines().collect();
    let k: Vec<&str> = kernel.lines().collect();
    // Longest common subsequence (maps texts are short).
    let (n, m) = (e.len(), k.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if e[i] == k[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && e[i] == k[j] {
            let _ = writeln!(out, "  {}", e[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as diff prints them.
            let _ = writeln!(out, "- {}", e[i]);
            i += 1;
        } else {
            let _ = writeln!(out, "+ {}", k[j]);
            j += 1;
        }
    }
    out
}

/// Page states as an equivalence structure: `None` for absent pages, otherwise the
/// index of the first compared page that shares the frame.
pub fn frame_classes(states: &[PageState]) -> Vec<Option<usize>> {
    let mut first: HashMap<u64, usize> = HashMap::new();
    states
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            PageState::Absent => None,
            PageState::Present(f) => Some(*first.entry(*f).or_insert(i)),
        })
        .collect()
}

/// A fast hasher for frame numbers (a multiplicative hash; the keys are not chosen by
/// an adversary).
#[derive(Default, Clone, Copy, Debug)]
pub struct FrameHasher(u64);

impl std::hash::Hasher for FrameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FrameMap = HashMap<u64, u64, std::hash::BuildHasherDefault<FrameHasher>>;

/// Do the two page-state vectors have the same presence and the same frame-sharing
/// structure? (One pass; a bijection between the two sides' frame numbers.)
pub fn pages_agree(engine: &[PageState], kernel: &[PageState]) -> bool {
    FramePairing::default().agree(engine, kernel)
}

/// The check of [`pages_agree`] with its tables kept between calls, so that a caller
/// comparing after every operation does not allocate them each time.
#[derive(Debug, Default)]
pub struct FramePairing {
    e2k: FrameMap,
    k2e: FrameMap,
}

impl FramePairing {
    /// [`pages_agree`].
    pub fn agree(&mut self, engine: &[PageState], kernel: &[PageState]) -> bool {
        if engine.len() != kernel.len() {
            return false;
        }
        self.e2k.clear();
        self.k2e.clear();
        for (e, k) in engine.iter().zip(kernel) {
            match (e, k) {
                (PageState::Absent, PageState::Absent) => {}
                (PageState::Present(a), PageState::Present(b)) => {
                    if *self.e2k.entry(*a).or_insert(*b) != *b
                        || *self.k2e.entry(*b).or_insert(*a) != *a
                    {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        true
    }
}

/// Describe the first page where two page-state vectors disagree.
pub fn pages_disagreement(
    addrs: &[u64],
    engine: &[PageState],
    kernel: &[PageState],
) -> Option<String> {
    pages_disagreement_with(&mut FramePairing::default(), addrs, engine, kernel)
}

/// [`pages_disagreement`] with the tables of `pairing`.
pub fn pages_disagreement_with(
    pairing: &mut FramePairing,
    addrs: &[u64],
    engine: &[PageState],
    kernel: &[PageState],
) -> Option<String> {
    if pairing.agree(engine, kernel) {
        return None;
    }
    let ec = frame_classes(engine);
    let kc = frame_classes(kernel);
    for (i, (a, b)) in ec.iter().zip(&kc).enumerate() {
        if a != b {
            let show = |c: &Option<usize>| match c {
                None => "absent".to_string(),
                Some(f) if *f == i => "present".to_string(),
                Some(f) => format!("present, sharing a frame with {:#x}", addrs[*f]),
            };
            return Some(format!(
                "page {:#x}: engine {}, kernel {}",
                addrs[i],
                show(a),
                show(b)
            ));
        }
    }
    None
}

/// Describe counters that disagree (VmSize, VmLck, VmData, map_count).
pub fn counters_disagreement(engine: &Counters, kernel: &Counters) -> Option<String> {
    let mut d = Vec::new();
    if engine.vm_size_kb != kernel.vm_size_kb {
        d.push(format!(
            "VmSize engine {} kB, kernel {} kB",
            engine.vm_size_kb, kernel.vm_size_kb
        ));
    }
    if engine.vm_lck_kb != kernel.vm_lck_kb {
        d.push(format!(
            "VmLck engine {} kB, kernel {} kB",
            engine.vm_lck_kb, kernel.vm_lck_kb
        ));
    }
    if engine.vm_data_kb != kernel.vm_data_kb {
        d.push(format!(
            "VmData engine {} kB, kernel {} kB",
            engine.vm_data_kb, kernel.vm_data_kb
        ));
    }
    if engine.map_count != kernel.map_count {
        d.push(format!(
            "map_count engine {}, kernel {}",
            engine.map_count, kernel.map_count
        ));
    }
    (!d.is_empty()).then(|| d.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shmem_inodes_are_normalized_by_first_appearance() {
        let a = "7f0000000000-7f0000001000 rw-s 00000000 00:01 3079                       /dev/zero (deleted)\n\
                 7f0000002000-7f0000003000 rw-s 00000000 00:01 17                         /memfd:x (deleted)\n\
                 7f0000004000-7f0000005000 rw-s 00000000 00:01 3079                       /dev/zero (deleted)\n";
        let n = normalize_maps(a);
        let inodes: Vec<u64> = n
            .lines()
            .map(|l| MapsLine::parse(l).unwrap().inode)
            .collect();
        assert_eq!(inodes, [1, 2, 1]);
    }

    /// A maps line as the kernel prints it: the name at column 73.
    fn line(start: u64, perms: &str, dev: &str, inode: u64, name: &str) -> String {
        let head = format!(
            "{start:x}-{:x} {perms} 00000000 {dev} {inode} ",
            start + 0x1000
        );
        if name.is_empty() {
            head
        } else {
            format!("{head:72} {name}")
        }
    }

    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    const BIN: &str = "/usr/bin/agent";
    const STACK: &str = "[stack]";
    const GATE: &str =
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

    /// A layout with a file line, two shmem lines of the same object (`a`), one of
    /// another (`b`), an anonymous line and the stack, as engine or kernel shows it.
    fn layout(a: u64, b: u64, anon_perms: &str) -> String {
        text(&[
            line(0x5555_5555_4000, "r--p", "fe:00", 1234, BIN),
            line(0x7fff_f7f0_0000, "rw-s", "00:01", a, "/memfd:x (deleted)"),
            line(0x7fff_f7f0_2000, "rw-s", "00:01", a, "/memfd:x (deleted)"),
            line(0x7fff_f7f0_4000, "r--s", "00:01", b, "/dev/zero (deleted)"),
            line(0x7fff_f7f0_6000, anon_perms, "00:00", 0, ""),
            line(0x7fff_fffd_e000, "rw-p", "00:00", 0, STACK),
            GATE.to_string(),
        ])
    }

    #[test]
    fn maps_match_up_to_a_one_to_one_shmem_numbering() {
        // Engine numbers 1 and 2, kernel numbers of other widths (other padding).
        let engine = layout(1, 2, "rw-p");
        assert!(MapsMatcher::default().same(&engine, &layout(123_456, 7, "rw-p")));
        assert!(MapsMatcher::default().same(&engine, &engine));
        // Not one to one, either way round.
        assert!(!MapsMatcher::default().same(&engine, &layout(5, 5, "rw-p")));
        assert!(!MapsMatcher::default().same(&layout(1, 1, "rw-p"), &layout(5, 6, "rw-p")));
        // Any other difference, before, between or after the shmem lines.
        assert!(!MapsMatcher::default().same(&engine, &layout(5, 6, "r--p")));
        let other_bin = layout(5, 6, "rw-p").replace("1234", "1235");
        assert!(!MapsMatcher::default().same(&engine, &other_bin));
        let no_gate = layout(5, 6, "rw-p").replace(&format!("{GATE}\n"), "");
        assert!(!MapsMatcher::default().same(&engine, &no_gate));
        assert!(!MapsMatcher::default().same(&no_gate.replace('5', "9"), &engine));
        let extra = format!("{}{}\n", layout(5, 6, "rw-p"), GATE);
        assert!(!MapsMatcher::default().same(&engine, &extra));
        let shmem_dev = layout(5, 6, "rw-p").replace(" 00:00 0 ", " 00:01 9 ");
        assert!(!MapsMatcher::default().same(&engine, &shmem_dev));
        assert!(!MapsMatcher::default().same(&engine, engine.trim_end()));
    }

    #[test]
    fn the_shmem_numbering_is_kept_across_comparisons() {
        let mut m = MapsMatcher::default();
        assert!(m.same(&layout(1, 2, "rw-p"), &layout(5, 6, "rw-p")));
        assert!(m.same(&layout(1, 2, "r--p"), &layout(5, 6, "r--p")));
        assert!(!m.same(&layout(1, 2, "rw-p"), &layout(6, 5, "rw-p")));
        // Equal numbers on both sides are part of the correspondence too.
        let mut m = MapsMatcher::default();
        assert!(m.same(&layout(1, 2, "rw-p"), &layout(1, 2, "rw-p")));
        assert!(!m.same(&layout(1, 3, "rw-p"), &layout(1, 2, "rw-p")));
    }

    #[test]
    fn frame_classes_capture_sharing_not_numbers() {
        let e = [
            PageState::Present(10),
            PageState::Absent,
            PageState::Present(10),
            PageState::Present(3),
        ];
        let k = [
            PageState::Present(999),
            PageState::Absent,
            PageState::Present(999),
            PageState::Present(5),
        ];
        assert_eq!(frame_classes(&e), frame_classes(&k));
        let k2 = [
            PageState::Present(999),
            PageState::Absent,
            PageState::Present(7),
            PageState::Present(5),
        ];
        let addrs = [0x1000, 0x2000, 0x3000, 0x4000];
        assert_eq!(
            pages_disagreement(&addrs, &e, &k2).unwrap(),
            "page 0x3000: engine present, sharing a frame with 0x1000, kernel present"
        );
    }

    #[test]
    fn maps_diff_marks_both_sides() {
        let d = maps_diff("a\nb\nc\n", "a\nx\nc\n");
        assert_eq!(d, "  a\n- b\n+ x\n  c\n");
    }
}
