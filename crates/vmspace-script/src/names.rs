//! Symbolic names as strace prints them: flags, advice, resources, errnos, and the
//! argument shapes of the supported calls.
//!
//! Values come from the engine's flag types wherever the engine has them, so the two
//! crates cannot drift apart.

use vmspace::flags::RLIM_INFINITY;
use vmspace::{
    Advice, Errno, MapFlags, MemfdFlags, MlockAllFlags, MlockFlags, MremapFlags, ProtFlags,
};

/// What an argument position holds. Decides which symbolic names are valid there and
/// how the printer writes a value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An address (printed as hex, 0 as `NULL`).
    Addr,
    /// A length in bytes (printed as `Np` when a page multiple).
    Len,
    /// A signed number: a file descriptor, a file offset or length (printed in decimal,
    /// negative when the top bit is set).
    Signed,
    /// A plain unsigned number (a uid, a pid).
    Num,
    /// `PROT_*`
    Prot,
    /// `MAP_*`
    Map,
    /// `MREMAP_*`
    Mremap,
    /// `MLOCK_*`
    Mlock,
    /// `MCL_*`
    Mcl,
    /// `MADV_*`
    Madv,
    /// `MFD_*`
    Mfd,
    /// `RLIMIT_*`
    Resource,
    /// An `rlim_cur`/`rlim_max` value (`RLIM_INFINITY`, `RLIM64_INFINITY`).
    RlimValue,
    /// A quoted string.
    Str,
    /// `{rlim_cur=..., rlim_max=...}`
    Rlimit,
    /// `{rlim_cur=..., rlim_max=...}` or `NULL`
    RlimitOrNull,
}

impl Kind {
    /// What a user should write here, for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Addr => "an address",
            Kind::Len => "a length",
            Kind::Signed => "a number",
            Kind::Num => "a number",
            Kind::Prot => "PROT_* flags",
            Kind::Map => "MAP_* flags",
            Kind::Mremap => "MREMAP_* flags",
            Kind::Mlock => "MLOCK_* flags",
            Kind::Mcl => "MCL_* flags",
            Kind::Madv => "an MADV_* advice",
            Kind::Mfd => "MFD_* flags",
            Kind::Resource => "an RLIMIT_* resource",
            Kind::RlimValue => "a limit value",
            Kind::Str => "a quoted string",
            Kind::Rlimit => "`{rlim_cur=N, rlim_max=N}`",
            Kind::RlimitOrNull => "`{rlim_cur=N, rlim_max=N}` or NULL",
        }
    }

    /// The name prefix of this kind's symbols, for error messages.
    pub(crate) fn prefix(self) -> Option<&'static str> {
        match self {
            Kind::Prot => Some("PROT_"),
            Kind::Map => Some("MAP_"),
            Kind::Mremap => Some("MREMAP_"),
            Kind::Mlock => Some("MLOCK_"),
            Kind::Mcl => Some("MCL_"),
            Kind::Madv => Some("MADV_"),
            Kind::Mfd => Some("MFD_"),
            Kind::Resource => Some("RLIMIT_"),
            Kind::RlimValue => Some("RLIM_INFINITY"),
            _ => None,
        }
    }
}

/// One symbolic name: its spelling, its value, and whether the printer uses it when
/// decomposing a value into flags (aliases, zero values, shifts and multi-bit values
/// are parse-only).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Sym {
    pub(crate) name: &'static str,
    pub(crate) value: u64,
    pub(crate) print: bool,
}

const fn sym(name: &'static str, value: u64) -> Sym {
    Sym {
        name,
        value,
        print: true,
    }
}

const fn alias(name: &'static str, value: u64) -> Sym {
    Sym {
        name,
        value,
        print: false,
    }
}

/// `MAP_HUGE_SHIFT` and `MFD_HUGE_SHIFT` (strace prints `21<<MAP_HUGE_SHIFT`).
const HUGE_SHIFT: u64 = 26;

pub(crate) const PROT: &[Sym] = &[
    alias("PROT_NONE", 0),
    sym("PROT_READ", ProtFlags::READ.bits()),
    sym("PROT_WRITE", ProtFlags::WRITE.bits()),
    sym("PROT_EXEC", ProtFlags::EXEC.bits()),
    sym("PROT_SEM", ProtFlags::SEM.bits()),
    sym("PROT_GROWSDOWN", ProtFlags::GROWSDOWN.bits()),
    sym("PROT_GROWSUP", ProtFlags::GROWSUP.bits()),
];

/// The `MAP_TYPE` values (the low four bits), printed before the other flags.
pub(crate) const MAP_TYPES: &[Sym] = &[
    sym("MAP_SHARED", MapFlags::SHARED.bits()),
    sym("MAP_PRIVATE", MapFlags::PRIVATE.bits()),
    sym("MAP_SHARED_VALIDATE", MapFlags::SHARED_VALIDATE.bits()),
    sym("MAP_DROPPABLE", MapFlags::DROPPABLE.bits()),
];

pub(crate) const MAP: &[Sym] = &[
    sym("MAP_FIXED", MapFlags::FIXED.bits()),
    sym("MAP_ANONYMOUS", MapFlags::ANONYMOUS.bits()),
    alias("MAP_ANON", MapFlags::ANONYMOUS.bits()),
    sym("MAP_32BIT", MapFlags::BIT32.bits()),
    sym("MAP_ABOVE4G", MapFlags::ABOVE4G.bits()),
    sym("MAP_GROWSDOWN", MapFlags::GROWSDOWN.bits()),
    sym("MAP_DENYWRITE", MapFlags::DENYWRITE.bits()),
    sym("MAP_EXECUTABLE", MapFlags::EXECUTABLE.bits()),
    sym("MAP_LOCKED", MapFlags::LOCKED.bits()),
    sym("MAP_NORESERVE", MapFlags::NORESERVE.bits()),
    sym("MAP_POPULATE", MapFlags::POPULATE.bits()),
    sym("MAP_NONBLOCK", MapFlags::NONBLOCK.bits()),
    sym("MAP_STACK", MapFlags::STACK.bits()),
    sym("MAP_HUGETLB", MapFlags::HUGETLB.bits()),
    sym("MAP_SYNC", MapFlags::SYNC.bits()),
    sym("MAP_FIXED_NOREPLACE", MapFlags::FIXED_NOREPLACE.bits()),
    sym("MAP_UNINITIALIZED", MapFlags::UNINITIALIZED.bits()),
    alias("MAP_FILE", 0),
    alias("MAP_HUGE_SHIFT", HUGE_SHIFT),
    alias("MAP_HUGE_2MB", 21 << HUGE_SHIFT),
    alias("MAP_HUGE_1GB", 30 << HUGE_SHIFT),
];

pub(crate) const MREMAP: &[Sym] = &[
    sym("MREMAP_MAYMOVE", MremapFlags::MAYMOVE.bits()),
    sym("MREMAP_FIXED", MremapFlags::FIXED.bits()),
    sym("MREMAP_DONTUNMAP", MremapFlags::DONTUNMAP.bits()),
];

pub(crate) const MLOCK: &[Sym] = &[sym("MLOCK_ONFAULT", MlockFlags::ONFAULT.bits())];

pub(crate) const MCL: &[Sym] = &[
    sym("MCL_CURRENT", MlockAllFlags::CURRENT.bits()),
    sym("MCL_FUTURE", MlockAllFlags::FUTURE.bits()),
    sym("MCL_ONFAULT", MlockAllFlags::ONFAULT.bits()),
];

pub(crate) const MFD: &[Sym] = &[
    sym("MFD_CLOEXEC", MemfdFlags::CLOEXEC.bits()),
    sym("MFD_ALLOW_SEALING", MemfdFlags::ALLOW_SEALING.bits()),
    sym("MFD_HUGETLB", MemfdFlags::HUGETLB.bits()),
    sym("MFD_NOEXEC_SEAL", MemfdFlags::NOEXEC_SEAL.bits()),
    sym("MFD_EXEC", MemfdFlags::EXEC.bits()),
    alias("MFD_HUGE_SHIFT", HUGE_SHIFT),
    alias("MFD_HUGE_2MB", 21 << HUGE_SHIFT),
    alias("MFD_HUGE_1GB", 30 << HUGE_SHIFT),
];

/// Every `RLIMIT_*` strace knows on x86-64 (the generic numbering). The four the engine
/// models take their values from the engine.
pub(crate) const RESOURCES: &[Sym] = &[
    sym("RLIMIT_CPU", 0),
    sym("RLIMIT_FSIZE", 1),
    sym("RLIMIT_DATA", vmspace::Resource::DATA.0),
    sym("RLIMIT_STACK", vmspace::Resource::STACK.0),
    sym("RLIMIT_CORE", 4),
    sym("RLIMIT_RSS", 5),
    sym("RLIMIT_NPROC", 6),
    sym("RLIMIT_NOFILE", 7),
    sym("RLIMIT_MEMLOCK", vmspace::Resource::MEMLOCK.0),
    sym("RLIMIT_AS", vmspace::Resource::AS.0),
    sym("RLIMIT_LOCKS", 10),
    sym("RLIMIT_SIGPENDING", 11),
    sym("RLIMIT_MSGQUEUE", 12),
    sym("RLIMIT_NICE", 13),
    sym("RLIMIT_RTPRIO", 14),
    sym("RLIMIT_RTTIME", 15),
];

pub(crate) const RLIM_VALUES: &[Sym] = &[
    sym("RLIM64_INFINITY", RLIM_INFINITY),
    alias("RLIM_INFINITY", RLIM_INFINITY),
];

/// The table of plain flag names of a kind (for `MAP_*`, without the type values).
pub(crate) fn table(kind: Kind) -> &'static [Sym] {
    match kind {
        Kind::Prot => PROT,
        Kind::Map => MAP,
        Kind::Mremap => MREMAP,
        Kind::Mlock => MLOCK,
        Kind::Mcl => MCL,
        Kind::Mfd => MFD,
        Kind::Resource => RESOURCES,
        Kind::RlimValue => RLIM_VALUES,
        _ => &[],
    }
}

/// Look a symbolic name up in the context of an argument kind. Returns the table's own
/// spelling (a `'static` string) and the value.
pub(crate) fn lookup(kind: Kind, name: &str) -> Option<(&'static str, u64)> {
    if kind == Kind::Madv {
        return Advice::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, n)| (*n, a.0));
    }
    if kind == Kind::Map
        && let Some(s) = MAP_TYPES.iter().find(|s| s.name == name)
    {
        return Some((s.name, s.value));
    }
    table(kind)
        .iter()
        .find(|s| s.name == name)
        .map(|s| (s.name, s.value))
}

/// Every name valid for a kind (for tests and generators).
#[cfg(test)]
pub(crate) fn all_names(kind: Kind) -> Vec<(&'static str, u64)> {
    let mut v: Vec<(&'static str, u64)> = Vec::new();
    if kind == Kind::Madv {
        v.extend(Advice::NAMES.iter().map(|(a, n)| (*n, a.0)));
    }
    if kind == Kind::Map {
        v.extend(MAP_TYPES.iter().map(|s| (s.name, s.value)));
    }
    v.extend(table(kind).iter().map(|s| (s.name, s.value)));
    v
}

/// The shape of one supported system call.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Signature {
    /// The name as strace prints it.
    pub(crate) name: &'static str,
    /// The argument kinds, in order.
    pub(crate) params: &'static [Kind],
    /// How many arguments may be given at least (the rest are optional).
    pub(crate) min_args: usize,
}

const fn sig(name: &'static str, params: &'static [Kind]) -> Signature {
    Signature {
        name,
        params,
        min_args: params.len(),
    }
}

use Kind::*;

/// The system calls a script may contain, with their argument shapes.
pub(crate) const SYSCALLS: &[Signature] = &[
    sig("mmap", &[Addr, Len, Prot, Map, Signed, Signed]),
    sig("munmap", &[Addr, Len]),
    Signature {
        name: "mremap",
        params: &[Addr, Len, Len, Mremap, Addr],
        min_args: 4,
    },
    sig("mprotect", &[Addr, Len, Prot]),
    sig("mlock", &[Addr, Len]),
    sig("mlock2", &[Addr, Len, Mlock]),
    sig("munlock", &[Addr, Len]),
    sig("mlockall", &[Mcl]),
    sig("munlockall", &[]),
    sig("madvise", &[Addr, Len, Madv]),
    sig("brk", &[Addr]),
    sig("memfd_create", &[Str, Mfd]),
    sig("ftruncate", &[Signed, Signed]),
    sig("pwrite64", &[Signed, Str, Len, Signed]),
    sig("close", &[Signed]),
    sig("setrlimit", &[Resource, Rlimit]),
    sig("prlimit64", &[Num, Resource, RlimitOrNull, RlimitOrNull]),
    sig("setuid", &[Num]),
];

/// The calls that are not system calls.
pub(crate) const SCRIPT_CALLS: &[&str] = &["store", "load", "fill", "maps", "vmas"];

/// The signature of a supported system call.
pub(crate) fn syscall(name: &str) -> Option<&'static Signature> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// Errno names strace prints that the engine's table lacks (generic numbering, plus
/// the kernel-internal restart codes strace shows after `= ?`).
const MORE_ERRNOS: &[(&str, u16)] = &[
    ("ESRCH", 3),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("ECHILD", 10),
    ("ENOTBLK", 15),
    ("EXDEV", 18),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("ENFILE", 23),
    ("ENOTTY", 25),
    ("ENOSPC", 28),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("EDOM", 33),
    ("ERANGE", 34),
    ("EDEADLK", 35),
    ("ENAMETOOLONG", 36),
    ("ENOLCK", 37),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
    ("ENOMSG", 42),
    ("EIDRM", 43),
    ("ECHRNG", 44),
    ("EL2NSYNC", 45),
    ("EL3HLT", 46),
    ("EL3RST", 47),
    ("ELNRNG", 48),
    ("EUNATCH", 49),
    ("ENOCSI", 50),
    ("EL2HLT", 51),
    ("EBADE", 52),
    ("EBADR", 53),
    ("EXFULL", 54),
    ("ENOANO", 55),
    ("EBADRQC", 56),
    ("EBADSLT", 57),
    ("EBFONT", 59),
    ("ENOSTR", 60),
    ("ENODATA", 61),
    ("ETIME", 62),
    ("ENOSR", 63),
    ("ENONET", 64),
    ("ENOPKG", 65),
    ("EREMOTE", 66),
    ("ENOLINK", 67),
    ("EADV", 68),
    ("ESRMNT", 69),
    ("ECOMM", 70),
    ("EPROTO", 71),
    ("EMULTIHOP", 72),
    ("EDOTDOT", 73),
    ("EBADMSG", 74),
    ("ENOTUNIQ", 76),
    ("EBADFD", 77),
    ("EREMCHG", 78),
    ("ELIBACC", 79),
    ("ELIBBAD", 80),
    ("ELIBSCN", 81),
    ("ELIBMAX", 82),
    ("ELIBEXEC", 83),
    ("EILSEQ", 84),
    ("ERESTART", 85),
    ("ESTRPIPE", 86),
    ("EUSERS", 87),
    ("ENOTSOCK", 88),
    ("EDESTADDRREQ", 89),
    ("EMSGSIZE", 90),
    ("EPROTOTYPE", 91),
    ("ENOPROTOOPT", 92),
    ("EPROTONOSUPPORT", 93),
    ("ESOCKTNOSUPPORT", 94),
    ("EPFNOSUPPORT", 96),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETDOWN", 100),
    ("ENETUNREACH", 101),
    ("ENETRESET", 102),
    ("ECONNABORTED", 103),
    ("ECONNRESET", 104),
    ("ENOBUFS", 105),
    ("EISCONN", 106),
    ("ENOTCONN", 107),
    ("ESHUTDOWN", 108),
    ("ETOOMANYREFS", 109),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTDOWN", 112),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
    ("ESTALE", 116),
    ("EUCLEAN", 117),
    ("ENOTNAM", 118),
    ("ENAVAIL", 119),
    ("EISNAM", 120),
    ("EREMOTEIO", 121),
    ("EDQUOT", 122),
    ("ENOMEDIUM", 123),
    ("EMEDIUMTYPE", 124),
    ("ECANCELED", 125),
    ("ENOKEY", 126),
    ("EKEYEXPIRED", 127),
    ("EKEYREVOKED", 128),
    ("EKEYREJECTED", 129),
    ("EOWNERDEAD", 130),
    ("ENOTRECOVERABLE", 131),
    ("ERFKILL", 132),
    ("ERESTARTSYS", 512),
    ("ERESTARTNOINTR", 513),
    ("ERESTARTNOHAND", 514),
    ("ENOIOCTLCMD", 515),
    ("ERESTART_RESTARTBLOCK", 516),
    ("EPROBE_DEFER", 517),
    ("EOPENSTALE", 518),
    ("ENOPARAM", 519),
    ("EBADHANDLE", 521),
    ("ENOTSYNC", 522),
    ("EBADCOOKIE", 523),
    ("ENOTSUPP", 524),
    ("ETOOSMALL", 525),
    ("ESERVERFAULT", 526),
    ("EBADTYPE", 527),
    ("EJUKEBOX", 528),
    ("EIOCBQUEUED", 529),
    ("ERECALLCONFLICT", 530),
];

/// The errno with this strace name.
pub(crate) fn errno_from_name(name: &str) -> Option<Errno> {
    Errno::from_name(name).or_else(|| {
        MORE_ERRNOS
            .iter()
            .find(|e| e.0 == name)
            .and_then(|e| Errno::from_raw(i64::from(e.1)))
    })
}

/// The strace name of an errno, if it has one.
pub(crate) fn errno_name(e: Errno) -> Option<&'static str> {
    e.name().or_else(|| {
        MORE_ERRNOS
            .iter()
            .find(|x| i32::from(x.1) == e.raw())
            .map(|x| x.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_table_matches_the_host_headers() {
        use linux_raw_sys::errno as e;
        let host = [
            ("ESRCH", e::ESRCH),
            ("ENOSPC", e::ENOSPC),
            ("ENOTDIR", e::ENOTDIR),
            ("EDEADLK", e::EDEADLK),
            ("ENOTEMPTY", e::ENOTEMPTY),
            ("ELOOP", e::ELOOP),
            ("ENOMSG", e::ENOMSG),
            ("EBFONT", e::EBFONT),
            ("ENOTUNIQ", e::ENOTUNIQ),
            ("EILSEQ", e::EILSEQ),
            ("ENOTSOCK", e::ENOTSOCK),
            ("EPFNOSUPPORT", e::EPFNOSUPPORT),
            ("ETIMEDOUT", e::ETIMEDOUT),
            ("ESTALE", e::ESTALE),
            ("EDQUOT", e::EDQUOT),
            ("ECANCELED", e::ECANCELED),
            ("EOWNERDEAD", e::EOWNERDEAD),
            ("ENOTRECOVERABLE", e::ENOTRECOVERABLE),
            ("ERFKILL", e::ERFKILL),
        ];
        for (name, value) in host {
            assert_eq!(
                errno_from_name(name).map(|e| e.raw() as u32),
                Some(value),
                "{name}"
            );
        }
        // Every entry of our table is consecutive with the header numbering: no
        // duplicates, names round-trip.
        for (name, v) in MORE_ERRNOS {
            let e = errno_from_name(name).unwrap();
            assert_eq!(e.raw(), i32::from(*v));
            assert_eq!(errno_name(e), Some(*name));
        }
    }

    #[test]
    fn rlimit_numbers_match_the_host_headers() {
        use linux_raw_sys::general as g;
        let host = [
            ("RLIMIT_CPU", g::RLIMIT_CPU),
            ("RLIMIT_FSIZE", g::RLIMIT_FSIZE),
            ("RLIMIT_CORE", g::RLIMIT_CORE),
            ("RLIMIT_RSS", g::RLIMIT_RSS),
            ("RLIMIT_NPROC", g::RLIMIT_NPROC),
            ("RLIMIT_NOFILE", g::RLIMIT_NOFILE),
            ("RLIMIT_LOCKS", g::RLIMIT_LOCKS),
            ("RLIMIT_SIGPENDING", g::RLIMIT_SIGPENDING),
            ("RLIMIT_MSGQUEUE", g::RLIMIT_MSGQUEUE),
            ("RLIMIT_NICE", g::RLIMIT_NICE),
            ("RLIMIT_RTPRIO", g::RLIMIT_RTPRIO),
            ("RLIMIT_RTTIME", g::RLIMIT_RTTIME),
        ];
        for (name, value) in host {
            assert_eq!(lookup(Kind::Resource, name), Some((name, u64::from(value))));
        }
    }

    #[test]
    fn every_name_is_found_in_its_own_kind_only_by_prefix() {
        for kind in [
            Kind::Prot,
            Kind::Map,
            Kind::Mremap,
            Kind::Mlock,
            Kind::Mcl,
            Kind::Madv,
            Kind::Mfd,
            Kind::Resource,
        ] {
            let prefix = kind.prefix().unwrap();
            for (name, value) in all_names(kind) {
                assert!(name.starts_with(prefix), "{name}");
                assert_eq!(lookup(kind, name), Some((name, value)));
            }
        }
        assert_eq!(lookup(Kind::Prot, "MAP_FIXED"), None);
        assert_eq!(lookup(Kind::Len, "PROT_READ"), None);
    }
}
