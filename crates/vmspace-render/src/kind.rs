//! What is behind a mapping, as far as a maps line tells, and the colour it is drawn in.

use vmspace::MapsLine;

/// The backing of a mapping, read from its maps line. Each kind has its own colour.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Private anonymous memory: no name (or a `[anon:...]` name set with prctl).
    Anon,
    /// Shared anonymous memory: `/dev/zero (deleted)`, System V shm, `[anon_shmem:...]`.
    SharedAnon,
    /// A memfd: `/memfd:NAME (deleted)`.
    Memfd,
    /// Any other file.
    File,
    /// `[stack]`.
    Stack,
    /// `[heap]`.
    Heap,
    /// A special mapping the kernel installs: `[vdso]`, `[vvar]`, `[vsyscall]`, ...
    Special,
}

impl Kind {
    /// Every kind, in legend order.
    pub const ALL: [Kind; 7] = [
        Kind::Anon,
        Kind::SharedAnon,
        Kind::Memfd,
        Kind::File,
        Kind::Stack,
        Kind::Heap,
        Kind::Special,
    ];

    /// The kind of a maps line.
    pub fn of(line: &MapsLine) -> Kind {
        let Some(name) = line.name.as_deref() else {
            return if line.shared {
                Kind::SharedAnon
            } else {
                Kind::Anon
            };
        };
        if name == "[stack]" || name.starts_with("[stack:") {
            Kind::Stack
        } else if name == "[heap]" {
            Kind::Heap
        } else if name.starts_with("[anon_shmem:") {
            Kind::SharedAnon
        } else if name.starts_with("[anon:") {
            Kind::Anon
        } else if name.starts_with('[') {
            Kind::Special
        } else if name.starts_with("/dev/zero") || name.starts_with("/SYSV") {
            Kind::SharedAnon
        } else if name.starts_with("/memfd:") {
            Kind::Memfd
        } else {
            Kind::File
        }
    }

    /// The fill colour (`#rrggbb`; the Okabe–Ito palette, distinguishable with the
    /// common colour-vision deficiencies).
    pub fn colour(self) -> &'static str {
        match self {
            Kind::Anon => "#0072b2",
            Kind::SharedAnon => "#cc79a7",
            Kind::Memfd => "#009e73",
            Kind::File => "#e69f00",
            Kind::Stack => "#d55e00",
            Kind::Heap => "#f0e442",
            Kind::Special => "#999999",
        }
    }

    /// The colour of text written on a bar of this kind.
    pub(crate) fn ink(self) -> &'static str {
        match self {
            Kind::Anon | Kind::Memfd | Kind::Stack => "#ffffff",
            _ => "#000000",
        }
    }

    /// What the legend calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Anon => "private anon",
            Kind::SharedAnon => "shared anon",
            Kind::Memfd => "memfd",
            Kind::File => "file",
            Kind::Stack => "[stack]",
            Kind::Heap => "[heap]",
            Kind::Special => "[vdso], [vvar], ...",
        }
    }

    /// A short name for CSS classes.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Kind::Anon => "anon",
            Kind::SharedAnon => "shanon",
            Kind::Memfd => "memfd",
            Kind::File => "file",
            Kind::Stack => "stack",
            Kind::Heap => "heap",
            Kind::Special => "special",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(l: &str) -> Kind {
        Kind::of(&MapsLine::parse(l).unwrap())
    }

    #[test]
    fn kinds_from_real_lines() {
        let pad = |s: &str| format!("{s:<72} ");
        assert_eq!(
            kind("7f0000000000-7f0000001000 rw-p 00000000 00:00 0 "),
            Kind::Anon
        );
        assert_eq!(
            kind(
                &(pad("7f0000000000-7f0000001000 rw-s 00000000 00:01 3079")
                    + "/dev/zero (deleted)")
            ),
            Kind::SharedAnon
        );
        assert_eq!(
            kind(
                &(pad("7f0000000000-7f0000001000 rw-s 00000000 00:01 3079") + "/memfd:x (deleted)")
            ),
            Kind::Memfd
        );
        assert_eq!(
            kind(&(pad("7f0000000000-7f0000001000 r--p 00000000 fe:00 12") + "/usr/lib/libc.so.6")),
            Kind::File
        );
        assert_eq!(
            kind(&(pad("7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0") + "[stack]")),
            Kind::Stack
        );
        assert_eq!(
            kind(&(pad("555555923000-555555944000 rw-p 00000000 00:00 0") + "[heap]")),
            Kind::Heap
        );
        assert_eq!(
            kind(&(pad("7ffff7fc8000-7ffff7fca000 r-xp 00000000 00:00 0") + "[vdso]")),
            Kind::Special
        );
        assert_eq!(
            kind(&(pad("7f0000000000-7f0000001000 rw-p 00000000 00:00 0") + "[anon:buf]")),
            Kind::Anon
        );
    }
}
