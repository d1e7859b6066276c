//! `mlock`, `mlock2`, `munlock`, `mlockall`, `munlockall`.

use crate::Mm;
use crate::addr::{PAGE_SIZE, page_align_down, page_align_wrapping, pages};
use crate::error::{SysResult, bail};
use crate::fault::FaultErr;
use crate::flags::{MlockAllFlags, MlockFlags, VmFlags};
use crate::vma::Backing;

impl Mm {
    /// `mlock(addr, len)`—Lock pages in memory.
    ///
    /// # Errors
    /// `EPERM` with RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK; `ENOMEM` beyond
    /// RLIMIT_MEMLOCK, for holes (after locking what precedes them) and when a page
    /// cannot be populated (PROT_NONE); `EINVAL` when the range wraps.
    ///
    /// # Linux
    /// Mirrors `do_mlock`, `apply_vma_lock_flags`, `mlock_fixup` and `__mm_populate`
    /// (errors through `__mlock_posix_error_return`) of 6.18.
    pub fn mlock(&mut self, addr: u64, len: u64) -> SysResult<u64> {
        self.do_mlock(addr, len, VmFlags::LOCKED)
    }

    /// `mlock2(addr, len, flags)`—Lock pages, optionally only when faulted (`MLOCK_ONFAULT`).
    ///
    /// # Errors
    /// `EINVAL` for unknown flags, then as [`Mm::mlock`].
    pub fn mlock2(&mut self, addr: u64, len: u64, flags: u64) -> SysResult<u64> {
        if flags & !MlockFlags::ONFAULT.bits() != 0 {
            bail!(EINVAL, "mlock2: unknown flags");
        }
        let mut vm = VmFlags::LOCKED;
        if flags & MlockFlags::ONFAULT.bits() != 0 {
            vm |= VmFlags::LOCKONFAULT;
        }
        self.do_mlock(addr, len, vm)
    }

    fn do_mlock(&mut self, addr: u64, len: u64, flags: VmFlags) -> SysResult<u64> {
        if !self.can_do_mlock() {
            bail!(
                EPERM,
                "can_do_mlock: RLIMIT_MEMLOCK is 0 and no CAP_IPC_LOCK"
            );
        }
        let len = page_align_wrapping(len.wrapping_add(addr & (PAGE_SIZE - 1)));
        let start = page_align_down(addr);
        let lock_limit = self.cfg.rlimits.memlock.cur / PAGE_SIZE;
        let mut locked = pages(len).wrapping_add(self.locked_vm);
        if locked > lock_limit && !self.cfg.privileged {
            locked = locked.wrapping_sub(self.count_mlocked(start, len));
        }
        if !(locked <= lock_limit || self.cfg.privileged) {
            bail!(ENOMEM, "do_mlock: RLIMIT_MEMLOCK exceeded");
        }
        self.apply_vma_lock_flags(start, len, flags)?;
        match self.mm_populate(start, start.wrapping_add(len), false) {
            Ok(()) => Ok(0),
            Err(FaultErr::Oom) => bail!(EAGAIN, "__mm_populate: out of memory"),
            Err(_) => bail!(ENOMEM, "__mm_populate: a page could not be faulted in"),
        }
    }

    /// `count_mm_mlocked_page_nr`: locked pages inside `[start, start + len)` (the end
    /// clamped to 2^64 - 1; nothing when `len` is 0).
    fn count_mlocked(&self, start: u64, len: u64) -> u64 {
        let end = start.saturating_add(len);
        let mut count: u64 = 0;
        for k in self.keys_in(start, end) {
            let v = self.vma(k);
            if v.vm_flags.contains(VmFlags::LOCKED) {
                if start > v.start {
                    count = count.wrapping_sub(start - v.start);
                }
                if end < v.end {
                    count = count.wrapping_add(end - v.start);
                    break;
                }
                count = count.wrapping_add(v.end - v.start);
            }
        }
        count / PAGE_SIZE
    }

    /// `munlock(addr, len)`—Unlock pages.
    ///
    /// # Errors
    /// `ENOMEM` for holes (after unlocking what precedes them); `EINVAL` if the range wraps.
    pub fn munlock(&mut self, addr: u64, len: u64) -> SysResult<u64> {
        let len = page_align_wrapping(len.wrapping_add(addr & (PAGE_SIZE - 1)));
        let start = page_align_down(addr);
        self.apply_vma_lock_flags(start, len, VmFlags::empty())?;
        Ok(0)
    }

    /// `apply_vma_lock_flags`.
    fn apply_vma_lock_flags(&mut self, start: u64, len: u64, flags: VmFlags) -> SysResult<()> {
        let end = start.wrapping_add(len);
        if end < start {
            bail!(EINVAL, "apply_vma_lock_flags: range wraps");
        }
        if end == start {
            return Ok(());
        }
        let Some(first) = self.vma_at(start).cloned() else {
            bail!(ENOMEM, "apply_vma_lock_flags: no VMA at start");
        };
        let mut nstart = start;
        let mut tmp = first.start;
        let mut next = Some(first.start);
        while let Some(k) = next {
            let v = self.vma(k).clone();
            if v.start >= end {
                break;
            }
            if v.start != tmp {
                bail!(ENOMEM, "apply_vma_lock_flags: hole in the range");
            }
            let newflags = (v.vm_flags - VmFlags::LOCKED_MASK) | flags;
            let nk = self.mlock_fixup(k, nstart, v.end.min(end), newflags)?;
            tmp = self.vma(nk).end;
            nstart = tmp;
            next = self.vma_from(tmp).map(|n| n.start);
        }
        if tmp < end {
            bail!(ENOMEM, "apply_vma_lock_flags: range ends in a hole");
        }
        Ok(())
    }

    /// `mlock_fixup`; returns the key of the VMA now covering the range.
    pub(crate) fn mlock_fixup(
        &mut self,
        key: u64,
        start: u64,
        end: u64,
        newflags: VmFlags,
    ) -> SysResult<u64> {
        let v = self.vma(key).clone();
        let oldflags = v.vm_flags;
        let special = match v.backing {
            Backing::Foreign(id) => self.foreign[id.0 as usize].special,
            _ => false,
        };
        if newflags == oldflags
            || oldflags.intersects(VmFlags::SPECIAL | VmFlags::HUGETLB | VmFlags::DROPPABLE)
            || special
        {
            return Ok(key);
        }
        let nk = self.vma_modify_flags(key, start, end, newflags)?;
        let nr = pages(end - start);
        if !newflags.contains(VmFlags::LOCKED) {
            self.locked_vm -= nr;
        } else if !oldflags.contains(VmFlags::LOCKED) {
            self.locked_vm += nr;
        }
        Ok(nk)
    }

    /// `mlockall(flags)`—Lock all current and/or future mappings.
    ///
    /// # Errors
    /// `EINVAL` for 0, unknown bits or `MCL_ONFAULT` alone; `EPERM` as `mlock`;
    /// `ENOMEM` with `MCL_CURRENT` when `total_vm` exceeds RLIMIT_MEMLOCK.
    ///
    /// # Linux
    /// Mirrors `mlockall` and `apply_mlockall_flags` of 6.18 (errors of single VMAs
    /// are ignored; population is best effort).
    pub fn mlockall(&mut self, flags: u64) -> SysResult<u64> {
        let all = MlockAllFlags::CURRENT | MlockAllFlags::FUTURE | MlockAllFlags::ONFAULT;
        if flags == 0 || flags & !all.bits() != 0 || flags == MlockAllFlags::ONFAULT.bits() {
            bail!(EINVAL, "mlockall: invalid flags");
        }
        if !self.can_do_mlock() {
            bail!(
                EPERM,
                "can_do_mlock: RLIMIT_MEMLOCK is 0 and no CAP_IPC_LOCK"
            );
        }
        let f = MlockAllFlags::from_bits_retain(flags);
        let lock_limit = self.cfg.rlimits.memlock.cur / PAGE_SIZE;
        if f.contains(MlockAllFlags::CURRENT) && self.total_vm > lock_limit && !self.cfg.privileged
        {
            bail!(ENOMEM, "mlockall: total_vm exceeds RLIMIT_MEMLOCK");
        }
        self.apply_mlockall_flags(f);
        if f.contains(MlockAllFlags::CURRENT) {
            let _ = self.mm_populate(0, self.cfg.task_size, true);
        }
        Ok(0)
    }

    /// `munlockall()`—Unlock everything and stop locking future mappings.
    pub fn munlockall(&mut self) -> SysResult<u64> {
        self.apply_mlockall_flags(MlockAllFlags::empty());
        Ok(0)
    }

    fn apply_mlockall_flags(&mut self, f: MlockAllFlags) {
        self.def_flags.remove(VmFlags::LOCKED_MASK);
        if f.contains(MlockAllFlags::FUTURE) {
            self.def_flags |= VmFlags::LOCKED;
            if f.contains(MlockAllFlags::ONFAULT) {
                self.def_flags |= VmFlags::LOCKONFAULT;
            }
            if !f.contains(MlockAllFlags::CURRENT) {
                return;
            }
        }
        let mut to_add = VmFlags::empty();
        if f.contains(MlockAllFlags::CURRENT) {
            to_add |= VmFlags::LOCKED;
        }
        if f.contains(MlockAllFlags::ONFAULT) {
            to_add |= VmFlags::LOCKONFAULT;
        }
        let mut addr = 0;
        while let Some(v) = self.vma_from(addr).cloned() {
            let newflags = (v.vm_flags - VmFlags::LOCKED_MASK) | to_add;
            let nk = self
                .mlock_fixup(v.start, v.start, v.end, newflags)
                .unwrap_or(v.start);
            addr = self.vma(nk).end.max(v.end);
        }
    }
}
