//! vmspace: Linux's process address space as a library.
//!
//! The crate models what `mm_struct` holds on Linux 6.18 (x86-64, 4 KiB pages, 4-level
//! paging): the VMAs, the page tables and the frames behind them, and the system calls
//! that change them (`mmap`, `munmap`, `mremap`, `mprotect`, `mlock`, `madvise`, `brk`,
//! ...), with results that agree with the live kernel call for call.
//!
//! It is `no_std` + `alloc`, has no unsafe code and makes no host system calls.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod addr;
mod area;
pub mod config;
pub mod errno;
pub mod error;
mod fault;
pub mod flags;
pub mod frame;
mod invariants;
mod layout;
pub mod maps;
mod mm;
pub mod object;
pub mod op;
mod pagetable;
pub mod seed;
mod syscall;
mod view;
pub mod vma;
mod vmaset;

pub use config::{Config, Overcommit, Rlimit, Rlimits, ThpMode};
pub use errno::Errno;
pub use error::{SysError, SysResult};
pub use flags::{
    Advice, MapFlags, MemfdFlags, MlockAllFlags, MlockFlags, MremapFlags, ProtFlags, Resource,
    VmFlags,
};
pub use frame::{FrameId, FrameStore, MemStore};
pub use layout::SeedError;
pub use maps::MapsLine;
pub use mm::Mm;
pub use op::{
    Backend, BackendError, BackendErrorKind, Counters, Fault, FaultCode, Op, Outcome, PageState,
    Signal,
};
pub use seed::{Seed, SeedVma};
pub use vma::{AnonId, Backing, ObjId, Vma};
