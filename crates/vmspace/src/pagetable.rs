//! The page table: a 4-level radix tree (PGD, PUD, PMD, PTE; 512 entries a level).
//!
//! Tables live as long as Linux's do, because whether a PTE table exists under a PMD
//! entry (`pmd_none`) decides whether a fault may map a transparent huge page: a zap
//! (`zap_pte_range`) empties entries but keeps the tables; they are freed when the
//! VMAs over them go (`free_pgd_range`, see [`PageTable::free_range`]) or, for
//! `MADV_DONTNEED` over a whole PMD, by PT_RECLAIM ([`PageTable::reclaim_empty`]). A
//! move of a range whose source and destination are both aligned to a whole PMD
//! (2 MiB) or PUD (1 GiB) transfers the table as one pointer, as Linux's
//! `move_page_tables()` does; only ragged edges move entry by entry, and they give
//! the destination a PTE table wherever the source has one, even an empty one.

use alloc::boxed::Box;

use crate::addr::{PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, PUD_SIZE};
use crate::frame::FrameId;

const N: usize = 512;

/// Index of `va` in a table whose entries each cover `1 << shift` bytes.
fn idx(va: u64, shift: u32) -> usize {
    ((va >> shift) & (N as u64 - 1)) as usize
}

/// A PTE table: frame numbers, 0 for none.
#[derive(Debug)]
struct Leaf {
    e: Box<[FrameId; N]>,
    used: u16,
}

impl Leaf {
    fn new() -> Self {
        Self {
            e: Box::new([0; N]),
            used: 0,
        }
    }
}

/// An upper-level table.
#[derive(Debug)]
struct Dir<C> {
    e: Box<[Option<Box<C>>; N]>,
    used: u16,
}

impl<C> Dir<C> {
    fn new() -> Self {
        Self {
            e: Box::new([const { None }; N]),
            used: 0,
        }
    }
    fn take(&mut self, i: usize) -> Option<Box<C>> {
        let c = self.e[i].take();
        if c.is_some() {
            self.used -= 1;
        }
        c
    }
    fn put(&mut self, i: usize, c: Box<C>) {
        debug_assert!(self.e[i].is_none());
        self.used += 1;
        self.e[i] = Some(c);
    }
    fn child_or_new(&mut self, i: usize, new: impl FnOnce() -> C) -> &mut C {
        if self.e[i].is_none() {
            self.put(i, Box::new(new()));
        }
        self.e[i].as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

type Pmd = Dir<Leaf>;
type Pud = Dir<Pmd>;
type Pgd = Dir<Pud>;

const PGD_SHIFT: u32 = 39;
const PUD_SHIFT: u32 = 30;
const PMD_SHIFT: u32 = 21;

/// The page table of one address space.
#[derive(Debug)]
pub(crate) struct PageTable {
    root: Pgd,
    present: u64,
    tables: u64,
    /// Entries and table pointers touched by moves (for tests and benchmarks).
    pub(crate) move_visits: u64,
    /// Emptied PTE tables kept for reuse (all entries 0), so that a table freed and
    /// needed again soon is not allocated and zeroed again. At most [`SPARE_LEAVES`].
    spare: alloc::vec::Vec<Leaf>,
}

/// How many emptied PTE tables [`PageTable`] keeps for reuse (2 KiB each).
const SPARE_LEAVES: usize = 16;

/// Iterate the half-open range `[start, end)` in steps that stop at multiples of `step`.
fn chunks(start: u64, end: u64, step: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut s = start;
    core::iter::from_fn(move || {
        if s >= end {
            return None;
        }
        let next = (s | (step - 1)).saturating_add(1).min(end);
        let r = (s, next);
        s = next;
        Some(r)
    })
}

/// The PUD table under `root` covering `va`, created (and counted in `tables`) if missing.
fn pud_in<'a>(root: &'a mut Pgd, tables: &mut u64, va: u64) -> &'a mut Pud {
    root.child_or_new(idx(va, PGD_SHIFT), || {
        *tables += 1;
        Pud::new()
    })
}

/// The PMD table under `root` covering `va`, created (with its PUD) if missing.
fn pmd_in<'a>(root: &'a mut Pgd, tables: &mut u64, va: u64) -> &'a mut Pmd {
    pud_in(root, tables, va).child_or_new(idx(va, PUD_SHIFT), || {
        *tables += 1;
        Pmd::new()
    })
}

impl PageTable {
    pub(crate) fn new() -> Self {
        Self {
            root: Pgd::new(),
            present: 0,
            tables: 0,
            move_visits: 0,
            spare: alloc::vec::Vec::new(),
        }
    }

    /// Number of present entries.
    pub(crate) fn present(&self) -> u64 {
        self.present
    }

    /// Number of tables below the root (PUD, PMD and PTE tables).
    pub(crate) fn tables(&self) -> u64 {
        self.tables
    }

    fn leaf(&self, va: u64) -> Option<&Leaf> {
        let pud = self.root.e[idx(va, PGD_SHIFT)].as_deref()?;
        let pmd = pud.e[idx(va, PUD_SHIFT)].as_deref()?;
        pmd.e[idx(va, PMD_SHIFT)].as_deref()
    }

    fn leaf_mut(&mut self, va: u64) -> Option<&mut Leaf> {
        let pud = self.root.e[idx(va, PGD_SHIFT)].as_deref_mut()?;
        let pmd = pud.e[idx(va, PUD_SHIFT)].as_deref_mut()?;
        pmd.e[idx(va, PMD_SHIFT)].as_deref_mut()
    }

    /// The frame mapped at `va`, if any.
    pub(crate) fn get(&self, va: u64) -> Option<FrameId> {
        let f = self.leaf(va)?.e[idx(va, PAGE_SHIFT)];
        (f != 0).then_some(f)
    }

    /// Is there a PTE table (or a huge mapping) under the PMD entry covering `va`
    /// (`!pmd_none`), even one whose entries are all empty?
    pub(crate) fn has_pte_table(&self, va: u64) -> bool {
        self.leaf(va).is_some()
    }

    /// Is there a PMD table under the PUD entry covering `va` (`!pud_none`)?
    fn has_pmd_table(&self, va: u64) -> bool {
        self.root.e[idx(va, PGD_SHIFT)]
            .as_deref()
            .is_some_and(|pud| pud.e[idx(va, PUD_SHIFT)].is_some())
    }

    /// The PTE table covering `va`, created (with the tables above it) if missing.
    fn leaf_or_new(&mut self, va: u64) -> &mut Leaf {
        let tables = &mut self.tables;
        let spare = &mut self.spare;
        pmd_in(&mut self.root, tables, va).child_or_new(idx(va, PMD_SHIFT), || {
            *tables += 1;
            spare.pop().unwrap_or_else(Leaf::new)
        })
    }

    /// Map `frame` at `va`; returns the frame that was there.
    pub(crate) fn set(&mut self, va: u64, frame: FrameId) -> Option<FrameId> {
        debug_assert!(frame != 0);
        let leaf = self.leaf_or_new(va);
        let slot = &mut leaf.e[idx(va, PAGE_SHIFT)];
        let old = *slot;
        *slot = frame;
        if old == 0 {
            leaf.used += 1;
            self.present += 1;
            None
        } else {
            Some(old)
        }
    }

    /// Call `f(va, frame)` for every present entry in `[start, end)`, in address order.
    pub(crate) fn for_each(&self, start: u64, end: u64, mut f: impl FnMut(u64, FrameId)) {
        for (s1, e1) in chunks(start, end, 1 << PGD_SHIFT) {
            let Some(pud) = self.root.e[idx(s1, PGD_SHIFT)].as_deref() else {
                continue;
            };
            for (s2, e2) in chunks(s1, e1, PUD_SIZE) {
                let Some(pmd) = pud.e[idx(s2, PUD_SHIFT)].as_deref() else {
                    continue;
                };
                for (s3, e3) in chunks(s2, e2, PMD_SIZE) {
                    let Some(leaf) = pmd.e[idx(s3, PMD_SHIFT)].as_deref() else {
                        continue;
                    };
                    if leaf.used == 0 {
                        continue;
                    }
                    let mut va = s3;
                    while va < e3 {
                        let fr = leaf.e[idx(va, PAGE_SHIFT)];
                        if fr != 0 {
                            f(va, fr);
                        }
                        va += PAGE_SIZE;
                    }
                }
            }
        }
    }

    /// Remove every entry in `[start, end)`, calling `f(va, frame)` for each removed
    /// one. The tables stay, emptied or not (`zap_pte_range`).
    pub(crate) fn clear(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, FrameId)) {
        for (s1, e1) in chunks(start, end, 1 << PGD_SHIFT) {
            let Some(pud) = self.root.e[idx(s1, PGD_SHIFT)].as_deref_mut() else {
                continue;
            };
            for (s2, e2) in chunks(s1, e1, PUD_SIZE) {
                let Some(pmd) = pud.e[idx(s2, PUD_SHIFT)].as_deref_mut() else {
                    continue;
                };
                for (s3, e3) in chunks(s2, e2, PMD_SIZE) {
                    let Some(leaf) = pmd.e[idx(s3, PMD_SHIFT)].as_deref_mut() else {
                        continue;
                    };
                    let mut va = s3;
                    while va < e3 && leaf.used > 0 {
                        let slot = &mut leaf.e[idx(va, PAGE_SHIFT)];
                        if *slot != 0 {
                            f(va, *slot);
                            *slot = 0;
                            leaf.used -= 1;
                            self.present -= 1;
                        }
                        va += PAGE_SIZE;
                    }
                }
            }
        }
    }

    /// Take the PTE table of the block at `va` out of its PMD table (`pmd_clear` and
    /// `pte_free`), keeping it for reuse if it is empty.
    fn free_leaf(
        pmd: &mut Pmd,
        i3: usize,
        tables: &mut u64,
        present: &mut u64,
        spare: &mut alloc::vec::Vec<Leaf>,
    ) {
        if let Some(mut leaf) = pmd.take(i3) {
            *tables -= 1;
            if leaf.used > 0 {
                // Not reached: the range was zapped before its tables are freed.
                *present -= u64::from(leaf.used);
                leaf.e.iter_mut().for_each(|e| *e = 0);
                leaf.used = 0;
            }
            if spare.len() < SPARE_LEAVES {
                spare.push(*leaf);
            }
        }
    }

    /// PT_RECLAIM after an `MADV_DONTNEED` zap of `[start, end)` (one VMA's part):
    /// the PTE table of every whole 2 MiB block inside the range, now empty, is freed.
    ///
    /// # Linux
    /// `zap_pte_range` with `zap_details.reclaim_pt` (set by
    /// `madvise_dontneed_single_vma`) and `reclaim_pt_is_enabled` (the zapped part of
    /// the table spans a whole PMD), then `try_get_and_clear_pmd`/`free_pte` or
    /// `try_to_free_pte` (only if all its entries are none). The tables above stay.
    pub(crate) fn reclaim_empty(&mut self, start: u64, end: u64) {
        let first = start.next_multiple_of(PMD_SIZE);
        let last = end & !(PMD_SIZE - 1);
        if first >= last {
            return;
        }
        let (tables, present, spare) = (&mut self.tables, &mut self.present, &mut self.spare);
        for (s1, e1) in chunks(first, last, 1 << PGD_SHIFT) {
            let Some(pud) = self.root.e[idx(s1, PGD_SHIFT)].as_deref_mut() else {
                continue;
            };
            for (s2, e2) in chunks(s1, e1, PUD_SIZE) {
                let Some(pmd) = pud.e[idx(s2, PUD_SHIFT)].as_deref_mut() else {
                    continue;
                };
                for (s3, _) in chunks(s2, e2, PMD_SIZE) {
                    let i3 = idx(s3, PMD_SHIFT);
                    if pmd.e[i3].as_deref().is_some_and(|l| l.used == 0) {
                        Self::free_leaf(pmd, i3, tables, present, spare);
                    }
                }
            }
        }
    }

    /// Free the page tables of `[addr, end)` (the span of VMAs just unmapped) that no
    /// other VMA can use: a table is freed when the whole range it maps lies within
    /// `[floor, ceiling)` (the end of the VMA below and the start of the VMA above;
    /// `ceiling` 0 is the top of the address space).
    ///
    /// # Linux
    /// `free_pgtables` -> `free_pgd_range`, `free_pud_range`, `free_pmd_range`: the
    /// PTE tables of the 2 MiB blocks that meet the range and lie inside
    /// `[floor, ceiling)`, then a PMD (PUD) table when its whole 1 GiB (512 GiB) does.
    pub(crate) fn free_range(&mut self, addr: u64, end: u64, floor: u64, ceiling: u64) {
        const PMD_MASK: u64 = !(PMD_SIZE - 1);
        const PUD_MASK: u64 = !(PUD_SIZE - 1);
        const PGDIR_MASK: u64 = !((1u64 << PGD_SHIFT) - 1);
        let mut addr = addr & PMD_MASK;
        if addr < floor {
            addr = addr.wrapping_add(PMD_SIZE);
            if addr == 0 {
                return;
            }
        }
        let mut ceiling = ceiling;
        if ceiling != 0 {
            ceiling &= PMD_MASK;
            if ceiling == 0 {
                return;
            }
        }
        let mut end = end;
        if end.wrapping_sub(1) > ceiling.wrapping_sub(1) {
            end -= PMD_SIZE;
        }
        if addr > end.wrapping_sub(1) {
            return;
        }
        // May the table above a range starting at `start` (masked by `mask`) and
        // ending at `end` go?
        let may_free = |start: u64, end: u64, mask: u64| {
            if start & mask < floor {
                return false;
            }
            let c = if ceiling != 0 {
                let c = ceiling & mask;
                if c == 0 {
                    return false;
                }
                c
            } else {
                0
            };
            end.wrapping_sub(1) <= c.wrapping_sub(1)
        };
        let (tables, present, spare) = (&mut self.tables, &mut self.present, &mut self.spare);
        for (s1, e1) in chunks(addr, end, 1 << PGD_SHIFT) {
            let i1 = idx(s1, PGD_SHIFT);
            let Some(pud) = self.root.e[i1].as_deref_mut() else {
                continue;
            };
            for (s2, e2) in chunks(s1, e1, PUD_SIZE) {
                let i2 = idx(s2, PUD_SHIFT);
                let Some(pmd) = pud.e[i2].as_deref_mut() else {
                    continue;
                };
                for (s3, _) in chunks(s2, e2, PMD_SIZE) {
                    Self::free_leaf(pmd, idx(s3, PMD_SHIFT), tables, present, spare);
                }
                if may_free(s2, e2, PUD_MASK) {
                    let pmd = pud.take(i2).unwrap_or_else(|| unreachable!());
                    *tables -= 1 + pmd.e.iter().flatten().count() as u64;
                    *present -= Self::pmd_present(&pmd);
                }
            }
            if may_free(s1, e1, PGDIR_MASK) {
                let pud = self.root.take(i1).unwrap_or_else(|| unreachable!());
                for pmd in pud.e.iter().flatten() {
                    *tables -= 1 + pmd.e.iter().flatten().count() as u64;
                    *present -= Self::pmd_present(pmd);
                }
                *tables -= 1;
            }
        }
    }

    /// Number of present entries inside a PMD table subtree (for accounting after a
    /// pointer move).
    fn leaf_present(leaf: &Leaf) -> u64 {
        u64::from(leaf.used)
    }

    fn pmd_present(pmd: &Pmd) -> u64 {
        pmd.e.iter().flatten().map(|l| Self::leaf_present(l)).sum()
    }

    /// Move every entry of `[src, src + len)` to the same offset from `dst`. The
    /// destination range must hold no entries.
    ///
    /// # Linux
    /// `move_page_tables`, extent by extent: nothing under the source PUD or PMD
    /// entry, nothing to do; a whole aligned PUD (`move_normal_pud`) or PMD
    /// (`move_normal_pmd`, also a huge one: `move_huge_pmd`) moves as one pointer when
    /// nothing is under the destination entry; otherwise the destination gets a PTE
    /// table (`pte_alloc`, even when no entry of the extent is present) and the
    /// entries move one by one (`move_ptes`), leaving the source's table in place.
    pub(crate) fn move_range(&mut self, src: u64, dst: u64, len: u64) {
        let mut off = 0;
        while off < len {
            let (s, d, rem) = (src + off, dst + off, len - off);
            let pud_extent = (PUD_SIZE - s % PUD_SIZE)
                .min(PUD_SIZE - d % PUD_SIZE)
                .min(rem);
            if !self.has_pmd_table(s) {
                self.move_visits += 1;
                off += pud_extent;
                continue;
            }
            if pud_extent == PUD_SIZE && !self.has_pmd_table(d) {
                self.move_visits += 1;
                if let Some(pmd) = self.take_pud_entry(s) {
                    self.put_pud_entry(d, pmd);
                }
                off += PUD_SIZE;
                continue;
            }
            let extent = (PMD_SIZE - s % PMD_SIZE)
                .min(PMD_SIZE - d % PMD_SIZE)
                .min(rem);
            if !self.has_pte_table(s) {
                self.move_visits += 1;
                off += extent;
                continue;
            }
            // alloc_new_pmd
            pmd_in(&mut self.root, &mut self.tables, d);
            if extent == PMD_SIZE && !self.has_pte_table(d) {
                self.move_visits += 1;
                if let Some(leaf) = self.take_pmd_entry(s) {
                    self.put_pmd_entry(d, leaf);
                }
                off += PMD_SIZE;
                continue;
            }
            // Entry by entry within one PTE table of each side.
            let n = (extent / PAGE_SIZE) as usize;
            let mut buf = [0 as FrameId; N];
            let mut moved: u16 = 0;
            let i0 = idx(s, PAGE_SHIFT);
            if let Some(leaf) = self.leaf_mut(s)
                && leaf.used > 0
            {
                for (b, e) in buf[..n].iter_mut().zip(&mut leaf.e[i0..i0 + n]) {
                    if *e != 0 {
                        *b = core::mem::take(e);
                        moved += 1;
                    }
                }
                leaf.used -= moved;
                self.move_visits += n as u64;
            }
            self.present -= u64::from(moved);
            let dleaf = self.leaf_or_new(d);
            if moved > 0 {
                let j0 = idx(d, PAGE_SHIFT);
                // The destination range is unmapped before a move: its entries are
                // empty, so every moved entry adds one to the table's count.
                for (e, &b) in dleaf.e[j0..j0 + n].iter_mut().zip(&buf[..n]) {
                    if b != 0 {
                        debug_assert!(*e == 0, "a move onto a present entry");
                        *e = b;
                    }
                }
                dleaf.used += moved;
            }
            self.present += u64::from(moved);
            off += extent;
        }
    }

    fn take_pud_entry(&mut self, va: u64) -> Option<Box<Pmd>> {
        let i1 = idx(va, PGD_SHIFT);
        let pud = self.root.e[i1].as_deref_mut()?;
        // The PUD table stays (move_normal_pud clears the entry only).
        let pmd = pud.take(idx(va, PUD_SHIFT))?;
        self.present -= Self::pmd_present(&pmd);
        Some(pmd)
    }

    fn put_pud_entry(&mut self, va: u64, pmd: Box<Pmd>) {
        let tables = &mut self.tables;
        let pud = pud_in(&mut self.root, tables, va);
        let i2 = idx(va, PUD_SHIFT);
        if let Some(old) = pud.take(i2) {
            // An empty table left at the destination.
            debug_assert_eq!(Self::pmd_present(&old), 0);
            *tables -= 1 + old.e.iter().flatten().count() as u64;
        }
        self.present += Self::pmd_present(&pmd);
        pud.put(i2, pmd);
    }

    fn take_pmd_entry(&mut self, va: u64) -> Option<Box<Leaf>> {
        let i1 = idx(va, PGD_SHIFT);
        let i2 = idx(va, PUD_SHIFT);
        let pud = self.root.e[i1].as_deref_mut()?;
        let pmd = pud.e[i2].as_deref_mut()?;
        // The tables above stay (move_normal_pmd clears the entry only).
        let leaf = pmd.take(idx(va, PMD_SHIFT))?;
        self.present -= Self::leaf_present(&leaf);
        Some(leaf)
    }

    fn put_pmd_entry(&mut self, va: u64, leaf: Box<Leaf>) {
        let tables = &mut self.tables;
        let pmd = pmd_in(&mut self.root, tables, va);
        let i3 = idx(va, PMD_SHIFT);
        if let Some(old) = pmd.take(i3) {
            debug_assert_eq!(old.used, 0);
            *tables -= 1;
        }
        self.present += Self::leaf_present(&leaf);
        pmd.put(i3, leaf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn collect(pt: &PageTable, s: u64, e: u64) -> Vec<(u64, FrameId)> {
        let mut v = Vec::new();
        pt.for_each(s, e, |va, f| v.push((va, f)));
        v
    }

    #[test]
    fn set_get_clear_and_free_tables() {
        let mut pt = PageTable::new();
        assert_eq!(pt.set(0x7fff_0000_1000, 5), None);
        assert_eq!(pt.set(0x7fff_0000_1000, 6), Some(5));
        assert_eq!(pt.get(0x7fff_0000_1000), Some(6));
        assert_eq!(pt.get(0x7fff_0000_2000), None);
        assert_eq!(pt.tables(), 3);
        let mut seen = Vec::new();
        pt.clear(0, 1 << 47, |va, f| seen.push((va, f)));
        assert_eq!(seen, [(0x7fff_0000_1000, 6)]);
        // A zap keeps the tables (zap_pte_range); free_pgd_range frees them.
        assert_eq!((pt.present(), pt.tables()), (0, 3));
        assert!(pt.has_pte_table(0x7fff_0000_0000));
        pt.free_range(0x7fff_0000_0000, 0x7fff_0000_2000, 0, 0);
        assert_eq!(pt.tables(), 0);
        assert!(!pt.has_pte_table(0x7fff_0000_0000));
    }

    #[test]
    fn free_range_keeps_the_tables_a_neighbour_still_uses() {
        let mut pt = PageTable::new();
        let b = 0x7fff_0000_0000u64;
        pt.set(b + 0x1000, 5);
        pt.clear(b, b + PMD_SIZE, |_, _| {});
        // A VMA ends inside the block below the range (floor) or starts inside it
        // above (ceiling): the block's table stays, and the tables above it.
        pt.free_range(b + 0x1000, b + 0x2000, b + 0x1000, 0);
        assert_eq!(pt.tables(), 3);
        pt.free_range(b + 0x1000, b + 0x2000, 0, b + 0x3000);
        assert_eq!(pt.tables(), 3);
        // A VMA in the next block (ceiling) keeps the PMD and PUD tables only.
        pt.free_range(b + 0x1000, b + 0x2000, b, b + PMD_SIZE);
        assert_eq!(pt.tables(), 2);
        assert!(!pt.has_pte_table(b));
    }

    #[test]
    fn reclaim_frees_empty_tables_of_whole_blocks_only() {
        let mut pt = PageTable::new();
        let b = 0x7fff_0000_0000u64;
        pt.set(b + 0x1000, 5);
        pt.set(b + PMD_SIZE, 6);
        pt.clear(b, b + 2 * PMD_SIZE, |_, _| {});
        pt.reclaim_empty(b + 0x1000, b + 2 * PMD_SIZE);
        assert!(pt.has_pte_table(b), "the zap did not span the first block");
        assert!(!pt.has_pte_table(b + PMD_SIZE));
        assert_eq!(pt.tables(), 3);
    }

    #[test]
    fn a_move_out_of_a_block_with_a_table_gives_the_destination_one() {
        let mut pt = PageTable::new();
        let (src, dst) = (0x4000_0000u64, 0x8000_0000u64);
        pt.set(src + 0x10_0000, 7);
        // Nothing present in the moved range, yet the destination gets a PTE table
        // and the source keeps its own.
        pt.move_range(src + 0x1000, dst + 0x3000, 0x1000);
        assert!(pt.has_pte_table(dst));
        assert!(pt.has_pte_table(src));
        assert_eq!(pt.present(), 1);
        // No table under the source block: nothing at the destination.
        pt.move_range(src + PMD_SIZE, dst + 4 * PMD_SIZE + 0x1000, 0x1000);
        assert!(!pt.has_pte_table(dst + 4 * PMD_SIZE));
    }

    #[test]
    fn a_touched_page_in_a_huge_sparse_range_costs_three_tables() {
        let mut pt = PageTable::new();
        pt.set(0x1000_0000_0000 + (1 << 39) - 4096, 9);
        assert_eq!(pt.tables(), 3);
        assert_eq!(
            collect(&pt, 0x1000_0000_0000, 0x1000_0000_0000 + (1 << 40)).len(),
            1
        );
    }

    #[test]
    fn aligned_64mib_move_visits_32_pointers() {
        let mut pt = PageTable::new();
        let (src, dst, len) = (0x4000_0000u64, 0x8000_0000u64 + 0x20_0000, 64u64 << 20);
        for (next, va) in (2..).zip((src..src + len).step_by(4096)) {
            pt.set(va, next);
        }
        pt.move_range(src, dst, len);
        assert_eq!(pt.move_visits, 32);
        assert_eq!(pt.present(), 16384);
        assert_eq!(pt.get(dst), Some(2));
        assert_eq!(pt.get(dst + len - 4096), Some(16385));
        assert_eq!(pt.get(src), None);
        assert!(collect(&pt, src, src + len).is_empty());
    }

    #[test]
    fn unaligned_move_goes_entry_by_entry_and_keeps_frames() {
        let mut pt = PageTable::new();
        let (src, dst, len) = (0x4000_0000u64, 0x8000_1000u64, 4u64 << 20);
        for (i, va) in (src..src + len).step_by(4096).enumerate() {
            pt.set(va, 2 + i as u32);
        }
        pt.move_range(src, dst, len);
        assert_eq!(pt.move_visits, 1024);
        assert_eq!(pt.present(), 1024);
        for i in 0..1024u64 {
            assert_eq!(pt.get(dst + i * 4096), Some(2 + i as u32));
        }
    }

    #[test]
    fn pud_move() {
        let mut pt = PageTable::new();
        pt.set(0x40_0000_0000 + 0x1234_5000, 7);
        pt.move_range(0x40_0000_0000, 0x80_0000_0000, 1 << 30);
        assert_eq!(pt.move_visits, 1);
        assert_eq!(pt.get(0x80_0000_0000 + 0x1234_5000), Some(7));
        assert_eq!(pt.present(), 1);
    }

    // Table lifetimes checked against the live kernel (Linux 6.18, x86-64, 4 levels):
    // a C probe mapped at 0x6000_0000_0000 (its own 512 GiB, nothing else there),
    // touched pages, then munmap/madvise/mremap, reading VmPTE (`mm_pgtables_bytes`:
    // every PUD, PMD and PTE table page) before and after. Each case below cites the
    // probe's numbers.

    const B: u64 = 0x6000_0000_0000;
    const G: u64 = PUD_SIZE;
    const K: u64 = PAGE_SIZE;

    /// Count the tables and present entries by walking the tree, and check the
    /// counters `tables()` and `present()` agree with it.
    fn check_counts(pt: &PageTable) {
        let (mut tables, mut present) = (0u64, 0u64);
        for pud in pt.root.e.iter().flatten() {
            tables += 1;
            for pmd in pud.e.iter().flatten() {
                tables += 1;
                for leaf in pmd.e.iter().flatten() {
                    tables += 1;
                    let n = leaf.e.iter().filter(|&&f| f != 0).count() as u64;
                    assert_eq!(u64::from(leaf.used), n);
                    present += n;
                }
            }
        }
        assert_eq!((pt.tables(), pt.present()), (tables, present));
    }

    /// Map one page at each address, then zap `[zs, ze)` (`zap_pte_range`: tables stay).
    fn touched(pages: &[u64], zs: u64, ze: u64) -> PageTable {
        let mut pt = PageTable::new();
        for (f, &va) in (1..).zip(pages) {
            pt.set(va, f);
        }
        pt.clear(zs, ze, |_, _| {});
        check_counts(&pt);
        pt
    }

    #[test]
    fn free_range_floor_at_a_gib_boundary_frees_the_pmd_table_too() {
        // Probe: A = [B+G-4K, B+G), X = [B+G, B+G+2M), both touched: 20 kB; munmap X
        // (free_pgtables: floor = A's end = B+G): 12 kB. free_pmd_range frees X's PTE
        // table, then free_pud_range the PMD table of the GiB at B+G (its start is not
        // below floor); the PUD table stays (its 512 GiB starts below floor).
        let mut pt = touched(&[B + G - K, B + G], B + G, B + G + PMD_SIZE);
        assert_eq!(pt.tables(), 5);
        pt.free_range(B + G, B + G + PMD_SIZE, B + G, 0);
        assert_eq!(pt.tables(), 3);
        assert!(!pt.has_pmd_table(B + G));
        assert!(pt.has_pte_table(B + G - K));
        check_counts(&pt);
    }

    #[test]
    fn free_range_floor_inside_the_gib_keeps_the_pmd_table() {
        // Probe: A = [B, B+4K), C = [B+2M, B+2M+4K), both touched: 16 kB; munmap C
        // (floor = B+4K): 12 kB, only C's PTE table goes (free_pud_range: the GiB
        // starts below floor).
        let mut pt = touched(&[B, B + PMD_SIZE], B + PMD_SIZE, B + PMD_SIZE + K);
        pt.free_range(B + PMD_SIZE, B + PMD_SIZE + K, B + K, 0);
        assert_eq!(pt.tables(), 3);
        assert!(pt.has_pte_table(B));
        assert!(!pt.has_pte_table(B + PMD_SIZE));
        check_counts(&pt);
    }

    #[test]
    fn free_range_rounds_a_start_below_floor_up_to_the_next_block() {
        // Probe: A = [B, B+4K), X = [B+4K, B+2M+4K), pages B, B+4K, B+2M touched:
        // 16 kB; munmap X (floor = B+4K): 12 kB. free_pgd_range rounds addr up past
        // the block shared with A and frees the next block's table.
        let mut pt = touched(&[B, B + K, B + PMD_SIZE], B + K, B + PMD_SIZE + K);
        pt.free_range(B + K, B + PMD_SIZE + K, B + K, 0);
        assert_eq!(pt.tables(), 3);
        assert!(pt.has_pte_table(B));
        assert!(!pt.has_pte_table(B + PMD_SIZE));
        check_counts(&pt);
    }

    #[test]
    fn free_range_ceiling_at_or_inside_a_block() {
        // Probe: X = [B, B+2M), C = [B+2M, B+2M+4K), both touched: 16 kB; munmap X
        // (ceiling = B+2M): 12 kB, X's PTE table goes.
        let mut pt = touched(&[B, B + PMD_SIZE], B, B + PMD_SIZE);
        pt.free_range(B, B + PMD_SIZE, 0, B + PMD_SIZE);
        assert_eq!(pt.tables(), 3);
        assert!(!pt.has_pte_table(B));
        assert!(pt.has_pte_table(B + PMD_SIZE));
        check_counts(&pt);
        // Probe: X = [B, B+2M+4K) touched at B and B+2M, C = [B+2M+8K, +4K) touched:
        // 16 kB; munmap X (ceiling = B+2M+8K, inside X's second block): 12 kB. The
        // end is pulled back a block (free_pgd_range), block 0's table goes.
        let mut pt = touched(
            &[B, B + PMD_SIZE, B + PMD_SIZE + 2 * K],
            B,
            B + PMD_SIZE + K,
        );
        pt.free_range(B, B + PMD_SIZE + K, 0, B + PMD_SIZE + 2 * K);
        assert_eq!(pt.tables(), 3);
        assert!(!pt.has_pte_table(B));
        assert!(pt.has_pte_table(B + PMD_SIZE));
        check_counts(&pt);
    }

    #[test]
    fn free_range_ceiling_at_the_next_gib_or_512gib_frees_the_upper_tables() {
        // Probe: X = [B, B+4K), C = [B+G, B+G+4K), both touched: 20 kB; munmap X
        // (ceiling = B+G): 12 kB, X's PTE and PMD tables go.
        let mut pt = touched(&[B, B + G], B, B + K);
        pt.free_range(B, B + K, 0, B + G);
        assert_eq!(pt.tables(), 3);
        assert!(!pt.has_pmd_table(B));
        assert!(pt.has_pte_table(B + G));
        check_counts(&pt);
        // Probe: X = [B, B+4K), C = [B+512G, +4K), both touched: 24 kB; munmap X
        // (ceiling = B+512G): 12 kB, X's PTE, PMD and PUD tables go (free_pgd_range).
        let mut pt = touched(&[B, B + (1 << PGD_SHIFT)], B, B + K);
        pt.free_range(B, B + K, 0, B + (1 << PGD_SHIFT));
        assert_eq!(pt.tables(), 3);
        assert!(pt.root.e[idx(B, PGD_SHIFT)].is_none());
        assert!(pt.has_pte_table(B + (1 << PGD_SHIFT)));
        check_counts(&pt);
    }

    #[test]
    fn free_range_of_a_range_ending_one_byte_into_a_block_frees_that_block() {
        // free_pgd_range compares `addr > end - 1`: any range that meets a block, even
        // by one byte, covers it (VMA bounds are page-aligned, but the rule is the
        // kernel's and holds for any end).
        let mut pt = touched(&[B], B, B + K);
        pt.free_range(B, B + 1, 0, 0);
        assert_eq!(pt.tables(), 0);
        check_counts(&pt);
    }

    #[test]
    fn freeing_upper_tables_drops_whatever_is_left_under_them() {
        // Not a state Linux reaches (free_pgtables runs after the zap, and no table
        // outlives the VMAs over it), but the counters must stay true: freeing the
        // PMD (PUD) table takes the PTE tables and entries still under it along.
        // A page in the next 512 GiB keeps three tables that must stay counted.
        let far = B + (1 << PGD_SHIFT);
        let pages = [B, B + 2 * PMD_SIZE, B + 3 * PMD_SIZE, B + G, far];
        let mut pt = touched(&pages, 0, 0);
        assert_eq!((pt.tables(), pt.present()), (10, 5));
        pt.free_range(B, B + K, 0, far);
        assert_eq!((pt.tables(), pt.present()), (3, 1));
        check_counts(&pt);
        assert_eq!(collect(&pt, 0, 1 << 47), [(far, 5)]);
    }

    #[test]
    fn freeing_a_table_with_entries_drops_them_and_keeps_it_empty_for_reuse() {
        // Not reached through Mm (the range is zapped first): the entries go with the
        // table, and the table kept for reuse comes back empty.
        let mut pt = touched(&[B, B + K, B + 2 * K], 0, 0);
        pt.free_range(B, B + K, 0, B + PMD_SIZE);
        assert_eq!((pt.tables(), pt.present()), (2, 0));
        check_counts(&pt);
        assert_eq!(pt.spare.len(), 1);
        pt.set(B + 5 * K, 9);
        assert_eq!(collect(&pt, B, B + PMD_SIZE), [(B + 5 * K, 9)]);
        check_counts(&pt);
    }

    #[test]
    fn at_most_spare_leaves_freed_tables_are_kept() {
        let n = SPARE_LEAVES as u64 + 4;
        let pages: Vec<u64> = (0..n).map(|i| B + i * PMD_SIZE).collect();
        let mut pt = touched(&pages, B, B + n * PMD_SIZE);
        pt.free_range(B, B + PMD_SIZE, 0, B + PMD_SIZE);
        assert_eq!(pt.spare.len(), 1);
        pt.free_range(B, B + n * PMD_SIZE, 0, 0);
        assert_eq!(pt.spare.len(), SPARE_LEAVES);
        assert_eq!(pt.tables(), 0);
    }

    #[test]
    fn reclaim_of_exactly_one_block_ending_at_an_odd_block() {
        // Probe: X = [B, B+4M) touched at B and B+2M: 16 kB; MADV_DONTNEED of
        // [B, B+2M): 12 kB (PT_RECLAIM: zap_pte_range with reclaim_pt, then
        // try_to_free_pte); the PMD and PUD tables stay.
        let mut pt = touched(&[B, B + PMD_SIZE], B, B + PMD_SIZE);
        pt.reclaim_empty(B, B + PMD_SIZE);
        assert!(!pt.has_pte_table(B));
        assert!(pt.has_pte_table(B + PMD_SIZE));
        assert_eq!(pt.tables(), 3);
        check_counts(&pt);
    }

    #[test]
    fn a_move_of_a_block_and_a_page_stops_at_its_end() {
        // Probe: X = [B, B+2M+8K) touched at B, B+2M, B+2M+4K: 16 kB; mremap of
        // [B, B+2M+4K) to B+4G: 24 kB. move_page_tables moves block 0's table as one
        // pointer (move_normal_pmd) under a new PMD table, and the last page with
        // move_ptes into a new PTE table; the source keeps block 1's table.
        let mut pt = touched(&[B, B + PMD_SIZE, B + PMD_SIZE + K], 0, 0);
        pt.move_range(B, B + 4 * G, PMD_SIZE + K);
        assert_eq!(pt.tables(), 6);
        assert_eq!(pt.get(B + 4 * G), Some(1));
        assert_eq!(pt.get(B + 4 * G + PMD_SIZE), Some(2));
        assert_eq!(pt.get(B + PMD_SIZE + K), Some(3));
        assert_eq!(pt.get(B + 4 * G + PMD_SIZE + K), None);
        check_counts(&pt);
    }

    #[test]
    fn a_move_between_differently_aligned_gibs_goes_block_by_block() {
        // Source 2 MiB past a GiB boundary, destination on one (and the reverse): no
        // extent is a whole aligned PUD on both sides, so no PMD table moves as one
        // pointer (move_normal_pud needs both aligned).
        let mut pt = touched(&[B + PMD_SIZE, B + G + K], 0, 0);
        pt.move_range(B + PMD_SIZE, B + 8 * G, G);
        assert_eq!(pt.get(B + 8 * G), Some(1));
        assert_eq!(pt.get(B + 9 * G - PMD_SIZE + K), Some(2));
        assert_eq!(pt.present(), 2);
        check_counts(&pt);
        let mut pt = touched(&[B, B + G - PMD_SIZE + K], 0, 0);
        pt.move_range(B, B + 8 * G + PMD_SIZE, G);
        assert_eq!(pt.get(B + 8 * G + PMD_SIZE), Some(1));
        assert_eq!(pt.get(B + 9 * G + K), Some(2));
        assert_eq!(pt.present(), 2);
        check_counts(&pt);
    }

    #[test]
    fn a_move_over_nothing_visits_one_extent_a_gib() {
        // move_page_tables: no PUD entry under the source, skip to the next PUD.
        let mut pt = PageTable::new();
        pt.move_range(B, B + 8 * G, 3 * G);
        assert_eq!((pt.move_visits, pt.tables()), (3, 0));
    }

    #[test]
    fn a_move_from_an_empty_table_or_no_table_visits_no_entries() {
        // Probe: X = [B, B+8M) touched at B+1M: 12 kB; mremap of the empty page B+4K
        // to B+4G+12K: 20 kB (the destination gets a PMD and a PTE table, pte_alloc in
        // move_page_tables); mremap of a page of block 1 (no PTE table): no table.
        let mut pt = touched(&[B + PMD_SIZE / 2], B, B + PMD_SIZE);
        pt.move_range(B + K, B + 4 * G + 3 * K, K);
        assert_eq!((pt.tables(), pt.move_visits), (5, 0));
        pt.move_range(B + PMD_SIZE + K, B + 4 * G + PMD_SIZE + 3 * K, K);
        assert_eq!((pt.tables(), pt.move_visits), (5, 1));
        check_counts(&pt);
    }
}
