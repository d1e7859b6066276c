//! Page-cache objects: shmem behind shared anonymous mappings, and memfd files.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::frame::FrameId;

/// What kind of object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjKind {
    /// The shmem object of one `MAP_SHARED|MAP_ANONYMOUS` mmap (`/dev/zero (deleted)`).
    ShmemAnon,
    /// A memfd (`/memfd:NAME (deleted)`).
    Memfd {
        /// The name given to `memfd_create` (bytes, without a NUL).
        name: Vec<u8>,
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
            ObjKind::Memfd { name, .. } => {
                let mut s = String::from("/memfd:");
                push_maps_path(&mut s, name);
                s.push_str(" (deleted)");
                s
            }
        }
    }
}

/// Append a file name to a maps line as the kernel prints it: a newline as the octal
/// escape `\012`, every other byte as it is (tabs, backslashes, bytes that are not
/// UTF-8). Maps text is a `String` here, as the live backend reads it: bytes that are
/// not UTF-8 become U+FFFD on both sides.
///
/// # Linux
/// `show_map_vma` prints the path with `seq_file_path(m, file, "\n")`, whose
/// `mangle_path` escapes exactly the bytes of its escape set (here only the newline).
pub(crate) fn push_maps_path(out: &mut String, name: &[u8]) {
    for (i, part) in name.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push_str("\\012");
        }
        out.push_str(&String::from_utf8_lossy(part));
    }
}
