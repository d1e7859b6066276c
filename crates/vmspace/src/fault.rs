//! Page faults, memory access and population.

use alloc::vec::Vec;

use crate::Mm;
use crate::addr::PMD_SIZE;
use crate::addr::{PAGE_SIZE, page_align_down};
use crate::flags::VmFlags;
use crate::frame::{FrameId, FrameKind, HUGE_ZERO, ZERO_FRAME, is_zero_frame};
use crate::op::{Fault, FaultCode, Signal};
use crate::vma::Backing;

/// Kind of access.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Why a fault could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FaultErr {
    /// A signal the process would receive.
    Signal(Fault),
    /// The frame budget is exhausted (the kernel would invoke the OOM killer).
    Oom,
    /// The page belongs to a mapping whose contents the model does not know.
    Unknown(&'static str),
}

impl Mm {
    /// Frames that may be in use at once: the configured budget less the memory the
    /// page tables take (one frame per table, as in the kernel).
    pub(crate) fn frame_budget(&self) -> u64 {
        self.cfg.frame_budget.saturating_sub(self.pt.tables())
    }

    fn segv(addr: u64, code: FaultCode) -> FaultErr {
        FaultErr::Signal(Fault {
            signal: Signal::Segv,
            code,
            addr,
        })
    }

    /// Resolve a fault of `access` at byte `addr` the way the CPU + `handle_mm_fault`
    /// would: returns the frame now mapped at the page.
    ///
    /// # Linux
    /// `do_user_addr_fault` (x86 `access_error`: any of r/w/x permits a read), stack
    /// expansion (`expand_downwards`), `do_anonymous_page` (zero page on read),
    /// `do_wp_page` (copy-on-write), `shmem_fault`, `do_cow_fault`.
    pub(crate) fn handle_fault(&mut self, addr: u64, access: Access) -> Result<FrameId, FaultErr> {
        if (1u64 << 47..0xffff_8000_0000_0000).contains(&addr) {
            // A non-canonical address raises #GP: SIGSEGV with SI_KERNEL and address 0.
            return Err(FaultErr::Signal(Fault {
                signal: Signal::Segv,
                code: FaultCode::SiKernel,
                addr: 0,
            }));
        }
        let va = page_align_down(addr);
        let key = match self.vma_at(va) {
            Some(v) => v.start,
            None => self
                .expand_stack_for(va)
                .ok_or_else(|| Self::segv(addr, FaultCode::MapErr))?,
        };
        let vma = self.vma(key).clone();
        let permitted = match access {
            Access::Read => vma.is_accessible(),
            Access::Write => vma.vm_flags.contains(VmFlags::WRITE),
        };
        if !permitted {
            return Err(Self::segv(addr, FaultCode::AccErr));
        }
        if let Some(fr) = self.pt.get(va) {
            if access == Access::Read || vma.is_shareable() {
                return Ok(fr);
            }
            // do_huge_zero_wp_pmd: a write to an intact huge zero PMD maps a new THP.
            let block = crate::addr::align_down(va, PMD_SIZE);
            if is_zero_frame(fr) && fr != ZERO_FRAME && self.huge_zero_intact(block) {
                self.anon_vma_prepare(key);
                if let Some(f) = self.alloc_thp(block, va) {
                    return Ok(f);
                }
            }
            // Private write: reuse an exclusive anonymous page, else copy.
            if self.frames.kind(fr) == FrameKind::Anon && self.frames.refs(fr) == 1 {
                return Ok(fr);
            }
            self.anon_vma_prepare(key);
            let new = self
                .frames
                .alloc(FrameKind::Anon, self.frame_budget())
                .ok_or(FaultErr::Oom)?;
            self.frames.copy(new, fr);
            self.pt.set(va, new);
            self.frames.put(fr);
            return Ok(new);
        }
        // Mapping the page may need up to three new tables (PUD, PMD, PTE), which
        // take memory from the same budget as the frames.
        if self.frames.in_use() + 3 > self.frame_budget() {
            return Err(FaultErr::Oom);
        }
        match vma.backing {
            Backing::Anon => {
                if let Some(block) = self.thp_block(&vma, va)
                    && let Some(f) = self.thp_fault(key, block, va, access)
                {
                    return Ok(f);
                }
                if access == Access::Read {
                    self.pt.set(va, ZERO_FRAME);
                    return Ok(ZERO_FRAME);
                }
                self.anon_vma_prepare(key);
                let new = self
                    .frames
                    .alloc(FrameKind::Anon, self.frame_budget())
                    .ok_or(FaultErr::Oom)?;
                self.pt.set(va, new);
                Ok(new)
            }
            Backing::Object(id) => {
                let index = vma.pgoff_at(va);
                let size = self.objects[&id].size;
                // do_read_fault maps the cached neighbours first, even when the fault
                // itself then ends in SIGBUS beyond the end of the file.
                if access == Access::Read {
                    self.fault_around(&vma, id, va, size);
                    if let Some(fr) = self.pt.get(va) {
                        return Ok(fr);
                    }
                }
                // do_cow_fault prepares the anon_vma before asking the file for the page,
                // so a private write fault gives the VMA one even when it then fails.
                if access == Access::Write && !vma.is_shareable() {
                    self.anon_vma_prepare(key);
                }
                if index >= size.div_ceil(PAGE_SIZE) {
                    return Err(FaultErr::Signal(Fault {
                        signal: Signal::Bus,
                        code: FaultCode::AdrErr,
                        addr,
                    }));
                }
                let cache = self.cache_page(id, index)?;
                if vma.is_shareable() || access == Access::Read {
                    self.frames.get(cache);
                    self.pt.set(va, cache);
                    return Ok(cache);
                }
                self.anon_vma_prepare(key);
                let new = self
                    .frames
                    .alloc(FrameKind::Anon, self.frame_budget())
                    .ok_or(FaultErr::Oom)?;
                self.frames.copy(new, cache);
                self.pt.set(va, new);
                Ok(new)
            }
            Backing::Foreign(_) => Err(FaultErr::Unknown(
                "the contents of mappings the model did not create are not modelled",
            )),
        }
    }

    /// The page-cache frame of `index` in object `id`, allocating a zero page.
    pub(crate) fn cache_page(
        &mut self,
        id: crate::vma::ObjId,
        index: u64,
    ) -> Result<FrameId, FaultErr> {
        if let Some(&f) = self.objects[&id].pages.get(&index) {
            return Ok(f);
        }
        let f = self
            .frames
            .alloc(FrameKind::Cache(id, index), self.frame_budget())
            .ok_or(FaultErr::Oom)?;
        self.objects
            .get_mut(&id)
            .expect("live object")
            .pages
            .insert(index, f);
        Ok(f)
    }

    /// `expand_stack`: an access below a grows-down VMA extends it. Returns the VMA's
    /// (new) start key, or `None` if the access is a plain SIGSEGV.
    fn expand_stack_for(&mut self, va: u64) -> Option<u64> {
        let next = self.find_vma(va)?.clone();
        if !next.vm_flags.contains(VmFlags::GROWSDOWN) {
            return None;
        }
        // expand_downwards refuses addresses below mmap_min_addr (the effective value,
        // 65536 here).
        if va < self.cfg.search_min_addr {
            return None;
        }
        if let Some(prev) = self.vma_before(next.start)
            && !prev.vm_flags.contains(VmFlags::GROWSDOWN)
            && prev.is_accessible()
            && va - prev.end < self.cfg.stack_guard_gap
        {
            return None;
        }
        // The anon_vma is prepared before the limits are checked, so a refused growth
        // still leaves the VMA with one.
        self.anon_vma_prepare(next.start);
        let grow = (next.start - va) / PAGE_SIZE;
        if grow > next.pgoff {
            return None;
        }
        let size = next.end - va;
        // acct_stack_growth
        if !self.may_expand_vm(next.vm_flags, grow)
            || size > self.cfg.rlimits.stack.cur
            || !self.mlock_future_ok(next.vm_flags, grow)
        {
            return None;
        }
        // The commit check is the last test and runs whether or not the VMA is
        // accounted (acct_stack_growth -> security_vm_enough_memory_mm).
        if !self.vm_enough_memory(grow) {
            return None;
        }
        if next.vm_flags.contains(VmFlags::ACCOUNT) {
            self.committed += grow;
        }
        if next.vm_flags.contains(VmFlags::LOCKED) {
            self.locked_vm += grow;
        }
        Some(self.update_vma(next.start, |v| {
            v.start = va;
            v.pgoff -= grow;
        }))
    }

    /// Read `len` bytes at `addr` as the process would.
    pub(crate) fn access_read(&mut self, addr: u64, len: u64) -> Result<Vec<u8>, FaultErr> {
        let mut out = Vec::new();
        // Bytes are accessed in order; a range that wraps faults where the accessible
        // memory ends (at the latest at the top of user space).
        let mut left = len;
        let mut a = addr;
        while left > 0 {
            let f = self.handle_fault(a, Access::Read)?;
            let off = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE - a % PAGE_SIZE).min(left);
            let start = out.len();
            out.resize(start + n as usize, 0);
            self.frames.read(f, off, &mut out[start..]);
            a = a.wrapping_add(n);
            left -= n;
        }
        Ok(out)
    }

    /// Read `len` bytes at `addr` as the process would, keeping none of them: the
    /// faults and their side effects only.
    pub(crate) fn access_probe(&mut self, addr: u64, len: u64) -> Result<(), FaultErr> {
        // Bytes are accessed in order; a range that wraps faults where the accessible
        // memory ends (at the latest at the top of user space).
        let mut left = len;
        let mut a = addr;
        while left > 0 {
            self.handle_fault(a, Access::Read)?;
            let n = (PAGE_SIZE - a % PAGE_SIZE).min(left);
            a = a.wrapping_add(n);
            left -= n;
        }
        Ok(())
    }

    /// Write bytes at `addr` as the process would (`data(i)` gives byte i).
    pub(crate) fn access_write(
        &mut self,
        addr: u64,
        len: u64,
        data: impl Fn(u64) -> u8,
    ) -> Result<(), FaultErr> {
        // Bytes are accessed in order; a range that wraps faults where the accessible
        // memory ends (at the latest at the top of user space).
        let mut left = len;
        let mut a = addr;
        let mut buf = Vec::new();
        while left > 0 {
            let f = self.handle_fault(a, Access::Write)?;
            let off = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE - a % PAGE_SIZE).min(left);
            let done = len - left;
            buf.clear();
            buf.extend((0..n).map(|i| data(done + i)));
            self.frames.write(f, off, &buf);
            a = a.wrapping_add(n);
            left -= n;
        }
        Ok(())
    }

    /// `populate_vma_page_range` over `[start, end)` (one VMA's range): fault every
    /// page in, writing for private writable VMAs. Stops at the first failure.
    pub(crate) fn populate_range(&mut self, start: u64, end: u64) -> Result<(), FaultErr> {
        let Some(vma) = self.vma_at(start).cloned() else {
            return Err(Self::segv(start, FaultCode::MapErr));
        };
        if vma.vm_flags.contains(VmFlags::LOCKONFAULT) {
            return Ok(());
        }
        if vma.vm_flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
            return Ok(());
        }
        // The pages of mappings the model did not create (the seeded process's files,
        // [vdso]) are not modelled; populating them succeeds as it does in the kernel.
        if matches!(vma.backing, Backing::Foreign(_)) && vma.is_accessible() {
            return Ok(());
        }
        if !vma.is_accessible() {
            return Err(Self::segv(start, FaultCode::AccErr));
        }
        let write = vma.vm_flags & (VmFlags::WRITE | VmFlags::SHARED) == VmFlags::WRITE;
        let mut va = start;
        while va < end.min(vma.end) {
            // FOLL_FORCE: a read-only private mapping is populated with reads.
            let access = if write { Access::Write } else { Access::Read };
            let needs_fault = match self.pt.get(va) {
                None => true,
                // A write to an exclusive anonymous page is no fault (handle_fault would
                // return it unchanged): only shared, zero or cache pages need one.
                Some(fr) => {
                    write && !(self.frames.kind(fr) == FrameKind::Anon && self.frames.refs(fr) == 1)
                }
            };
            if needs_fault {
                self.handle_fault(va, access)?;
            }
            va += PAGE_SIZE;
        }
        Ok(())
    }

    /// `__mm_populate` over `[start, end)`: every VMA in the range, in order.
    /// With `ignore_errors`, failures of one VMA do not stop the rest.
    pub(crate) fn mm_populate(
        &mut self,
        start: u64,
        end: u64,
        ignore_errors: bool,
    ) -> Result<(), FaultErr> {
        let mut nstart = start;
        while nstart < end {
            let Some(v) = self.find_vma(nstart).cloned() else {
                break;
            };
            if v.start >= end {
                break;
            }
            let s = nstart.max(v.start);
            let e = end.min(v.end);
            if let Err(e2) = self.populate_range(s, e)
                && !ignore_errors
            {
                return Err(e2);
            }
            nstart = e;
        }
        Ok(())
    }

    /// `do_fault_around`: a read fault on a file or shmem VMA also maps the pages of
    /// the surrounding 16-page window that are already in the page cache.
    fn fault_around(&mut self, vma: &crate::vma::Vma, id: crate::vma::ObjId, va: u64, size: u64) {
        const WINDOW: u64 = 16 * PAGE_SIZE;
        let pmd_start = crate::addr::align_down(va, crate::addr::PMD_SIZE);
        let pmd_end = pmd_start + crate::addr::PMD_SIZE;
        let from = crate::addr::align_down(va, WINDOW)
            .max(vma.start)
            .max(pmd_start);
        let to = (from + WINDOW).min(pmd_end).min(vma.end);
        let file_pages = size.div_ceil(PAGE_SIZE);
        if from >= to {
            return;
        }
        // One lookup of the object, one range over its cached pages.
        let lo = vma.pgoff_at(from);
        let hi = vma.pgoff_at(to).min(file_pages);
        if lo >= hi {
            return;
        }
        let pages = &self.objects[&id].pages;
        for (&index, &f) in pages.range(lo..hi) {
            let a = from + (index - lo) * PAGE_SIZE;
            if self.pt.get(a).is_none() {
                self.frames.get(f);
                self.pt.set(a, f);
            }
        }
    }

    /// The 2 MiB block a fault at `va` would map with a transparent huge page, if any:
    /// a private anonymous VMA THP is enabled for (`thp_vma_allowable_order`) that
    /// covers the whole block (`thp_vma_suitable_order`), and no page table under the
    /// block's PMD yet (`pmd_none` in `__handle_mm_fault`): a PTE table left empty by a
    /// zap, or given to the block by an mremap move of an empty range, means small
    /// pages.
    ///
    /// # Linux
    /// `thp_vma_suitable_order` checks the page offset's alignment only for VMAs that
    /// are not anonymous (`vma_is_anonymous`): a private anonymous VMA that keeps the
    /// page offset of where it was first faulted (its anon_vma pins it) after an
    /// mremap move or a stack expansion still gets huge pages wherever a whole block
    /// lies inside it.
    pub(crate) fn thp_block(&self, v: &crate::vma::Vma, va: u64) -> Option<u64> {
        if v.backing != Backing::Anon
            || v.vm_flags
                .intersects(VmFlags::SHARED | VmFlags::MAYSHARE | VmFlags::NOHUGEPAGE)
        {
            return None;
        }
        let on = match self.cfg.thp {
            crate::config::ThpMode::Always => true,
            crate::config::ThpMode::Madvise => v.vm_flags.contains(VmFlags::HUGEPAGE),
            crate::config::ThpMode::Never => false,
        };
        let block = crate::addr::align_down(va, PMD_SIZE);
        let inside = block >= v.start && block + PMD_SIZE <= v.end;
        (on && inside && !self.pt.has_pte_table(block)).then_some(block)
    }

    /// `do_huge_pmd_anonymous_page`: map the whole block (the huge zero page on a read,
    /// a new THP on a write). `None` falls back to a small page. The VMA gets its
    /// anon_vma first, before the read case (unlike a small read fault, which maps the
    /// zero page without one).
    fn thp_fault(&mut self, key: u64, block: u64, va: u64, access: Access) -> Option<FrameId> {
        self.anon_vma_prepare(key);
        if access == Access::Read {
            if !self.cfg.thp_use_zero_page {
                return None;
            }
            self.huge_zero_used = true;
            for i in 0..512u32 {
                self.pt.set(block + u64::from(i) * PAGE_SIZE, HUGE_ZERO + i);
            }
            return Some(HUGE_ZERO + ((va - block) / PAGE_SIZE) as u32);
        }
        self.alloc_thp(block, va)
    }

    /// Map 512 new anonymous frames over `block` (releasing what was there); the frame
    /// at `va`. `None` when the frame budget cannot hold them.
    fn alloc_thp(&mut self, block: u64, va: u64) -> Option<FrameId> {
        if self.frames.in_use() + 512 + 3 > self.frame_budget() {
            return None;
        }
        let mut at_va = 0;
        for i in 0..512 {
            let a = block + i * PAGE_SIZE;
            let f = self.frames.alloc(FrameKind::Anon, self.frame_budget())?;
            if let Some(old) = self.pt.set(a, f) {
                self.frames.put(old);
            }
            if a == crate::addr::page_align_down(va) {
                at_va = f;
            }
        }
        Some(at_va)
    }

    /// Do the 512 pages of `block` still map the huge zero page, in order (an unsplit
    /// huge zero PMD)?
    pub(crate) fn huge_zero_intact(&self, block: u64) -> bool {
        let mut n = 0;
        let mut ok = true;
        self.pt.for_each(block, block + PMD_SIZE, |a, f| {
            n += 1;
            ok &= f == HUGE_ZERO + ((a - block) / PAGE_SIZE) as u32;
        });
        ok && n == 512
    }

    /// `__split_huge_zero_page_pmd`: a huge zero PMD that is split maps the small zero
    /// page in every entry.
    #[inline]
    pub(crate) fn split_huge_zero(&mut self, block: u64) {
        if self.huge_zero_used {
            self.split_huge_zero_at(block);
        }
    }

    fn split_huge_zero_at(&mut self, block: u64) {
        // A huge zero PMD maps HUGE_ZERO + i at block + i pages, all 512 or
        // none (edges are split before any partial change), so its first entry tells.
        match self.pt.get(block) {
            Some(f) if f == HUGE_ZERO => {}
            _ => return,
        }
        let mut hz = alloc::vec::Vec::new();
        self.pt.for_each(block, block + PMD_SIZE, |a, f| {
            if is_zero_frame(f) && f != ZERO_FRAME {
                hz.push(a);
            }
        });
        for a in hz {
            self.pt.set(a, ZERO_FRAME);
        }
    }
}
