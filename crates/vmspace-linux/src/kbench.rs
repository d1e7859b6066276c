//! The live kernel called in this very process, for `vmspace bench`.
//!
//! The agent ([`crate::LiveBackend`]) answers over a pipe, and a pipe round trip costs
//! more than most of the calls a benchmark wants to time. [`Kernel`] instead makes raw
//! system calls (glibc's `syscall()`) in the calling thread, on memory this process
//! owns, so a timed loop around its methods measures the kernel and nothing else (the
//! method itself adds a range check of a few instructions).
//!
//! Every method is safe: a [`Kernel`] only maps, unmaps, protects, moves, writes or
//! copies inside ranges it owns:
//!
//! - its *arena*, a `PROT_NONE` reservation placed with `MAP_FIXED_NOREPLACE` at
//!   16 TiB or above, far below the mmap area. The kernel places a mapping made without
//!   an address top-down from `mmap_base`, so it reaches the arena only when the
//!   100 TiB above are full; holes the caller cuts in the arena therefore stay free for
//!   the caller to fill again, and anything inside it may be replaced;
//! - mappings the kernel made for this handle without a fixed address (or with
//!   `MAP_FIXED_NOREPLACE`), tracked as whole extents: they may be replaced in part
//!   (`MAP_FIXED`, `mprotect`) but only unmapped or moved as a whole.
//!
//! Anything else is refused with [`KError::NotOwned`] before any system call is made.

use std::fmt;

use crate::sys;

/// Bytes per page.
pub const PAGE: u64 = 4096;

const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_NORESERVE: u64 = 0x4000;
const MAP_PRIVATE: u64 = 0x02;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
#[cfg(test)]
const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MREMAP_DONTUNMAP: u64 = 4;

/// Where the arena is tried first, and the step to the next try.
const ARENA_FIRST: u64 = 0x1000_0000_0000;
const ARENA_STEP: u64 = 0x100_0000_0000;

/// Why a call failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KError {
    /// The kernel refused it with this errno.
    Errno(i32),
    /// The range is not one this handle owns; no call was made.
    NotOwned,
}

impl fmt::Display for KError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KError::Errno(e) => write!(f, "{}", std::io::Error::from_raw_os_error(*e)),
            KError::NotOwned => f.write_str("range not owned by the benchmark's kernel handle"),
        }
    }
}

impl std::error::Error for KError {}

/// Result of a call.
pub type KResult<T> = Result<T, KError>;

#[inline(always)]
fn ret(r: i64) -> KResult<u64> {
    if (-4095..0).contains(&r) {
        Err(KError::Errno(-r as i32))
    } else {
        Ok(r as u64)
    }
}

#[inline(always)]
fn page_up(len: u64) -> Option<u64> {
    len.checked_add(PAGE - 1).map(|l| l & !(PAGE - 1))
}

/// The live kernel, called in this process on memory this handle owns.
#[derive(Debug)]
pub struct Kernel {
    arena: u64,
    arena_len: u64,
    /// Whole mappings outside the arena that the kernel made for this handle.
    owned: Vec<(u64, u64)>,
    mincore_buf: Vec<u8>,
}

impl Kernel {
    /// Reserve an arena of `arena_len` bytes (rounded up to 1 GiB; it starts 1 GiB
    /// aligned).
    ///
    /// # Errors
    /// If no free place for it was found.
    pub fn new(arena_len: u64) -> KResult<Self> {
        let len = arena_len.div_ceil(1 << 30).max(1) << 30;
        let mut last = KError::Errno(libc::ENOMEM);
        for i in 0..16 {
            let at = ARENA_FIRST + i * ARENA_STEP;
            let r = sys::kb_mmap(
                at,
                len,
                0,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
            );
            match ret(r) {
                Ok(a) if a == at => {
                    return Ok(Self {
                        arena: at,
                        arena_len: len,
                        owned: Vec::with_capacity(64),
                        mincore_buf: Vec::new(),
                    });
                }
                Ok(a) => {
                    // A kernel without MAP_FIXED_NOREPLACE treats it as a hint.
                    sys::kb_munmap(a, len);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The arena: its first address and length.
    pub fn arena(&self) -> (u64, u64) {
        (self.arena, self.arena_len)
    }

    /// Put the arena back to one `PROT_NONE` reservation (no holes, nothing mapped or
    /// populated) and unmap every mapping this handle made outside it.
    ///
    /// # Errors
    /// If the kernel refuses (it should not).
    pub fn reset(&mut self) -> KResult<()> {
        for (a, l) in std::mem::take(&mut self.owned) {
            ret(sys::kb_munmap(a, l))?;
        }
        let r = sys::kb_mmap(
            self.arena,
            self.arena_len,
            0,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
        );
        ret(r).map(|_| ())
    }

    #[inline(always)]
    fn in_arena(&self, addr: u64, len: u64) -> bool {
        addr >= self.arena && len <= self.arena_len && addr - self.arena <= self.arena_len - len
    }

    /// Index of the owned extent that contains `[addr, addr + len)`.
    #[inline(always)]
    fn in_owned(&self, addr: u64, len: u64) -> Option<usize> {
        self.owned
            .iter()
            .rposition(|&(a, l)| addr >= a && len <= l && addr - a <= l - len)
    }

    /// Index of the owned extent that is exactly `[addr, addr + len)`.
    #[inline(always)]
    fn exact_owned(&self, addr: u64, len: u64) -> Option<usize> {
        self.owned.iter().rposition(|&e| e == (addr, len))
    }

    #[inline(always)]
    fn owns(&self, addr: u64, len: u64) -> bool {
        self.in_arena(addr, len) || self.in_owned(addr, len).is_some()
    }

    #[inline(always)]
    fn adopt(&mut self, addr: u64, len: u64) {
        if !self.in_arena(addr, len) {
            self.owned.push((addr, len));
        }
    }

    /// `mmap(addr, len, prot, flags, -1, 0)` of anonymous memory. Without `MAP_FIXED`
    /// the kernel chooses (or takes the hint if free); `MAP_FIXED_NOREPLACE` may name
    /// any address; plain `MAP_FIXED` must name a range this handle owns.
    ///
    /// # Errors
    /// The kernel's errno, or [`KError::NotOwned`].
    #[inline(always)]
    pub fn mmap(&mut self, addr: u64, len: u64, prot: u64, flags: u64) -> KResult<u64> {
        let Some(plen) = page_up(len) else {
            return Err(KError::Errno(libc::ENOMEM));
        };
        if flags & MAP_ANONYMOUS == 0 {
            return Err(KError::NotOwned);
        }
        if flags & MAP_FIXED_NOREPLACE == 0 && flags & MAP_FIXED != 0 && !self.owns(addr, plen) {
            return Err(KError::NotOwned);
        }
        let a = ret(sys::kb_mmap(addr, len, prot, flags))?;
        if flags & MAP_FIXED == 0 || flags & MAP_FIXED_NOREPLACE != 0 {
            self.adopt(a, plen);
        }
        Ok(a)
    }

    /// `munmap(addr, len)`: any range inside the arena, or exactly one whole mapping
    /// this handle made outside it.
    ///
    /// # Errors
    /// The kernel's errno, or [`KError::NotOwned`].
    #[inline(always)]
    pub fn munmap(&mut self, addr: u64, len: u64) -> KResult<()> {
        let plen = page_up(len).ok_or(KError::Errno(libc::EINVAL))?;
        if self.in_arena(addr, plen) {
            return ret(sys::kb_munmap(addr, len)).map(|_| ());
        }
        let i = self.exact_owned(addr, plen).ok_or(KError::NotOwned)?;
        ret(sys::kb_munmap(addr, len))?;
        self.owned.swap_remove(i);
        Ok(())
    }

    /// `mprotect(addr, len, prot)` of a range this handle owns.
    ///
    /// # Errors
    /// The kernel's errno, or [`KError::NotOwned`].
    #[inline(always)]
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> KResult<()> {
        let plen = page_up(len).ok_or(KError::Errno(libc::EINVAL))?;
        if !self.owns(addr, plen) {
            return Err(KError::NotOwned);
        }
        ret(sys::kb_mprotect(addr, len, prot)).map(|_| ())
    }

    /// `mremap(old, old_len, new_len, flags, new)`. The old range is inside the arena
    /// (and so is the new length in place), or exactly one whole mapping this handle
    /// made outside it; a `MREMAP_FIXED` destination lies inside the arena.
    ///
    /// # Errors
    /// The kernel's errno, or [`KError::NotOwned`].
    #[inline(always)]
    pub fn mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new: u64,
    ) -> KResult<u64> {
        let (Some(olen), Some(nlen)) = (page_up(old_len), page_up(new_len)) else {
            return Err(KError::Errno(libc::EINVAL));
        };
        if olen == 0 || nlen == 0 {
            return Err(KError::NotOwned);
        }
        let from_arena = self.in_arena(old, olen.max(nlen));
        let extent = if from_arena {
            None
        } else {
            Some(self.exact_owned(old, olen).ok_or(KError::NotOwned)?)
        };
        if flags & MREMAP_FIXED != 0 && !self.in_arena(new, nlen) {
            return Err(KError::NotOwned);
        }
        let r = ret(sys::kb_mremap(old, old_len, new_len, flags, new))?;
        if let Some(i) = extent
            && flags & MREMAP_DONTUNMAP == 0
        {
            self.owned.swap_remove(i);
        }
        if flags & MREMAP_FIXED == 0 {
            self.adopt(r, nlen);
        }
        Ok(r)
    }

    /// Write one byte at the start of every page of `[addr, addr + len)`, a range this
    /// handle owns (a write fault on each page not yet present). The range must be
    /// mapped writable, or the process takes SIGSEGV.
    ///
    /// # Errors
    /// [`KError::NotOwned`].
    #[inline(always)]
    pub fn touch(&mut self, addr: u64, len: u64) -> KResult<()> {
        if !addr.is_multiple_of(PAGE) || !self.owns(addr, len) {
            return Err(KError::NotOwned);
        }
        sys::kb_touch(addr, len);
        Ok(())
    }

    /// `memcpy(dst, src, len)` between two non-overlapping ranges this handle owns,
    /// mapped readable (src) and writable (dst).
    ///
    /// # Errors
    /// [`KError::NotOwned`].
    #[inline(always)]
    pub fn copy(&mut self, dst: u64, src: u64, len: u64) -> KResult<()> {
        let overlap = dst < src.saturating_add(len) && src < dst.saturating_add(len);
        if overlap || !self.owns(dst, len) || !self.owns(src, len) {
            return Err(KError::NotOwned);
        }
        sys::kb_copy(dst, src, len);
        Ok(())
    }

    /// Pages of `[addr, addr + len)` that are resident (`mincore`).
    ///
    /// # Errors
    /// The kernel's errno (`ENOMEM` if part of the range is unmapped).
    pub fn resident(&mut self, addr: u64, len: u64) -> KResult<u64> {
        let n = len.div_ceil(PAGE) as usize;
        if self.mincore_buf.len() < n {
            self.mincore_buf.resize(n, 0);
        }
        ret(sys::kb_mincore(addr, len, &mut self.mincore_buf[..n]))?;
        Ok(self.mincore_buf[..n]
            .iter()
            .filter(|&&b| b & 1 != 0)
            .count() as u64)
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        for &(a, l) in &self.owned {
            sys::kb_munmap(a, l);
        }
        sys::kb_munmap(self.arena, self.arena_len);
    }
}

/// `getppid()` as a raw system call: the cost of entering and leaving the kernel.
#[inline(always)]
pub fn getppid() -> i64 {
    sys::kb_getppid()
}

/// CPU time the calling thread has used, user and system, in ns
/// (`CLOCK_THREAD_CPUTIME_ID`): unlike wall-clock time, it does not count time other
/// processes ran on the CPU (0 if the clock cannot be read).
pub fn thread_cpu_ns() -> u64 {
    sys::thread_cpu_ns()
}

/// Restrict the calling thread to CPU `cpu`.
///
/// # Errors
/// If `sched_setaffinity` fails (no such CPU).
pub fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    sys::pin_to_cpu(0, cpu)
}

/// The CPU the calling thread runs on.
///
/// # Errors
/// If `sched_getcpu` fails.
pub fn current_cpu() -> std::io::Result<usize> {
    sys::current_cpu()
}

/// Bytes the C allocator (which Rust's default global allocator uses) has handed out
/// and not taken back: `mallinfo2()`'s `uordblks + hblkhd`, chunk headers included.
pub fn heap_in_use() -> u64 {
    sys::heap_in_use()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: u64 = 3;
    const PA: u64 = MAP_PRIVATE | MAP_ANONYMOUS;

    #[test]
    fn arena_ops_and_ownership() {
        let mut k = Kernel::new(1 << 30).unwrap();
        let (a, len) = k.arena();
        assert_eq!(len, 1 << 30);
        assert_eq!(a % (1 << 30), 0);
        k.munmap(a, 2 * PAGE).unwrap();
        assert_eq!(k.mmap(a, 2 * PAGE, RW, PA | MAP_FIXED).unwrap(), a);
        k.touch(a, 2 * PAGE).unwrap();
        assert_eq!(k.resident(a, 2 * PAGE).unwrap(), 2);
        let b = a + (1 << 21);
        assert_eq!(
            k.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, b)
                .unwrap(),
            b
        );
        assert_eq!(k.resident(b, 2 * PAGE).unwrap(), 2);
        k.copy(b + PAGE, b, 16).unwrap();
        k.mprotect(b, PAGE, 1).unwrap();
        // Outside the arena: refused before any call.
        let outside = a + len;
        assert_eq!(k.munmap(outside, PAGE), Err(KError::NotOwned));
        assert_eq!(
            k.mmap(outside, PAGE, RW, PA | MAP_FIXED),
            Err(KError::NotOwned)
        );
        // Unhinted mappings are owned as a whole.
        let u = k.mmap(0, 4 * PAGE, RW, PA).unwrap();
        k.touch(u, 4 * PAGE).unwrap();
        assert_eq!(k.munmap(u, PAGE), Err(KError::NotOwned));
        let v = k.mremap(u, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, 0).unwrap();
        assert_eq!(k.resident(v, 4 * PAGE).unwrap(), 4);
        k.munmap(v, 8 * PAGE).unwrap();
        assert!(getppid() > 0);
        let t = thread_cpu_ns();
        assert!(t > 0 && thread_cpu_ns() >= t);
        assert!(heap_in_use() > 0);
        k.reset().unwrap();
    }
}
