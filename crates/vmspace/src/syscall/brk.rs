//! `brk`.

use crate::Mm;
use crate::addr::{PAGE_SHIFT, PAGE_SIZE, page_align_wrapping, pages};
use crate::area::AreaKind;
use crate::flags::{MapFlags, VmFlags};
use crate::vma::{Backing, Vma};

impl Mm {
    /// `brk(addr)`—Move the program break. The raw system call returns the new break
    /// on success and the unchanged break on failure (`brk(0)` queries it).
    ///
    /// # Linux
    /// Mirrors the 6.18 `brk` system call: requests below `start_brk`, beyond
    /// RLIMIT_DATA, or that would leave less than one free page (plus the guard gap of
    /// a grows-down VMA) before the next mapping are refused; shrinking unmaps above
    /// the new rounded break; growth extends the last heap VMA when compatible
    /// (`do_brk_flags`), is charged and is populated under `mlockall(MCL_FUTURE)`.
    pub fn brk(&mut self, brk: u64) -> u64 {
        let origbrk = self.brk;
        match self.try_brk(brk) {
            Some(populate) => {
                if let Some((s, e)) = populate {
                    let _ = self.mm_populate(s, e, true);
                }
                self.brk
            }
            None => {
                self.brk = origbrk;
                origbrk
            }
        }
    }

    fn try_brk(&mut self, brk: u64) -> Option<Option<(u64, u64)>> {
        if brk < self.start_brk {
            return None;
        }
        // check_data_rlimit
        let rlim = self.cfg.rlimits.data.cur;
        if rlim != u64::MAX && (brk - self.start_brk).saturating_add(self.data_segment) > rlim {
            return None;
        }
        let newbrk = page_align_wrapping(brk);
        let oldbrk = page_align_wrapping(self.brk);
        if oldbrk == newbrk {
            self.brk = brk;
            return Some(None);
        }
        if brk <= self.brk {
            // Always allow shrinking, if a VMA is there to shrink.
            let v = self.find_vma(newbrk)?;
            if v.start >= oldbrk {
                return None;
            }
            self.brk = brk;
            if self.do_munmap(newbrk, oldbrk).is_err() {
                return None;
            }
            return Some(None);
        }
        // check_brk_limits
        let len = newbrk.wrapping_sub(oldbrk);
        self.get_unmapped_area(AreaKind::PrivateAnon, oldbrk, len, MapFlags::FIXED)
            .ok()?;
        if !self.mlock_future_ok(self.def_flags, pages(len)) {
            return None;
        }
        let limit = newbrk
            .saturating_add(PAGE_SIZE)
            .saturating_add(self.cfg.stack_guard_gap);
        if let Some(next) = self.find_vma(oldbrk).filter(|n| n.start < limit)
            && newbrk + PAGE_SIZE > next.start_gap(self.cfg.stack_guard_gap)
        {
            return None;
        }
        // vma_prev_limit(start_brk): the VMA before oldbrk whose range reaches above
        // start_brk (it may start below it, e.g. after merging with the bss).
        let brkvma = self
            .vma_before(oldbrk)
            .filter(|v| v.end > self.start_brk)
            .cloned();
        if !self.do_brk_flags(brkvma, oldbrk, len) {
            return None;
        }
        self.brk = brk;
        let populate = self.def_flags.contains(VmFlags::LOCKED);
        Some(populate.then_some((oldbrk, newbrk)))
    }

    /// `do_brk_flags`: extend the heap VMA or create one.
    fn do_brk_flags(&mut self, brkvma: Option<Vma>, addr: u64, len: u64) -> bool {
        let flags = VmFlags::READ
            | VmFlags::WRITE
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC
            | VmFlags::ACCOUNT
            | self.def_flags;
        let npages = pages(len);
        if !self.may_expand_vm(flags, npages) {
            return false;
        }
        if self.map_count() > self.cfg.max_map_count {
            return false;
        }
        if !self.vm_acct(npages) {
            return false;
        }
        let pgoff = addr >> PAGE_SHIFT;
        if let Some(v) = brkvma.filter(|v| v.end == addr) {
            let ok = Mm::is_mergeable(&v, flags, Backing::Anon)
                && v.pgoff.wrapping_add(v.pages()) == pgoff
                && !flags.intersects(VmFlags::SPECIAL);
            if ok {
                self.update_vma(v.start, |x| x.end = addr + len);
                if flags.contains(VmFlags::LOCKED) {
                    self.locked_vm += npages;
                }
                return true;
            }
        }
        self.insert_vma(Vma {
            start: addr,
            end: addr + len,
            vm_flags: flags,
            pgoff,
            backing: Backing::Anon,
            anon: None,
        });
        if flags.contains(VmFlags::LOCKED) {
            self.locked_vm += npages;
        }
        true
    }
}
