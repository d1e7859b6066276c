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
    e2k: HashMap<u64, u64>,
    k2e: HashMap<u64, u64>,
}

impl MapsMatcher {
    /// Are the two texts the same up to the shmem inode correspondence?
    pub fn same(&mut self, engine: &str, kernel: &str) -> bool {
        let (mut el, mut kl) = (engine.lines(), kernel.lines());
        loop {
            match (el.next(), kl.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) => {
                    let shmem = a.contains(" 00:01 ") || b.contains(" 00:01 ");
                    if (a != b || shmem) && !self.same_line(a, b) {
                        return false;
                    }
                }
                _ => return false,
            }
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
            (Some(&k), _) if k != bi => false,
            (_, Some(&e)) if e != ai => false,
            _ => {
                self.e2k.insert(ai, bi);
                self.k2e.insert(bi, ai);
                true
            }
        }
    }
}

/// Split a maps line into (everything before the inode, the inode, everything after).
fn split_inode(line: &str) -> Option<(&str, u64, &str)> {
    // The inode is the fifth space-separated field.
    let mut spaces = line.match_indices(' ').map(|(i, _)| i);
    let _ = spaces.next()?;
    let _ = spaces.next()?;
    let _ = spaces.next()?;
    let before = spaces.next()?;
    let after = line[before + 1..]
        .find(' ')
        .map_or(line.len(), |i| before + 1 + i);
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
    let mut e2k = FrameMap::default();
    let mut k2e = FrameMap::default();
    for (e, k) in engine.iter().zip(kernel) {
        match (e, k) {
            (PageState::Absent, PageState::Absent) => {}
            (PageState::Present(a), PageState::Present(b)) => {
                if *e2k.entry(*a).or_insert(*b) != *b || *k2e.entry(*b).or_insert(*a) != *a {
                    return false;
                }
            }
            _ => return false,
        }
    }
    engine.len() == kernel.len()
}

/// Describe the first page where two page-state vectors disagree.
pub fn pages_disagreement(
    addrs: &[u64],
    engine: &[PageState],
    kernel: &[PageState],
) -> Option<String> {
    if pages_agree(engine, kernel) {
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
