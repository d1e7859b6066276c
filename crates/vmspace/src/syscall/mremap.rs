//! `mremap`: resize, move or duplicate a mapping.
//!
//! The code follows the decision tree of Linux 6.18's mm/mremap.c: argument checks
//! (`check_mremap_params`), then either the multi-VMA move (`remap_move`) or the
//! per-VMA checks (`check_prep_vma`) followed by `mremap_to` (a new address is implied)
//! or `mremap_at` (no-op, shrink, expand in place, or move), and finally population of
//! a grown locked mapping.

use crate::Mm;
use crate::addr::{PAGE_SHIFT, is_page_aligned, page_align_wrapping, pages};
use crate::area::AreaKind;
use crate::error::{SysResult, bail};
use crate::flags::{MapFlags, MremapFlags, VmFlags};
use crate::vma::{Backing, Vma};

/// What kind of resize a call is (`vrm_remap_type`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum RemapType {
    NoResize,
    Shrink,
    Expand,
}

/// The state of one call (`struct vma_remap_struct`).
#[derive(Clone, Debug)]
struct Remap {
    addr: u64,
    old_len: u64,
    new_len: u64,
    flags: MremapFlags,
    new_addr: u64,
    delta: u64,
    remap_type: RemapType,
    /// A grown locked VMA must be populated afterwards.
    populate_expand: bool,
}

impl Remap {
    fn implies_new_addr(&self) -> bool {
        self.flags
            .intersects(MremapFlags::FIXED | MremapFlags::DONTUNMAP)
    }
    fn fixed(&self) -> bool {
        self.flags.contains(MremapFlags::FIXED)
    }
    fn dontunmap(&self) -> bool {
        self.flags.contains(MremapFlags::DONTUNMAP)
    }
    fn maymove(&self) -> bool {
        self.flags.contains(MremapFlags::MAYMOVE)
    }
    /// `vrm_set_delta` and `vrm_remap_type`.
    fn classify(&mut self) {
        self.delta = self.old_len.abs_diff(self.new_len);
        self.remap_type = if self.new_len == self.old_len {
            RemapType::NoResize
        } else if self.new_len < self.old_len {
            RemapType::Shrink
        } else {
            RemapType::Expand
        };
    }
}

impl Mm {
    /// `mremap(old_address, old_size, new_size, flags, new_address)`—Resize, move or
    /// duplicate a mapping.
    ///
    /// # Errors
    /// In the kernel's order. Argument checks: `EINVAL` for unknown flags, an unaligned
    /// `old_address`, a `new_size` of 0 or above `TASK_SIZE`; with `MREMAP_FIXED` or
    /// `MREMAP_DONTUNMAP` also `EINVAL` for a destination beyond `TASK_SIZE`, an
    /// unaligned destination, no `MREMAP_MAYMOVE`, `DONTUNMAP` with different sizes, or
    /// overlapping ranges, and `ENOMEM` at `map_count >= max_map_count - 5`. Per-VMA
    /// checks: `EFAULT` without a VMA at `old_address`; `EINVAL` for `old_size` 0 on a
    /// private VMA or `DONTUNMAP` on a special one; `EFAULT` when the range runs past
    /// the VMA; `EINVAL` for a page-offset overflow; `EFAULT` for growing a special
    /// mapping; `EAGAIN` beyond RLIMIT_MEMLOCK; `ENOMEM` beyond RLIMIT_AS/DATA.
    /// Execution: `ENOMEM` when growth in place is impossible without `MAYMOVE`, when
    /// no free area exists, from commit accounting, at `map_count >= max - 3` before a
    /// move, for `DONTUNMAP` without RLIMIT_AS headroom; `EINVAL` when a special mapping
    /// refuses a split.
    ///
    /// # Linux
    /// Mirrors `do_mremap` of mm/mremap.c as of 6.18: multi-VMA `MREMAP_FIXED` moves,
    /// all checks before the destination is unmapped, page-rounded length comparison,
    /// and (switchable) the 6.15+ `locked_vm` accounting of `MREMAP_DONTUNMAP`. Not
    /// modelled: hugetlb, userfaultfd, mseal.
    ///
    /// # References
    ///  - [Linux man page](https://man7.org/linux/man-pages/man2/mremap.2.html)
    pub fn mremap(
        &mut self,
        addr: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    ) -> SysResult<u64> {
        let mut vrm = Remap {
            addr,
            old_len: page_align_wrapping(old_len),
            new_len: page_align_wrapping(new_len),
            flags: MremapFlags::from_bits_retain(flags),
            new_addr,
            delta: 0,
            remap_type: RemapType::NoResize,
            populate_expand: false,
        };
        self.check_mremap_params(&vrm)?;
        let res = if vrm.fixed() && vrm.old_len == vrm.new_len {
            self.remap_move(&mut vrm)?
        } else {
            self.check_prep_vma(&mut vrm)?;
            if vrm.implies_new_addr() {
                self.mremap_to(&mut vrm)?
            } else {
                self.mremap_at(&mut vrm)?
            }
        };
        if vrm.populate_expand {
            let start = vrm.new_addr.wrapping_add(vrm.old_len);
            let _ = self.mm_populate(start, start.wrapping_add(vrm.delta), true);
        }
        Ok(res)
    }

    /// `check_mremap_params`: checks that need no VMA.
    fn check_mremap_params(&self, vrm: &Remap) -> SysResult<()> {
        if vrm.flags.bits()
            & !(MremapFlags::MAYMOVE | MremapFlags::FIXED | MremapFlags::DONTUNMAP).bits()
            != 0
        {
            bail!(EINVAL, "check_mremap_params: unknown flags");
        }
        if !is_page_aligned(vrm.addr) {
            bail!(EINVAL, "check_mremap_params: old_address not page-aligned");
        }
        if vrm.new_len == 0 {
            bail!(EINVAL, "check_mremap_params: new_size is 0 after rounding");
        }
        let task_size = self.cfg.task_size;
        if vrm.new_len > task_size {
            bail!(EINVAL, "check_mremap_params: new_size > TASK_SIZE");
        }
        if !vrm.implies_new_addr() {
            return Ok(());
        }
        if vrm.new_addr > task_size - vrm.new_len {
            bail!(
                EINVAL,
                "check_mremap_params: new_address + new_size > TASK_SIZE"
            );
        }
        if !is_page_aligned(vrm.new_addr) {
            bail!(EINVAL, "check_mremap_params: new_address not page-aligned");
        }
        if !vrm.maymove() {
            bail!(
                EINVAL,
                "check_mremap_params: MREMAP_FIXED/MREMAP_DONTUNMAP without MREMAP_MAYMOVE"
            );
        }
        if vrm.dontunmap() && vrm.old_len != vrm.new_len {
            bail!(
                EINVAL,
                "check_mremap_params: MREMAP_DONTUNMAP with different sizes"
            );
        }
        let end_old = vrm.addr.wrapping_add(vrm.old_len);
        let end_new = vrm.new_addr.wrapping_add(vrm.new_len);
        if end_old > vrm.new_addr && end_new > vrm.addr {
            bail!(
                EINVAL,
                "vrm_overlaps: source and destination ranges overlap"
            );
        }
        if self.map_count() + 2 >= self.cfg.max_map_count.saturating_sub(3) {
            bail!(
                ENOMEM,
                "check_mremap_params: map_count too close to max_map_count"
            );
        }
        Ok(())
    }

    /// `check_prep_vma`: the checks on the VMA at `old_address`.
    fn check_prep_vma(&mut self, vrm: &mut Remap) -> SysResult<()> {
        let Some(vma) = self.vma_at(vrm.addr).cloned() else {
            bail!(EFAULT, "check_prep_vma: no VMA at old_address");
        };
        vrm.classify();
        if !vrm.implies_new_addr() {
            vrm.new_addr = vrm.addr;
        }
        // Only a growth or a move needs the rest.
        if vrm.remap_type != RemapType::Expand && !vrm.implies_new_addr() {
            return Ok(());
        }
        let mut old_len = vrm.old_len;
        let new_len = vrm.new_len;
        if old_len == 0 && !vma.is_shareable() {
            bail!(EINVAL, "check_prep_vma: old_size 0 on a private mapping");
        }
        if vrm.dontunmap()
            && vma
                .vm_flags
                .intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP)
        {
            bail!(
                EINVAL,
                "check_prep_vma: MREMAP_DONTUNMAP on a special mapping"
            );
        }
        if vrm.remap_type == RemapType::Shrink {
            old_len = new_len;
        }
        if old_len > vma.end - vrm.addr {
            bail!(
                EFAULT,
                "check_prep_vma: range extends past the end of the VMA"
            );
        }
        if new_len == old_len {
            return Ok(());
        }
        if vma.vm_flags.contains(VmFlags::LOCKED) {
            vrm.populate_expand = true;
        }
        let pgoff = vma.pgoff_at(vrm.addr);
        if pgoff.checked_add(pages(new_len)).is_none() {
            vrm.populate_expand = false;
            bail!(EINVAL, "check_prep_vma: page offset overflows");
        }
        if vma
            .vm_flags
            .intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP)
        {
            vrm.populate_expand = false;
            bail!(EFAULT, "check_prep_vma: special mappings cannot grow");
        }
        if !self.mlock_future_ok(vma.vm_flags, pages(vrm.delta)) {
            vrm.populate_expand = false;
            bail!(
                EAGAIN,
                "mlock_future_ok: growth would exceed RLIMIT_MEMLOCK"
            );
        }
        if !self.may_expand_vm(vma.vm_flags, pages(vrm.delta)) {
            vrm.populate_expand = false;
            bail!(
                ENOMEM,
                "may_expand_vm: growth would exceed RLIMIT_AS or RLIMIT_DATA"
            );
        }
        Ok(())
    }

    /// `mremap_at`: no new address implied—no-op, shrink, or expand (in place or by
    /// moving).
    fn mremap_at(&mut self, vrm: &mut Remap) -> SysResult<u64> {
        match vrm.remap_type {
            RemapType::NoResize => Ok(vrm.addr),
            RemapType::Shrink => {
                self.shrink_vma(vrm)?;
                Ok(vrm.addr)
            }
            RemapType::Expand => self.expand_vma(vrm),
        }
    }

    /// `shrink_vma`: unmap the tail `[addr + new_len, addr + old_len)` with munmap
    /// semantics (it may cover other VMAs and holes).
    fn shrink_vma(&mut self, vrm: &Remap) -> SysResult<()> {
        let start = vrm.addr.wrapping_add(vrm.new_len);
        self.munmap(start, vrm.delta).map(|_| ())
    }

    /// `expand_vma`: grow in place when the range ends at the VMA end and the space
    /// after it is free; otherwise move (with `MREMAP_MAYMOVE`).
    fn expand_vma(&mut self, vrm: &mut Remap) -> SysResult<u64> {
        let vma = self
            .vma_at(vrm.addr)
            .cloned()
            .expect("checked by check_prep_vma");
        if vma.end - vrm.addr == vrm.old_len && self.vma_expandable(&vma, vrm.delta) {
            self.expand_vma_in_place(&vma, vrm.delta)?;
            return Ok(vrm.addr);
        }
        if !vrm.maymove() {
            vrm.populate_expand = false;
            bail!(
                ENOMEM,
                "expand_vma: cannot grow in place and MREMAP_MAYMOVE is not set"
            );
        }
        if let Err(e) = self.vrm_set_new_addr(vrm, &vma) {
            vrm.populate_expand = false;
            return Err(e);
        }
        self.move_vma(vrm)
            .inspect_err(|_| vrm.populate_expand = false)
    }

    /// `vma_expandable`: nothing mapped in `[end, end + delta)` and the grown VMA is a
    /// valid fixed area.
    fn vma_expandable(&mut self, vma: &Vma, delta: u64) -> bool {
        let Some(end) = vma.end.checked_add(delta) else {
            return false;
        };
        if self.intersects(vma.end, end) {
            return false;
        }
        self.get_unmapped_area(
            AreaKind::PrivateAnon,
            vma.start,
            end - vma.start,
            MapFlags::FIXED,
        )
        .is_ok()
    }

    /// `expand_vma_in_place`: charge, then extend through `vma_merge_extend` (which
    /// also merges a compatible following VMA).
    fn expand_vma_in_place(&mut self, vma: &Vma, delta: u64) -> SysResult<()> {
        let npages = pages(delta);
        let accounted = vma.vm_flags.contains(VmFlags::ACCOUNT);
        if accounted && !self.vm_acct(npages) {
            bail!(ENOMEM, "vrm_calc_charge: commit limit");
        }
        let pgoff = vma.pgoff.wrapping_add(vma.pages());
        if self
            .merge_new(
                vma.end,
                vma.end + delta,
                vma.vm_flags,
                vma.backing,
                pgoff,
                vma.anon,
            )
            .is_none()
        {
            if accounted {
                self.vm_unacct(npages);
            }
            bail!(ENOMEM, "vma_merge_extend: the VMA cannot be extended");
        }
        if vma.vm_flags.contains(VmFlags::LOCKED) {
            self.locked_vm += npages;
        }
        Ok(())
    }

    /// `vrm_set_new_addr`: choose the destination (exactly `new_address` with
    /// `MREMAP_FIXED`, `new_address` as a hint with `MREMAP_DONTUNMAP`, else a search).
    fn vrm_set_new_addr(&mut self, vrm: &mut Remap, vma: &Vma) -> SysResult<()> {
        let hint = if vrm.implies_new_addr() {
            vrm.new_addr
        } else {
            0
        };
        let kind = if vma.backing == Backing::Anon && !vma.vm_flags.contains(VmFlags::MAYSHARE) {
            AreaKind::PrivateAnon
        } else {
            AreaKind::File
        };
        vrm.new_addr = self.get_unmapped_area(
            kind,
            hint,
            vrm.new_len,
            if vrm.fixed() {
                MapFlags::FIXED
            } else {
                MapFlags::empty()
            },
        )?;
        Ok(())
    }

    /// `mremap_to`: a new address is implied (`MREMAP_FIXED` and/or
    /// `MREMAP_DONTUNMAP`).
    fn mremap_to(&mut self, vrm: &mut Remap) -> SysResult<u64> {
        let fail = |vrm: &mut Remap, e| {
            vrm.populate_expand = false;
            Err(e)
        };
        if vrm.fixed() {
            if let Err(e) = self.munmap(vrm.new_addr, vrm.new_len) {
                return fail(vrm, e);
            }
            if self.vma_at(vrm.addr).is_none() {
                vrm.populate_expand = false;
                bail!(EFAULT, "mremap_to: source VMA vanished");
            }
        }
        if vrm.remap_type == RemapType::Shrink {
            if let Err(e) = self.shrink_vma(vrm) {
                return fail(vrm, e);
            }
            vrm.old_len = vrm.new_len;
        }
        let vma = self.vma_at(vrm.addr).cloned().expect("checked above");
        if vrm.dontunmap() && !self.may_expand_vm(vma.vm_flags, pages(vrm.old_len)) {
            vrm.populate_expand = false;
            bail!(
                ENOMEM,
                "mremap_to: MREMAP_DONTUNMAP needs RLIMIT_AS headroom"
            );
        }
        if let Err(e) = self.vrm_set_new_addr(vrm, &vma) {
            return fail(vrm, e);
        }
        match self.move_vma(vrm) {
            Ok(a) => Ok(a),
            Err(e) => fail(vrm, e),
        }
    }

    /// `move_vma`: copy the VMA to `new_addr`, move the page tables, account, then
    /// unmap the source (or, with `MREMAP_DONTUNMAP`, keep it emptied and unlocked).
    fn move_vma(&mut self, vrm: &mut Remap) -> SysResult<u64> {
        let vma = self.vma_at(vrm.addr).cloned().expect("source VMA exists");
        self.prep_move_vma(vrm, &vma)?;
        let end = vrm.addr + vrm.old_len;
        // vrm_calc_charge
        let mut charged = 0;
        if vma.vm_flags.contains(VmFlags::ACCOUNT) {
            charged = if vrm.dontunmap() {
                pages(vrm.new_len)
            } else {
                pages(vrm.delta)
            };
            if !self.vm_acct(charged) {
                bail!(ENOMEM, "vrm_calc_charge: commit limit");
            }
        }
        let _ = charged;
        // A whole VMA moved and unmapped behind, which merges with nothing at the
        // destination, is relocated in place: the same as copy_vma's new VMA plus the
        // source's unmap, whose counters cancel out (see `relocate_vma`).
        let relocate = !vrm.dontunmap() && vma.start == vrm.addr && vma.end == end;
        let (new_start, relocated) = if relocate {
            self.relocate_vma(&vma, vrm.new_addr, vrm.new_len)
        } else {
            (
                self.copy_vma(&vma, vrm.addr, vrm.new_addr, vrm.new_len),
                false,
            )
        };
        // move_page_tables moves a huge PMD whole only when the whole block moves to an
        // aligned destination; anything else is split first. With source and
        // destination congruent modulo 2 MiB, the blocks strictly inside the range move
        // whole and only the two end blocks can be partial; otherwise no block lands
        // aligned and every block the range touches is split.
        let pmd = crate::addr::PMD_SIZE;
        let (src, dst, len) = (vrm.addr, vrm.new_addr, vrm.old_len);
        let first = crate::addr::align_down(src, pmd);
        let last = crate::addr::align_down((src + len).saturating_sub(1), pmd);
        if dst.wrapping_sub(src).is_multiple_of(pmd) {
            if first < src {
                self.split_huge_zero(first);
            }
            if src + len < last + pmd {
                self.split_huge_zero(last);
            }
        } else {
            let mut b = first;
            while b <= last {
                self.split_huge_zero(b);
                b += pmd;
            }
        }
        // try_realign_addr: a move that starts mid-block where nothing is mapped below
        // it on either side, at the same offset into a block on both, and that reaches
        // the next block boundary, starts at the block boundaries instead, so that the
        // first block's table moves as one pointer too.
        let (src, dst, len) = {
            let off = src % pmd;
            let free_below = |mm: &Self, start: u64, at: u64| {
                start == at
                    && mm
                        .find_vma(crate::addr::align_down(at, pmd))
                        .is_none_or(|v| v.start >= at)
            };
            if off != 0
                && off == dst % pmd
                && len >= pmd - off
                && free_below(self, vma.start, src)
                && free_below(self, new_start, dst)
            {
                (src - off, dst - off, len + off)
            } else {
                (src, dst, len)
            }
        };
        self.pt.move_range(src, dst, len);
        if relocated {
            // What unmapping the emptied source would still do to the page table.
            self.zap_range(src, src + len);
            self.free_pgtables(src, src + len);
            return Ok(vrm.new_addr);
        }
        // vrm_stat_account: the statistics counters follow the VMAs; locked_vm is
        // raised by the new length.
        let src_locked = vma.vm_flags.contains(VmFlags::LOCKED);
        if vrm.dontunmap() {
            if src_locked && self.cfg.dontunmap_locked_vm_quirk {
                self.locked_vm += pages(vrm.new_len);
            }
            self.dontunmap_complete(vrm, new_start);
        } else {
            if src_locked {
                self.locked_vm += pages(vrm.new_len);
            }
            self.unmap_source_vma(vrm);
        }
        Ok(vrm.new_addr)
    }

    /// `prep_move_vma`: the checks before anything is moved. The map count must leave
    /// room for the splits of the unmap that follows, and the VMA's `may_split` hook
    /// is asked about each end of the range that is not an end of the VMA.
    fn prep_move_vma(&self, vrm: &Remap, vma: &Vma) -> SysResult<()> {
        if self.map_count() >= self.cfg.max_map_count.saturating_sub(3) {
            bail!(ENOMEM, "prep_move_vma: map_count >= max_map_count - 3");
        }
        let (old_addr, old_end) = (vrm.addr, vrm.addr + vrm.old_len);
        if vma.start != old_addr {
            self.may_split(vma.start, old_addr)?;
        }
        if vma.end != old_end {
            self.may_split(vma.start, old_end)?;
        }
        Ok(())
    }

    /// `copy_vma`: the destination VMA, merged into a neighbour when compatible. An
    /// unfaulted private anonymous source gets an address-derived pgoff. Returns the
    /// start of the VMA that holds the destination.
    fn copy_vma(&mut self, vma: &Vma, addr: u64, new_addr: u64, new_len: u64) -> u64 {
        let pgoff = match self.merge_copy(vma, addr, new_addr, new_len) {
            Ok(k) => return k,
            Err(pgoff) => pgoff,
        };
        self.insert_vma(Vma {
            start: new_addr,
            end: new_addr + new_len,
            vm_flags: vma.vm_flags,
            pgoff,
            backing: vma.backing,
            anon: vma.anon,
        });
        new_addr
    }

    /// copy_vma's first half: the copy's page offset (address-derived for an
    /// unfaulted private anonymous source) and `vma_merge_new_range` at the
    /// destination. The merged VMA's start, or the page offset a new VMA gets.
    fn merge_copy(&mut self, vma: &Vma, addr: u64, new_addr: u64, len: u64) -> Result<u64, u64> {
        let mut pgoff = vma.pgoff_at(addr);
        if vma.backing == Backing::Anon && vma.anon.is_none() {
            pgoff = new_addr >> PAGE_SHIFT;
        }
        self.merge_new(
            new_addr,
            new_addr + len,
            vma.vm_flags,
            vma.backing,
            pgoff,
            vma.anon,
        )
        .ok_or(pgoff)
    }

    /// [`copy_vma`](Self::copy_vma) for a whole VMA that is unmapped after the move.
    /// When the destination merges with a neighbour, this is copy_vma's merge (and
    /// the caller goes on as after copy_vma). Otherwise the VMA itself moves to the
    /// destination, taking the start, end and page offset copy_vma's new VMA would
    /// have: that is what inserting the copy and unmapping the source come to, since
    /// the statistics counters and `locked_vm` (raised by the copy's length,
    /// lowered by the source's) change by the growth only, and the commit charge
    /// (`VM_ACCOUNT` cleared on the source before its unmap) by nothing. Returns the
    /// destination VMA's start and whether the VMA was relocated.
    fn relocate_vma(&mut self, vma: &Vma, new_addr: u64, len: u64) -> (u64, bool) {
        debug_assert!(len >= vma.end - vma.start, "a move never shrinks");
        let pgoff = match self.merge_copy(vma, vma.start, new_addr, len) {
            Ok(k) => return (k, false),
            Err(pgoff) => pgoff,
        };
        self.update_vma(vma.start, |v| {
            v.start = new_addr;
            v.end = new_addr + len;
            v.pgoff = pgoff;
        });
        if vma.vm_flags.contains(VmFlags::LOCKED) {
            self.locked_vm += pages(len) - vma.pages();
        }
        (new_addr, true)
    }

    /// `unmap_source_vma`: munmap the old range without returning the commit charge
    /// of the moved part (`VM_ACCOUNT` is cleared for the unmap and restored on the
    /// remnants).
    fn unmap_source_vma(&mut self, vrm: &Remap) {
        let (addr, len) = (vrm.addr, vrm.old_len);
        let key = self.vma_at(addr).map(|v| v.start);
        let accountable = key.is_some_and(|k| self.vma(k).vm_flags.contains(VmFlags::ACCOUNT));
        let mut bounds = (0, 0);
        if let (true, Some(k)) = (accountable, key) {
            let v = self.vma(k);
            bounds = (v.start, v.end);
            self.update_vma(k, |v| v.vm_flags.remove(VmFlags::ACCOUNT));
        }
        if len == 0 || self.munmap(addr, len).is_err() {
            // The kernel's "OOM: unable to split vma, just get accounts right".
            self.committed += pages(len);
            return;
        }
        if accountable {
            let end = addr + len;
            if bounds.0 < addr
                && let Some(p) = self
                    .vma_before(addr)
                    .filter(|p| p.end == addr)
                    .map(|p| p.start)
            {
                self.update_vma(p, |v| v.vm_flags.insert(VmFlags::ACCOUNT));
            }
            if bounds.1 > end
                && let Some(n) = self
                    .vma_from(end)
                    .filter(|n| n.start == end)
                    .map(|n| n.start)
            {
                self.update_vma(n, |v| v.vm_flags.insert(VmFlags::ACCOUNT));
            }
        }
    }

    /// `dontunmap_complete`: the old VMA stays, loses `VM_LOCKED`/`VM_LOCKONFAULT`
    /// (as a whole, without touching `locked_vm`), and drops its anon_vma if it was
    /// moved entirely.
    fn dontunmap_complete(&mut self, vrm: &Remap, new_start: u64) {
        let Some(old) = self.vma_at(vrm.addr).cloned() else {
            return;
        };
        let whole = vrm.addr == old.start && vrm.addr + vrm.old_len == old.end;
        let merged_into_old = new_start == old.start;
        self.update_vma(old.start, |v| {
            v.vm_flags.remove(VmFlags::LOCKED_MASK);
            if !merged_into_old && whole {
                v.anon = None;
            }
        });
        let recount: u64 = self
            .vmas
            .iter()
            .filter(|v| v.vm_flags.contains(VmFlags::LOCKED))
            .map(Vma::pages)
            .sum();
        self.locked_vm_leak = self.locked_vm as i64 - recount as i64;
    }

    /// `remap_move`: a same-size `MREMAP_FIXED` move of a range that may span several
    /// VMAs and holes; each VMA is moved in order, holes are reproduced.
    fn remap_move(&mut self, vrm: &mut Remap) -> SysResult<u64> {
        let start = vrm.addr;
        let end = vrm.addr.wrapping_add(vrm.old_len);
        let new_addr = vrm.new_addr;
        let mut target = new_addr;
        let mut res = None;
        let mut seen = false;
        let mut last_end = 0;
        let mut cursor = start;
        // The kernel's iterator resumes after the last VMA it handled and stops once it
        // is past the end of the range, even if a move merged pieces back together.
        while cursor < end
            && let Some(vma) = self.find_vma(cursor).cloned()
        {
            if vma.start >= end {
                break;
            }
            if !seen && start < vma.start {
                bail!(EFAULT, "remap_move: the range starts in a hole");
            }
            let addr = vma.start.max(start);
            let len = end.min(vma.end) - addr;
            let offset = if seen {
                vma.start.wrapping_sub(last_end)
            } else {
                0
            };
            last_end = vma.end;
            let mut piece = Remap {
                addr,
                old_len: len,
                new_len: len,
                flags: vrm.flags,
                new_addr: target + offset,
                delta: 0,
                remap_type: RemapType::NoResize,
                populate_expand: false,
            };
            self.check_prep_vma(&mut piece)?;
            let r = self.mremap_to(&mut piece)?;
            if !seen {
                res = Some(r);
            }
            seen = true;
            target = r.wrapping_add(len);
            cursor = vma.end;
        }
        match res {
            Some(r) => Ok(r),
            None => bail!(EFAULT, "remap_move: no VMA in the range"),
        }
    }
}
