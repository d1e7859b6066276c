//! Page-size arithmetic with overflow checks.

/// Bytes in a page (x86-64 base pages).
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;
/// Bytes covered by one PMD entry (2 MiB).
pub const PMD_SIZE: u64 = 1 << 21;
/// Bytes covered by one PUD entry (1 GiB).
pub const PUD_SIZE: u64 = 1 << 30;
/// The x86-64 user address space limit with 4-level paging (`TASK_SIZE`, 2^47 - 4096).
pub const TASK_SIZE: u64 = (1 << 47) - PAGE_SIZE;

/// Is `x` a multiple of the page size?
///
/// ```
/// assert!(vmspace::addr::is_page_aligned(8192));
/// assert!(!vmspace::addr::is_page_aligned(8193));
/// ```
pub const fn is_page_aligned(x: u64) -> bool {
    x & (PAGE_SIZE - 1) == 0
}

/// Round `x` up to a page boundary, or `None` if that overflows (the kernel's
/// `PAGE_ALIGN` wraps to 0 instead; callers that must reproduce the wrap use
/// [`page_align_wrapping`]).
///
/// ```
/// assert_eq!(vmspace::addr::page_align_up(1), Some(4096));
/// assert_eq!(vmspace::addr::page_align_up(u64::MAX), None);
/// ```
pub const fn page_align_up(x: u64) -> Option<u64> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// The kernel's `PAGE_ALIGN`: round up, wrapping to 0 on overflow.
///
/// ```
/// assert_eq!(vmspace::addr::page_align_wrapping(u64::MAX), 0);
/// ```
pub const fn page_align_wrapping(x: u64) -> u64 {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Round `x` down to a page boundary.
pub const fn page_align_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// Round `x` down to a multiple of `align` (a power of two).
pub const fn align_down(x: u64, align: u64) -> u64 {
    x & !(align - 1)
}

/// Number of pages in `len` bytes (`len` page-aligned).
pub const fn pages(len: u64) -> u64 {
    len >> PAGE_SHIFT
}

/// Page number of an address.
pub const fn pfn_of(addr: u64) -> u64 {
    addr >> PAGE_SHIFT
}

/// A half-open, page-aligned address range `[start, end)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// A new range; `start <= end`.
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }
    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }
    /// Is the range empty?
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    /// Do the two ranges share a byte?
    pub const fn intersects(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
    /// Does the range contain `addr`?
    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(page_align_up(0), Some(0));
        assert_eq!(page_align_up(4096), Some(4096));
        assert_eq!(page_align_up(4097), Some(8192));
        assert_eq!(page_align_up(u64::MAX - 4094), None);
        assert_eq!(page_align_wrapping(u64::MAX - 4094), 0);
        assert_eq!(page_align_down(8191), 4096);
        assert_eq!(align_down(0x40_1234, PMD_SIZE), 0x40_0000);
        assert!(Range::new(0, 10).intersects(&Range::new(9, 11)));
        assert!(!Range::new(0, 10).intersects(&Range::new(10, 11)));
    }
}
