//! Page-cache objects: shmem behind shared anonymous mappings, and memfd files.

use alloc::collections::BTreeMap;
use alloc::string::String;

use crate::frame::FrameId;

/// What kind of object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjKind {
    /// The shmem object of one `MAP_SHARED|MAP_ANONYMOUS` mmap (`/dev/zero (deleted)`).
    ShmemAnon,
    /// A memfd (`/memfd:NAME (deleted)`).
    Memfd {
        /// The name given to `memfd_create`.
        name: String,
        /// `F_SEAL_*` seals (only settable with `MFD_ALLOW_SEALING`; the model does not
        /// offer `fcntl`, so this only records the initial state).
        seals: u32,
    },
}

/// A page-cache object.
#[derive(Clone, Debug)]
pub(crate) struct Object {
    pub(crate) kind: ObjKind,
    /// `i_size` in bytes.
    pub(crate) size: u64,
    /// Cached pages by page index; each holds one frame reference.
    pub(crate) pages: BTreeMap<u64, FrameId>,
    /// Inode number shown in maps.
    pub(crate) inode: u64,
    /// Open file descriptors referring to it.
    pub(crate) fd_refs: u32,
    /// VMAs referring to it.
    pub(crate) vma_refs: u32,
}

impl Object {
    /// The maps name.
    pub(crate) fn maps_name(&self) -> String {
        match &self.kind {
            ObjKind::ShmemAnon => String::from("/dev/zero (deleted)"),
            ObjKind::Memfd { name, .. } => alloc::format!("/memfd:{name} (deleted)"),
        }
    }
}
