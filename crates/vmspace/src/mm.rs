//! `Mm`: one process address space (the kernel's `mm_struct`).
//!
//! Invariants (checked by [`Mm::check_invariants`] after every operation in tests):
//! - VMAs are page-aligned, non-empty, sorted and non-overlapping (keyed by start);
//! - every present page-table entry lies inside a VMA;
//! - frame reference counts equal page-table references plus page-cache holds;
//! - `total_vm`, `data_vm`, `exec_vm`, `stack_vm` equal sums over the VMAs, and
//!   `locked_vm` equals the locked VMAs' pages plus the DONTUNMAP quirk's leak;
//! - object reference counts equal the VMAs and descriptors that refer to them.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::addr::{PAGE_SIZE, pages};
use crate::config::Config;
use crate::error::{SysResult, bail};
use crate::flags::VmFlags;
use crate::frame::{FrameStore, Frames, MemStore};
use crate::maps::MapsLine;
use crate::object::Object;
use crate::pagetable::PageTable;
use crate::vma::{
    AnonId, Backing, ForeignId, ObjId, Vma, is_data_mapping, is_exec_mapping, is_stack_mapping,
};
use crate::vmaset::VmaSet;

/// A mapping the model did not create: a file of a seeded process or a special mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Foreign {
    /// Name column.
    pub(crate) name: String,
    pub(crate) dev_major: u32,
    pub(crate) dev_minor: u32,
    pub(crate) inode: u64,
    /// A special mapping (`[vdso]`, `[vvar]`, ...): refuses splits, keeps its name
    /// when moved, offset column always 0.
    pub(crate) special: bool,
}

/// An open file descriptor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fd {
    /// A memfd the model created.
    Object(ObjId),
    /// A descriptor the seeded process had (not usable for mapping).
    Foreign,
}

/// One process address space.
#[derive(Debug)]
pub struct Mm {
    pub(crate) cfg: Config,
    /// The VMAs in address order, with the free gap below each.
    pub(crate) vmas: VmaSet,
    pub(crate) pt: PageTable,
    pub(crate) frames: Frames,
    pub(crate) objects: BTreeMap<ObjId, Object>,
    pub(crate) foreign: Vec<Foreign>,
    pub(crate) fds: BTreeMap<u32, Fd>,
    pub(crate) next_anon: u32,
    pub(crate) next_obj: u32,
    pub(crate) next_inode: u64,
    /// `mm->start_brk`.
    pub(crate) start_brk: u64,
    /// `mm->brk`.
    pub(crate) brk: u64,
    /// `mm->start_stack` (the VMA containing it is labelled `[stack]`).
    pub(crate) start_stack: u64,
    /// Counters in pages (`vm_stat_account`).
    pub(crate) total_vm: u64,
    pub(crate) data_vm: u64,
    pub(crate) exec_vm: u64,
    pub(crate) stack_vm: u64,
    /// `mm->locked_vm` in pages.
    pub(crate) locked_vm: u64,
    /// Pages of `locked_vm` that no VMA accounts for (the 6.15+ DONTUNMAP quirk).
    pub(crate) locked_vm_leak: i64,
    /// Size of the data segment (`end_data - start_data`) for RLIMIT_DATA on brk.
    pub(crate) data_segment: u64,
    /// Pages this process has charged to the commit counter.
    pub(crate) committed: u64,
    /// `mm->def_flags` (`VM_LOCKED`/`VM_LOCKONFAULT` after `mlockall(MCL_FUTURE)`).
    pub(crate) def_flags: VmFlags,
    /// The `[vsyscall]` gate line, printed after the VMAs.
    pub(crate) gate: Option<MapsLine>,
    /// The process's uid after `setuid` (0 while privileged).
    pub(crate) uid: u32,
    /// Incremented whenever any VMA (or the brk/stack labels) changes.
    pub(crate) generation: u64,
    /// Has a huge zero PMD ever been mapped? Until then there is none to split, and
    /// edges need not be looked at.
    pub(crate) huge_zero_used: bool,
    /// Why the last failing call failed.
    pub(crate) last_reason: &'static str,
}

impl Mm {
    /// An empty address space with the default in-memory frame store.
    pub fn new(cfg: Config) -> Self {
        Self::with_store(cfg, Box::new(MemStore::default()))
    }

    /// An empty address space whose frame contents live in `store`.
    pub fn with_store(cfg: Config, store: Box<dyn FrameStore + Send>) -> Self {
        let mut fds = BTreeMap::new();
        for fd in 0..3 {
            fds.insert(fd, Fd::Foreign);
        }
        Self {
            cfg,
            vmas: VmaSet::new(),
            pt: PageTable::new(),
            frames: Frames::new(store),
            objects: BTreeMap::new(),
            foreign: Vec::new(),
            fds,
            next_anon: 1,
            next_obj: 1,
            next_inode: 1,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            total_vm: 0,
            data_vm: 0,
            exec_vm: 0,
            stack_vm: 0,
            locked_vm: 0,
            locked_vm_leak: 0,
            data_segment: 0,
            committed: 0,
            def_flags: VmFlags::empty(),
            gate: None,
            uid: 0,
            generation: 0,
            huge_zero_used: false,
            last_reason: "",
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Why the most recent failing call failed (the kernel check, named).
    pub fn last_reason(&self) -> &'static str {
        self.last_reason
    }

    /// Number of VMAs (`map_count`).
    pub fn map_count(&self) -> u64 {
        self.vmas.len() as u64
    }

    /// The VMAs in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.iter()
    }

    /// The VMAs that intersect `[start, end)`, in address order, at a cost of one
    /// search plus their number.
    pub fn vmas_in(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> {
        let first = self
            .vmas
            .at_or_below(start)
            .filter(|v| v.start < start && v.end > start && start < end);
        first.into_iter().chain(self.vmas.range(start, end))
    }

    /// A number that changes whenever the VMA list (or anything else the maps text
    /// shows) may have changed; equal numbers mean an identical maps text.
    pub fn vma_generation(&self) -> u64 {
        self.generation ^ self.brk.rotate_left(17) ^ self.start_stack.rotate_left(41)
    }

    /// Table pointers and entries visited by page-table moves so far.
    pub fn pagetable_move_visits(&self) -> u64 {
        self.pt.move_visits
    }

    /// Page tables currently allocated below the root.
    pub fn pagetable_tables(&self) -> u64 {
        self.pt.tables()
    }

    /// Frames in use (not counting the zero page).
    pub fn frames_in_use(&self) -> u64 {
        self.frames.in_use()
    }

    /// The current break (`mm->brk`).
    pub fn brk_value(&self) -> u64 {
        self.brk
    }

    // ----- lookup ---------------------------------------------------------------------

    /// `find_vma`: the first VMA that ends above `addr`.
    pub(crate) fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.find_vma(addr)
    }

    /// The VMA containing `addr`.
    pub(crate) fn vma_at(&self, addr: u64) -> Option<&Vma> {
        self.vmas.at_or_below(addr).filter(|v| v.end > addr)
    }

    /// The last VMA that starts below `addr`.
    pub(crate) fn vma_before(&self, addr: u64) -> Option<&Vma> {
        self.vmas.below(addr)
    }

    /// The first VMA that starts at or after `addr`.
    pub(crate) fn vma_from(&self, addr: u64) -> Option<&Vma> {
        self.vmas.from(addr)
    }

    /// Starts of the VMAs intersecting `[start, end)`.
    pub(crate) fn keys_in(&self, start: u64, end: u64) -> Vec<u64> {
        let mut keys = Vec::new();
        if let Some(v) = self.find_vma(start).filter(|v| v.start < start) {
            keys.push(v.start);
        }
        keys.extend(self.vmas.range(start, end).map(|v| v.start));
        keys
    }

    /// Does any VMA intersect `[start, end)`?
    pub(crate) fn intersects(&self, start: u64, end: u64) -> bool {
        self.find_vma(start).is_some_and(|v| v.start < end)
    }

    pub(crate) fn vma(&self, key: u64) -> &Vma {
        self.vmas.get(key).expect("a VMA starts at the key")
    }

    // ----- insert/remove with accounting ------------------------------------------------

    fn stat_account(&mut self, flags: VmFlags, npages: i64) {
        self.generation = self.generation.wrapping_add(1);
        let add = |c: &mut u64| *c = c.wrapping_add_signed(npages);
        add(&mut self.total_vm);
        if is_exec_mapping(flags) {
            add(&mut self.exec_vm);
        } else if is_stack_mapping(flags) {
            add(&mut self.stack_vm);
        } else if is_data_mapping(flags) {
            add(&mut self.data_vm);
        }
    }

    fn obj_ref(&mut self, b: Backing, delta: i32) {
        if let Backing::Object(id) = b {
            let o = self
                .objects
                .get_mut(&id)
                .expect("VMA refers to a live object");
            o.vma_refs = o.vma_refs.wrapping_add_signed(delta);
        }
    }

    /// Insert a VMA (no merging) and account it in the statistics counters.
    pub(crate) fn insert_vma(&mut self, vma: Vma) {
        self.stat_account(vma.vm_flags, vma.pages() as i64);
        self.obj_ref(vma.backing, 1);
        self.vmas.insert(vma);
    }

    /// Remove a VMA (the page table is not touched) and unaccount it.
    pub(crate) fn remove_vma(&mut self, key: u64) -> Vma {
        let vma = self.vmas.remove(key).expect("removing an existing VMA");
        self.stat_account(vma.vm_flags, -(vma.pages() as i64));
        self.obj_ref(vma.backing, -1);
        self.maybe_free_object(vma.backing);
        vma
    }

    /// Change a VMA's extent or attributes (its start may move; it must overlap no
    /// other VMA afterwards); its new start.
    pub(crate) fn update_vma(&mut self, key: u64, f: impl FnOnce(&mut Vma)) -> u64 {
        let (mut old, mut new) = ((VmFlags::empty(), 0), (VmFlags::empty(), 0));
        let k = self
            .vmas
            .update(key, |v| {
                old = (v.vm_flags, v.pages());
                f(v);
                new = (v.vm_flags, v.pages());
            })
            .expect("updating an existing VMA");
        self.stat_account(old.0, -(old.1 as i64));
        self.stat_account(new.0, new.1 as i64);
        k
    }

    /// Free the object behind `b` if nothing refers to it any more.
    #[inline]
    pub(crate) fn maybe_free_object(&mut self, b: Backing) {
        if let Backing::Object(id) = b {
            self.free_object_if_unused(id);
        }
    }

    fn free_object_if_unused(&mut self, id: ObjId) {
        let dead = self
            .objects
            .get(&id)
            .is_some_and(|o| o.vma_refs == 0 && o.fd_refs == 0);
        if dead {
            let o = self.objects.remove(&id).expect("checked above");
            for (_, f) in o.pages {
                self.frames.put(f);
            }
        }
    }

    pub(crate) fn new_anon(&mut self) -> AnonId {
        let id = AnonId(self.next_anon);
        self.next_anon += 1;
        id
    }

    // ----- splitting ------------------------------------------------------------------

    /// The `may_split` hook (`vm_ops->may_split(vma, addr)`): may the VMA at `key` be
    /// split at `at`? Special mappings refuse any split, wherever it is.
    pub(crate) fn may_split(&self, key: u64, at: u64) -> SysResult<()> {
        let v = self.vma(key);
        debug_assert!(v.start <= at && at <= v.end, "split point outside the VMA");
        Self::may_split_vma(&self.foreign, v)
    }

    /// [`may_split`](Self::may_split) for a VMA at hand (`foreign` is `Mm::foreign`).
    fn may_split_vma(foreign: &[Foreign], v: &Vma) -> SysResult<()> {
        if let Backing::Foreign(ForeignId(i)) = v.backing
            && foreign[i as usize].special
        {
            bail!(
                EINVAL,
                "special_mapping_split: special mappings cannot be split"
            );
        }
        Ok(())
    }

    /// `__split_vma` (no map_count check): split the VMA at `key` at `at`; returns the
    /// start of the upper part.
    pub(crate) fn split_vma_nocheck(&mut self, key: u64, at: u64) -> SysResult<u64> {
        // The may_split hook on the VMA the split finds.
        let foreign = &self.foreign;
        let backing = self
            .vmas
            .split_checked(key, at, |v| Self::may_split_vma(foreign, v))
            .expect("splitting an existing VMA")?
            .backing;
        // vma_adjust_trans_huge: a huge PMD across the split point is split.
        if !at.is_multiple_of(crate::addr::PMD_SIZE) {
            self.split_huge_zero(crate::addr::align_down(at, crate::addr::PMD_SIZE));
        }
        // Counters are unchanged by a split; only the object gains a reference.
        self.generation = self.generation.wrapping_add(1);
        self.obj_ref(backing, 1);
        Ok(at)
    }

    /// `split_vma`: refuses when `map_count >= max_map_count`.
    pub(crate) fn split_vma(&mut self, key: u64, at: u64) -> SysResult<u64> {
        if self.map_count() >= self.cfg.max_map_count {
            bail!(ENOMEM, "split_vma: map_count >= max_map_count");
        }
        self.split_vma_nocheck(key, at)
    }

    // ----- merging --------------------------------------------------------------------

    /// `is_mergeable_vma`: same flags (ignoring soft-dirty) and the same file.
    pub(crate) fn is_mergeable(a: &Vma, flags: VmFlags, backing: Backing) -> bool {
        (a.vm_flags ^ flags)
            .difference(VmFlags::SOFTDIRTY)
            .is_empty()
            && a.backing == backing
    }

    /// `is_mergeable_anon_vma` without fork: equal, or at least one side has none.
    pub(crate) fn anon_compatible(a: Option<AnonId>, b: Option<AnonId>) -> bool {
        a.is_none() || b.is_none() || a == b
    }

    /// `vma_merge_new_range`: try to place a new mapping `[start, end)` with the given
    /// attributes by extending a neighbour instead of inserting a VMA. Returns the
    /// start key of the merged VMA, or `None` when nothing merged.
    pub(crate) fn merge_new(
        &mut self,
        start: u64,
        end: u64,
        flags: VmFlags,
        backing: Backing,
        pgoff: u64,
        anon: Option<AnonId>,
    ) -> Option<u64> {
        if flags.intersects(VmFlags::SPECIAL) {
            return None;
        }
        let (before, after) = self.vmas.around(start, end);
        let prev = before.filter(|p| p.end == start).cloned();
        let next = after.filter(|n| n.start == end).cloned();
        let npages = pages(end - start);
        let left = prev.as_ref().is_some_and(|p| {
            Self::is_mergeable(p, flags, backing)
                && Self::anon_compatible(anon, p.anon)
                && p.pgoff.wrapping_add(p.pages()) == pgoff
        });
        let right = next.as_ref().is_some_and(|n| {
            Self::is_mergeable(n, flags, backing)
                && Self::anon_compatible(anon, n.anon)
                && pgoff.wrapping_add(npages) == n.pgoff
                && (!left || Self::anon_compatible(prev.as_ref().and_then(|p| p.anon), n.anon))
        });
        match (left, right) {
            (false, false) => None,
            (true, r) => {
                let p = prev.expect("left merge has a prev");
                let mut new_end = end;
                let mut merged_anon = p.anon.or(anon);
                if r {
                    let n = next.expect("right merge has a next");
                    merged_anon = merged_anon.or(n.anon);
                    new_end = n.end;
                    self.remove_vma(n.start);
                }
                self.update_vma(p.start, |v| {
                    v.end = new_end;
                    v.anon = merged_anon;
                });
                Some(p.start)
            }
            (false, true) => {
                let n = next.expect("right merge has a next");
                let merged_anon = n.anon.or(anon);
                Some(self.update_vma(n.start, |v| {
                    v.start = start;
                    v.pgoff = pgoff;
                    v.anon = merged_anon;
                }))
            }
        }
    }

    /// `vma_modify` for a range inside one VMA: first try `vma_merge_existing_range`
    /// with the new flags, else split off the parts outside `[start, end)`. Returns
    /// the key of the VMA that now covers exactly `[start, end)` with the new flags
    /// applied (or the merged VMA that contains it).
    pub(crate) fn vma_modify_flags(
        &mut self,
        key: u64,
        start: u64,
        end: u64,
        new_flags: VmFlags,
    ) -> SysResult<u64> {
        let (vma_start, vma_end) = match self.merge_existing(key, start, end, new_flags) {
            Ok(k) => return Ok(k),
            Err(bounds) => bounds,
        };
        let mut k = key;
        if vma_start < start {
            k = self.split_vma(k, start)?;
        }
        if vma_end > end {
            self.split_vma(k, end)?;
        }
        self.update_vma(k, |v| v.vm_flags = new_flags);
        Ok(k)
    }

    /// `vma_merge_existing_range`: the range `[start, end)` of the VMA at `key` is to
    /// get `new_flags`; merge it into a compatible neighbour when it touches one. The
    /// key of the merged VMA, or the VMA's bounds when nothing merged.
    fn merge_existing(
        &mut self,
        key: u64,
        start: u64,
        end: u64,
        new_flags: VmFlags,
    ) -> Result<u64, (u64, u64)> {
        let (before, mid, after) = self.vmas.with_neighbours(key).expect("an existing VMA");
        let left_side = start == mid.start;
        let right_side = end == mid.end;
        let bounds = (mid.start, mid.end);
        if new_flags.intersects(VmFlags::SPECIAL) || (!left_side && !right_side) {
            return Err(bounds);
        }
        let prev = before.filter(|p| left_side && p.end == mid.start).cloned();
        let next = after.filter(|n| right_side && n.start == mid.end).cloned();
        let mid = mid.clone();
        let pgoff = mid.pgoff_at(start);
        let npages = pages(end - start);
        let merge_left = prev.as_ref().is_some_and(|p| {
            Self::is_mergeable(p, new_flags, mid.backing)
                && Self::anon_compatible(mid.anon, p.anon)
                && p.pgoff.wrapping_add(p.pages()) == pgoff
        });
        let merge_right = next.as_ref().is_some_and(|n| {
            Self::is_mergeable(n, new_flags, mid.backing)
                && Self::anon_compatible(mid.anon, n.anon)
                && pgoff.wrapping_add(npages) == n.pgoff
                && (!merge_left
                    || Self::anon_compatible(prev.as_ref().and_then(|p| p.anon), n.anon))
        });
        if !merge_left && !merge_right {
            return Err(bounds);
        }
        let remove_middle = left_side && right_side;
        if merge_left && merge_right {
            let (p, n) = (prev.expect("left"), next.expect("right"));
            let anon = p.anon.or(n.anon).or(mid.anon);
            self.remove_vma(n.start);
            self.remove_vma(mid.start);
            self.update_vma(p.start, |v| {
                v.end = n.end;
                v.anon = anon;
            });
            Ok(p.start)
        } else if merge_left {
            let p = prev.expect("left");
            let anon = p.anon.or(mid.anon);
            if remove_middle {
                self.remove_vma(mid.start);
            } else {
                // Middle keeps [end, mid.end).
                self.update_vma(mid.start, |v| {
                    v.pgoff = v.pgoff_at(end);
                    v.start = end;
                });
            }
            self.update_vma(p.start, |v| {
                v.end = end;
                v.anon = anon;
            });
            Ok(p.start)
        } else {
            let n = next.expect("right");
            let anon = n.anon.or(mid.anon);
            if remove_middle {
                self.remove_vma(mid.start);
            } else {
                // Middle keeps [mid.start, start).
                self.update_vma(mid.start, |v| v.end = start);
            }
            Ok(self.update_vma(n.start, |v| {
                v.start = start;
                v.pgoff = pgoff;
                v.anon = anon;
            }))
        }
    }

    // ----- anon_vma ---------------------------------------------------------------------

    /// `anon_vma_prepare`: give the VMA an anon_vma, reusing a compatible neighbour's
    /// (`find_mergeable_anon_vma`, next first) or creating one.
    pub(crate) fn anon_vma_prepare(&mut self, key: u64) -> AnonId {
        let (before, v, after) = self.vmas.with_neighbours(key).expect("an existing VMA");
        if let Some(a) = v.anon {
            return a;
        }
        let compatible = |a: &Vma, b: &Vma| {
            a.end == b.start
                && a.backing == b.backing
                && (a.vm_flags ^ b.vm_flags)
                    .difference(VmFlags::ACCESS | VmFlags::SOFTDIRTY)
                    .is_empty()
                && b.pgoff == a.pgoff.wrapping_add(a.pages())
        };
        let next = after.filter(|n| compatible(v, n)).and_then(|n| n.anon);
        let prev = before.filter(|p| compatible(p, v)).and_then(|p| p.anon);
        let id = match next.or(prev) {
            Some(a) => a,
            None => self.new_anon(),
        };
        self.vmas.get_mut(key).expect("checked").anon = Some(id);
        id
    }

    // ----- unmapping --------------------------------------------------------------------

    /// Release every page-table entry in `[start, end)`. A huge zero PMD only partly
    /// inside the range is split first.
    pub(crate) fn zap_range(&mut self, start: u64, end: u64) {
        use crate::addr::{PMD_SIZE, align_down};
        for edge in [start, end] {
            if edge % PMD_SIZE != 0 {
                self.split_huge_zero(align_down(edge, PMD_SIZE));
            }
        }
        let frames = &mut self.frames;
        self.pt.clear(start, end, |_, f| frames.put(f));
    }

    /// Free the page tables that served `[start, end)` only, once the VMAs there are
    /// gone: those whose whole range lies between the VMA below and the VMA above.
    ///
    /// # Linux
    /// `vms_clear_ptes` -> `free_pgtables` with `unmap_start` (the previous VMA's end)
    /// and `unmap_end` (the next VMA's start) -> `free_pgd_range`.
    pub(crate) fn free_pgtables(&mut self, start: u64, end: u64) {
        let floor = self.vma_before(start).map_or(0, |v| v.end);
        let ceiling = self.vma_from(end).map_or(0, |v| v.start);
        self.pt.free_range(start, end, floor, ceiling);
    }

    /// `do_vmi_munmap` on a page-aligned range: unmap whatever lies in `[start, end)`,
    /// splitting VMAs at the edges.
    pub(crate) fn do_munmap(&mut self, start: u64, end: u64) -> SysResult<()> {
        // The last VMA starting below `end`: if it ends at or below `start`, nothing is
        // in the range; if it is exactly the range, it goes without splits or a search.
        match self.vmas.below(end) {
            None => return Ok(()),
            Some(v) if v.end <= start => return Ok(()),
            Some(v) if v.start == start && v.end == end => {
                self.unmap_whole_vma(start);
                self.free_pgtables(start, end);
                return Ok(());
            }
            // One end of a single VMA (no map_count check applies to it).
            Some(v) if (v.start < start && v.end == end) || (v.start == start && v.end > end) => {
                let key = v.start;
                self.may_split(key, if v.start < start { start } else { end })?;
                self.trim_vma(key, start, end);
                self.free_pgtables(start, end);
                return Ok(());
            }
            Some(_) => {}
        }
        if self.split_at_edges(start, end)? {
            self.unmap_inside(start, end);
            self.free_pgtables(start, end);
        }
        Ok(())
    }

    /// The gathering half of `vms_gather_munmap_vmas`: split the VMAs that straddle
    /// `start` or `end` (refusing, as the kernel does, a split that would exceed
    /// `max_map_count` when one VMA straddles both), so that every VMA meeting
    /// `[start, end)` lies inside it. Whether any VMA meets the range.
    pub(crate) fn split_at_edges(&mut self, start: u64, end: u64) -> SysResult<bool> {
        let Some((first_start, first_end)) = self.find_vma(start).map(|v| (v.start, v.end)) else {
            return Ok(false);
        };
        if first_start >= end {
            return Ok(false);
        }
        if start > first_start {
            if end < first_end && self.map_count() >= self.cfg.max_map_count {
                bail!(
                    ENOMEM,
                    "vms_gather_munmap_vmas: split would exceed max_map_count"
                );
            }
            self.split_vma_nocheck(first_start, start)?;
        }
        // No VMA straddles `start` now; the last one below `end` may straddle `end`.
        if let Some(v) = self.vmas.below(end)
            && v.start >= start
            && v.end > end
        {
            self.split_vma_nocheck(v.start, end)?;
        }
        Ok(true)
    }

    /// Unmap every VMA that starts inside `[start, end)` (after
    /// [`split_at_edges`](Self::split_at_edges), exactly those meeting the range).
    pub(crate) fn unmap_inside(&mut self, start: u64, end: u64) {
        // After a removal the set's finger rests beside it: each lookup is a step.
        while let Some(k) = self.vmas.from(start).map(|v| v.start).filter(|&k| k < end) {
            self.unmap_whole_vma(k);
        }
    }

    /// Unmap `[start, end)`, the head or the tail of the VMA at `key` (split and
    /// unmap in one step: the part that stays keeps the VMA's attributes, with its
    /// page offset advanced when the head goes).
    fn trim_vma(&mut self, key: u64, start: u64, end: u64) {
        let mut flags = VmFlags::empty();
        self.update_vma(key, |v| {
            flags = v.vm_flags;
            if v.start == start {
                v.pgoff = v.pgoff_at(end);
                v.start = end;
            } else {
                v.end = start;
            }
        });
        // zap_range also splits a huge zero PMD across the split point (the split's
        // vma_adjust_trans_huge), which is one of the range's edges.
        self.zap_range(start, end);
        self.unaccount_unmapped(flags, pages(end - start));
    }

    /// Remove a whole VMA: zap its pages, return its commit charge and locked pages.
    pub(crate) fn unmap_whole_vma(&mut self, key: u64) {
        let v = self.remove_vma(key);
        self.zap_range(v.start, v.end);
        self.unaccount_unmapped(v.vm_flags, v.pages());
    }

    /// `npages` of a VMA with `flags` were unmapped: return their locked pages and
    /// commit charge.
    fn unaccount_unmapped(&mut self, flags: VmFlags, npages: u64) {
        if flags.contains(VmFlags::LOCKED) {
            self.locked_vm -= npages;
        }
        if flags.contains(VmFlags::ACCOUNT) {
            self.vm_unacct(npages);
        }
    }

    // ----- limits and accounting --------------------------------------------------------

    /// `may_expand_vm`: RLIMIT_AS, and RLIMIT_DATA for data mappings.
    pub(crate) fn may_expand_vm(&self, flags: VmFlags, npages: u64) -> bool {
        let limit = |bytes: u64| bytes / PAGE_SIZE;
        if self.total_vm.saturating_add(npages) > limit(self.cfg.rlimits.address_space.cur) {
            return false;
        }
        if is_data_mapping(flags)
            && self.data_vm.saturating_add(npages) > limit(self.cfg.rlimits.data.cur)
        {
            // The kernel's workaround for Valgrind: a soft limit of 0 lets data grow up
            // to the hard limit.
            return self.cfg.rlimits.data.cur == 0
                && self.data_vm.saturating_add(npages) <= limit(self.cfg.rlimits.data.max);
        }
        true
    }

    /// `__vm_enough_memory` + charge: may `npages` more pages be committed?
    pub(crate) fn vm_acct(&mut self, npages: u64) -> bool {
        let ok = self.vm_enough_memory(npages);
        if ok {
            self.committed = self.committed.saturating_add(npages);
        }
        ok
    }

    /// `__vm_enough_memory` without charging.
    pub(crate) fn vm_enough_memory(&self, npages: u64) -> bool {
        let oc = &self.cfg.overcommit;

        match oc.mode {
            1 => true,
            2 => {
                let mut allowed = if oc.kbytes != 0 {
                    oc.kbytes / 4
                } else {
                    oc.total_ram_pages * oc.ratio / 100
                };
                allowed += oc.total_swap_pages;
                oc.committed_elsewhere_pages
                    .saturating_add(self.committed)
                    .saturating_add(npages)
                    <= allowed
            }
            _ => npages <= oc.total_ram_pages + oc.total_swap_pages,
        }
    }

    /// `vm_unacct_memory`.
    pub(crate) fn vm_unacct(&mut self, npages: u64) {
        self.committed = self.committed.saturating_sub(npages);
    }

    /// `mlock_future_ok`: may `npages` more pages be locked without CAP_IPC_LOCK?
    pub(crate) fn mlock_future_ok(&self, flags: VmFlags, npages: u64) -> bool {
        if !flags.contains(VmFlags::LOCKED) || self.cfg.privileged {
            return true;
        }
        self.locked_vm.saturating_add(npages) <= self.cfg.rlimits.memlock.cur / PAGE_SIZE
    }

    /// `can_do_mlock`.
    pub(crate) fn can_do_mlock(&self) -> bool {
        self.cfg.privileged || self.cfg.rlimits.memlock.cur != 0
    }

    /// `accountable_mapping`: private writable, not NORESERVE, not hugetlb.
    pub(crate) fn accountable(flags: VmFlags) -> bool {
        flags & (VmFlags::NORESERVE | VmFlags::SHARED | VmFlags::WRITE | VmFlags::HUGETLB)
            == VmFlags::WRITE
    }

    /// Lowest free descriptor number.
    pub(crate) fn alloc_fd(&self) -> u32 {
        let mut n = 0;
        for &fd in self.fds.keys() {
            if fd != n {
                break;
            }
            n += 1;
        }
        n
    }

    /// Whether the VMA has a `vm_file` (special mappings and private anonymous
    /// memory have none).
    pub(crate) fn has_vm_file(&self, v: &Vma) -> bool {
        match v.backing {
            Backing::Anon => false,
            Backing::Object(_) => true,
            Backing::Foreign(id) => !self.foreign[id.0 as usize].special,
        }
    }
}
