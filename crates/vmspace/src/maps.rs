//! `/proc/pid/maps` lines: the exact text format, and a parser for it.

use alloc::string::String;
use core::fmt;

/// One line of `/proc/pid/maps`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapsLine {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `r`/`-`.
    pub read: bool,
    /// `w`/`-`.
    pub write: bool,
    /// `x`/`-`.
    pub exec: bool,
    /// `s` (VM_MAYSHARE) or `p`.
    pub shared: bool,
    /// The offset column in bytes (pgoff * 4096 for file and shmem VMAs, else 0).
    pub offset: u64,
    /// Device major number.
    pub dev_major: u32,
    /// Device minor number.
    pub dev_minor: u32,
    /// Inode number.
    pub inode: u64,
    /// The name column, verbatim (path, `[heap]`, `/dev/zero (deleted)`, ...).
    pub name: Option<String>,
}

/// Column at which the name starts (0-based): the kernel pads the prefix to 72
/// characters and then writes one space.
pub const NAME_COLUMN: usize = 73;

impl MapsLine {
    /// The four permission characters (`rw-p`).
    pub fn perms(&self) -> [u8; 4] {
        [
            if self.read { b'r' } else { b'-' },
            if self.write { b'w' } else { b'-' },
            if self.exec { b'x' } else { b'-' },
            if self.shared { b's' } else { b'p' },
        ]
    }

    /// Parse one line (without its newline).
    pub fn parse(line: &str) -> Result<Self, MapsParseError> {
        let err = |what: &'static str| MapsParseError { what };
        let b = line.as_bytes();
        let mut pos = 0;
        let field =
            |pos: &mut usize, stop: u8, what: &'static str| -> Result<&str, MapsParseError> {
                let start = *pos;
                while *pos < b.len() && b[*pos] != stop {
                    *pos += 1;
                }
                if *pos >= b.len() || *pos == start {
                    return Err(err(what));
                }
                let s = &line[start..*pos];
                *pos += 1;
                Ok(s)
            };
        let hex = |s: &str, what| u64::from_str_radix(s, 16).map_err(|_| err(what));
        let start = hex(field(&mut pos, b'-', "start address")?, "start address")?;
        let end = hex(field(&mut pos, b' ', "end address")?, "end address")?;
        let perms = field(&mut pos, b' ', "permissions")?.as_bytes();
        if perms.len() != 4 {
            return Err(err("permissions"));
        }
        let flag = |c: u8, yes: u8| -> Result<bool, MapsParseError> {
            if c == yes {
                Ok(true)
            } else if c == b'-' || (yes == b's' && c == b'p') {
                Ok(false)
            } else {
                Err(err("permissions"))
            }
        };
        let read = flag(perms[0], b'r')?;
        let write = flag(perms[1], b'w')?;
        let exec = flag(perms[2], b'x')?;
        let shared = flag(perms[3], b's')?;
        let offset = hex(field(&mut pos, b' ', "offset")?, "offset")?;
        let dev = field(&mut pos, b' ', "device")?;
        let (maj, min) = dev.split_once(':').ok_or(err("device"))?;
        let dev_major = u32::from_str_radix(maj, 16).map_err(|_| err("device"))?;
        let dev_minor = u32::from_str_radix(min, 16).map_err(|_| err("device"))?;
        // The inode ends at the next space, or at the end of the line.
        let ino_start = pos;
        while pos < b.len() && b[pos] != b' ' {
            pos += 1;
        }
        let inode: u64 = line[ino_start..pos].parse().map_err(|_| err("inode"))?;
        while pos < b.len() && b[pos] == b' ' {
            pos += 1;
        }
        let name = if pos < b.len() {
            Some(String::from(&line[pos..]))
        } else {
            None
        };
        if end < start {
            return Err(err("address range"));
        }
        Ok(MapsLine {
            start,
            end,
            read,
            write,
            exec,
            shared,
            offset,
            dev_major,
            dev_minor,
            inode,
            name,
        })
    }
}

/// The fixed fields of a maps line, formatted into a stack buffer (one `push_str` per
/// line instead of one push per character).
struct Head {
    buf: [u8; 104],
    len: usize,
}

impl Head {
    fn byte(&mut self, c: u8) {
        self.buf[self.len] = c;
        self.len += 1;
    }

    fn hex(&mut self, v: u64, min_width: usize) {
        let digits = ((64 - v.leading_zeros() as usize).div_ceil(4))
            .max(min_width)
            .max(1);
        // At most 16 digits: `min_width` is at most 8 here.
        for i in (0..digits).rev() {
            self.byte(b"0123456789abcdef"[((v >> (i * 4)) & 15) as usize]);
        }
    }

    fn dec(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut x = v;
        loop {
            i -= 1;
            tmp[i] = b'0' + (x % 10) as u8;
            x /= 10;
            if x == 0 {
                break;
            }
        }
        for &c in &tmp[i..] {
            self.byte(c);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII was written.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Spaces to pad a line to [`NAME_COLUMN`].
const SPACES: &str = "                                                                          ";

/// Pad the line that started at `line_start` in `out` with spaces so that the name that
/// follows starts at [`NAME_COLUMN`] (or after one space, if the line is already longer),
/// as the kernel's `show_vma_header_prefix` and `seq_pad` do.
pub(crate) fn pad_for_name(out: &mut String, line_start: usize) {
    let used = out.len() - line_start;
    let n = (NAME_COLUMN - 1).saturating_sub(used);
    out.push_str(&SPACES[..n.min(SPACES.len())]);
    out.push(' ');
}

impl MapsLine {
    /// Append the line exactly as the kernel prints it (without the newline) to `out`.
    pub fn write_to(&self, out: &mut String) {
        let start = out.len();
        let mut h = Head {
            buf: [0; 104],
            len: 0,
        };
        h.hex(self.start, 8);
        h.byte(b'-');
        h.hex(self.end, 8);
        h.byte(b' ');
        for c in self.perms() {
            h.byte(c);
        }
        h.byte(b' ');
        h.hex(self.offset, 8);
        h.byte(b' ');
        h.hex(u64::from(self.dev_major), 2);
        h.byte(b':');
        h.hex(u64::from(self.dev_minor), 2);
        h.byte(b' ');
        h.dec(self.inode);
        h.byte(b' ');
        out.push_str(h.as_str());
        if let Some(name) = &self.name {
            pad_for_name(out, start);
            out.push_str(name);
        }
    }
}

impl fmt::Display for MapsLine {
    /// The line exactly as the kernel prints it, without the newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(96);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// A maps line that could not be parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MapsParseError {
    /// The field that was malformed.
    pub what: &'static str,
}

impl fmt::Display for MapsParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed maps line: bad {}", self.what)
    }
}

impl core::error::Error for MapsParseError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn real_lines_round_trip_byte_for_byte() {
        // Lines in the shape /proc/self/maps has on the reference machine (Linux 6.18.44):
        // names at column 73, a trailing space on unnamed lines.
        let lines = [
            "7ffff7fc5000-7ffff7fc9000 r--p 00000000 00:00 0                          [vvar]",
            "7ffff7ff9000-7ffff7ffb000 rw-s 00000000 00:01 3079                       /dev/zero (deleted)",
            "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]",
            "7ffff7d8a000-7ffff7d8c000 rw-p 00000000 00:00 0 ",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
            "555555554000-555555556000 r--p 00000000 fe:00 1234567                    /usr/bin/cat",
        ];
        for l in lines {
            let parsed = MapsLine::parse(l).unwrap();
            assert_eq!(parsed.to_string(), l);
        }
        let anon = MapsLine::parse(lines[3]).unwrap();
        assert_eq!(anon.name, None);
        assert_eq!(anon.to_string().len(), 48);
        let shm = MapsLine::parse(lines[1]).unwrap();
        assert!(shm.shared && shm.write && !shm.exec);
        assert_eq!((shm.dev_major, shm.dev_minor, shm.inode), (0, 1, 3079));
        assert_eq!(shm.name.as_deref(), Some("/dev/zero (deleted)"));
        assert_eq!(shm.to_string().find('/'), Some(NAME_COLUMN));
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            "",
            "zz-10 rw-p 0 00:00 0",
            "10-20 rwxq 0 00:00 0",
            "10-20 rw-p 0 0000 0",
            "20-10 rw-p 0 00:00 0 ",
        ] {
            assert!(MapsLine::parse(bad).is_err(), "{bad:?}");
        }
    }
}
