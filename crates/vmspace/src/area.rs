//! Address selection: `get_unmapped_area` and the top-down gap search.

use crate::Errno;
use crate::Mm;
use crate::addr::{PAGE_SIZE, PMD_SIZE, is_page_aligned, page_align_wrapping};
use crate::error::{SysError, SysResult, bail};
use crate::flags::{MapFlags, VmFlags};
use crate::vma::Vma;

/// What kind of object a new mapping is of, for choosing the allocator.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AreaKind {
    /// Private anonymous memory: eligible for THP alignment.
    PrivateAnon,
    /// Shared anonymous memory, a memfd (shmem's allocator), or a foreign file.
    File,
}

/// A request for `vm_unmapped_area`.
#[derive(Copy, Clone, Debug)]
struct Info {
    length: u64,
    low_limit: u64,
    high_limit: u64,
    align_mask: u64,
    align_offset: u64,
}

impl Mm {
    /// `__get_unmapped_area`: pick (or, with `MAP_FIXED`, validate) the address of a
    /// new mapping of `len` bytes (page-aligned, non-zero). Only `MAP_FIXED`,
    /// `MAP_32BIT` and `MAP_ABOVE4G` of `flags` matter.
    ///
    /// # Linux
    /// Mirrors `__get_unmapped_area`, `arch_get_unmapped_area_topdown` and
    /// `arch_get_unmapped_area` (x86-64), `thp_get_unmapped_area_vmflags` and
    /// `security_mmap_addr` of 6.18.
    pub(crate) fn get_unmapped_area(
        &mut self,
        kind: AreaKind,
        addr: u64,
        len: u64,
        flags: MapFlags,
    ) -> SysResult<u64> {
        // The gap search wants exact block maxima.
        self.vmas.flush();
        let task_size = self.cfg.task_size;
        if len > task_size {
            bail!(ENOMEM, "__get_unmapped_area: len > TASK_SIZE");
        }
        // A MAP_FIXED request at 0 also takes the THP path, as in the kernel.
        let thp = kind == AreaKind::PrivateAnon && addr == 0 && len.is_multiple_of(PMD_SIZE);
        let mut res = None;
        if thp {
            res = self.thp_get_unmapped_area(len, flags);
        }
        let addr = match res {
            Some(a) => a,
            None => self.arch_get_unmapped_area_topdown(addr, len, flags)?,
        };
        // IS_ERR_VALUE: the arch function returns a MAP_FIXED address unchanged, and
        // the kernel's functions return an address and an error in one value, so an
        // address in the last 4095 bytes is taken for the error code it encodes
        // (0xffff_ffff_ffff_fff3 is -EACCES).
        if let Some(errno) = Errno::from_raw(addr.wrapping_neg() as i64) {
            return Err(SysError::new(
                errno,
                "__get_unmapped_area: the address is an error value (IS_ERR_VALUE)",
            ));
        }
        if addr > task_size - len {
            bail!(ENOMEM, "__get_unmapped_area: area ends above TASK_SIZE");
        }
        if !is_page_aligned(addr) {
            bail!(EINVAL, "__get_unmapped_area: address not page-aligned");
        }
        if addr < self.cfg.mmap_min_addr && !self.cfg.privileged {
            bail!(
                EPERM,
                "cap_mmap_addr: below vm.mmap_min_addr without CAP_SYS_RAWIO"
            );
        }
        Ok(addr)
    }

    /// `__thp_get_unmapped_area` for anonymous memory: search for `len + 2 MiB` and
    /// place the mapping at the highest 2 MiB-aligned address in the found gap.
    fn thp_get_unmapped_area(&self, len: u64, flags: MapFlags) -> Option<u64> {
        let len_pad = len.checked_add(PMD_SIZE)?;
        let ret = self
            .arch_get_unmapped_area_topdown(0, len_pad, flags)
            .ok()?;
        if flags.contains(MapFlags::FIXED) && ret == 0 {
            return Some(0);
        }
        let off_sub = 0u64.wrapping_sub(ret) & (PMD_SIZE - 1);
        if off_sub == 0 {
            Some(ret + PMD_SIZE)
        } else {
            Some(ret + off_sub)
        }
    }

    /// `arch_get_unmapped_area_topdown` (x86-64, 4-level paging).
    fn arch_get_unmapped_area_topdown(
        &self,
        addr: u64,
        len: u64,
        flags: MapFlags,
    ) -> SysResult<u64> {
        if len > self.cfg.task_size {
            bail!(
                ENOMEM,
                "arch_get_unmapped_area_topdown: len too big for the address space"
            );
        }
        // No address checking: __get_unmapped_area and the MAP_FIXED_NOREPLACE check
        // of do_mmap judge a fixed address (the search's lower bound does not apply).
        if flags.contains(MapFlags::FIXED) {
            return Ok(addr);
        }
        if !flags.contains(MapFlags::BIT32) {
            if addr != 0 {
                let hint = addr & !(PAGE_SIZE - 1);
                if self.hint_usable(hint, len) {
                    return Ok(hint);
                }
            }
            let info = Info {
                length: len,
                low_limit: if flags.contains(MapFlags::ABOVE4G) {
                    1 << 32
                } else {
                    PAGE_SIZE
                },
                high_limit: self.cfg.mmap_base,
                align_mask: 0,
                align_offset: 0,
            };
            if let Some(a) = self.unmapped_area_topdown(&info) {
                return Ok(a);
            }
        }
        self.arch_get_unmapped_area(addr, len, flags)
    }

    /// `arch_get_unmapped_area` (x86-64): the bottom-up search, used for `MAP_32BIT`
    /// and when the top-down search fails.
    fn arch_get_unmapped_area(&self, addr: u64, len: u64, flags: MapFlags) -> SysResult<u64> {
        let (begin, end) = if flags.contains(MapFlags::BIT32) {
            (0x4000_0000, 0x8000_0000)
        } else {
            (
                page_align_wrapping(self.cfg.task_size / 3),
                self.cfg.task_size,
            )
        };
        if len > end {
            bail!(
                ENOMEM,
                "arch_get_unmapped_area: len larger than the search window"
            );
        }
        if addr != 0 {
            let hint = page_align_wrapping(addr);
            let fits = match self.find_vma(hint) {
                None => true,
                Some(v) => hint
                    .checked_add(len)
                    .is_some_and(|e| e <= v.start_gap(self.cfg.stack_guard_gap)),
            };
            if end - len >= hint && fits {
                return Ok(hint);
            }
        }
        let info = Info {
            length: len,
            low_limit: begin,
            high_limit: end,
            align_mask: 0,
            align_offset: 0,
        };
        match self.unmapped_area_bottomup(&info) {
            Some(a) => Ok(a),
            None => bail!(ENOMEM, "vm_unmapped_area: no gap large enough"),
        }
    }

    /// `mmap_address_hint_valid` plus the free-range test of the hint path.
    fn hint_usable(&self, hint: u64, len: u64) -> bool {
        let task_size = self.cfg.task_size;
        if task_size - len < hint {
            return false;
        }
        match self.find_vma(hint) {
            None => true,
            Some(v) => hint + len <= v.start_gap(self.cfg.stack_guard_gap),
        }
    }

    /// The highest free range inside `[low, high)` that can hold `length` bytes,
    /// returned as (start, end) clipped to `[low, high)`. `O(log n)`: the VMA set's gap
    /// maxima find the highest VMA below `high` with a large enough gap beneath it.
    fn highest_gap(&self, low: u64, high: u64, length: u64) -> Option<(u64, u64)> {
        if high <= low || high - low < length {
            return None;
        }
        // The free range that reaches up to `high`: above the last VMA starting
        // below it.
        let Some(v) = self.vmas.below_top(high) else {
            return Some((low, high));
        };
        let top = v.start;
        let gs = v.end.max(low);
        if high > gs && high - gs >= length {
            return Some((gs, high));
        }
        // Then the gaps below VMAs, highest first. A gap that only fits unclipped
        // but not above `low` means nothing lower fits either.
        let (key, gap) = self.vmas.highest_fit(top, length)?;
        let gs = (key - gap).max(low);
        (key > gs && key - gs >= length).then_some((gs, key))
    }

    /// `unmapped_area_topdown`.
    fn unmapped_area_topdown(&self, info: &Info) -> Option<u64> {
        let length = info.length.checked_add(info.align_mask)?;
        let low_limit = info.low_limit.max(self.cfg.search_min_addr);
        let mut high_limit = info.high_limit;
        loop {
            let (_, gap_end) = self.highest_gap(low_limit, high_limit, length)?;
            let mut gap = gap_end - info.length;
            gap -= gap.wrapping_sub(info.align_offset) & info.align_mask;
            // The VMA just above the free range that contains the gap.
            if let Some(next) = self.vma_from(gap_end)
                && next.vm_flags.contains(VmFlags::GROWSDOWN)
            {
                let sg = next.start_gap(self.cfg.stack_guard_gap);
                if sg < gap_end {
                    high_limit = sg;
                    continue;
                }
            }
            return Some(gap);
        }
    }

    /// `unmapped_area` (bottom-up): the lowest gap in `[low, high)`.
    fn unmapped_area_bottomup(&self, info: &Info) -> Option<u64> {
        let length = info.length.checked_add(info.align_mask)?;
        let mut low_limit = info.low_limit.max(self.cfg.search_min_addr);
        let high_limit = info.high_limit;
        loop {
            let (gs, next) = self.lowest_gap(low_limit, high_limit, length)?;
            let mut gap = gs;
            gap += info.align_offset.wrapping_sub(gap) & info.align_mask;
            if let Some(n) = next
                && n.vm_flags.contains(VmFlags::GROWSDOWN)
                && n.start_gap(self.cfg.stack_guard_gap) < gap + length - 1
            {
                low_limit = n.end;
                continue;
            }
            return Some(gap);
        }
    }

    /// The lowest free range at or above `low` that holds `length` bytes below
    /// `high`: its start and the VMA just above it (none: the range reaches `high`).
    /// `O(log n)`: after the first range (which `low` may clip), every free range is
    /// the whole gap below a VMA, and the VMA set's gap maxima find the lowest one
    /// that is large enough. The VMAs in between end below it, so the walk that
    /// stops at the first VMA reaching `high` is the check that that gap starts
    /// below `high`.
    fn lowest_gap(&self, low: u64, high: u64, length: u64) -> Option<(u64, Option<&Vma>)> {
        let gs = self.vma_at(low).map_or(low, |v| v.end);
        let next = self.vma_from(gs);
        let ge = next.map_or(high, |n| n.start.min(high));
        if ge > gs && ge - gs >= length {
            return Some((gs, next));
        }
        let first = next?;
        if first.end >= high {
            return None;
        }
        let (gs, next) = match self.vmas.lowest_fit(first.start + 1, length) {
            Some((start, gap)) => (start - gap, self.vma_from(start)),
            // Above the highest VMA.
            None => (self.vmas.last().map_or(first.end, |v| v.end), None),
        };
        let ge = next.map_or(high, |n| n.start.min(high));
        (gs < high && ge - gs >= length).then_some((gs, next))
    }
}
