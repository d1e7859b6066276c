//! Frames: refcounted physical pages, with contents behind [`FrameStore`].

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::addr::PAGE_SIZE;
use crate::vma::ObjId;

/// A physical page's number in the model.
pub type FrameId = u32;

/// The shared zero page: what a read fault of private anonymous memory maps.
pub const ZERO_FRAME: FrameId = 1;
/// The first of the 512 frames of the huge zero page (what a read fault maps in a
/// THP-eligible VMA): frames `HUGE_ZERO..HUGE_ZERO + 512`.
pub const HUGE_ZERO: FrameId = 2;
/// Frames below this are never allocated or freed.
const FIRST_DYNAMIC: FrameId = HUGE_ZERO + 512;

/// Is this one of the zero pages (small or huge)? They are never counted or freed.
pub const fn is_zero_frame(f: FrameId) -> bool {
    f >= ZERO_FRAME && f < FIRST_DYNAMIC
}

/// Where frame contents live. The model tells the store which frames exist; the store
/// keeps their bytes. A frame the store has never been written reads as zeros.
pub trait FrameStore: core::fmt::Debug {
    /// Read `buf.len()` bytes at `offset` of `frame`.
    fn read(&self, frame: FrameId, offset: usize, buf: &mut [u8]);
    /// Write `data` at `offset` of `frame`.
    fn write(&mut self, frame: FrameId, offset: usize, data: &[u8]);
    /// Make `dst` a copy of `src`.
    fn copy(&mut self, dst: FrameId, src: FrameId);
    /// The frame was freed: forget its contents (it reads as zeros when reused).
    fn discard(&mut self, frame: FrameId);
}

/// The default store: contents in the host's heap, allocated on first write.
#[derive(Debug, Default)]
pub struct MemStore {
    pages: Vec<Option<Box<[u8; PAGE_SIZE as usize]>>>,
}

impl MemStore {
    fn slot(&mut self, frame: FrameId) -> &mut Option<Box<[u8; PAGE_SIZE as usize]>> {
        let i = frame as usize;
        if self.pages.len() <= i {
            self.pages.resize_with(i + 1, || None);
        }
        &mut self.pages[i]
    }
}

impl FrameStore for MemStore {
    fn read(&self, frame: FrameId, offset: usize, buf: &mut [u8]) {
        match self.pages.get(frame as usize).and_then(|p| p.as_ref()) {
            Some(p) => buf.copy_from_slice(&p[offset..offset + buf.len()]),
            None => buf.fill(0),
        }
    }
    fn write(&mut self, frame: FrameId, offset: usize, data: &[u8]) {
        let slot = self.slot(frame);
        let page = slot.get_or_insert_with(|| Box::new([0; PAGE_SIZE as usize]));
        page[offset..offset + data.len()].copy_from_slice(data);
    }
    fn copy(&mut self, dst: FrameId, src: FrameId) {
        let content = self.pages.get(src as usize).and_then(|p| p.clone());
        *self.slot(dst) = content;
    }
    fn discard(&mut self, frame: FrameId) {
        if let Some(slot) = self.pages.get_mut(frame as usize) {
            *slot = None;
        }
    }
}

/// What a frame is used for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Not in use.
    Free,
    /// The zero page.
    Zero,
    /// A private anonymous page (or a private copy of a file page).
    Anon,
    /// A page of an object's page cache, at this page index.
    Cache(ObjId, u64),
}

/// Frame bookkeeping: kinds and reference counts (page-table references plus one for a
/// page-cache hold).
#[derive(Debug)]
pub(crate) struct Frames {
    kind: Vec<FrameKind>,
    refs: Vec<u32>,
    free: Vec<FrameId>,
    in_use: u64,
    pub(crate) store: Box<dyn FrameStore + Send>,
}

impl Frames {
    pub(crate) fn new(store: Box<dyn FrameStore + Send>) -> Self {
        // Frame 0 is never used (0 means "no frame" in a page-table entry); frame 1 is
        // the zero page.
        let mut kind = alloc::vec![FrameKind::Zero; FIRST_DYNAMIC as usize];
        kind[0] = FrameKind::Free;
        Self {
            kind,
            refs: alloc::vec![0; FIRST_DYNAMIC as usize],
            free: Vec::new(),
            in_use: 0,
            store,
        }
    }

    /// Frames in use, not counting the zero page.
    pub(crate) fn in_use(&self) -> u64 {
        self.in_use
    }

    /// A new zero-filled frame with one reference, or `None` when `budget` is reached.
    pub(crate) fn alloc(&mut self, kind: FrameKind, budget: u64) -> Option<FrameId> {
        if self.in_use >= budget {
            return None;
        }
        self.in_use += 1;
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.kind.push(FrameKind::Free);
                self.refs.push(0);
                FrameId::try_from(self.kind.len() - 1).ok()?
            }
        };
        self.kind[id as usize] = kind;
        self.refs[id as usize] = 1;
        Some(id)
    }

    pub(crate) fn kind(&self, id: FrameId) -> FrameKind {
        self.kind[id as usize]
    }

    pub(crate) fn refs(&self, id: FrameId) -> u32 {
        self.refs[id as usize]
    }

    pub(crate) fn get(&mut self, id: FrameId) {
        if !is_zero_frame(id) {
            self.refs[id as usize] += 1;
        }
    }

    /// Drop one reference; frees the frame at zero.
    pub(crate) fn put(&mut self, id: FrameId) {
        if is_zero_frame(id) {
            return;
        }
        let r = &mut self.refs[id as usize];
        *r -= 1;
        if *r == 0 {
            self.kind[id as usize] = FrameKind::Free;
            self.store.discard(id);
            self.free.push(id);
            self.in_use -= 1;
        }
    }

    /// Every frame id ever allocated (for invariant checks).
    pub(crate) fn all(&self) -> impl Iterator<Item = (FrameId, FrameKind, u32)> + '_ {
        (FIRST_DYNAMIC as usize..self.kind.len())
            .map(|i| (i as FrameId, self.kind[i], self.refs[i]))
    }

    pub(crate) fn read(&self, id: FrameId, offset: usize, buf: &mut [u8]) {
        if is_zero_frame(id) {
            buf.fill(0);
        } else {
            self.store.read(id, offset, buf);
        }
    }

    pub(crate) fn write(&mut self, id: FrameId, offset: usize, data: &[u8]) {
        debug_assert!(!is_zero_frame(id));
        self.store.write(id, offset, data);
    }

    pub(crate) fn copy(&mut self, dst: FrameId, src: FrameId) {
        if !is_zero_frame(src) {
            self.store.copy(dst, src);
        }
    }
}
