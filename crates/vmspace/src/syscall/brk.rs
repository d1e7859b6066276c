//! `brk`.

use crate::Mm;
use crate::addr::{PAGE_SHIFT, PAGE_SIZE, page_align_wrapping, pages};
use crate::area::AreaKind;
use crate::error::{SysResult, bail};
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

    /// The start of the program break (`mm->start_brk`): `brk` refuses to go below it,
    /// and the anonymous VMA overlapping `[start_brk, brk)` is labelled `[heap]`.
    pub fn start_brk(&self) -> u64 {
        self.start_brk
    }

    /// Start the program break at `addr`: afterwards `start_brk == brk == addr`, so the
    /// heap is empty and the next growing `brk` maps from `addr` up.
    ///
    /// This is what `execve` does once it has loaded a program; it lets a user (a
    /// replay of a recorded process) put the break where the real kernel put it.
    ///
    /// # Errors
    /// - `EINVAL` if `addr` is not page aligned, or not below the top of user space
    ///   (`task_size`);
    /// - `EBUSY` if the heap is not empty (`brk != start_brk`): the break has grown
    ///   (or was seeded above its start), and moving its start would change which
    ///   VMA is the `[heap]` and what later `brk` calls may shrink.
    ///
    /// Nothing else changes on failure. Mappings at or above `addr` are left alone: as
    /// with the kernel's own placement, a later `brk` simply refuses to grow into them.
    ///
    /// # Linux
    /// Not a system call. `load_elf_binary` (in `execve`) sets `mm->start_brk` and
    /// `mm->brk` to the same page-aligned address: the end of the program's bss, moved
    /// up by a random offset from `arch_randomize_brk` when address-space
    /// randomisation is on. Both start equal (an empty heap), which is the state this
    /// method requires and produces.
    pub fn set_brk_base(&mut self, addr: u64) -> SysResult<()> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            bail!(EINVAL, "set_brk_base: addr is not page aligned");
        }
        if addr >= self.cfg.task_size {
            bail!(EINVAL, "set_brk_base: addr is not below task_size");
        }
        if self.brk != self.start_brk {
            bail!(
                EBUSY,
                "set_brk_base: the heap is not empty (brk != start_brk)"
            );
        }
        self.start_brk = addr;
        self.brk = addr;
        self.generation = self.generation.wrapping_add(1);
        Ok(())
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
