//! The operation vocabulary shared by every backend, and the [`Backend`] trait.
//!
//! An [`Op`] is one system call (or one memory access) with raw, ABI-shaped
//! arguments: every register value a caller could pass is representable, invalid
//! combinations included, because the kernel's answer to them is behaviour too.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::Errno;
use crate::flags::MremapFlags;

/// One operation, as a user-space program would issue it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `mmap(addr, len, prot, flags, fd, offset)`
    Mmap {
        /// Hint or fixed address.
        addr: u64,
        /// Length in bytes (rounded up to pages by the kernel).
        len: u64,
        /// `PROT_*` bits.
        prot: u64,
        /// `MAP_*` bits.
        flags: u64,
        /// File descriptor register value (the kernel reads it as an `int`).
        fd: u64,
        /// Byte offset into the file.
        offset: u64,
    },
    /// `munmap(addr, len)`
    Munmap {
        /// Start.
        addr: u64,
        /// Length in bytes.
        len: u64,
    },
    /// `mremap(old_address, old_size, new_size, flags, new_address)`
    Mremap {
        /// Start of the old range.
        old_addr: u64,
        /// Old length.
        old_len: u64,
        /// New length.
        new_len: u64,
        /// `MREMAP_*` bits.
        flags: u64,
        /// Destination (read only with `MREMAP_FIXED` or `MREMAP_DONTUNMAP`).
        new_addr: u64,
    },
    /// `mprotect(addr, len, prot)`
    Mprotect {
        /// Start.
        addr: u64,
        /// Length.
        len: u64,
        /// `PROT_*` bits.
        prot: u64,
    },
    /// `mlock(addr, len)`
    Mlock {
        /// Start (need not be aligned).
        addr: u64,
        /// Length.
        len: u64,
    },
    /// `mlock2(addr, len, flags)`
    Mlock2 {
        /// Start (need not be aligned).
        addr: u64,
        /// Length.
        len: u64,
        /// `MLOCK_*` bits.
        flags: u64,
    },
    /// `munlock(addr, len)`
    Munlock {
        /// Start (need not be aligned).
        addr: u64,
        /// Length.
        len: u64,
    },
    /// `mlockall(flags)`
    Mlockall {
        /// `MCL_*` bits.
        flags: u64,
    },
    /// `munlockall()`
    Munlockall,
    /// `madvise(addr, len, advice)`
    Madvise {
        /// Start.
        addr: u64,
        /// Length.
        len: u64,
        /// `MADV_*` value.
        advice: u64,
    },
    /// `brk(addr)` (the raw system call: returns the break, never -1)
    Brk {
        /// Requested break, or 0 to query.
        addr: u64,
    },
    /// `memfd_create(name, flags)`
    MemfdCreate {
        /// The name (without the `memfd:` prefix): bytes, as the kernel takes them (up to
        /// the first NUL).
        name: Vec<u8>,
        /// `MFD_*` bits.
        flags: u64,
    },
    /// `ftruncate(fd, length)`
    Ftruncate {
        /// File descriptor.
        fd: u64,
        /// New size in bytes (the kernel reads it as a signed `loff_t`).
        length: u64,
    },
    /// `pwrite64(fd, buf, count, offset)` with the bytes given directly.
    Pwrite64 {
        /// File descriptor.
        fd: u64,
        /// The bytes written (`count` is their length).
        data: Vec<u8>,
        /// File offset (signed `loff_t`).
        offset: u64,
    },
    /// `close(fd)`
    Close {
        /// File descriptor.
        fd: u64,
    },
    /// `prlimit64(0, resource, {cur, max}, NULL)` / `setrlimit(resource, {cur, max})`
    Setrlimit {
        /// `RLIMIT_*` number.
        resource: u64,
        /// Soft limit in bytes (`RLIM_INFINITY` = `u64::MAX`).
        cur: u64,
        /// Hard limit.
        max: u64,
    },
    /// `setuid(uid)`: a non-zero uid drops root and with it every capability.
    Setuid {
        /// New user id.
        uid: u64,
    },
    /// Read `len` bytes at `addr` as the process would (faults are results).
    Load {
        /// First byte.
        addr: u64,
        /// Byte count.
        len: u64,
    },
    /// Write bytes at `addr` as the process would.
    Store {
        /// First byte.
        addr: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Write `len` copies of `byte` at `addr`.
    Fill {
        /// First byte.
        addr: u64,
        /// Byte count.
        len: u64,
        /// The value.
        byte: u8,
    },
}

impl Op {
    /// The call's name as strace prints it (`"mremap"`), or the script name of an access.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Mremap { .. } => "mremap",
            Op::Mprotect { .. } => "mprotect",
            Op::Mlock { .. } => "mlock",
            Op::Mlock2 { .. } => "mlock2",
            Op::Munlock { .. } => "munlock",
            Op::Mlockall { .. } => "mlockall",
            Op::Munlockall => "munlockall",
            Op::Madvise { .. } => "madvise",
            Op::Brk { .. } => "brk",
            Op::MemfdCreate { .. } => "memfd_create",
            Op::Ftruncate { .. } => "ftruncate",
            Op::Pwrite64 { .. } => "pwrite64",
            Op::Close { .. } => "close",
            Op::Setrlimit { .. } => "setrlimit",
            Op::Setuid { .. } => "setuid",
            Op::Load { .. } => "load",
            Op::Store { .. } => "store",
            Op::Fill { .. } => "fill",
        }
    }

    /// Is this a memory access rather than a system call?
    pub fn is_access(&self) -> bool {
        matches!(self, Op::Load { .. } | Op::Store { .. } | Op::Fill { .. })
    }

    /// The address ranges this operation names (used to decide which pages a
    /// differ compares). Ranges are clipped to 2^64 and may be empty.
    pub fn touched_ranges(&self) -> Vec<(u64, u64)> {
        let r = |a: u64, l: u64| (a, a.saturating_add(l));
        match *self {
            Op::Mmap { addr, len, .. } => alloc::vec![r(addr, len)],
            Op::Munmap { addr, len }
            | Op::Mprotect { addr, len, .. }
            | Op::Mlock { addr, len }
            | Op::Mlock2 { addr, len, .. }
            | Op::Munlock { addr, len }
            | Op::Madvise { addr, len, .. }
            | Op::Load { addr, len }
            | Op::Fill { addr, len, .. } => alloc::vec![r(addr, len)],
            Op::Store { addr, ref data } => alloc::vec![r(addr, data.len() as u64)],
            Op::Mremap {
                old_addr,
                old_len,
                new_len,
                new_addr,
                flags,
            } => {
                let mut v = alloc::vec![r(old_addr, old_len.max(new_len))];
                // new_addr means something only with MREMAP_FIXED (the place) or
                // MREMAP_DONTUNMAP (a hint); otherwise the kernel ignores it.
                if flags & (MremapFlags::FIXED.bits() | MremapFlags::DONTUNMAP.bits()) != 0 {
                    v.push(r(new_addr, new_len));
                }
                v
            }
            _ => Vec::new(),
        }
    }
}

/// The signal a faulting access raises.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGSEGV`
    Segv,
    /// `SIGBUS`
    Bus,
}

/// `si_code` of a fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// `SEGV_MAPERR`: no VMA at the address.
    MapErr,
    /// `SEGV_ACCERR`: a VMA, but the access is not permitted.
    AccErr,
    /// `BUS_ADRERR`: beyond the end of the backing object.
    AdrErr,
    /// `SI_KERNEL` (128): a non-canonical address (#GP); `si_addr` is 0.
    SiKernel,
}

/// A memory access that did not complete.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The signal.
    pub signal: Signal,
    /// Why.
    pub code: FaultCode,
    /// The first byte that could not be accessed.
    pub addr: u64,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sig, code) = match (self.signal, self.code) {
            (Signal::Segv, FaultCode::MapErr) => ("SIGSEGV", "SEGV_MAPERR"),
            (Signal::Segv, FaultCode::SiKernel) => ("SIGSEGV", "SI_KERNEL"),
            (Signal::Segv, _) => ("SIGSEGV", "SEGV_ACCERR"),
            (Signal::Bus, _) => ("SIGBUS", "BUS_ADRERR"),
        };
        write!(f, "{sig} {{si_code={code}, si_addr={:#x}}}", self.addr)
    }
}

/// What an operation produced.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A system call succeeded with this return value (an address, 0, an fd, the break).
    Value(u64),
    /// A system call failed with this errno.
    Error(Errno),
    /// A load completed with these bytes.
    Bytes(Vec<u8>),
    /// A store or fill completed.
    Done,
    /// An access faulted.
    Fault(Fault),
    /// The backend does not model this operation (never silently accepted).
    Unsupported(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Value(v) => {
                if *v >= 0x10000 {
                    write!(f, "{v:#x}")
                } else {
                    write!(f, "{v}")
                }
            }
            Outcome::Error(e) => match e.message() {
                Some(m) => write!(f, "-1 {e} ({m})"),
                None => write!(f, "-1 {e}"),
            },
            Outcome::Bytes(b) => {
                f.write_str("\"")?;
                for &c in b {
                    match c {
                        b'\n' => f.write_str("\\n")?,
                        b'\t' => f.write_str("\\t")?,
                        b'\\' => f.write_str("\\\\")?,
                        b'"' => f.write_str("\\\"")?,
                        0x20..=0x7e => write!(f, "{}", c as char)?,
                        _ => write!(f, "\\x{c:02x}")?,
                    }
                }
                f.write_str("\"")
            }
            Outcome::Done => f.write_str("0"),
            Outcome::Fault(x) => match x.signal {
                Signal::Segv => f.write_str("SIGSEGV"),
                Signal::Bus => f.write_str("SIGBUS"),
            },
            Outcome::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// Per-process counters, as `/proc/pid/status` shows them (in kB) plus the VMA count.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// `VmSize` (total_vm).
    pub vm_size_kb: u64,
    /// `VmLck` (locked_vm).
    pub vm_lck_kb: u64,
    /// `VmData` (data_vm).
    pub vm_data_kb: u64,
    /// `VmStk` (stack_vm).
    pub vm_stk_kb: u64,
    /// Number of VMAs (maps lines without `[vsyscall]`).
    pub map_count: u64,
}

/// What a page-table walk shows for one virtual page (what `/proc/pid/pagemap` shows).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PageState {
    /// No page-table entry.
    Absent,
    /// Present, backed by this frame. Frame numbers are only comparable within one
    /// backend: two pages with the same number share a physical page.
    Present(u64),
}

/// A failure of the tool, not of the modelled call (an agent that died, a parse error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    /// What went wrong, for a person.
    pub message: String,
    /// What kind of failure it is.
    pub kind: BackendErrorKind,
}

/// The kinds of [`BackendError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The process behind the backend died (was killed, crashed, exited).
    AgentDied {
        /// How it ended, as its wait status says (`killed by SIGKILL`, `exited with
        /// status 71`).
        status: String,
    },
    /// Any other failure.
    Other,
}

impl BackendError {
    /// A failure of another kind than [`BackendErrorKind::AgentDied`].
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: BackendErrorKind::Other,
        }
    }

    /// The process behind the backend died; `status` says how.
    pub fn agent_died(message: impl Into<String>, status: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: BackendErrorKind::AgentDied {
                status: status.into(),
            },
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for BackendError {}

/// A second implementation of the same process: the engine's [`crate::Mm`], the live
/// kernel (in `vmspace-linux`), or anything an embedder provides.
pub trait Backend {
    /// A short name for reports (`"engine"`, `"kernel"`).
    fn name(&self) -> &'static str;
    /// Perform one operation.
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError>;
    /// The full `/proc/pid/maps` text.
    fn maps(&mut self) -> Result<String, BackendError>;
    /// The maps lines (each ending in a newline, as in [`maps`](Self::maps)) of the
    /// VMAs that intersect any of `ranges` — sorted, disjoint `[start, end)` ranges below
    /// the top of user space — each VMA once, in address order; the gate line is never
    /// included. `Ok(None)` when the backend cannot answer for a part of the space (the
    /// caller then reads the whole text), which is what the default does.
    fn maps_window(&mut self, _ranges: &[(u64, u64)]) -> Result<Option<String>, BackendError> {
        Ok(None)
    }
    /// Page-table state of `npages` pages starting at the page-aligned `start`.
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError>;
    /// Counters.
    fn counters(&mut self) -> Result<Counters, BackendError>;
    /// The counters of `/proc/pid/status` only (`map_count` may be left 0), for callers
    /// that compare the maps text separately.
    fn status_counters(&mut self) -> Result<Counters, BackendError> {
        self.counters()
    }
    /// `VmSize` and `VmData + VmStk` in kB: what `/proc/pid/statm` shows, which is much
    /// cheaper to read than the full status.
    fn size_counters(&mut self) -> Result<(u64, u64), BackendError> {
        let c = self.counters()?;
        Ok((c.vm_size_kb, c.vm_data_kb + c.vm_stk_kb))
    }
    /// Confirm that everything observed so far was observed of a process that is still
    /// there (a backend observing another process may read nothing from one that died
    /// meanwhile). Called before any verdict of disagreement.
    fn confirm(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}
