//! `madvise`.

use alloc::vec::Vec;

use crate::Mm;
use crate::addr::{PAGE_SIZE, is_page_aligned, page_align_wrapping};
use crate::error::{SysResult, bail};
use crate::flags::{Advice, VmFlags};
use crate::syscall::unsupported;
use crate::vma::Backing;

/// Advice values the reference kernel accepts (x86-64 with KSM and THP, without
/// CONFIG_MEMORY_FAILURE, so `MADV_HWPOISON`/`MADV_SOFT_OFFLINE` are unknown).
fn advice_valid(a: Advice) -> bool {
    matches!(a.0, 0..=4 | 8..=25 | 102 | 103)
}

impl Mm {
    /// `madvise(addr, len, advice)`—Give advice about use of memory.
    ///
    /// # Errors
    /// `EINVAL` for an unknown advice, an unaligned address, a length that rounds to
    /// 0 or a wrapping range, and for advice a VMA does not accept (`MADV_DONTNEED` on
    /// a locked VMA, `MADV_WIPEONFORK` on a shared one, ...); `EPERM` for
    /// `MADV_HWPOISON`/`MADV_SOFT_OFFLINE` without CAP_SYS_ADMIN; `ENOMEM` when the
    /// range contains unmapped holes (after advising the mapped parts); `EACCES` for
    /// `MADV_REMOVE` on a file mapping (a seeded process's files included) that is not
    /// shared and writable, `EINVAL` for it on memory without a file.
    ///
    /// # Linux
    /// Mirrors `do_madvise` and `madvise_walk_vmas` of 6.18; `MADV_REMOVE` follows
    /// `madvise_remove` (locked: `EINVAL`; no `vm_file`: `EINVAL`; not
    /// `vma_is_shared_maywrite`: `EACCES`). `MADV_COLLAPSE`,
    /// `MADV_GUARD_INSTALL`/`REMOVE` and the memory-failure advices are refused as not
    /// modelled (never silently accepted).
    pub fn madvise(&mut self, start: u64, len_in: u64, advice: u64) -> SysResult<u64> {
        let adv = Advice(advice);
        if !advice_valid(adv) {
            bail!(EINVAL, "madvise_behavior_valid: unknown advice");
        }
        if !is_page_aligned(start) {
            bail!(EINVAL, "do_madvise: address not page-aligned");
        }
        let len = page_align_wrapping(len_in);
        if len_in != 0 && len == 0 {
            bail!(EINVAL, "do_madvise: length rounds up to 0");
        }
        let end = start.wrapping_add(len);
        if end < start {
            bail!(EINVAL, "do_madvise: range wraps");
        }
        if end == start {
            return Ok(0);
        }
        match adv {
            Advice::POPULATE_READ | Advice::POPULATE_WRITE => {
                return self.madvise_populate(start, end, adv == Advice::POPULATE_WRITE);
            }
            Advice::COLLAPSE => {
                return Err(unsupported(
                    "madvise: MADV_COLLAPSE (THP collapse) is not modelled",
                ));
            }
            Advice::GUARD_INSTALL | Advice::GUARD_REMOVE => {
                return Err(unsupported("madvise: guard regions are not modelled"));
            }
            _ => {}
        }
        // madvise_walk_vmas
        let mut start = start;
        let mut unmapped_error = false;
        let mut vma = self.find_vma(start).map(|v| v.start);
        loop {
            let Some(k) = vma else {
                bail!(ENOMEM, "madvise_walk_vmas: range ends in unmapped memory");
            };
            let v = self.vma(k).clone();
            if start < v.start {
                unmapped_error = true;
                start = v.start;
                if start >= end {
                    break;
                }
            }
            let tmp = v.end.min(end);
            let prev_end = self.madvise_vma(k, start, tmp, adv)?;
            start = tmp.max(prev_end);
            if start >= end {
                break;
            }
            vma = self.find_vma(prev_end).map(|v| v.start);
        }
        if unmapped_error {
            bail!(
                ENOMEM,
                "madvise_walk_vmas: the range contains unmapped holes"
            );
        }
        Ok(0)
    }

    /// Apply one advice to `[start, end)` of the VMA at `key`; returns the end of the
    /// VMA that now covers the range (the walk's `prev`).
    fn madvise_vma(&mut self, key: u64, start: u64, end: u64, adv: Advice) -> SysResult<u64> {
        let v = self.vma(key).clone();
        let f = v.vm_flags;
        let lru_ok = !f.intersects(VmFlags::LOCKED | VmFlags::PFNMAP | VmFlags::HUGETLB);
        let mut nf = f;
        match adv {
            Advice::DONTNEED | Advice::DONTNEED_LOCKED => {
                let bad = if adv == Advice::DONTNEED {
                    !lru_ok
                } else {
                    f.intersects(VmFlags::PFNMAP | VmFlags::HUGETLB)
                };
                if bad {
                    bail!(
                        EINVAL,
                        "madvise_dontneed_free: locked, PFN-mapped or hugetlb VMA"
                    );
                }
                self.zap_range(start, end);
                // PT_RECLAIM (CONFIG_PT_RECLAIM=y on x86-64)
                self.pt.reclaim_empty(start, end);
                return Ok(v.end);
            }
            Advice::FREE => {
                if !lru_ok || v.backing != Backing::Anon || f.contains(VmFlags::SHARED) {
                    bail!(
                        EINVAL,
                        "madvise_dontneed_free: MADV_FREE only applies to private anonymous memory"
                    );
                }
                // Lazy free: pages stay until memory pressure, which the model never has.
                return Ok(v.end);
            }
            Advice::WILLNEED => return Ok(v.end),
            Advice::COLD | Advice::PAGEOUT => {
                if !lru_ok {
                    bail!(
                        EINVAL,
                        "can_madv_lru_vma: locked, PFN-mapped or hugetlb VMA"
                    );
                }
                if adv == Advice::PAGEOUT && v.backing != Backing::Anon {
                    return Err(unsupported(
                        "madvise: MADV_PAGEOUT of file and shmem pages depends on reclaim, which is not modelled",
                    ));
                }
                // Without swap nothing can be reclaimed from anonymous pages.
                return Ok(v.end);
            }
            Advice::REMOVE => {
                if f.contains(VmFlags::LOCKED) {
                    bail!(EINVAL, "madvise_remove: locked VMA");
                }
                // A seeded process's file mappings have a vm_file too; its special
                // mappings ([vdso], ...) have none.
                if !self.has_vm_file(&v) {
                    bail!(EINVAL, "madvise_remove: not a file mapping");
                }
                if !f.contains(VmFlags::SHARED) || !f.contains(VmFlags::MAYWRITE) {
                    bail!(EACCES, "madvise_remove: mapping is not shared and writable");
                }
                let Backing::Object(id) = v.backing else {
                    return Err(unsupported(
                        "madvise: MADV_REMOVE of a seeded process's shared file (a hole punched in a real file) is not modelled",
                    ));
                };
                let first = v.pgoff_at(start);
                let last = v.pgoff_at(end);
                self.punch_hole(id, first, last);
                return Ok(v.end);
            }
            Advice::NORMAL => nf -= VmFlags::RAND_READ | VmFlags::SEQ_READ,
            Advice::SEQUENTIAL => nf = (nf - VmFlags::RAND_READ) | VmFlags::SEQ_READ,
            Advice::RANDOM => nf = (nf - VmFlags::SEQ_READ) | VmFlags::RAND_READ,
            Advice::DONTFORK => nf |= VmFlags::DONTCOPY,
            Advice::DOFORK => {
                if f.contains(VmFlags::IO) {
                    bail!(EINVAL, "madvise: MADV_DOFORK on a VM_IO mapping");
                }
                nf -= VmFlags::DONTCOPY;
            }
            Advice::WIPEONFORK => {
                if self.has_vm_file(&v) || f.contains(VmFlags::SHARED) {
                    bail!(
                        EINVAL,
                        "madvise: MADV_WIPEONFORK only applies to memory without a file"
                    );
                }
                nf |= VmFlags::WIPEONFORK;
            }
            Advice::KEEPONFORK => {
                if f.contains(VmFlags::DROPPABLE) {
                    bail!(EINVAL, "madvise: MADV_KEEPONFORK on a droppable mapping");
                }
                nf -= VmFlags::WIPEONFORK;
            }
            Advice::DONTDUMP => nf |= VmFlags::DONTDUMP,
            Advice::DODUMP => {
                if (!f.contains(VmFlags::HUGETLB) && f.intersects(VmFlags::SPECIAL))
                    || f.contains(VmFlags::DROPPABLE)
                {
                    bail!(EINVAL, "madvise: MADV_DODUMP on a special mapping");
                }
                nf -= VmFlags::DONTDUMP;
            }
            Advice::MERGEABLE => {
                let never = VmFlags::SHARED
                    | VmFlags::MAYSHARE
                    | VmFlags::PFNMAP
                    | VmFlags::IO
                    | VmFlags::DONTEXPAND
                    | VmFlags::HUGETLB
                    | VmFlags::MIXEDMAP
                    | VmFlags::DROPPABLE;
                if !f.intersects(never) {
                    nf |= VmFlags::MERGEABLE;
                }
            }
            Advice::UNMERGEABLE => nf -= VmFlags::MERGEABLE,
            Advice::HUGEPAGE => nf = (nf - VmFlags::NOHUGEPAGE) | VmFlags::HUGEPAGE,
            Advice::NOHUGEPAGE => nf = (nf - VmFlags::HUGEPAGE) | VmFlags::NOHUGEPAGE,
            _ => bail!(EINVAL, "madvise: unknown advice"),
        }
        if nf == f {
            return Ok(v.end);
        }
        let nk = match self.vma_modify_flags(key, start, end, nf) {
            Ok(k) => k,
            Err(e) if e.errno() == Some(crate::Errno::ENOMEM) => {
                bail!(
                    EAGAIN,
                    "madvise_update_vma: a split failed (ENOMEM becomes EAGAIN)"
                )
            }
            Err(e) => return Err(e),
        };
        Ok(self.vma(nk).end)
    }

    /// Punch a hole in an object's pages `[first, last)`: unmap them from shared
    /// mappings (private copies stay) and drop them from the cache.
    pub(crate) fn punch_hole(&mut self, id: crate::vma::ObjId, first: u64, last: u64) {
        let vmas: Vec<(u64, u64, u64)> = self
            .vmas
            .iter()
            .filter(|v| v.backing == Backing::Object(id))
            .map(|v| (v.start, v.end, v.pgoff))
            .collect();
        for (vs, ve, pgoff) in vmas {
            let mut va = vs;
            while va < ve {
                let idx = pgoff + (va - vs) / PAGE_SIZE;
                if idx >= first
                    && idx < last
                    && let Some(fr) = self.pt.get(va)
                    && matches!(self.frames.kind(fr), crate::frame::FrameKind::Cache(..))
                {
                    self.zap_range(va, va + PAGE_SIZE);
                }
                va += PAGE_SIZE;
            }
        }
        let obj = self.objects.get_mut(&id).expect("live object");
        let gone: Vec<u64> = obj.pages.range(first..last).map(|(&k, _)| k).collect();
        let mut freed = Vec::new();
        for k in gone {
            if let Some(f) = obj.pages.remove(&k) {
                freed.push(f);
            }
        }
        for f in freed {
            self.frames.put(f);
        }
    }

    /// `madvise_populate`: fault pages in without FOLL_FORCE, VMA by VMA.
    fn madvise_populate(&mut self, start: u64, end: u64, write: bool) -> SysResult<u64> {
        use crate::fault::{Access, FaultErr};
        let mut va = start;
        while va < end {
            let Some(v) = self.vma_at(va).cloned() else {
                bail!(ENOMEM, "faultin_page_range: no VMA at the address");
            };
            let allowed = if write {
                v.vm_flags.contains(VmFlags::WRITE)
            } else {
                v.vm_flags.contains(VmFlags::READ)
            };
            if !allowed || v.vm_flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
                bail!(
                    EINVAL,
                    "check_vma_flags: the VMA does not allow this access"
                );
            }
            let stop = v.end.min(end);
            while va < stop {
                let access = if write { Access::Write } else { Access::Read };
                match self.handle_fault(va, access) {
                    Ok(_) => {}
                    Err(FaultErr::Signal(_)) => {
                        bail!(EFAULT, "faultin_page_range: SIGBUS or SIGSEGV")
                    }
                    Err(FaultErr::Oom) => bail!(ENOMEM, "faultin_page_range: out of memory"),
                    Err(FaultErr::Unknown(why)) => return Err(unsupported(why)),
                }
                va += PAGE_SIZE;
            }
        }
        Ok(0)
    }
}
