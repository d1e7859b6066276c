//! `Vma`: one virtual memory area (the kernel's `vm_area_struct`).

use crate::VmFlags;
use crate::addr::pages;

/// Identity of an `anon_vma`: the reverse-map root a private VMA gets on its first
/// anonymous fault. VMAs with different identities never merge.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnonId(pub u32);

/// Identity of a page-cache object (a shmem object behind `MAP_SHARED|MAP_ANONYMOUS`,
/// or a memfd file).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjId(pub u32);

/// Identity of a mapping the model did not create (a file of a seeded process, or a
/// special mapping such as `[vdso]`): its name, device and inode.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ForeignId(pub u32);

/// What is behind a VMA.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Private anonymous memory (no `vm_file`).
    Anon,
    /// A page-cache object the model owns (shared anonymous memory or a memfd).
    Object(ObjId),
    /// A file or special mapping of a seeded process; its contents are not modelled.
    Foreign(ForeignId),
}

/// One VMA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First address; page-aligned.
    pub start: u64,
    /// One past the last address; page-aligned, `> start`.
    pub end: u64,
    /// `vm_flags`.
    pub vm_flags: VmFlags,
    /// `vm_pgoff`, in pages: the object offset of `start` for file and shmem VMAs, an
    /// address-derived number for private anonymous ones.
    pub pgoff: u64,
    /// The backing object.
    pub backing: Backing,
    /// The anon_vma, once a private page has been faulted.
    pub anon: Option<AnonId>,
}

impl Vma {
    /// Number of pages.
    pub fn pages(&self) -> u64 {
        pages(self.end - self.start)
    }

    /// The object page index that backs `addr` (for object and foreign backings).
    pub fn pgoff_at(&self, addr: u64) -> u64 {
        self.pgoff.wrapping_add(pages(addr - self.start))
    }

    /// Has a `vm_file` (anything but private anonymous memory).
    pub fn has_file(&self) -> bool {
        !matches!(self.backing, Backing::Anon)
    }

    /// `VM_SHARED` or `VM_MAYSHARE`.
    pub fn is_shareable(&self) -> bool {
        self.vm_flags
            .intersects(VmFlags::SHARED | VmFlags::MAYSHARE)
    }

    /// Any of read, write or exec (`vma_is_accessible`).
    pub fn is_accessible(&self) -> bool {
        self.vm_flags.intersects(VmFlags::ACCESS)
    }

    /// The kernel's `vm_start_gap`: where the VMA's guard area begins below it.
    pub fn start_gap(&self, guard: u64) -> u64 {
        if self.vm_flags.contains(VmFlags::GROWSDOWN) {
            let g = self.start.saturating_sub(guard);
            if g > self.start { 0 } else { g }
        } else {
            self.start
        }
    }
}

/// `is_exec_mapping`.
pub(crate) fn is_exec_mapping(f: VmFlags) -> bool {
    f & (VmFlags::EXEC | VmFlags::WRITE | VmFlags::GROWSDOWN) == VmFlags::EXEC
}

/// `is_stack_mapping`.
pub(crate) fn is_stack_mapping(f: VmFlags) -> bool {
    f.contains(VmFlags::GROWSDOWN)
}

/// `is_data_mapping`.
pub(crate) fn is_data_mapping(f: VmFlags) -> bool {
    f & (VmFlags::WRITE | VmFlags::SHARED | VmFlags::GROWSDOWN) == VmFlags::WRITE
}
