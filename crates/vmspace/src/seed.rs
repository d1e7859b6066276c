//! A starting layout for an [`crate::Mm`] taken from a real process.

use alloc::vec::Vec;

use crate::{MapsLine, VmFlags};

/// One VMA of a real process, as its maps line and (if known) its smaps `VmFlags`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedVma {
    /// The maps line.
    pub line: MapsLine,
    /// The smaps `VmFlags`, if read; otherwise the model infers flags from the line.
    pub vm_flags: Option<VmFlags>,
    /// Whether any page of the VMA is present (for private anonymous VMAs, whether it
    /// has been faulted and so has an anon_vma).
    pub faulted: bool,
}

/// The layout of a real process at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seed {
    /// Every VMA in address order (a `[vsyscall]` line, if given, is kept as the gate
    /// line and is not a VMA).
    pub vmas: Vec<SeedVma>,
    /// `mm->mmap_base`.
    pub mmap_base: u64,
    /// `mm->start_brk`.
    pub start_brk: u64,
    /// `mm->brk` (the current break, unaligned).
    pub brk: u64,
    /// `mm->start_stack` (0: take the top page of the `[stack]` VMA).
    pub start_stack: u64,
    /// `end_data - start_data` of the program (counted by brk against RLIMIT_DATA).
    pub data_segment: u64,
    /// File descriptors open in the process (new ones get the lowest free number).
    pub open_fds: Vec<u32>,
    /// `VmLck` in pages at the time of the snapshot.
    pub locked_pages: u64,
}
