//! Parsers for the `/proc/<pid>` files the live backend reads: `status`, `stat`,
//! `smaps` (`VmFlags`) and `pagemap` entries. Pure functions over text or integers, no
//! I/O, so they can be tested against captured output.

use vmspace::flags::RLIM_INFINITY;
use vmspace::{MapsLine, PageState, Rlimit, Rlimits, VmFlags};

/// A `/proc` file that did not have the expected shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
pub struct ProcParseError {
    /// What was missing or malformed.
    pub what: String,
}

fn perr(what: impl Into<String>) -> ProcParseError {
    ProcParseError { what: what.into() }
}

/// The memory fields of `/proc/<pid>/status`, in kB as the file shows them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `VmPeak`
    pub vm_peak_kb: u64,
    /// `VmSize` (total_vm)
    pub vm_size_kb: u64,
    /// `VmLck` (locked_vm)
    pub vm_lck_kb: u64,
    /// `VmPin` (pinned_vm)
    pub vm_pin_kb: u64,
    /// `VmRSS`
    pub vm_rss_kb: u64,
    /// `VmData` (data_vm)
    pub vm_data_kb: u64,
    /// `VmStk` (stack_vm)
    pub vm_stk_kb: u64,
    /// `VmExe`
    pub vm_exe_kb: u64,
}

/// The value of one `Key:   N kB` line of a status text, in kB.
pub fn status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let num = rest.trim().strip_suffix("kB")?.trim_end();
        num.parse().ok()
    })
}

/// Parse the memory fields of `/proc/<pid>/status`.
///
/// # Errors
/// If any of the fields is missing or not a number of kB (a kernel thread, or a
/// process that has exited, has none of them).
pub fn parse_status(text: &str) -> Result<Status, ProcParseError> {
    let get = |key: &str| status_kb(text, key).ok_or_else(|| perr(format!("no `{key}:` line")));
    Ok(Status {
        vm_peak_kb: get("VmPeak")?,
        vm_size_kb: get("VmSize")?,
        vm_lck_kb: get("VmLck")?,
        vm_pin_kb: get("VmPin")?,
        vm_rss_kb: get("VmRSS")?,
        vm_data_kb: get("VmData")?,
        vm_stk_kb: get("VmStk")?,
        vm_exe_kb: get("VmExe")?,
    })
}

/// Field `n` (1-based, as in `proc(5)`) of `/proc/<pid>/stat`, as a number.
///
/// The command name (field 2) may contain spaces and parentheses, so fields from 3 on
/// are counted after the *last* `)`.
pub fn stat_field(text: &str, n: usize) -> Option<u64> {
    if n < 3 {
        return None;
    }
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(n - 3)?.parse().ok()
}

/// `start_brk`: field 47 of `/proc/<pid>/stat` (shown only to a reader that may
/// ptrace the process; 0 otherwise).
pub const STAT_START_BRK: usize = 47;

/// Parse the limits the model honours from `/proc/<pid>/limits` (`unlimited` is
/// [`RLIM_INFINITY`]).
///
/// # Errors
/// If a row is missing or a value is not a number.
pub fn parse_limits(text: &str) -> Result<Rlimits, ProcParseError> {
    let row = |name: &str| -> Result<Rlimit, ProcParseError> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
            .ok_or_else(|| perr(format!("no `{name}` row")))?;
        let mut f = line[name.len()..].split_ascii_whitespace();
        let mut value = || match f.next() {
            Some("unlimited") => Ok(RLIM_INFINITY),
            Some(v) => v
                .parse()
                .map_err(|_| perr(format!("`{name}`: bad value {v:?}"))),
            None => Err(perr(format!("`{name}`: missing value"))),
        };
        Ok(Rlimit {
            cur: value()?,
            max: value()?,
        })
    };
    Ok(Rlimits {
        address_space: row("Max address space")?,
        data: row("Max data size")?,
        memlock: row("Max locked memory")?,
        stack: row("Max stack size")?,
    })
}

/// One VMA of `/proc/<pid>/smaps`: its range and its `VmFlags`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmapsVma {
    /// The maps line that heads the block.
    pub line: MapsLine,
    /// The known flags.
    pub vm_flags: VmFlags,
    /// Mnemonics this crate does not know, verbatim, in the order shown.
    pub unknown_flags: Vec<String>,
    /// `Locked:` in kB.
    pub locked_kb: u64,
    /// `Rss:` in kB.
    pub rss_kb: u64,
}

fn is_header(line: &str) -> bool {
    // A header starts with "start-end "; a field line starts with "Name:".
    match line.split_once(' ') {
        Some((range, _)) => {
            !range.ends_with(':')
                && range
                    .split_once('-')
                    .is_some_and(|(a, b)| is_hex(a) && is_hex(b))
        }
        None => false,
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Parse `/proc/<pid>/smaps`: one entry per VMA, with its `VmFlags`.
///
/// # Errors
/// A malformed header line, or a block without a `VmFlags:` line.
pub fn parse_smaps(text: &str) -> Result<Vec<SmapsVma>, ProcParseError> {
    let mut out: Vec<SmapsVma> = Vec::new();
    let mut have_flags = true;
    for line in text.lines() {
        if is_header(line) {
            if !have_flags {
                return Err(perr("smaps block without a VmFlags line"));
            }
            let parsed = MapsLine::parse(line).map_err(|e| perr(format!("{e}: {line:?}")))?;
            out.push(SmapsVma {
                line: parsed,
                vm_flags: VmFlags::empty(),
                unknown_flags: Vec::new(),
                locked_kb: 0,
                rss_kb: 0,
            });
            have_flags = false;
            continue;
        }
        let Some(cur) = out.last_mut() else {
            return Err(perr(format!("smaps field before any header: {line:?}")));
        };
        if let Some(field) = line.strip_prefix("VmFlags:") {
            let (flags, _) = VmFlags::from_smaps(field);
            cur.vm_flags = flags;
            cur.unknown_flags = field
                .split_ascii_whitespace()
                .filter(|w| !VmFlags::MNEMONICS.iter().any(|m| m.1 == *w))
                .map(String::from)
                .collect();
            have_flags = true;
        } else if line.starts_with("Locked:") {
            cur.locked_kb = status_kb(line, "Locked").unwrap_or(0);
        } else if line.starts_with("Rss:") {
            cur.rss_kb = status_kb(line, "Rss").unwrap_or(0);
        }
    }
    if !have_flags {
        return Err(perr("smaps block without a VmFlags line"));
    }
    Ok(out)
}

/// One 64-bit entry of `/proc/<pid>/pagemap` (see the kernel's
/// `Documentation/admin-guide/mm/pagemap.rst`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PagemapEntry(pub u64);

impl PagemapEntry {
    /// Bits 0-54 of a present page: the page frame number (0 unless the reader has
    /// CAP_SYS_ADMIN).
    pub const PFN_MASK: u64 = (1 << 55) - 1;

    /// Bit 63: the page is present in RAM.
    pub const fn present(self) -> bool {
        self.0 & (1 << 63) != 0
    }
    /// Bit 62: the page is swapped out.
    pub const fn swapped(self) -> bool {
        self.0 & (1 << 62) != 0
    }
    /// Bit 61: a file page or shared anonymous page.
    pub const fn file_or_shared_anon(self) -> bool {
        self.0 & (1 << 61) != 0
    }
    /// Bit 58: a guard region (`MADV_GUARD_INSTALL`, since Linux 6.15).
    pub const fn guard(self) -> bool {
        self.0 & (1 << 58) != 0
    }
    /// Bit 57: write-protected by userfaultfd.
    pub const fn uffd_wp(self) -> bool {
        self.0 & (1 << 57) != 0
    }
    /// Bit 56: mapped exclusively (by this process only).
    pub const fn exclusive(self) -> bool {
        self.0 & (1 << 56) != 0
    }
    /// Bit 55: soft-dirty.
    pub const fn soft_dirty(self) -> bool {
        self.0 & (1 << 55) != 0
    }
    /// The frame number, if present.
    pub const fn pfn(self) -> Option<u64> {
        if self.present() {
            Some(self.0 & Self::PFN_MASK)
        } else {
            None
        }
    }
    /// The page-table state the [`vmspace::Backend`] interface shows. A swapped-out
    /// page has no frame and is reported as [`PageState::Absent`] (the reference
    /// machine has no swap, so this does not arise there).
    pub const fn page_state(self) -> PageState {
        match self.pfn() {
            Some(pfn) => PageState::Present(pfn),
            None => PageState::Absent,
        }
    }
}

/// Decode a run of native-endian pagemap entries (as read from the file).
pub fn decode_pagemap(bytes: &[u8]) -> impl Iterator<Item = PagemapEntry> + '_ {
    bytes.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        PagemapEntry(u64::from_ne_bytes(b))
    })
}

/// The number of VMAs in a maps text: every line except the `[vsyscall]` gate.
pub fn map_count(maps: &str) -> u64 {
    maps.lines()
        .filter(|l| !l.is_empty() && !l.ends_with(" [vsyscall]"))
        .count() as u64
}

/// The first bytes of the x86_64 gate area's line (`[vsyscall]`), which `/proc/<pid>/maps`
/// shows after every VMA of the process, when the system has one. No user mapping can
/// start at that address.
pub const GATE_LINE_PREFIX: &str = "ffffffffff600000-ffffffffff601000 ";

/// Whether a `/proc/<pid>/<file>` read from offset 0 is complete after a read that
/// returned `last` of the `asked` bytes, `text` being everything read so far, without
/// the further read that would return 0.
///
/// # Linux
/// Files opened with `single_open` (`status`, `statm`, `stat`, `limits`: the ONE()
/// entries of `fs/proc/base.c`) have one record, which `seq_read_iter` formats whole
/// (growing its buffer as needed) and hands out as far as the reader has room: a read
/// that did not fill the reader's buffer returned the rest of it. `maps` (`show_map`,
/// one record per VMA) hands out at most one buffer of whole records per read, so a
/// short read proves nothing; but `m_next` ends the list with the gate VMA
/// (`get_gate_vma`), so text ending in the gate line is complete. Other files need the
/// read that returns 0.
pub fn read_is_complete(file: &str, text: &[u8], last: usize, asked: usize) -> bool {
    match file {
        "status" | "statm" | "stat" | "limits" => last < asked,
        "maps" => {
            let Some(body) = text.strip_suffix(b"\n") else {
                return false;
            };
            let line_start = body.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
            body[line_start..].starts_with(GATE_LINE_PREFIX.as_bytes())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from a process on the reference machine (Linux 6.18.44).
    const STATUS: &str = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\n\
        VmPeak:\t    8444 kB\nVmSize:\t    8444 kB\nVmLck:\t       8 kB\nVmPin:\t       0 kB\n\
        VmHWM:\t    1664 kB\nVmRSS:\t    1664 kB\nRssAnon:\t       0 kB\n\
        VmData:\t     360 kB\nVmStk:\t     132 kB\nVmExe:\t      20 kB\nVmLib:\t    1636 kB\n\
        VmPTE:\t      52 kB\nVmSwap:\t       0 kB\nThreads:\t1\n";

    #[test]
    fn status_fields() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.vm_size_kb, 8444);
        assert_eq!(s.vm_lck_kb, 8);
        assert_eq!(s.vm_data_kb, 360);
        assert_eq!(s.vm_stk_kb, 132);
        assert_eq!(s.vm_exe_kb, 20);
        assert_eq!(s.vm_rss_kb, 1664);
        assert_eq!(status_kb(STATUS, "VmHWM"), Some(1664));
        // "VmSize" must not match "VmSizeX" or a value without kB.
        assert_eq!(status_kb("VmSizeX:\t1 kB\n", "VmSize"), None);
        assert_eq!(status_kb("VmSize:\t1\n", "VmSize"), None);
        parse_status("Name:\tkthreadd\nThreads:\t1\n").unwrap_err();
    }

    #[test]
    fn stat_fields_after_a_hostile_comm() {
        let mut text = String::from("4242 (a) b (c) R 1 4242 4242 0 -1");
        // Pad to field 52 with the field number as its value.
        for n in 9..=52 {
            text.push_str(&format!(" {n}"));
        }
        assert_eq!(stat_field(&text, 4), Some(1));
        assert_eq!(stat_field(&text, 9), Some(9));
        assert_eq!(stat_field(&text, STAT_START_BRK), Some(47));
        assert_eq!(stat_field(&text, 53), None);
        assert_eq!(stat_field(&text, 2), None);
        assert_eq!(stat_field("no paren", 5), None);
    }

    #[test]
    fn smaps_flags() {
        let text = "\
555555554000-555555556000 r--p 00000000 fe:00 1234 /usr/bin/cat
Size:                  8 kB
Rss:                   8 kB
Locked:                0 kB
VmFlags: rd mr mw me sd 
7ffff7ff9000-7ffff7ffb000 rw-s 00000000 00:01 3079                       /memfd:x (deleted)
Size:                  8 kB
Rss:                   4 kB
Locked:                4 kB
THPeligible:    0
VmFlags: rd wr sh mr mw me ms lo zz sd 
";
        let v = parse_smaps(text).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].line.start, 0x5555_5555_4000);
        assert_eq!(
            v[0].vm_flags,
            VmFlags::READ
                | VmFlags::MAYREAD
                | VmFlags::MAYWRITE
                | VmFlags::MAYEXEC
                | VmFlags::SOFTDIRTY
        );
        assert!(v[0].unknown_flags.is_empty());
        assert!(v[1].vm_flags.contains(VmFlags::SHARED | VmFlags::LOCKED));
        assert_eq!(v[1].unknown_flags, ["zz"]);
        assert_eq!((v[1].locked_kb, v[1].rss_kb), (4, 4));
        assert_eq!(v[1].line.name.as_deref(), Some("/memfd:x (deleted)"));
        parse_smaps("10-20 rw-p 0 00:00 0\nSize: 4 kB\n").unwrap_err();
        parse_smaps("Size: 4 kB\n").unwrap_err();
        assert_eq!(parse_smaps("").unwrap(), vec![]);
    }

    #[test]
    fn pagemap_bits() {
        let present = PagemapEntry((1 << 63) | (1 << 56) | (1 << 55) | 0x1234);
        assert!(present.present() && present.exclusive() && present.soft_dirty());
        assert!(!present.swapped() && !present.file_or_shared_anon());
        assert_eq!(present.pfn(), Some(0x1234));
        assert_eq!(present.page_state(), PageState::Present(0x1234));
        let swapped = PagemapEntry((1 << 62) | 0x55);
        assert_eq!(swapped.pfn(), None);
        assert_eq!(swapped.page_state(), PageState::Absent);
        let guard = PagemapEntry(1 << 58);
        assert!(guard.guard() && !guard.present());
        assert_eq!(PagemapEntry(0).page_state(), PageState::Absent);
        let shared = PagemapEntry((1 << 63) | (1 << 61) | PagemapEntry::PFN_MASK);
        assert!(shared.file_or_shared_anon());
        assert_eq!(shared.pfn(), Some(PagemapEntry::PFN_MASK));
        assert!(PagemapEntry(1 << 57).uffd_wp());
        let mut raw = Vec::new();
        raw.extend_from_slice(&present.0.to_ne_bytes());
        raw.extend_from_slice(&0u64.to_ne_bytes());
        raw.push(0xff); // a trailing partial entry is ignored
        let d: Vec<_> = decode_pagemap(&raw).collect();
        assert_eq!(d, vec![present, PagemapEntry(0)]);
    }

    #[test]
    fn limits() {
        // Captured from the agent on the reference machine.
        let text = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max locked memory         0                    0                    bytes     
Max address space         unlimited            unlimited            bytes     
";
        let l = parse_limits(text).unwrap();
        assert_eq!(
            l.stack,
            Rlimit {
                cur: 8 << 20,
                max: RLIM_INFINITY
            }
        );
        assert_eq!(l.memlock, Rlimit { cur: 0, max: 0 });
        assert_eq!(
            (l.data, l.address_space),
            (Rlimit::INFINITY, Rlimit::INFINITY)
        );
        parse_limits("Limit\nMax stack size  8 x bytes\n").unwrap_err();
    }

    #[test]
    fn map_count_skips_vsyscall() {
        let maps = "\
555555554000-555555556000 r--p 00000000 fe:00 1234                       /usr/bin/cat
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";
        assert_eq!(map_count(maps), 2);
        assert_eq!(map_count(""), 0);
    }

    #[test]
    fn single_record_files_are_complete_after_a_short_read() {
        for f in ["status", "statm", "stat", "limits"] {
            assert!(read_is_complete(
                f,
                b"3374 2107 763 462 0 1419 0\n",
                27,
                16384
            ));
            assert!(!read_is_complete(f, &[b'x'; 16384], 16384, 16384));
        }
        // Other files need the read that returns 0, short or not.
        assert!(!read_is_complete("smaps", b"x\n", 2, 16384));
    }

    #[test]
    fn maps_is_complete_once_the_gate_line_is_read() {
        let stack =
            "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n";
        let gate =
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
        let both = format!("{stack}{gate}");
        assert!(read_is_complete("maps", both.as_bytes(), 100, 16384));
        assert!(read_is_complete("maps", gate.as_bytes(), 100, 16384));
        // Short reads of maps prove nothing: one buffer of records per read.
        assert!(!read_is_complete("maps", stack.as_bytes(), 100, 16384));
        // A file whose path merely ends in "[vsyscall]" is not the gate.
        let fake = "7ffff7fca000-7ffff7fcb000 r--p 00000000 fe:00 1 /tmp/a [vsyscall]\n";
        assert!(!read_is_complete("maps", fake.as_bytes(), 100, 16384));
        // Text cut inside the gate line is not complete.
        assert!(!read_is_complete(
            "maps",
            &both.as_bytes()[..both.len() - 1],
            100,
            16384
        ));
        assert!(!read_is_complete("maps", b"", 0, 16384));
    }
}
