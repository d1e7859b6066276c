//! What to draw: the changes between consecutive steps, the mappings worth drawing, and
//! the compressed address axis. Everything here is integer arithmetic, so the same
//! input always gives the same picture.

use std::collections::HashSet;

use vmspace::MapsLine;

use crate::{Move, Selection, Step};

/// A half-open address interval `[start, end)`.
pub(crate) type Iv = (u64, u64);

/// Sort and merge intervals that overlap or touch; empty ones are dropped.
pub(crate) fn merge(mut v: Vec<Iv>) -> Vec<Iv> {
    v.retain(|&(s, e)| e > s);
    v.sort_unstable();
    let mut out: Vec<Iv> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` minus `b`, both merged.
pub(crate) fn subtract(a: &[Iv], b: &[Iv]) -> Vec<Iv> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(s, e) in a {
        let mut cur = s;
        while j < b.len() && b[j].1 <= cur {
            j += 1;
        }
        let mut k = j;
        while cur < e {
            match b.get(k) {
                Some(&(bs, be)) if bs < e => {
                    if bs > cur {
                        out.push((cur, bs));
                    }
                    cur = cur.max(be);
                    k += 1;
                }
                _ => {
                    out.push((cur, e));
                    cur = e;
                }
            }
        }
    }
    out
}

/// Does `[s, e)` overlap the merged set?
pub(crate) fn overlaps(set: &[Iv], s: u64, e: u64) -> bool {
    let i = set.partition_point(|iv| iv.1 <= s);
    set.get(i).is_some_and(|iv| iv.0 < e)
}

/// The changes one step made, against the step before it.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepChanges {
    /// For each line of the step (in address order): new or changed in this step.
    pub(crate) changed: Vec<bool>,
    /// Lines of the previous step that are not in this one, in address order.
    pub(crate) removed: Vec<usize>,
    /// Address ranges mapped before the step and unmapped after it.
    pub(crate) ghosts: Vec<Iv>,
    /// Ranges whose pages moved.
    pub(crate) moves: Vec<Move>,
}

impl StepChanges {
    pub(crate) fn any(&self) -> bool {
        self.changed.iter().any(|&c| c) || !self.removed.is_empty() || !self.moves.is_empty()
    }
}

/// The lines of a step in address order, empty ones left out.
pub(crate) fn sorted_lines(step: &Step) -> Vec<&MapsLine> {
    let mut v: Vec<&MapsLine> = step.maps.iter().filter(|l| l.end > l.start).collect();
    v.sort_by_key(|l| (l.start, l.end));
    v
}

fn mapped(lines: &[&MapsLine]) -> Vec<Iv> {
    merge(lines.iter().map(|l| (l.start, l.end)).collect())
}

fn step_changes(
    prev: Option<&[&MapsLine]>,
    cur: &[&MapsLine],
    explicit: Option<&[Move]>,
) -> StepChanges {
    let Some(prev) = prev else {
        return StepChanges {
            changed: vec![false; cur.len()],
            ..StepChanges::default()
        };
    };
    let before: HashSet<&MapsLine> = prev.iter().copied().collect();
    let after: HashSet<&MapsLine> = cur.iter().copied().collect();
    let changed = cur.iter().map(|l| !before.contains(l)).collect();
    let removed = (0..prev.len())
        .filter(|&i| !after.contains(prev[i]))
        .collect();
    let was = mapped(prev);
    let now = mapped(cur);
    let ghosts = subtract(&was, &now);
    let moves = match explicit {
        Some(m) => m
            .iter()
            .filter(|m| !m.from.is_empty() && !m.to.is_empty())
            .cloned()
            .collect(),
        None => {
            // A range that disappeared and one of the same size that appeared.
            let appeared = subtract(&now, &was);
            let mut used = vec![false; appeared.len()];
            let mut moves = Vec::new();
            for &(gs, ge) in &ghosts {
                if let Some(k) = (0..appeared.len())
                    .find(|&k| !used[k] && appeared[k].1 - appeared[k].0 == ge - gs)
                {
                    used[k] = true;
                    moves.push(Move {
                        from: gs..ge,
                        to: appeared[k].0..appeared[k].1,
                    });
                }
            }
            moves
        }
    };
    StepChanges {
        changed,
        removed,
        ghosts,
        moves,
    }
}

/// One segment of the address axis.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seg {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) x0: i64,
    pub(crate) x1: i64,
    /// Address space no drawn mapping ever covers, compressed to a fixed width.
    pub(crate) gap: bool,
}

/// Width of a compressed gap, in pixels.
pub(crate) const GAP_W: i64 = 18;
/// Smallest width of a mapped segment.
const MIN_W: i64 = 3;

/// About 8 * (log2(pages) + 1), from the top four bits, in integers.
pub(crate) fn weight(bytes: u64) -> i64 {
    let pages = bytes.div_ceil(4096).max(1);
    let k = 63 - i64::from(pages.leading_zeros());
    let frac = if k >= 3 {
        (pages >> (k - 3)) & 7
    } else {
        (pages << (3 - k)) & 7
    };
    8 * (k + 1) + frac as i64
}

/// The address axis: the covered address space cut at every boundary, each piece as
/// wide as the log of its size, with every uncovered stretch shrunk to [`GAP_W`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Axis {
    pub(crate) segs: Vec<Seg>,
    pub(crate) width: i64,
}

impl Axis {
    /// An axis over `domain` (merged), cut at `cuts`, at least `width` pixels wide
    /// (wider when there are too many segments to fit), starting at `left`.
    pub(crate) fn new(domain: &[Iv], cuts: &[u64], left: i64, width: i64) -> Axis {
        let mut pieces: Vec<(u64, u64, bool)> = Vec::new();
        let mut cuts: Vec<u64> = cuts.to_vec();
        cuts.sort_unstable();
        cuts.dedup();
        for (i, &(s, e)) in domain.iter().enumerate() {
            if i > 0 {
                pieces.push((domain[i - 1].1, s, true));
            }
            let from = cuts.partition_point(|&c| c <= s);
            let mut cur = s;
            for &c in cuts[from..].iter().take_while(|&&c| c < e) {
                pieces.push((cur, c, false));
                cur = c;
            }
            pieces.push((cur, e, false));
        }
        let gaps = pieces.iter().filter(|p| p.2).count() as i64;
        let mapped = pieces.len() as i64 - gaps;
        let total: i64 = pieces
            .iter()
            .filter(|p| !p.2)
            .map(|p| weight(p.1 - p.0))
            .sum();
        let mut avail = width - gaps * GAP_W - mapped * MIN_W;
        if avail < mapped * 4 {
            avail = mapped * 4;
        }
        let mut segs = Vec::with_capacity(pieces.len());
        let mut x = left;
        let mut cum = 0i64;
        let mut given = 0i64;
        for (s, e, gap) in pieces {
            let w = if gap {
                GAP_W
            } else {
                cum += weight(e - s);
                let upto = (i128::from(cum) * i128::from(avail) / i128::from(total.max(1))) as i64;
                let w = MIN_W + upto - given;
                given = upto;
                w
            };
            segs.push(Seg {
                start: s,
                end: e,
                x0: x,
                x1: x + w,
                gap,
            });
            x += w;
        }
        Axis {
            width: x - left,
            segs,
        }
    }

    /// The x coordinate of an address (clamped to the axis).
    pub(crate) fn x(&self, addr: u64) -> i64 {
        let Some(first) = self.segs.first() else {
            return 0;
        };
        let i = self.segs.partition_point(|s| s.end <= addr);
        let Some(seg) = self.segs.get(i) else {
            return self.segs.last().map_or(first.x0, |s| s.x1);
        };
        if addr <= seg.start {
            return seg.x0;
        }
        let span = i128::from(seg.end - seg.start);
        let off = i128::from(addr - seg.start);
        seg.x0 + (i128::from(seg.x1 - seg.x0) * off / span) as i64
    }
}

/// Everything the drawing needs, computed once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// Per step: its lines in address order.
    pub(crate) lines: Vec<Vec<MapsLine>>,
    /// Per step: which of its lines are drawn.
    pub(crate) drawn: Vec<Vec<bool>>,
    /// Per step: what changed.
    pub(crate) changes: Vec<StepChanges>,
    pub(crate) axis: Axis,
    /// Distinct maps lines over all steps, and how many of them are drawn.
    pub(crate) distinct: usize,
    pub(crate) distinct_drawn: usize,
    /// Whether the selection fell back to drawing everything (nothing changed).
    pub(crate) nothing_changed: bool,
}

impl Plan {
    pub(crate) fn new(steps: &[Step], selection: Selection, left: i64, width: i64) -> Plan {
        let sorted: Vec<Vec<&MapsLine>> = steps.iter().map(sorted_lines).collect();
        let mut changes = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| sorted[p].as_slice());
            changes.push(step_changes(prev, &sorted[i], step.moves.as_deref()));
        }

        // The address ranges that changed at some point.
        let mut touched: Vec<Iv> = Vec::new();
        for (i, ch) in changes.iter().enumerate() {
            for (k, &c) in ch.changed.iter().enumerate() {
                if c {
                    touched.push((sorted[i][k].start, sorted[i][k].end));
                }
            }
            for &k in &ch.removed {
                touched.push((sorted[i - 1][k].start, sorted[i - 1][k].end));
            }
            for m in &ch.moves {
                touched.push((m.from.start, m.from.end));
                touched.push((m.to.start, m.to.end));
            }
        }
        let touched = merge(touched);
        let nothing_changed = touched.is_empty();

        let mut drawn: Vec<Vec<bool>> = sorted.iter().map(|l| vec![false; l.len()]).collect();
        if selection == Selection::All || nothing_changed {
            for d in &mut drawn {
                d.fill(true);
            }
        } else {
            // What overlaps a change, and the mappings on either side of it.
            for (i, lines) in sorted.iter().enumerate() {
                let hit: Vec<bool> = lines
                    .iter()
                    .map(|l| overlaps(&touched, l.start, l.end))
                    .collect();
                for (k, &h) in hit.iter().enumerate() {
                    if h {
                        drawn[i][k] = true;
                        if k > 0 {
                            drawn[i][k - 1] = true;
                        }
                        if k + 1 < lines.len() {
                            drawn[i][k + 1] = true;
                        }
                    }
                }
            }
            // Then whatever, in any step, lies in the address space drawn, so that each
            // row shows all of that space.
            loop {
                let domain = domain_of(&sorted, &drawn);
                let mut grew = false;
                for (i, lines) in sorted.iter().enumerate() {
                    for (k, l) in lines.iter().enumerate() {
                        if !drawn[i][k] && overlaps(&domain, l.start, l.end) {
                            drawn[i][k] = true;
                            grew = true;
                        }
                    }
                }
                if !grew {
                    break;
                }
            }
        }

        let domain = domain_of(&sorted, &drawn);
        let mut cuts = Vec::new();
        for (i, lines) in sorted.iter().enumerate() {
            for (k, l) in lines.iter().enumerate() {
                if drawn[i][k] {
                    cuts.push(l.start);
                    cuts.push(l.end);
                }
            }
        }
        for ch in &changes {
            for &(s, e) in &ch.ghosts {
                cuts.push(s);
                cuts.push(e);
            }
            for m in &ch.moves {
                cuts.extend([m.from.start, m.from.end, m.to.start, m.to.end]);
            }
        }
        let axis = Axis::new(&domain, &cuts, left, width);

        let mut all: HashSet<&MapsLine> = HashSet::new();
        let mut shown: HashSet<&MapsLine> = HashSet::new();
        for (i, lines) in sorted.iter().enumerate() {
            for (k, l) in lines.iter().enumerate() {
                all.insert(l);
                if drawn[i][k] {
                    shown.insert(l);
                }
            }
        }
        Plan {
            lines: sorted
                .iter()
                .map(|l| l.iter().map(|&x| x.clone()).collect())
                .collect(),
            drawn,
            changes,
            axis,
            distinct: all.len(),
            distinct_drawn: shown.len(),
            nothing_changed,
        }
    }
}

fn domain_of(sorted: &[Vec<&MapsLine>], drawn: &[Vec<bool>]) -> Vec<Iv> {
    let mut v = Vec::new();
    for (i, lines) in sorted.iter().enumerate() {
        for (k, l) in lines.iter().enumerate() {
            if drawn[i][k] {
                v.push((l.start, l.end));
            }
        }
    }
    merge(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_arithmetic() {
        assert_eq!(
            merge(vec![(5, 7), (1, 3), (3, 4), (6, 9), (10, 10)]),
            vec![(1, 4), (5, 9)]
        );
        assert_eq!(
            subtract(&[(0, 10)], &[(2, 3), (5, 6)]),
            vec![(0, 2), (3, 5), (6, 10)]
        );
        assert_eq!(
            subtract(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(0, 5), (25, 30)]
        );
        assert_eq!(subtract(&[(0, 10)], &[(0, 10)]), vec![]);
        assert_eq!(subtract(&[(0, 10)], &[]), vec![(0, 10)]);
        assert!(overlaps(&[(0, 4), (8, 12)], 3, 5));
        assert!(!overlaps(&[(0, 4), (8, 12)], 4, 8));
        assert!(overlaps(&[(0, 4), (8, 12)], 7, 9));
    }

    #[test]
    fn weights_grow_with_the_log_of_the_size() {
        assert_eq!(weight(4096), 8);
        assert_eq!(weight(2 * 4096), 16);
        assert_eq!(weight(3 * 4096), 20);
        assert_eq!(weight(16 * 4096), 40);
        assert_eq!(weight(1), 8);
        assert_eq!(weight(u64::MAX), 8 * 53);
    }

    #[test]
    fn the_axis_compresses_gaps_and_fills_its_width() {
        let p = 4096;
        let domain = [(0x1000 * p, 0x1010 * p), (0x9000 * p, 0x9001 * p)];
        let axis = Axis::new(&domain, &[0x1008 * p], 10, 200);
        let widths: Vec<(i64, bool)> = axis.segs.iter().map(|s| (s.x1 - s.x0, s.gap)).collect();
        assert_eq!(widths.iter().map(|w| w.0).sum::<i64>(), 200);
        assert_eq!(axis.width, 200);
        assert_eq!(widths[2], (GAP_W, true));
        assert!((widths[0].0 - widths[1].0).abs() <= 1);
        assert!(widths[3].0 < widths[0].0);
        assert_eq!(axis.x(0x1000 * p), 10);
        assert_eq!(axis.x(0x1004 * p), 10 + widths[0].0 / 2);
        assert_eq!(axis.x(0x1008 * p), 10 + widths[0].0);
        assert_eq!(axis.x(0x9001 * p), 210);
        assert_eq!(axis.x(0), 10);
        assert_eq!(axis.x(u64::MAX), 210);
    }

    #[test]
    fn an_axis_with_too_many_pieces_grows() {
        let domain: Vec<Iv> = (0..100u64).map(|i| (i * 8192, i * 8192 + 4096)).collect();
        let axis = Axis::new(&domain, &[], 0, 50);
        assert!(axis.width > 50);
        assert!(axis.segs.iter().all(|s| s.x1 > s.x0));
        assert!(axis.segs.windows(2).all(|w| w[0].x1 == w[1].x0));
    }
}
