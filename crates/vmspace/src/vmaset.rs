//! `VmaSet`: the VMAs of an address space in address order, with the free gap below
//! each, for lookups, neighbour walks and top-down gap searches in one structure.
//!
//! The VMAs themselves live in a slab (`Vec<Vma>` with a free list), so that nothing
//! moves them once stored. The order is kept by an index of blocks of at most
//! [`BLOCK`] entries; an entry is the VMA's start, the free gap directly below it (down
//! to the previous VMA's end, or to 0 for the lowest VMA) and its slab slot, 24 bytes,
//! side by side so that inserting or removing is one move of a few hundred bytes at
//! most. Beside the blocks the index keeps each block's first start (binary-searched to
//! find a block) and the largest gap of each block, of each group of [`GROUP`] blocks
//! and of each supergroup of [`GROUP`] groups.
//!
//! Every lookup is one binary search over the blocks' first starts and one, without
//! branches, inside a block; the neighbours of an entry are the entries beside it, so
//! "the VMA, the one before and the one after" costs one search. Before searching, a
//! lookup checks the *finger*, where the last one ended, and the entries beside it: a
//! system call looks at the same VMAs many times. Every change keeps the gaps right by
//! itself: inserting, removing, growing or shrinking a VMA updates its own gap and its
//! successor's. Block maxima rise at once and fall lazily (see `stale`), and the last
//! gap search's answer is kept while no write can have made a better one (see `hint`).
//!
//! Costs, for n VMAs: a lookup that misses the finger reads about log2(n / BLOCK) first
//! starts and log2(BLOCK) starts. An update shifts inside one block; a split or merge of
//! blocks (one per about BLOCK / 2 updates at worst) also shifts the per-block vectors,
//! which is linear in n / BLOCK (about 2,000 entries at `vm.max_map_count`'s default of
//! 65,530). A top-down gap search reads at most n / (BLOCK * GROUP^2) supergroup maxima,
//! 2 * GROUP group and block maxima, and 2 * BLOCK gaps.
//!
//! Blocks filled by inserts in address order (VMAs built upwards) split so that the
//! lower part stays full, which keeps the index near 24 bytes per VMA.
//!
//! # Linux
//! The kernel keeps VMAs in the maple tree of `mm->mm_mt`: `find_vma`, `vma_prev` and
//! `vma_next` walk it, and `mas_empty_area_rev` (behind `unmapped_area_topdown`) uses
//! the gap metadata its nodes keep. This is the engine's equivalent.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::ops::Range;

use crate::addr::pages;
use crate::vma::Vma;

/// Most entries in a block.
const BLOCK: usize = if cfg!(test) { 8 } else { 32 };
/// Blocks per group, and groups per supergroup, of the summaries.
const GROUP: usize = if cfg!(test) { 4 } else { 16 };
/// A block with fewer entries than this is merged into a neighbour that has room.
const MERGE_BELOW: usize = BLOCK / 4;

/// One index entry: a VMA's start, the free gap below it and its slab slot.
#[derive(Copy, Clone)]
struct Entry {
    start: u64,
    gap: u64,
    slot: u32,
}

/// Past a block's `len`: a start no VMA has, so that searches can run over the whole
/// array without bounds.
const VACANT: Entry = Entry {
    start: u64::MAX,
    gap: 0,
    slot: 0,
};

/// A run of index entries in address order (entries side by side, so that a shift is
/// one move). Entries past `len` are [`VACANT`].
#[derive(Clone)]
struct Block {
    len: usize,
    /// The block's maximum may be above its largest gap (listed in `VmaSet::stale`).
    stale: bool,
    e: [Entry; BLOCK],
}

impl Block {
    fn empty() -> Box<Self> {
        Box::new(Self {
            len: 0,
            stale: false,
            e: [VACANT; BLOCK],
        })
    }

    /// How many entries start at or below `key` (`strict`: below `key`): a search of
    /// fixed length over the whole array, without branches to mispredict.
    fn count_below(&self, key: u64, strict: bool) -> usize {
        let key = if strict {
            match key.checked_sub(1) {
                Some(k) => k,
                None => return 0,
            }
        } else {
            key
        };
        let e = &self.e;
        let (mut base, mut n) = (0, BLOCK);
        while n > 1 {
            let half = n / 2;
            if e[base + half - 1].start <= key {
                base += half;
            }
            n -= half;
        }
        (base + usize::from(e[base].start <= key)).min(self.len)
    }

    fn max_gap(&self) -> u64 {
        self.e[..self.len].iter().map(|e| e.gap).max().unwrap_or(0)
    }

    /// Insert at `i`; the block has room.
    fn insert(&mut self, i: usize, start: u64, gap: u64, slot: u32) {
        let n = self.len;
        debug_assert!(n < BLOCK && i <= n);
        self.e.copy_within(i..n, i + 1);
        self.e[i] = Entry { start, gap, slot };
        self.len = n + 1;
    }

    /// Remove entry `i`: its gap and slot.
    fn remove(&mut self, i: usize) -> (u64, u32) {
        let n = self.len;
        let out = (self.e[i].gap, self.e[i].slot);
        self.e.copy_within(i + 1..n, i);
        self.e[n - 1] = VACANT;
        self.len = n - 1;
        out
    }

    /// Move the entries from `at` on into a new block.
    fn split_off(&mut self, at: usize) -> Box<Self> {
        let mut upper = Self::empty();
        let n = self.len - at;
        upper.e[..n].copy_from_slice(&self.e[at..self.len]);
        upper.len = n;
        self.e[at..self.len].fill(VACANT);
        self.len = at;
        upper
    }

    /// Append every entry of `other`; there is room.
    fn append(&mut self, other: &Self) {
        let (n, m) = (self.len, other.len);
        debug_assert!(n + m <= BLOCK);
        self.e[n..n + m].copy_from_slice(&other.e[..m]);
        self.len = n + m;
    }
}

/// A position in the index: block and entry.
type Pos = (usize, usize);

/// A gap search's question (`bound`, `len`) and answer (the VMA at `key`, found at
/// `at`).
#[derive(Copy, Clone)]
struct SearchHint {
    bound: u64,
    len: u64,
    key: u64,
    at: (u32, u32),
}

/// The VMAs in address order, with the gap below each (see the module docs).
#[derive(Clone)]
pub(crate) struct VmaSet {
    /// Where the VMAs live; slots in `free` hold stale values.
    slab: Vec<Vma>,
    free: Vec<u32>,
    /// Non-empty blocks in address order.
    #[allow(
        clippy::vec_box,
        reason = "a block is 1.3 KB: adding or removing one shifts pointers, not blocks"
    )]
    blocks: Vec<Box<Block>>,
    /// The first start of each block.
    firsts: Vec<u64>,
    /// The largest gap of each block; for the blocks in `stale`, an upper bound.
    maxes: Vec<u64>,
    /// Blocks whose largest gap shrank since their maximum was computed. A VMA
    /// change often opens a gap and closes it again (a merge removes a VMA, then
    /// extends its neighbour over the hole): maxima rise at once, and fall when a
    /// search needs them ([`flush`](Self::flush)) or the blocks are rearranged.
    stale: Vec<u32>,
    /// The largest of the maxima of each group of [`GROUP`] blocks.
    groups: Vec<u64>,
    /// The largest of the group maxima of each run of [`GROUP`] groups.
    supers: Vec<u64>,
    len: usize,
    /// Where the last lookup ended: a system call looks at the same VMA and its
    /// neighbours many times, and checking this position first is cheaper than a
    /// search. Only a hint: it is verified before use and may be stale.
    finger: Cell<(u32, u32)>,
    /// The last gap search's question and answer, `(bound, len, key)`: the VMA at
    /// `key` is the highest at or below `bound` with a gap of at least `len`, for as
    /// long as no gap of `len` or more is written above `key` (every gap write checks)
    /// and that VMA keeps such a gap (checked when the hint is used). Repeated
    /// searches (a loop of unhinted mmaps) then skip the summaries. Linux kept a
    /// similar `free_area_cache` before the maple tree. With the position where
    /// the VMA was, checked first.
    hint: Cell<Option<SearchHint>>,
    /// Where [`below_top`](Self::below_top) last found the VMA below its `high`.
    top: Cell<(u64, (u32, u32))>,
}

impl fmt::Debug for VmaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl VmaSet {
    pub(crate) const fn new() -> Self {
        Self {
            slab: Vec::new(),
            free: Vec::new(),
            blocks: Vec::new(),
            firsts: Vec::new(),
            maxes: Vec::new(),
            stale: Vec::new(),
            groups: Vec::new(),
            supers: Vec::new(),
            len: 0,
            finger: Cell::new((0, 0)),
            hint: Cell::new(None),
            top: Cell::new((0, (0, 0))),
        }
    }

    /// Number of VMAs.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    // ----- slab ---------------------------------------------------------------------

    fn alloc(&mut self, vma: Vma) -> u32 {
        if let Some(s) = self.free.pop() {
            self.slab[s as usize] = vma;
            return s;
        }
        if self.slab.len() == self.slab.capacity() {
            // Grow by half: doubling would leave up to half of the slab unused.
            let n = self.slab.len();
            self.slab.reserve_exact((n / 2).max(8));
        }
        self.slab.push(vma);
        u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 VMAs")
    }

    fn slot_at(&self, (b, i): Pos) -> u32 {
        self.blocks[b].e[i].slot
    }

    fn at(&self, p: Pos) -> &Vma {
        &self.slab[self.slot_at(p) as usize]
    }

    fn start_at(&self, (b, i): Pos) -> u64 {
        self.blocks[b].e[i].start
    }

    // ----- positions ----------------------------------------------------------------

    /// The block that holds `key` or would hold it: the last whose first start is at
    /// or below `key` (block 0 for keys below every first start).
    fn block_of(&self, key: u64) -> usize {
        self.firsts.partition_point(|&f| f <= key).saturating_sub(1)
    }

    /// Remember `p` as the finger.
    fn touch(&self, (b, i): Pos) -> Pos {
        // Positions fit: blocks hold at most BLOCK entries, and there are fewer than
        // 2^32 VMAs.
        self.finger.set((b as u32, i as u32));
        (b, i)
    }

    /// The finger, if it still names an entry.
    fn finger(&self) -> Option<(Pos, u64)> {
        let (b, i) = self.finger.get();
        let (b, i) = (b as usize, i as usize);
        // Past `len` a block's starts are u64::MAX, which no VMA has.
        let s = self.blocks.get(b)?.e.get(i)?.start;
        (s != u64::MAX).then_some(((b, i), s))
    }

    /// The entry starting exactly at `key`.
    fn pos_of(&self, key: u64) -> Option<Pos> {
        // The finger or a neighbour of it.
        if let Some((p, s)) = self.finger() {
            if s == key {
                return Some(p);
            }
            let q = if s < key { self.next(p) } else { self.prev(p) };
            if let Some(q) = q
                && self.start_at(q) == key
            {
                return Some(self.touch(q));
            }
        }
        if self.blocks.is_empty() {
            return None;
        }
        let b = self.block_of(key);
        let blk = &self.blocks[b];
        let i = blk.count_below(key, false);
        (i > 0 && blk.e[i - 1].start == key).then(|| self.touch((b, i - 1)))
    }

    /// The last entry starting at or below `addr`.
    fn pos_le(&self, addr: u64) -> Option<Pos> {
        // The finger or the entry before it (a walk to a neighbour).
        if let Some((p, s)) = self.finger() {
            if s <= addr {
                if self.next(p).is_none_or(|n| self.start_at(n) > addr) {
                    return Some(p);
                }
            } else if let Some(q) = self.prev(p)
                && self.start_at(q) <= addr
            {
                return Some(self.touch(q));
            }
        }
        if self.blocks.is_empty() {
            return None;
        }
        let b = self.block_of(addr);
        let i = self.blocks[b].count_below(addr, false);
        // Only block 0 can have every start above `addr`.
        (i > 0).then(|| self.touch((b, i - 1)))
    }

    /// The last entry starting below `addr`.
    fn pos_lt(&self, addr: u64) -> Option<Pos> {
        addr.checked_sub(1).and_then(|a| self.pos_le(a))
    }

    /// The first entry starting at or above `addr`: the one after the last entry
    /// starting below it.
    fn pos_ge(&self, addr: u64) -> Option<Pos> {
        let q = self.after(self.pos_lt(addr))?;
        Some(self.touch(q))
    }

    /// The entry after `p`; with no `p`, the first entry.
    fn after(&self, p: Option<Pos>) -> Option<Pos> {
        match p {
            Some(p) => self.next(p),
            None => (!self.blocks.is_empty()).then_some((0, 0)),
        }
    }

    fn next(&self, (b, i): Pos) -> Option<Pos> {
        if i + 1 < self.blocks[b].len {
            Some((b, i + 1))
        } else {
            (b + 1 < self.blocks.len()).then_some((b + 1, 0))
        }
    }

    fn prev(&self, (b, i): Pos) -> Option<Pos> {
        if i > 0 {
            Some((b, i - 1))
        } else {
            b.checked_sub(1).map(|b| (b, self.blocks[b].len - 1))
        }
    }

    /// Where the VMA before the (possibly absent) entry at `(b, i)` ends, or 0.
    fn end_before(&self, (b, i): Pos) -> u64 {
        if i > 0 {
            self.at((b, i - 1)).end
        } else if b > 0 {
            self.at((b - 1, self.blocks[b - 1].len - 1)).end
        } else {
            0
        }
    }

    // ----- lookups ------------------------------------------------------------------

    /// The VMAs in address order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Vma> + '_ {
        self.blocks
            .iter()
            .flat_map(|b| b.e[..b.len].iter())
            .map(|e| &self.slab[e.slot as usize])
    }

    /// The VMAs starting inside `[start, end)`, in address order.
    pub(crate) fn range(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> + '_ {
        let (b0, i0) = self.pos_ge(start).unwrap_or((self.blocks.len(), 0));
        self.blocks[b0..]
            .iter()
            .enumerate()
            .flat_map(move |(j, blk)| blk.e[if j == 0 { i0 } else { 0 }..blk.len].iter())
            .map(|e| &self.slab[e.slot as usize])
            .take_while(move |v| v.start < end)
    }

    /// The VMA starting exactly at `key`.
    pub(crate) fn get(&self, key: u64) -> Option<&Vma> {
        self.pos_of(key).map(|p| self.at(p))
    }

    /// The VMA starting exactly at `key`, to change anything but its start and end
    /// (which [`update`](Self::update) changes).
    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut Vma> {
        let p = self.pos_of(key)?;
        let s = self.slot_at(p);
        Some(&mut self.slab[s as usize])
    }

    /// The last VMA starting at or below `addr`.
    pub(crate) fn at_or_below(&self, addr: u64) -> Option<&Vma> {
        self.pos_le(addr).map(|p| self.at(p))
    }

    /// The last VMA starting below `addr`.
    pub(crate) fn below(&self, addr: u64) -> Option<&Vma> {
        self.pos_lt(addr).map(|p| self.at(p))
    }

    /// The first VMA starting at or above `addr`.
    pub(crate) fn from(&self, addr: u64) -> Option<&Vma> {
        self.pos_ge(addr).map(|p| self.at(p))
    }

    /// `find_vma`: the first VMA ending above `addr`.
    pub(crate) fn find_vma(&self, addr: u64) -> Option<&Vma> {
        let p = self.pos_le(addr);
        if let Some(p) = p
            && self.at(p).end > addr
        {
            return Some(self.at(p));
        }
        self.after(p).map(|q| self.at(q))
    }

    /// The last VMA starting below `start` and the first starting at or above `end`
    /// (`start <= end`): the neighbours of a range, from one search when no VMA
    /// starts inside it.
    pub(crate) fn around(&self, start: u64, end: u64) -> (Option<&Vma>, Option<&Vma>) {
        let p = self.pos_lt(start);
        let after = match self.after(p) {
            Some(a) if self.start_at(a) < end => self.pos_ge(end),
            a => a,
        };
        (p.map(|p| self.at(p)), after.map(|a| self.at(a)))
    }

    /// The VMA at `key` and the one directly after it in the set.
    pub(crate) fn with_next(&self, key: u64) -> Option<(&Vma, Option<&Vma>)> {
        let p = self.pos_of(key)?;
        Some((self.at(p), self.next(p).map(|q| self.at(q))))
    }

    /// The VMA at `key` and its neighbours: the one directly before it in the set and
    /// the one directly after (whether or not they touch it).
    pub(crate) fn with_neighbours(&self, key: u64) -> Option<(Option<&Vma>, &Vma, Option<&Vma>)> {
        let p = self.pos_of(key)?;
        Some((
            self.prev(p).map(|q| self.at(q)),
            self.at(p),
            self.next(p).map(|q| self.at(q)),
        ))
    }

    // ----- summaries ----------------------------------------------------------------

    /// Recompute the groups from `g` on, and their supergroups (after blocks were
    /// added or removed there).
    fn fix_groups_from(&mut self, g: usize) {
        let n = self.maxes.len().div_ceil(GROUP);
        self.groups.resize(n, 0);
        for g in g..n {
            self.groups[g] = Self::max_of(&self.maxes, g);
        }
        let m = n.div_ceil(GROUP);
        self.supers.resize(m, 0);
        for s in g / GROUP..m {
            self.supers[s] = Self::max_of(&self.groups, s);
        }
    }

    /// The largest of the `k`-th run of [`GROUP`] values.
    fn max_of(values: &[u64], k: usize) -> u64 {
        let from = k * GROUP;
        let to = (from + GROUP).min(values.len());
        values[from..to].iter().copied().max().unwrap_or(0)
    }

    /// Recompute group `g` and its supergroup from the block maxima.
    fn fix_group(&mut self, g: usize) {
        self.groups[g] = Self::max_of(&self.maxes, g);
        let s = g / GROUP;
        self.supers[s] = Self::max_of(&self.groups, s);
    }

    /// Block `b` now holds a gap of `gap`: raise its maximum and its group's.
    fn raise(&mut self, b: usize, gap: u64) {
        if gap > self.maxes[b] {
            self.maxes[b] = gap;
            let g = &mut self.groups[b / GROUP];
            *g = (*g).max(gap);
            let s = &mut self.supers[b / GROUP / GROUP];
            *s = (*s).max(gap);
        }
    }

    /// Block `b` lost a gap as large as its maximum: recompute that when needed.
    fn lower(&mut self, b: usize) {
        if !self.blocks[b].stale {
            self.blocks[b].stale = true;
            self.stale.push(b as u32);
        }
    }

    /// Bring the stale maxima (and their groups) down to the largest gaps, as the
    /// gap search wants them: exact maxima let it skip whole blocks and groups.
    pub(crate) fn flush(&mut self) {
        while let Some(b) = self.stale.pop() {
            let b = b as usize;
            self.blocks[b].stale = false;
            let m = self.blocks[b].max_gap();
            if self.maxes[b] != m {
                self.maxes[b] = m;
                self.fix_group(b / GROUP);
            }
        }
    }

    /// Set the gap of the entry at `p`, keeping the maxima.
    fn set_gap(&mut self, (b, i): Pos, gap: u64) {
        self.gap_written(self.blocks[b].e[i].start, gap);
        let old = core::mem::replace(&mut self.blocks[b].e[i].gap, gap);
        if gap > self.maxes[b] {
            self.raise(b, gap);
        } else if old == self.maxes[b] && gap < old {
            self.lower(b);
        }
    }

    /// A gap of `gap` is written below the VMA at `start`: the search hint goes if
    /// that could be a higher answer.
    #[inline]
    fn gap_written(&self, start: u64, gap: u64) {
        if let Some(h) = self.hint.get()
            && start > h.key
            && gap >= h.len
        {
            self.hint.set(None);
        }
    }

    /// The entry after `p` (if any) lies above a VMA now ending at `end`: set its gap.
    fn fix_next_gap(&mut self, p: Pos, end: u64) {
        if let Some(n) = self.next(p) {
            let gap = self.start_at(n) - end;
            self.set_gap(n, gap);
        }
    }

    // ----- changes ------------------------------------------------------------------

    /// Insert an entry at `(b, i)`, splitting the block when full; where it went.
    fn insert_at(&mut self, (b, i): Pos, start: u64, gap: u64, slot: u32) -> Pos {
        self.gap_written(start, gap);
        if self.blocks.is_empty() {
            let mut blk = Block::empty();
            blk.insert(0, start, gap, slot);
            self.blocks.push(blk);
            self.firsts.push(start);
            self.maxes.push(gap);
            self.fix_groups_from(0);
            return (0, 0);
        }
        // After the last entry of a full block: first in the next block, if it has room.
        let (b, i) = if i == BLOCK && self.blocks.get(b + 1).is_some_and(|n| n.len < BLOCK) {
            (b + 1, 0)
        } else {
            (b, i)
        };
        let blk = &mut self.blocks[b];
        if blk.len < BLOCK {
            blk.insert(i, start, gap, slot);
            if i == 0 {
                self.firsts[b] = start;
            }
            self.raise(b, gap);
            return (b, i);
        }
        // Blocks are rearranged: no maximum may be stale.
        self.flush();
        let blk = &mut self.blocks[b];
        // A full block splits. An entry going to the upper half ends the lower block
        // (or starts a new one after a full block), so that VMAs created in address
        // order leave full blocks behind them; one in the lower half splits the
        // block in the middle.
        let (pos, upper) = if i == BLOCK {
            let mut upper = Block::empty();
            upper.insert(0, start, gap, slot);
            ((b + 1, 0), upper)
        } else if i >= BLOCK / 2 {
            let upper = blk.split_off(i);
            blk.insert(i, start, gap, slot);
            ((b, i), upper)
        } else {
            let upper = blk.split_off(BLOCK / 2);
            blk.insert(i, start, gap, slot);
            if i == 0 {
                self.firsts[b] = start;
            }
            ((b, i), upper)
        };
        self.maxes[b] = self.blocks[b].max_gap();
        self.firsts.insert(b + 1, upper.e[0].start);
        self.maxes.insert(b + 1, upper.max_gap());
        self.blocks.insert(b + 1, upper);
        self.fix_groups_from(b / GROUP);
        pos
    }

    /// Insert a VMA that overlaps none in the set.
    pub(crate) fn insert(&mut self, vma: Vma) {
        let (start, end) = (vma.start, vma.end);
        // Right after the last entry starting below it (in the same block, even when
        // that entry ends its block).
        let before = self.pos_lt(start);
        debug_assert!(
            self.after(before).is_none_or(|n| self.start_at(n) > start),
            "a VMA already starts at {start:#x}"
        );
        let (b, i) = before.map_or((0, 0), |(b, i)| (b, i + 1));
        let slot = self.alloc(vma);
        self.len += 1;
        let gap = start - self.end_before((b, i));
        let p = self.insert_at((b, i), start, gap, slot);
        self.touch(p);
        self.fix_next_gap(p, end);
    }

    /// Remove the entry at `p`; the VMA.
    fn remove_at(&mut self, (b, i): Pos) -> Vma {
        let key = self.start_at((b, i));
        let (gap, slot) = self.blocks[b].remove(i);
        self.free.push(slot);
        self.len -= 1;
        let vma = self.slab[slot as usize].clone();
        // The entry that followed: at (b, i), or first in the next block, or (when
        // blocks merged) wherever the search for `key` finds it.
        let next = if self.blocks[b].len == 0 {
            self.flush();
            self.blocks.remove(b);
            self.firsts.remove(b);
            self.maxes.remove(b);
            self.fix_groups_from(b / GROUP);
            (b < self.blocks.len()).then_some((b, 0))
        } else {
            if i == 0 {
                self.firsts[b] = self.blocks[b].e[0].start;
            }
            if gap == self.maxes[b] {
                self.lower(b);
            }
            if self.blocks[b].len < MERGE_BELOW && self.merge_around(b) {
                self.pos_ge(key)
            } else if i < self.blocks[b].len {
                Some((b, i))
            } else {
                (b + 1 < self.blocks.len()).then_some((b + 1, 0))
            }
        };
        // Its gap now reaches down to where the removed VMA's began.
        if let Some(n) = next {
            let g = self.start_at(n) - (key - gap);
            self.set_gap(n, g);
            // Callers look at the neighbours of what they removed next.
            if let Some(q) = self.prev(n) {
                self.touch(q);
            }
        }
        vma
    }

    /// Merge the small block `b` into a neighbour with room; whether it was merged.
    fn merge_around(&mut self, b: usize) -> bool {
        let n = self.blocks[b].len;
        let (into, from) = if b > 0 && self.blocks[b - 1].len + n <= BLOCK {
            (b - 1, b)
        } else if b + 1 < self.blocks.len() && self.blocks[b + 1].len + n <= BLOCK {
            (b, b + 1)
        } else {
            return false;
        };
        self.flush();
        let moved = self.blocks.remove(from);
        self.firsts.remove(from);
        self.maxes.remove(from);
        self.blocks[into].append(&moved);
        self.maxes[into] = self.blocks[into].max_gap();
        self.fix_groups_from(into / GROUP);
        true
    }

    /// Remove the VMA starting at `key`.
    pub(crate) fn remove(&mut self, key: u64) -> Option<Vma> {
        let p = self.pos_of(key)?;
        Some(self.remove_at(p))
    }

    /// Change the VMA starting at `key` with `f`, which may move its start and end
    /// (it must still overlap no other VMA); the VMA's new start.
    pub(crate) fn update(&mut self, key: u64, f: impl FnOnce(&mut Vma)) -> Option<u64> {
        let p = self.pos_of(key)?;
        let slot = self.slot_at(p) as usize;
        let old_end = self.slab[slot].end;
        f(&mut self.slab[slot]);
        let (start, end) = (self.slab[slot].start, self.slab[slot].end);
        if start != key {
            // Still between its neighbours' starts: the entry stays where it is.
            let in_order = self.prev(p).is_none_or(|q| self.start_at(q) < start)
                && self.next(p).is_none_or(|q| self.start_at(q) > start);
            if !in_order {
                let vma = self.slab[slot].clone();
                self.remove_at(p);
                self.insert(vma);
                return Some(start);
            }
            let (b, i) = p;
            self.blocks[b].e[i].start = start;
            if i == 0 {
                self.firsts[b] = start;
            }
            let gap = start - self.end_before(p);
            self.set_gap(p, gap);
        }
        if end != old_end {
            self.fix_next_gap(p, end);
        }
        Some(start)
    }

    /// Split the VMA starting at `key` at `at` (strictly inside it): the lower part
    /// keeps `key`, the upper part (its page offset advanced) is new. The upper part.
    #[cfg(test)]
    pub(crate) fn split(&mut self, key: u64, at: u64) -> Option<&Vma> {
        self.split_checked(key, at, |_| Ok::<(), ()>(()))
            .map(|u| u.expect("nothing refuses"))
    }

    /// [`split`](Self::split) after `check` accepted the VMA (its error otherwise).
    pub(crate) fn split_checked<E>(
        &mut self,
        key: u64,
        at: u64,
        check: impl FnOnce(&Vma) -> Result<(), E>,
    ) -> Option<Result<&Vma, E>> {
        let p = self.pos_of(key)?;
        if let Err(e) = check(self.at(p)) {
            return Some(Err(e));
        }
        let slot = self.slot_at(p) as usize;
        let lower = &mut self.slab[slot];
        debug_assert!(lower.start < at && at < lower.end);
        let mut upper = lower.clone();
        lower.end = at;
        upper.pgoff = upper.pgoff.wrapping_add(pages(at - upper.start));
        upper.start = at;
        let uslot = self.alloc(upper);
        self.len += 1;
        // The upper part starts where the lower one ends: no gap below it; the gap
        // above it is the old one.
        let up = self.insert_at((p.0, p.1 + 1), at, 0, uslot);
        self.touch(up);
        Some(Ok(&self.slab[uslot as usize]))
    }

    // ----- gap search ---------------------------------------------------------------

    /// The highest VMA starting at or below `bound` whose gap is at least `len`: its
    /// start and gap.
    pub(crate) fn highest_fit(&self, bound: u64, len: u64) -> Option<(u64, u64)> {
        if let Some(h) = self.hint.get()
            && (h.bound, h.len) == (bound, len)
        {
            let key = h.key;
            let p = self.entry_at(h.at).filter(|&p| self.start_at(p) == key);
            if let Some(p) = p.or_else(|| self.pos_of(key)) {
                let gap = self.blocks[p.0].e[p.1].gap;
                if gap >= len {
                    // The caller looks at the VMA above the gap next.
                    self.touch(p);
                    return Some((key, gap));
                }
            }
            self.hint.set(None);
        }
        let found = self.highest_fit_search(bound, len);
        // The search left the finger on its answer.
        let at = self.finger.get();
        self.hint.set(found.map(|(key, _)| SearchHint {
            bound,
            len,
            key,
            at,
        }));
        found
    }

    /// The position `(b, i)` if it names an entry.
    fn entry_at(&self, (b, i): (u32, u32)) -> Option<Pos> {
        let (b, i) = (b as usize, i as usize);
        (i < self.blocks.get(b)?.len).then_some((b, i))
    }

    /// The last VMA starting below `high`, like [`below`](Self::below), checking
    /// first where the last call found it (the gap search asks about the same
    /// `high`, `mmap_base`, every time).
    pub(crate) fn below_top(&self, high: u64) -> Option<&Vma> {
        let (h, at) = self.top.get();
        if h == high
            && let Some(p) = self.entry_at(at)
            && self.start_at(p) < high
            && self.next(p).is_none_or(|n| self.start_at(n) >= high)
        {
            return Some(self.at(p));
        }
        let p = self.pos_lt(high)?;
        self.top.set((high, (p.0 as u32, p.1 as u32)));
        Some(self.at(p))
    }

    /// [`highest_fit`](Self::highest_fit) through the summaries.
    fn highest_fit_search(&self, bound: u64, len: u64) -> Option<(u64, u64)> {
        if self.firsts.first().is_none_or(|&f| f > bound) {
            return None;
        }
        // The block holding `bound`: only its entries at or below `bound` count.
        let b = self.block_of(bound);
        let end = self.blocks[b].count_below(bound, false);
        self.first_fit::<true>(b, 0..end, len)
    }

    /// The lowest VMA starting at or above `from` whose gap is at least `len`: its
    /// start and gap (the bottom-up search's counterpart of
    /// [`highest_fit`](Self::highest_fit)).
    pub(crate) fn lowest_fit(&self, from: u64, len: u64) -> Option<(u64, u64)> {
        if self.blocks.is_empty() {
            return None;
        }
        // The block holding `from`: only its entries at or above `from` count.
        let b = self.block_of(from);
        let blk = &self.blocks[b];
        self.first_fit::<false>(b, blk.count_below(from, true)..blk.len, len)
    }

    /// The first entry, going down (`DOWN`) or up from the entries `first` of block
    /// `b`, whose gap is at least `len`: those entries, then the other blocks of `b`'s
    /// group, the other groups of its supergroup, the other supergroups, each only
    /// where its maximum is at least `len`. A maximum can be stale (larger than what
    /// it covers holds): a descent may find nothing and go on. Leaves the finger on
    /// the entry found.
    fn first_fit<const DOWN: bool>(
        &self,
        b: usize,
        first: Range<usize>,
        len: u64,
    ) -> Option<(u64, u64)> {
        // `lo..hi` in the search's direction.
        let order = |lo: usize, hi: usize| {
            (0..hi.saturating_sub(lo)).map(move |k| if DOWN { hi - 1 - k } else { lo + k })
        };
        let in_entries = |j: usize, r: Range<usize>| {
            let blk = &self.blocks[j];
            order(r.start, r.end)
                .find(|&i| blk.e[i].gap >= len)
                .map(|i| (blk.e[i].start, blk.e[i].gap, (j, i)))
        };
        let in_block = |j: usize| in_entries(j, 0..self.blocks[j].len);
        let in_group = |g: usize| {
            let lo = g * GROUP;
            order(lo, (lo + GROUP).min(self.maxes.len()))
                .filter(|&j| self.maxes[j] >= len)
                .find_map(in_block)
        };
        let in_super = |sg: usize| {
            let lo = sg * GROUP;
            order(lo, (lo + GROUP).min(self.groups.len()))
                .filter(|&g| self.groups[g] >= len)
                .find_map(in_group)
        };
        // The siblings of `k` (a block, a group) within its parent, in the direction.
        let rest = |k: usize, n: usize| {
            let lo = k / GROUP * GROUP;
            if DOWN {
                order(lo, k)
            } else {
                order(k + 1, (lo + GROUP).min(n))
            }
        };
        let (g, sg) = (b / GROUP, b / GROUP / GROUP);
        let found = (if self.maxes[b] >= len {
            in_entries(b, first)
        } else {
            None
        })
        .or_else(|| {
            rest(b, self.maxes.len())
                .filter(|&j| self.maxes[j] >= len)
                .find_map(in_block)
        })
        .or_else(|| {
            rest(g, self.groups.len())
                .filter(|&gg| self.groups[gg] >= len)
                .find_map(in_group)
        })
        .or_else(|| {
            let supers = if DOWN {
                order(0, sg)
            } else {
                order(sg + 1, self.supers.len())
            };
            supers.filter(|&s| self.supers[s] >= len).find_map(in_super)
        });
        let (start, gap, p) = found?;
        // The caller looks at the VMA above the gap next.
        self.touch(p);
        Some((start, gap))
    }

    /// The highest VMA.
    pub(crate) fn last(&self) -> Option<&Vma> {
        let blk = self.blocks.last()?;
        Some(&self.slab[blk.e[blk.len - 1].slot as usize])
    }

    // ----- checks -------------------------------------------------------------------

    /// Does the index agree with the VMAs: order, gaps, summaries, slots? (for the
    /// invariant checks)
    pub(crate) fn check(&self) -> Result<(), String> {
        let n = self.blocks.len();
        if self.firsts.len() != n
            || self.maxes.len() != n
            || self.groups.len() != n.div_ceil(GROUP)
            || self.supers.len() != n.div_ceil(GROUP).div_ceil(GROUP)
        {
            return Err(String::from(
                "the VMA index's summaries have the wrong length",
            ));
        }
        let mut used = alloc::vec![false; self.slab.len()];
        for &s in &self.free {
            if core::mem::replace(&mut used[s as usize], true) {
                return Err(format!("slab slot {s} is free twice"));
            }
        }
        let (mut count, mut prev_start, mut prev_end) = (0, None::<u64>, 0);
        for (b, blk) in self.blocks.iter().enumerate() {
            if blk.len == 0 || blk.len > BLOCK {
                return Err(format!("VMA index block {b} holds {} entries", blk.len));
            }
            for i in 0..blk.len {
                let Entry {
                    start,
                    gap,
                    slot: s,
                } = blk.e[i];
                let v = self
                    .slab
                    .get(s as usize)
                    .ok_or_else(|| format!("VMA {start:#x} has no slab slot {s}"))?;
                if core::mem::replace(&mut used[s as usize], true) {
                    return Err(format!("slab slot {s} is used twice"));
                }
                if v.start != start || prev_start.is_some_and(|p| p >= start) || start < prev_end {
                    return Err(format!("VMA index entry {start:#x} is out of order"));
                }
                if gap != start - prev_end {
                    return Err(format!(
                        "the gap below VMA {start:#x} is recorded as {gap:#x}, not {:#x}",
                        start - prev_end
                    ));
                }
                prev_start = Some(start);
                prev_end = v.end;
                count += 1;
            }
            if blk.e[blk.len..].iter().any(|e| e.start != u64::MAX) {
                return Err(format!("VMA index block {b} has starts past its end"));
            }
            let (max, have) = (blk.max_gap(), self.maxes[b]);
            let listed = self.stale.contains(&(b as u32));
            if self.firsts[b] != blk.e[0].start
                || have < max
                || (have > max && !blk.stale)
                || blk.stale != listed
            {
                return Err(format!("VMA index block {b}'s summary is stale"));
            }
        }
        let groups_ok = (0..self.groups.len())
            .all(|g| self.groups[g] == Self::max_of(&self.maxes, g))
            && (0..self.supers.len()).all(|s| self.supers[s] == Self::max_of(&self.groups, s));
        if !groups_ok {
            return Err(String::from("the VMA index's group maxima are stale"));
        }
        if count != self.len || used.iter().any(|u| !u) {
            return Err(String::from("the VMA index's slab and entries disagree"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::VmFlags;
    use crate::vma::Backing;
    use alloc::collections::BTreeMap;

    const P: u64 = 0x1000;

    fn vma(start: u64, end: u64) -> Vma {
        Vma {
            start,
            end,
            vm_flags: VmFlags::READ,
            pgoff: start / P,
            backing: Backing::Anon,
            anon: None,
        }
    }

    /// The reference: a map of the same VMAs.
    type Model = BTreeMap<u64, Vma>;

    fn check(s: &VmaSet, m: &Model, probes: &[u64]) {
        s.check().unwrap();
        assert_eq!(s.len(), m.len());
        assert!(s.iter().eq(m.values()));
        for &a in probes {
            let le = m.range(..=a).next_back().map(|e| e.1);
            let lt = m.range(..a).next_back().map(|e| e.1);
            let ge = m.range(a..).next().map(|e| e.1);
            assert_eq!(s.at_or_below(a), le, "at_or_below {a:#x}");
            assert_eq!(s.below(a), lt, "below {a:#x}");
            assert_eq!(s.below_top(a), lt, "below_top {a:#x}");
            assert_eq!(s.below_top(a), lt, "below_top again {a:#x}");
            assert_eq!(s.last(), m.values().next_back(), "last");
            assert_eq!(s.from(a), ge, "from {a:#x}");
            assert_eq!(s.get(a), m.get(&a), "get {a:#x}");
            let fv = m.values().find(|v| v.end > a);
            assert_eq!(s.find_vma(a), fv, "find_vma {a:#x}");
            let hi = a.saturating_add(5 * P);
            assert!(
                s.range(a, hi).eq(m.range(a..hi).map(|e| e.1)),
                "range {a:#x}"
            );
            assert_eq!(s.around(a, hi), (lt, m.range(hi..).next().map(|e| e.1)));
            if let Some(v) = m.get(&a) {
                let prev = m.range(..a).next_back().map(|e| e.1);
                let next = m.range(a + 1..).next().map(|e| e.1);
                assert_eq!(s.with_neighbours(a), Some((prev, v, next)));
            }
            // Gaps: the gap below each VMA, from the model.
            for len in [0, P, 3 * P, 40 * P] {
                let mut below = 0;
                let mut want = None;
                for v in m.values() {
                    if v.start > a {
                        break;
                    }
                    if v.start - below >= len {
                        want = Some((v.start, v.start - below));
                    }
                    below = v.end;
                }
                assert_eq!(s.highest_fit(a, len), want, "highest_fit {a:#x} {len:#x}");
                let mut below = 0;
                let mut want = None;
                for v in m.values() {
                    if v.start >= a && v.start - below >= len {
                        want = Some((v.start, v.start - below));
                        break;
                    }
                    below = v.end;
                }
                assert_eq!(s.lowest_fit(a, len), want, "lowest_fit {a:#x} {len:#x}");
            }
        }
    }

    fn rnd(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Random inserts, removals, splits and updates (growing, shrinking and moving
    /// VMAs, some past their neighbours) against a map, with every lookup checked at
    /// random probes. The test block size is 8, so blocks split, merge and empty, and
    /// groups of 4 blocks come and go.
    #[test]
    fn agrees_with_a_map() {
        let mut s = VmaSet::new();
        let mut m = Model::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..6_000 {
            let fixed = if step % 2 == 0 {
                (300 * P, 2 * P)
            } else {
                (u64::MAX, P + (rnd(&mut x) % 3) * P)
            };
            s.highest_fit(fixed.0, fixed.1);
            s.below_top(300 * P);
            let a = (rnd(&mut x) % 400) * P;
            let len = (rnd(&mut x) % 4 + 1) * P;
            let free = |m: &Model, lo: u64, hi: u64| {
                m.range(..hi).next_back().is_none_or(|(_, v)| v.end <= lo)
            };
            match rnd(&mut x) % 6 {
                0 | 1 if free(&m, a, a + len) => {
                    s.insert(vma(a, a + len));
                    m.insert(a, vma(a, a + len));
                }
                2 => {
                    let k = m.range(a..).next().map(|e| *e.0);
                    if let Some(k) = k {
                        assert_eq!(s.remove(k), m.remove(&k));
                    } else {
                        assert_eq!(s.remove(a), None);
                    }
                }
                3 => {
                    if let Some((&k, v)) = m.range(a..).next()
                        && v.end - k > P
                    {
                        let at = k + P * (1 + rnd(&mut x) % ((v.end - k) / P - 1));
                        let mut lo = v.clone();
                        let mut up = v.clone();
                        lo.end = at;
                        up.start = at;
                        up.pgoff += (at - k) / P;
                        assert_eq!(s.split(k, at), Some(&up));
                        m.insert(k, lo);
                        m.insert(at, up);
                    }
                }
                5 => {
                    // Move a VMA to a free range anywhere (past other VMAs).
                    let to = (rnd(&mut x) % 400) * P;
                    if let Some((&k, v)) = m.range(a..).next()
                        && free(&m, to, to + (v.end - k))
                        && (to + (v.end - k) <= k || to >= v.end)
                    {
                        let mut nv = m.remove(&k).unwrap();
                        nv.end = to + (nv.end - k);
                        nv.start = to;
                        m.insert(to, nv.clone());
                        assert_eq!(s.update(k, |v| *v = nv), Some(to));
                    }
                }
                _ => {
                    if let Some((&k, v)) = m.range(a..).next() {
                        // A new extent inside the free space around the VMA.
                        let lo = m.range(..k).next_back().map_or(0, |e| e.1.end);
                        let hi = m.range(k + 1..).next().map_or(500 * P, |e| *e.0);
                        let ns = lo + P * (rnd(&mut x) % ((v.end - lo) / P));
                        let ne = (ns + P + P * (rnd(&mut x) % 6)).min(hi);
                        let mut nv = m.remove(&k).unwrap();
                        nv.start = ns;
                        nv.end = ne;
                        nv.vm_flags = VmFlags::READ | VmFlags::WRITE;
                        m.insert(ns, nv);
                        let got = s.update(k, |v| {
                            v.start = ns;
                            v.end = ne;
                            v.vm_flags = VmFlags::READ | VmFlags::WRITE;
                        });
                        assert_eq!(got, Some(ns));
                    }
                }
            }
            let probes = [
                a,
                a + P,
                a.saturating_sub(P),
                0,
                rnd(&mut x) % (520 * P),
                u64::MAX,
            ];
            // The search made before this step's change, again: answered by the hint
            // unless the change could have made a higher answer.
            let (bound, len) = fixed;
            let mut below = 0;
            let mut want = None;
            for v in m.values().take_while(|v| v.start <= bound) {
                if v.start - below >= len {
                    want = Some((v.start, v.start - below));
                }
                below = v.end;
            }
            assert_eq!(s.highest_fit(bound, len), want, "step {step}");
            let top = m.range(..300 * P).next_back().map(|e| e.1);
            assert_eq!(s.below_top(300 * P), top, "step {step}");
            // Searches work on stale maxima too; flushed, the maxima are exact.
            if step % 3 == 0 {
                s.flush();
                assert!(s.stale.is_empty());
            }
            check(&s, &m, &probes);
            if step % 997 == 0 {
                // Empty it now and then: blocks and groups go and come back.
                while let Some(&k) = m.keys().next() {
                    assert_eq!(s.remove(k), m.remove(&k));
                }
                check(&s, &m, &[0, P]);
            }
        }
    }

    /// Address-ordered builds (each new VMA just below the top one, as when a
    /// reservation is filled upwards; and appends), then teardown of every other VMA
    /// and most of the rest: blocks stay full on the way up and merge on the way down.
    #[test]
    fn ordered_builds_leave_full_blocks() {
        let mut s = VmaSet::new();
        let mut m = Model::new();
        let top = 10_000 * P;
        s.insert(vma(top, top + P));
        m.insert(top, vma(top, top + P));
        for k in 0..300u64 {
            // Every 37th leaves a larger gap below it.
            let a = k * 2 * P + (k / 37) * 40 * P;
            s.insert(vma(a, a + P));
            m.insert(a, vma(a, a + P));
            check(&s, &m, &[a, a + P, top]);
        }
        assert!(
            s.blocks[..s.blocks.len() - 1]
                .iter()
                .all(|b| b.len == BLOCK)
        );
        for k in 0..300u64 {
            let a = 20_000 * P + k * P;
            s.insert(vma(a, a + P));
            m.insert(a, vma(a, a + P));
        }
        check(&s, &m, &[0, top, 20_000 * P]);
        assert!(
            s.blocks[..s.blocks.len() - 1]
                .iter()
                .all(|b| b.len == BLOCK)
        );
        let keys: Vec<u64> = m.keys().copied().collect();
        for (n, k) in keys.iter().enumerate() {
            if n % 2 == 0 || n % 7 != 3 {
                assert_eq!(s.remove(*k), m.remove(k));
                check(&s, &m, &[*k, k + P]);
            }
        }
        // Few blocks remain, none small next to one it fits into.
        assert!(s.blocks.len() <= m.len().div_ceil(MERGE_BELOW));
        // Slots are reused.
        let slab = s.slab.len();
        for k in 0..50u64 {
            let a = 30_000 * P + k * P;
            s.insert(vma(a, a + P));
            m.insert(a, vma(a, a + P));
        }
        check(&s, &m, &[0, 30_000 * P]);
        assert_eq!(s.slab.len(), slab);
    }

    /// The invariant check catches a stale gap, a stale summary and a misordered
    /// entry.
    #[test]
    fn check_catches_damage() {
        let mut s = VmaSet::new();
        for k in 0..40u64 {
            s.insert(vma(k * 3 * P, k * 3 * P + P));
        }
        s.check().unwrap();
        let mut t = s.clone();
        t.blocks[2].e[1].gap += P;
        assert!(t.check().unwrap_err().contains("gap below"));
        let mut t = s.clone();
        t.maxes[1] += 1;
        assert!(t.check().unwrap_err().contains("summary"));
        let mut t = s.clone();
        t.groups[0] += 1;
        assert!(t.check().unwrap_err().contains("group"));
        let mut t = s.clone();
        t.supers[0] += 1;
        assert!(t.check().unwrap_err().contains("group"));
        let mut t = s.clone();
        t.blocks[1].e.swap(0, 1);
        assert!(t.check().is_err());
        let mut t = s.clone();
        t.free.push(t.blocks[0].e[0].slot);
        assert!(t.check().unwrap_err().contains("twice"));
    }
}
