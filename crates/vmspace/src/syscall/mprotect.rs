//! `mprotect`.

use crate::Mm;
use crate::addr::{is_page_aligned, page_align_wrapping, pages};
use crate::error::{SysResult, bail};
use crate::flags::{ProtFlags, VmFlags};
use crate::syscall::mmap::prot_to_vm;
use crate::vma::{Backing, Vma};

impl Mm {
    /// `mprotect(addr, len, prot)`—Change the protection of pages.
    ///
    /// # Errors
    /// `EINVAL` for both grow flags, an unaligned address or unknown prot bits;
    /// `ENOMEM` for a wrapping range, a range starting in a hole, or a hole inside it
    /// (after the VMAs before the hole were changed); `EACCES` when a permission
    /// exceeds the VMA's `VM_MAY*` bits; `ENOMEM` from RLIMIT_DATA, commit accounting
    /// or a split at `max_map_count`; `EINVAL` for `PROT_GROWSDOWN` on a VMA that
    /// does not grow down.
    ///
    /// # Linux
    /// Mirrors `do_mprotect_pkey` and `mprotect_fixup` of 6.18, including partial
    /// success when a later VMA fails.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> SysResult<u64> {
        let p = ProtFlags::from_bits_retain(prot);
        let grows = p & (ProtFlags::GROWSDOWN | ProtFlags::GROWSUP);
        let prot = prot & !(ProtFlags::GROWSDOWN.bits() | ProtFlags::GROWSUP.bits());
        if grows == ProtFlags::GROWSDOWN | ProtFlags::GROWSUP {
            bail!(
                EINVAL,
                "do_mprotect_pkey: both PROT_GROWSDOWN and PROT_GROWSUP"
            );
        }
        if !is_page_aligned(addr) {
            bail!(EINVAL, "do_mprotect_pkey: address not page-aligned");
        }
        if len == 0 {
            return Ok(0);
        }
        let len = page_align_wrapping(len);
        let end = addr.wrapping_add(len);
        if end <= addr {
            bail!(ENOMEM, "do_mprotect_pkey: range wraps");
        }
        if prot & !(ProtFlags::READ | ProtFlags::WRITE | ProtFlags::EXEC | ProtFlags::SEM).bits()
            != 0
        {
            bail!(EINVAL, "arch_validate_prot: unknown prot bits");
        }
        let Some(first) = self.find_vma(addr).filter(|v| v.start < end).cloned() else {
            bail!(ENOMEM, "do_mprotect_pkey: no VMA in the range");
        };
        let mut start = addr;
        if grows.contains(ProtFlags::GROWSDOWN) {
            start = first.start;
            if !first.vm_flags.contains(VmFlags::GROWSDOWN) {
                bail!(
                    EINVAL,
                    "do_mprotect_pkey: PROT_GROWSDOWN on a VMA that does not grow down"
                );
            }
        } else {
            if first.start > start {
                bail!(ENOMEM, "do_mprotect_pkey: range starts in a hole");
            }
            if grows.contains(ProtFlags::GROWSUP) {
                bail!(
                    EINVAL,
                    "do_mprotect_pkey: PROT_GROWSUP on a VMA that does not grow up"
                );
            }
        }
        let newprot = prot_to_vm(prot);
        let mut nstart = start;
        let mut tmp = first.start;
        let mut next = Some(first);
        while let Some(v) = next {
            if v.start >= end {
                break;
            }
            if v.start != tmp {
                bail!(ENOMEM, "do_mprotect_pkey: hole in the range");
            }
            let mut newflags = newprot | (v.vm_flags - VmFlags::ACCESS);
            // VM_MAY* shifted onto VM_*: every requested permission must be allowed.
            let may = VmFlags::from_bits_retain(newflags.bits() >> 4);
            if (newflags - may).intersects(VmFlags::ACCESS) {
                bail!(
                    EACCES,
                    "do_mprotect_pkey: permission not allowed by the VMA's VM_MAY* bits"
                );
            }
            let nk = self.mprotect_fixup(&v, nstart, v.end.min(end), &mut newflags)?;
            // The iterator continues after the VMA that now covers the range (which a
            // merge may have extended past `end`).
            let (v, after) = self.vmas.with_next(nk).expect("the VMA just changed");
            tmp = v.end;
            nstart = tmp;
            next = after.cloned();
        }
        if tmp < end {
            bail!(ENOMEM, "do_mprotect_pkey: range ends in a hole");
        }
        Ok(0)
    }

    /// `mprotect_fixup` for `[start, end)` inside the VMA at `key`. Returns the key of
    /// the VMA that now covers the range.
    fn mprotect_fixup(
        &mut self,
        v: &Vma,
        start: u64,
        end: u64,
        newflags: &mut VmFlags,
    ) -> SysResult<u64> {
        let key = v.start;
        let oldflags = v.vm_flags;
        if *newflags == oldflags {
            return Ok(key);
        }
        let nrpages = pages(end - start);
        let mut charged = 0;
        if newflags.contains(VmFlags::WRITE) {
            if !self.may_expand_vm(*newflags, nrpages) && self.may_expand_vm(oldflags, nrpages) {
                bail!(ENOMEM, "mprotect_fixup: RLIMIT_DATA exceeded");
            }
            if !oldflags.intersects(
                VmFlags::ACCOUNT
                    | VmFlags::WRITE
                    | VmFlags::HUGETLB
                    | VmFlags::SHARED
                    | VmFlags::NORESERVE,
            ) {
                charged = nrpages;
                if !self.vm_acct(charged) {
                    bail!(ENOMEM, "mprotect_fixup: commit limit");
                }
                *newflags |= VmFlags::ACCOUNT;
            }
        } else if oldflags.contains(VmFlags::ACCOUNT)
            && v.backing == Backing::Anon
            && v.anon.is_none()
        {
            newflags.remove(VmFlags::ACCOUNT);
        }
        let nk = match self.vma_modify_flags(key, start, end, *newflags) {
            Ok(k) => k,
            Err(e) => {
                self.vm_unacct(charged);
                return Err(e);
            }
        };
        if oldflags.contains(VmFlags::ACCOUNT) && !newflags.contains(VmFlags::ACCOUNT) {
            self.vm_unacct(nrpages);
        }
        if oldflags & (VmFlags::WRITE | VmFlags::SHARED | VmFlags::LOCKED) == VmFlags::LOCKED
            && newflags.contains(VmFlags::WRITE)
        {
            let _ = self.populate_range(start, end);
        }
        Ok(nk)
    }
}
