//! The free gaps between VMAs, indexed for `O(log n)` searches.
//!
//! Every VMA is keyed by its start and carries the size of the free gap directly below
//! it (down to the previous VMA's end, or to 0 for the lowest VMA). The keys live in a
//! treap whose nodes also hold the largest gap in their subtree, so "the highest VMA
//! starting at or below `bound` whose gap below is at least `len`" is one descent.
//!
//! # Linux
//! The maple tree keeps the same information (`mas_empty_area_rev` walks its gap
//! metadata); this is the engine's equivalent for `unmapped_area_topdown`.

use alloc::vec::Vec;

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    key: u64,
    gap: u64,
    /// The largest `gap` in this node's subtree.
    max: u64,
    left: u32,
    right: u32,
}

/// A treap of (VMA start → gap below it) with subtree maxima.
#[derive(Clone, Debug)]
pub(crate) struct GapIndex {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    len: usize,
}

/// A well-mixed priority for a key (deterministic: the engine has no randomness).
fn prio(key: u64) -> u32 {
    let mut x = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    x as u32
}

impl GapIndex {
    pub(crate) const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            len: 0,
        }
    }

    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn max_of(&self, t: u32) -> u64 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].max
        }
    }

    fn fix(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let m = n.gap.max(self.max_of(n.left)).max(self.max_of(n.right));
        self.nodes[t as usize].max = m;
    }

    /// Split `t` into keys `< key` and keys `>= key`.
    fn split(&mut self, t: u32, key: u64) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.nodes[t as usize].key < key {
            let (l, r) = self.split(self.nodes[t as usize].right, key);
            self.nodes[t as usize].right = l;
            self.fix(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key);
            self.nodes[t as usize].left = r;
            self.fix(t);
            (l, t)
        }
    }

    /// Join two treaps, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        // Priorities are a hash of the key, computed rather than stored (32-byte nodes).
        if prio(self.nodes[a as usize].key) >= prio(self.nodes[b as usize].key) {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.fix(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.fix(b);
            b
        }
    }

    /// Set the gap below `key`, inserting the key if it is new.
    pub(crate) fn set(&mut self, key: u64, gap: u64) {
        // Update in place when present: walk down, then refresh the maxima on the way
        // back (the path is short; recursion depth is the treap's height).
        if self.update(self.root, key, gap) {
            return;
        }
        self.insert_new(key, gap);
    }

    /// Insert `key`, which is not in the index, with the gap below it (one descent
    /// fewer than [`set`](Self::set)).
    pub(crate) fn insert_new(&mut self, key: u64, gap: u64) {
        let node = Node {
            key,
            gap,
            max: gap,
            left: NIL,
            right: NIL,
        };
        let id = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.root = self.insert_at(self.root, id);
        self.len += 1;
    }

    /// Insert node `id` into the subtree `t`: descend while the subtree's root has the
    /// higher priority, then split there.
    fn insert_at(&mut self, t: u32, id: u32) -> u32 {
        if t == NIL {
            return id;
        }
        let key = self.nodes[id as usize].key;
        if prio(key) > prio(self.nodes[t as usize].key) {
            let (l, r) = self.split(t, key);
            self.nodes[id as usize].left = l;
            self.nodes[id as usize].right = r;
            self.fix(id);
            return id;
        }
        if key < self.nodes[t as usize].key {
            let c = self.insert_at(self.nodes[t as usize].left, id);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.insert_at(self.nodes[t as usize].right, id);
            self.nodes[t as usize].right = c;
        }
        self.fix(t);
        t
    }

    /// Set the gap of `key` in subtree `t` if the key is there; whether it was. The
    /// maxima on the path are recomputed only when the gap changed.
    fn update(&mut self, t: u32, key: u64, gap: u64) -> bool {
        self.update_changed(t, key, gap).is_some()
    }

    /// `None`: not found; `Some(changed)`.
    fn update_changed(&mut self, t: u32, key: u64, gap: u64) -> Option<bool> {
        if t == NIL {
            return None;
        }
        let k = self.nodes[t as usize].key;
        let changed = if key == k {
            let old = core::mem::replace(&mut self.nodes[t as usize].gap, gap);
            old != gap
        } else if key < k {
            self.update_changed(self.nodes[t as usize].left, key, gap)?
        } else {
            self.update_changed(self.nodes[t as usize].right, key, gap)?
        };
        if changed {
            self.fix(t);
        }
        Some(changed)
    }

    /// Remove `key` if present.
    pub(crate) fn remove(&mut self, key: u64) {
        let (root, found) = self.remove_at(self.root, key);
        self.root = root;
        if found {
            self.len -= 1;
        }
    }

    fn remove_at(&mut self, t: u32, key: u64) -> (u32, bool) {
        if t == NIL {
            return (NIL, false);
        }
        let n = &self.nodes[t as usize];
        let (k, l, r) = (n.key, n.left, n.right);
        if key == k {
            self.free.push(t);
            return (self.merge(l, r), true);
        }
        let found = if key < k {
            let (c, f) = self.remove_at(l, key);
            self.nodes[t as usize].left = c;
            f
        } else {
            let (c, f) = self.remove_at(r, key);
            self.nodes[t as usize].right = c;
            f
        };
        if found {
            self.fix(t);
        }
        (t, found)
    }

    /// The gap recorded below `key`.
    #[cfg(test)]
    pub(crate) fn get(&self, key: u64) -> Option<u64> {
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if key == n.key {
                return Some(n.gap);
            }
            t = if key < n.key { n.left } else { n.right };
        }
        None
    }

    /// The highest key `<= bound` whose gap is at least `len`, with its gap.
    pub(crate) fn highest_fit(&self, bound: u64, len: u64) -> Option<(u64, u64)> {
        self.highest_in(self.root, bound, len)
    }

    fn highest_in(&self, t: u32, bound: u64, len: u64) -> Option<(u64, u64)> {
        if t == NIL || self.nodes[t as usize].max < len {
            return None;
        }
        let n = &self.nodes[t as usize];
        if n.key > bound {
            return self.highest_in(n.left, bound, len);
        }
        // Everything on the left is below bound: only its maximum matters there.
        if let Some(r) = self.highest_in(n.right, bound, len) {
            return Some(r);
        }
        if n.gap >= len {
            return Some((n.key, n.gap));
        }
        self.highest_unbounded(n.left, len)
    }

    fn highest_unbounded(&self, mut t: u32, len: u64) -> Option<(u64, u64)> {
        loop {
            if t == NIL || self.nodes[t as usize].max < len {
                return None;
            }
            let n = &self.nodes[t as usize];
            if self.max_of(n.right) >= len {
                t = n.right;
            } else if n.gap >= len {
                return Some((n.key, n.gap));
            } else {
                t = n.left;
            }
        }
    }

    /// Every (key, gap) in key order (for invariant checks).
    pub(crate) fn entries(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack = Vec::new();
        let mut t = self.root;
        loop {
            while t != NIL {
                stack.push(t);
                t = self.nodes[t as usize].left;
            }
            let Some(n) = stack.pop() else { break };
            out.push((self.nodes[n as usize].key, self.nodes[n as usize].gap));
            t = self.nodes[n as usize].right;
        }
        out
    }

    /// Do the subtree maxima hold? (for invariant checks)
    pub(crate) fn maxima_consistent(&self) -> bool {
        self.check(self.root).is_some()
    }

    fn check(&self, t: u32) -> Option<u64> {
        if t == NIL {
            return Some(0);
        }
        let n = &self.nodes[t as usize];
        let m = n.gap.max(self.check(n.left)?).max(self.check(n.right)?);
        (m == n.max).then_some(m)
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
                    g.remove(key);
                    m.remove(&key);
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
        }
        assert!(g.maxima_consistent());
        assert_eq!(g.entries(), m.into_iter().collect::<Vec<_>>());
    }
}
