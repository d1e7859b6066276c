//! The free gaps between VMAs, indexed for fast top-down searches.
//!
//! Every VMA is keyed by its start and carries the size of the free gap directly below
//! it (down to the previous VMA's end, or to 0 for the lowest VMA). The (key, gap) pairs
//! are kept in key order in blocks of at most [`BLOCK`] entries; each block's largest
//! gap is kept beside it, and each group of [`GROUP`] blocks' largest gap above that.
//! "The highest key at or below `bound` whose gap is at least `len`" scans the block
//! holding `bound`, then block maxima and group maxima downwards: a bounded number of
//! contiguous reads, where a balanced tree would chase a pointer per level. Updates
//! binary-search the blocks' first keys and touch one block.
//!
//! A block filled by appends (VMAs built in address order) is split so that the full
//! part stays full, which keeps the index at about 16 bytes per VMA.
//!
//! Costs, for n keys: a search reads at most n / (BLOCK * GROUP) group maxima, GROUP
//! block maxima and 2 * BLOCK entries; at `vm.max_map_count`'s default of 65,530 that is
//! at most 16, 32 and 256. An update is a binary search over the n / BLOCK first keys
//! and a shift inside one block; a split or a merge (one per about BLOCK / 2 updates at
//! worst) also shifts the per-block vectors and recomputes the group maxima, which is
//! linear in n / BLOCK (about 512 entries at 65,530 keys).
//!
//! # Linux
//! The maple tree keeps the same information in its nodes (`mas_empty_area_rev` walks
//! its gap metadata); this is the engine's equivalent for `unmapped_area_topdown`.

use alloc::vec::Vec;

/// Most entries in a block.
const BLOCK: usize = if cfg!(test) { 8 } else { 128 };
/// Blocks per group of the upper summary.
const GROUP: usize = if cfg!(test) { 4 } else { 32 };
/// A block with fewer entries than this is merged into a neighbour that has room.
const MERGE_BELOW: usize = BLOCK / 8;

/// The gaps below the VMAs, in key order, with block and group maxima.
#[derive(Clone, Debug)]
pub(crate) struct GapIndex {
    /// Non-empty blocks of (key, gap), sorted, each at most [`BLOCK`] long.
    blocks: Vec<Vec<(u64, u64)>>,
    /// The first key of each block.
    firsts: Vec<u64>,
    /// The largest gap of each block.
    maxes: Vec<u64>,
    /// The largest gap of each group of [`GROUP`] blocks.
    groups: Vec<u64>,
    len: usize,
}

impl GapIndex {
    pub(crate) const fn new() -> Self {
        Self {
            blocks: Vec::new(),
            firsts: Vec::new(),
            maxes: Vec::new(),
            groups: Vec::new(),
            len: 0,
        }
    }

    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The block that holds `key` or would hold it: the last whose first key is at or
    /// below `key` (block 0 for keys below every first key).
    fn block_of(&self, key: u64) -> usize {
        self.firsts.partition_point(|&f| f <= key).saturating_sub(1)
    }

    fn block_max(block: &[(u64, u64)]) -> u64 {
        block.iter().map(|e| e.1).max().unwrap_or(0)
    }

    /// Recompute group `g` from its blocks' maxima.
    fn fix_group(&mut self, g: usize) {
        let from = g * GROUP;
        let to = (from + GROUP).min(self.maxes.len());
        self.groups[g] = self.maxes[from..to].iter().copied().max().unwrap_or(0);
    }

    /// Recompute every group (after blocks were added or removed).
    fn fix_groups(&mut self) {
        let n = self.maxes.len().div_ceil(GROUP);
        self.groups.clear();
        self.groups.resize(n, 0);
        for g in 0..n {
            self.fix_group(g);
        }
    }

    /// Block `b`'s maximum changed to `m`: record it and its group's.
    fn set_block_max(&mut self, b: usize, m: u64) {
        if self.maxes[b] != m {
            self.maxes[b] = m;
            self.fix_group(b / GROUP);
        }
    }

    /// Set the gap below `key`, inserting the key if it is new.
    pub(crate) fn set(&mut self, key: u64, gap: u64) {
        if !self.blocks.is_empty() {
            let b = self.block_of(key);
            if let Ok(i) = self.blocks[b].binary_search_by_key(&key, |e| e.0) {
                let old = core::mem::replace(&mut self.blocks[b][i].1, gap);
                if gap > self.maxes[b] {
                    self.set_block_max(b, gap);
                } else if old == self.maxes[b] && gap < old {
                    let m = Self::block_max(&self.blocks[b]);
                    self.set_block_max(b, m);
                }
                return;
            }
        }
        self.insert_new(key, gap);
    }

    /// Insert `key`, which is not in the index, with the gap below it.
    pub(crate) fn insert_new(&mut self, key: u64, gap: u64) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(alloc::vec![(key, gap)]);
            self.firsts.push(key);
            self.maxes.push(gap);
            self.fix_groups();
            return;
        }
        let b = self.block_of(key);
        let block = &mut self.blocks[b];
        let i = block.partition_point(|e| e.0 < key);
        debug_assert!(
            block.get(i).is_none_or(|e| e.0 != key),
            "key already indexed"
        );
        if block.len() == block.capacity() {
            // Grow by half, never past one entry over a full block: doubling would
            // leave up to half of every block's memory unused.
            let n = block.len();
            block.reserve_exact((n / 2).max(4).min(BLOCK + 1 - n));
        }
        block.insert(i, (key, gap));
        if i == 0 {
            self.firsts[b] = key;
        }
        if block.len() > BLOCK {
            // Split at the new key when it is in the upper half (keys created in
            // address order then leave full blocks behind them, which are trimmed to
            // size), else in the middle.
            let n = block.len();
            let at = if i >= n / 2 { i.clamp(1, BLOCK) } else { n / 2 };
            let upper = block.split_off(at);
            if at == i {
                block.shrink_to_fit();
            }
            let (lower_max, upper_max) = (Self::block_max(block), Self::block_max(&upper));
            self.firsts.insert(b + 1, upper[0].0);
            self.blocks.insert(b + 1, upper);
            self.maxes[b] = lower_max;
            self.maxes.insert(b + 1, upper_max);
            self.fix_groups();
        } else if gap > self.maxes[b] {
            self.set_block_max(b, gap);
        }
    }

    /// The first key above `key`, with its gap.
    pub(crate) fn successor(&self, key: u64) -> Option<(u64, u64)> {
        if self.blocks.is_empty() {
            return None;
        }
        let b = self.block_of(key);
        let block = &self.blocks[b];
        let i = block.partition_point(|e| e.0 <= key);
        match block.get(i) {
            Some(&e) => Some(e),
            None => self.blocks.get(b + 1).map(|next| next[0]),
        }
    }

    /// Remove `key` if present; its gap.
    pub(crate) fn remove(&mut self, key: u64) -> Option<u64> {
        if self.blocks.is_empty() {
            return None;
        }
        let b = self.block_of(key);
        let Ok(i) = self.blocks[b].binary_search_by_key(&key, |e| e.0) else {
            return None;
        };
        self.len -= 1;
        let (_, gap) = self.blocks[b].remove(i);
        if self.blocks[b].is_empty() {
            self.blocks.remove(b);
            self.firsts.remove(b);
            self.maxes.remove(b);
            self.fix_groups();
            return Some(gap);
        }
        if i == 0 {
            self.firsts[b] = self.blocks[b][0].0;
        }
        if self.blocks[b].len() < MERGE_BELOW && self.merge_around(b) {
            return Some(gap);
        }
        if gap == self.maxes[b] {
            let m = Self::block_max(&self.blocks[b]);
            self.set_block_max(b, m);
        }
        Some(gap)
    }

    /// Merge the small block `b` into a neighbour with room; whether it was merged.
    fn merge_around(&mut self, b: usize) -> bool {
        let n = self.blocks[b].len();
        let (into, from) = if b > 0 && self.blocks[b - 1].len() + n <= BLOCK {
            (b - 1, b)
        } else if b + 1 < self.blocks.len() && self.blocks[b + 1].len() + n <= BLOCK {
            (b, b + 1)
        } else {
            return false;
        };
        let moved = self.blocks.remove(from);
        self.firsts.remove(from);
        self.maxes.remove(from);
        self.blocks[into].extend(moved);
        self.maxes[into] = Self::block_max(&self.blocks[into]);
        self.fix_groups();
        true
    }

    /// The gap recorded below `key`.
    #[cfg(test)]
    pub(crate) fn get(&self, key: u64) -> Option<u64> {
        if self.blocks.is_empty() {
            return None;
        }
        let block = &self.blocks[self.block_of(key)];
        block
            .binary_search_by_key(&key, |e| e.0)
            .ok()
            .map(|i| block[i].1)
    }

    /// The highest key `<= bound` whose gap is at least `len`, with its gap.
    pub(crate) fn highest_fit(&self, bound: u64, len: u64) -> Option<(u64, u64)> {
        if self.firsts.first().is_none_or(|&f| f > bound) {
            return None;
        }
        let fit_in = |block: &[(u64, u64)]| block.iter().rev().find(|e| e.1 >= len).copied();
        // The block holding `bound`: only its keys at or below `bound` count.
        let b = self.block_of(bound);
        if self.maxes[b] >= len {
            let block = &self.blocks[b];
            let end = block.partition_point(|e| e.0 <= bound);
            if let Some(e) = fit_in(&block[..end]) {
                return Some(e);
            }
        }
        // Then whole blocks below it, skipping whole groups whose maximum is too small.
        let mut top = b;
        while top > 0 {
            let g = (top - 1) / GROUP;
            let from = g * GROUP;
            if top == from + GROUP && self.groups[g] < len {
                top = from;
                continue;
            }
            for j in (from..top).rev() {
                if self.maxes[j] >= len {
                    return fit_in(&self.blocks[j]);
                }
            }
            top = from;
        }
        None
    }

    /// Every (key, gap) in key order (for invariant checks).
    pub(crate) fn entries(&self) -> Vec<(u64, u64)> {
        self.blocks.iter().flatten().copied().collect()
    }

    /// Do the block and group summaries hold? (for invariant checks)
    pub(crate) fn maxima_consistent(&self) -> bool {
        let n = self.blocks.len();
        if self.firsts.len() != n || self.maxes.len() != n || self.groups.len() != n.div_ceil(GROUP)
        {
            return false;
        }
        let blocks_ok = self.blocks.iter().enumerate().all(|(i, b)| {
            !b.is_empty()
                && b.len() <= BLOCK
                && b.windows(2).all(|w| w[0].0 < w[1].0)
                && self.firsts[i] == b[0].0
                && self.maxes[i] == Self::block_max(b)
        });
        let ordered = self
            .blocks
            .windows(2)
            .all(|w| w[0].last().map(|e| e.0) < w[1].first().map(|e| e.0));
        let groups_ok = (0..self.groups.len()).all(|g| {
            let from = g * GROUP;
            let to = (from + GROUP).min(n);
            self.groups[g] == self.maxes[from..to].iter().copied().max().unwrap_or(0)
        });
        let count = self.blocks.iter().map(Vec::len).sum::<usize>() == self.len;
        blocks_ok && ordered && groups_ok && count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    #[test]
    fn agrees_with_a_linear_scan() {
        let mut g = GapIndex::new();
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        let mut x = 12345u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let key = rnd() % 2000;
            match rnd() % 3 {
                0 => {
                    assert_eq!(g.remove(key), m.remove(&key));
                }
                _ => {
                    let gap = rnd() % 100;
                    g.set(key, gap);
                    m.insert(key, gap);
                }
            }
            let bound = rnd() % 2100;
            let len = rnd() % 110;
            let want = m
                .range(..=bound)
                .rev()
                .find(|&(_, &v)| v >= len)
                .map(|(&k, &v)| (k, v));
            assert_eq!(g.highest_fit(bound, len), want);
            assert_eq!(g.len(), m.len());
            assert_eq!(g.get(key), m.get(&key).copied());
            assert_eq!(
                g.successor(bound),
                m.range(bound + 1..).next().map(|(&k, &v)| (k, v))
            );
            assert!(g.maxima_consistent());
        }
        assert_eq!(g.entries(), m.into_iter().collect::<Vec<_>>());
    }

    /// Address-ordered builds (appends, as when VMAs are created in order), teardown
    /// of every other key, refills, and searches at every scale: many blocks and groups
    /// (the test constants are small), splits at the end and in the middle, merges.
    #[test]
    fn appends_removals_and_searches_across_blocks_and_groups() {
        let mut g = GapIndex::new();
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        let check = |g: &GapIndex, m: &BTreeMap<u64, u64>, step: u64| {
            assert!(g.maxima_consistent(), "step {step}");
            for probe in [0, step * 10, step * 10 + 5, u64::MAX - 1] {
                let want = m.range(probe + 1..).next().map(|(&k, &v)| (k, v));
                assert_eq!(g.successor(probe), want, "step {step} probe {probe}");
            }
            for (bound, len) in [
                (0, 0),
                (u64::MAX, 0),
                (u64::MAX, 50),
                (step * 3, 7),
                (step, 90),
            ] {
                let want = m
                    .range(..=bound)
                    .rev()
                    .find(|&(_, &v)| v >= len)
                    .map(|(&k, &v)| (k, v));
                assert_eq!(
                    g.highest_fit(bound, len),
                    want,
                    "step {step} bound {bound} len {len}"
                );
            }
        };
        // Build 1,000 keys in order; gaps mostly 0, a large one now and then.
        for k in 0..1000u64 {
            let gap = if k % 97 == 0 { 60 + k % 40 } else { k % 5 };
            g.insert_new(k * 10, gap);
            m.insert(k * 10, gap);
            check(&g, &m, k);
        }
        // The appended blocks stay full.
        assert!(
            g.blocks[..g.blocks.len() - 1]
                .iter()
                .all(|b| b.len() == BLOCK)
        );
        // Remove every other key, then most of the rest (blocks shrink and merge).
        for k in (0..1000u64).step_by(2) {
            g.remove(k * 10);
            m.remove(&(k * 10));
            check(&g, &m, k);
        }
        for k in (1..1000u64).step_by(2).filter(|k| k % 7 != 0) {
            g.remove(k * 10);
            m.remove(&(k * 10));
            check(&g, &m, k);
        }
        // Refill in the middle with updates of existing keys mixed in.
        for k in (0..1000u64).rev() {
            let key = k * 10 + 5;
            g.set(key, k % 13);
            m.insert(key, k % 13);
            if let Some((&e, _)) = m.range(..key).next_back() {
                g.set(e, 200);
                m.insert(e, 200);
                g.set(e, 1);
                m.insert(e, 1);
            }
            check(&g, &m, k);
        }
        assert_eq!(g.len(), m.len());
        assert_eq!(g.entries(), m.into_iter().collect::<Vec<_>>());
        // Removing what is not there changes nothing.
        let before = g.entries();
        g.remove(3);
        assert_eq!(g.entries(), before);
    }
}
