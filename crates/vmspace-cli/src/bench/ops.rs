//! The measured operations, each written once over [`Space`] and run unchanged on the
//! engine and on the kernel: the same layout, the same calls, the same loop.
//!
//! Layouts follow kbench.c (docs: `kernel-baseline.md`): fixed-address operations run
//! in a hole cut out of the `PROT_NONE` arena, so no neighbour merges with the mapping
//! under test and move destinations are always free; unhinted operations first place
//! `PROT_NONE` plugs until the page lands as a VMA of its own (or, for the merging
//! case, next to a written 1-page `rw-` VMA it extends).

use std::time::{Duration, Instant};

use vmspace_linux::kbench;

use super::space::{
    GIB, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_NORESERVE, MIB, MREMAP_DONTUNMAP, MREMAP_FIXED,
    MREMAP_MAYMOVE, P, PRIV_ANON, PROT_NONE, PROT_R, PROT_RW, R, Space,
};

/// What the timed sections read.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// Elapsed time (CLOCK_MONOTONIC through the vDSO), as kbench.c measures.
    Wall,
    /// CPU time of this thread, user and system (CLOCK_THREAD_CPUTIME_ID): time other
    /// processes ran on the CPU is not counted. For a busy machine.
    Cpu,
}

/// How long and how often to measure.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// The clock.
    pub(crate) clock: Clock,
    /// The origin of the wall clock.
    pub(crate) epoch: Instant,
    /// Measuring time per operation per sample (after the warm-up).
    pub(crate) target: Duration,
    /// Warm-up per sample.
    pub(crate) warmup: Duration,
    /// VMAs built by the 65,530-VMA case (the same on both sides).
    pub(crate) n_vmas: u64,
    /// Final size of the realloc buffer.
    pub(crate) realloc_top: u64,
    /// Cost of one pair of clock readings, subtracted from singly timed calls.
    pub(crate) clock_ns: f64,
    /// Only the rows named exactly this (`exact`) or containing it.
    pub(crate) filter: Option<(String, bool)>,
}

impl Ctx {
    /// The clock's reading, in ns.
    #[inline(always)]
    pub(crate) fn now(&self) -> u64 {
        match self.clock {
            Clock::Wall => self.epoch.elapsed().as_nanos() as u64,
            Clock::Cpu => kbench::thread_cpu_ns(),
        }
    }

    /// ns since `t0` (a reading of [`Ctx::now`]).
    #[inline(always)]
    pub(crate) fn since(&self, t0: u64) -> u64 {
        self.now().saturating_sub(t0)
    }

    /// Is the row `id` to be measured?
    pub(crate) fn wants(&self, id: &str) -> bool {
        match &self.filter {
            None => true,
            Some((f, true)) => id == f,
            Some((f, false)) => id.contains(f.as_str()),
        }
    }
}

/// One result of a case: the row (or `row:field`) it belongs to and its value.
pub(crate) type Out = Vec<(&'static str, f64)>;

/// Run `body` in batches of `batch` until `ctx.target` has passed (after a warm-up);
/// nanoseconds per operation, `ops_per_body` operations per run of the body.
#[inline(always)]
pub(crate) fn time_loop<S: Space>(
    s: &mut S,
    ctx: &Ctx,
    batch: u32,
    ops_per_body: u64,
    mut body: impl FnMut(&mut S) -> R<()>,
) -> R<f64> {
    let warmup = ctx.warmup.as_nanos() as u64;
    let target = ctx.target.as_nanos() as u64;
    let t0 = ctx.now();
    loop {
        for _ in 0..batch {
            body(s)?;
        }
        if ctx.since(t0) >= warmup {
            break;
        }
    }
    let mut ops = 0u64;
    let t0 = ctx.now();
    let elapsed = loop {
        for _ in 0..batch {
            body(s)?;
        }
        ops += u64::from(batch) * ops_per_body;
        let e = ctx.since(t0);
        if e >= target {
            break e;
        }
    };
    Ok(elapsed as f64 / ops as f64)
}

fn check(cond: bool, side: &str, what: impl FnOnce() -> String) -> R<()> {
    if cond {
        Ok(())
    } else {
        Err(format!("{side}: integrity check failed: {}", what()))
    }
}

/// A hole of `len` bytes at the start of the arena.
fn hole<S: Space>(s: &mut S, len: u64) -> R<u64> {
    let a = s.arena();
    s.munmap(a, len)?;
    Ok(a)
}

fn map_fixed<S: Space>(s: &mut S, at: u64, len: u64, prot: u64, extra: u64) -> R<u64> {
    let p = s.mmap(at, len, prot, PRIV_ANON | MAP_FIXED | extra)?;
    check(p == at, S::NAME, || {
        format!("MAP_FIXED {at:#x} landed at {p:#x}")
    })?;
    Ok(p)
}

/// Pages and ranges placed to steer unhinted mappings, undone by [`undo_landing`].
#[derive(Debug, Default)]
struct Landing {
    placed: Vec<(u64, u64)>,
    /// VMAs above the landing spot (what a top-down search passes over).
    above: u64,
}

/// Fill every free range above `floor` (up to where the top-down search starts) with
/// one `PROT_NONE` mapping each, so that unhinted mappings land below `floor`.
fn plug_above<S: Space>(s: &mut S, floor: u64, l: &mut Landing) -> R<()> {
    for _ in 0..1000 {
        let p = s.mmap(0, P, PROT_RW, PRIV_ANON)?;
        s.munmap(p, P)?;
        if p < floor {
            return Ok(());
        }
        let vmas = s.vma_list()?;
        let lo = vmas.iter().rev().find(|v| v.1 <= p).map_or(0, |v| v.1);
        let hi = vmas.iter().find(|v| v.0 > p).map_or(u64::MAX, |v| v.0);
        let plug = s.mmap(
            lo,
            hi - lo,
            PROT_NONE,
            PRIV_ANON | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
        )?;
        check(plug == lo, S::NAME, || "gap plug misplaced".into())?;
        l.placed.push((lo, hi - lo));
    }
    Err(format!(
        "{}: could not fill the gaps above {floor:#x}",
        S::NAME
    ))
}

/// Arrange that an unhinted 1-page rw mapping lands as a VMA of its own (`merge ==
/// false`) or extends a written 1-page rw VMA directly above it (`merge == true`);
/// with `below`, underneath that address (every gap above it is plugged first).
fn prepare_landing<S: Space>(s: &mut S, merge: bool, below: Option<u64>) -> R<Landing> {
    let mut l = Landing::default();
    if let Some(floor) = below {
        plug_above(s, floor, &mut l)?;
    }
    let mut plugs = 0;
    let spot = loop {
        let p = s.mmap(0, P, PROT_RW, PRIV_ANON)?;
        let vma = s.vma_of(p)?;
        s.munmap(p, P)?;
        if vma == Some((p, p + P)) {
            break p;
        }
        if plugs >= 64 {
            return Err(format!("{}: could not arrange the landing spot", S::NAME));
        }
        let plug = s.mmap(p, P, PROT_NONE, PRIV_ANON | MAP_FIXED_NOREPLACE)?;
        check(plug == p, S::NAME, || "plug misplaced".into())?;
        l.placed.push((plug, P));
        plugs += 1;
    };
    if merge {
        let n = s.mmap(spot, P, PROT_RW, PRIV_ANON | MAP_FIXED_NOREPLACE)?;
        check(n == spot, S::NAME, || "neighbour misplaced".into())?;
        s.touch(n, P)?;
        l.placed.push((n, P));
    }
    let p = s.mmap(0, P, PROT_RW, PRIV_ANON)?;
    let vma = s.vma_of(p)?;
    l.above = s.vma_list()?.iter().filter(|v| v.0 > p).count() as u64;
    s.munmap(p, P)?;
    let want = if merge { (p, p + 2 * P) } else { (p, p + P) };
    check(vma == Some(want), S::NAME, || {
        format!("unhinted page at {p:#x} lies in {vma:x?}, wanted {want:x?}")
    })?;
    if let Some(floor) = below {
        check(p < floor, S::NAME, || {
            format!("unhinted page at {p:#x}, above {floor:#x}")
        })?;
    }
    Ok(l)
}

fn undo_landing<S: Space>(s: &mut S, l: Landing) -> R<()> {
    for (a, len) in l.placed.into_iter().rev() {
        s.munmap(a, len)?;
    }
    Ok(())
}

/// Unhinted mmap of one rw page + munmap; ns per pair, and the VMAs above the page.
fn unhinted_pair<S: Space>(s: &mut S, ctx: &Ctx, merge: bool, below: Option<u64>) -> R<(f64, f64)> {
    let l = prepare_landing(s, merge, below)?;
    let above = l.above as f64;
    let ns = time_loop(s, ctx, 64, 1, |s| {
        let q = s.mmap(0, P, PROT_RW, PRIV_ANON)?;
        s.munmap(q, P)
    })?;
    undo_landing(s, l)?;
    Ok((ns, above))
}

/// `n` one-page VMAs built by [`build_vmas`].
#[derive(Copy, Clone, Debug)]
pub(crate) struct Area {
    /// What to unmap to tear them down.
    pub(crate) start: u64,
    pub(crate) len: u64,
    /// The first of the VMAs (`r--`; the one above is `rw-`, and so on).
    pub(crate) first: u64,
}

/// `n` one-page VMAs, `r--` and `rw-` alternating (the first `r--`), mapped
/// MAP_FIXED one by one from the bottom up into a fresh unhinted `PROT_NONE`
/// reservation (`into_hole == false`: each mmap splits the reservation) or into a hole
/// at the bottom of the arena. The reservation has one page more at each end, which
/// stays `PROT_NONE`, so the outermost VMAs never merge with whatever lies beyond.
/// Returns the area and the build time in ns.
fn build_vmas<S: Space>(s: &mut S, ctx: &Ctx, n: u64, into_hole: bool) -> R<(Area, f64)> {
    let before = s.vma_count()?;
    let area = if into_hole {
        let a = hole(s, n * P)?;
        Area {
            start: a,
            len: n * P,
            first: a,
        }
    } else {
        let a = s.mmap(0, (n + 2) * P, PROT_NONE, PRIV_ANON | MAP_NORESERVE)?;
        Area {
            start: a,
            len: (n + 2) * P,
            first: a + P,
        }
    };
    let t0 = ctx.now();
    for i in 0..n {
        let a = area.first + i * P;
        let prot = if i % 2 == 1 { PROT_RW } else { PROT_R };
        let p = s.mmap(a, P, prot, PRIV_ANON | MAP_FIXED)?;
        if p != a {
            return Err(format!("{}: build mmap #{i} landed at {p:#x}", S::NAME));
        }
    }
    let ns = ctx.since(t0) as f64;
    let after = s.vma_count()?;
    // n VMAs more, plus each guard page that is a VMA of its own (a guard may have
    // merged with a PROT_NONE neighbour); the arena stays one VMA with a hole below.
    let mut want = before + n;
    if !into_hole {
        for g in [area.start, area.first + n * P] {
            if s.vma_of(g)? == Some((g, g + P)) {
                want += 1;
            }
        }
    }
    check(after == want, S::NAME, || {
        format!("{after} VMAs after building {n} (from {before}), wanted {want}")
    })?;
    Ok((area, ns))
}

/// mprotect of the `rw-` VMA at `a` (between two `r--` one-page VMAs) to `r--` (the
/// three merge) and back (split again); ns per pair.
fn mprotect_merge_split<S: Space>(s: &mut S, ctx: &Ctx, a: u64) -> R<f64> {
    let ns = time_loop(s, ctx, 64, 1, |s| {
        s.mprotect(a, P, PROT_R)?;
        s.mprotect(a, P, PROT_RW)
    })?;
    let v = s.vma_of(a)?;
    check(v == Some((a, a + P)), S::NAME, || {
        format!("after mprotect merge/split: {v:x?}")
    })?;
    Ok(ns)
}

/// Operations on a small layout (the process as it is, plus the arena).
pub(crate) fn base<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    s.reset()?;
    let mut out = Vec::new();
    for (id, above, merge) in [
        ("mmap_munmap_1p", "mmap_munmap_1p:vmas_above", false),
        (
            "mmap_munmap_1p_merge",
            "mmap_munmap_1p_merge:vmas_above",
            true,
        ),
    ] {
        if ctx.wants(id) {
            let (ns, n) = unhinted_pair(s, ctx, merge, None)?;
            out.extend([(id, ns), (above, n)]);
        }
    }
    if ctx.wants("mprotect_merge_split") {
        let (area, _) = build_vmas(s, ctx, 3, false)?;
        let mps = mprotect_merge_split(s, ctx, area.first + P)?;
        s.munmap(area.start, area.len)?;
        out.push(("mprotect_merge_split", mps));
    }
    Ok(out)
}

/// mprotect split and re-merge of the middle page of a 3-page rw VMA.
pub(crate) fn mprotect<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    let mut out = Vec::new();
    for (id, touched) in [
        ("mprotect_split_merge", false),
        ("mprotect_split_merge_touched", true),
    ] {
        if !ctx.wants(id) {
            continue;
        }
        s.reset()?;
        let a = hole(s, 2 * MIB)? + MIB;
        map_fixed(s, a, 3 * P, PROT_RW, 0)?;
        if touched {
            s.touch(a, 3 * P)?;
        }
        let ns = time_loop(s, ctx, 64, 1, |s| {
            s.mprotect(a + P, P, PROT_R)?;
            s.mprotect(a + P, P, PROT_RW)
        })?;
        let v = s.vma_of(a)?;
        check(v == Some((a, a + 3 * P)), S::NAME, || {
            format!("after mprotect loop: {v:x?}")
        })?;
        out.push((id, ns));
    }
    Ok(out)
}

/// mremap 1 -> 2 pages in place and back; ns per call.
pub(crate) fn toggle<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    s.reset()?;
    let p = hole(s, 2 * MIB)? + MIB;
    map_fixed(s, p, P, PROT_RW, 0)?;
    s.touch(p, P)?;
    let ns = time_loop(s, ctx, 64, 2, |s| {
        let a = s.mremap(p, P, 2 * P, 0, 0)?;
        let b = s.mremap(p, 2 * P, P, 0, 0)?;
        if a != p || b != p {
            return Err(format!("{}: toggle moved", S::NAME));
        }
        Ok(())
    })?;
    let r = s.resident(p, P)?;
    check(r == 1, S::NAME, || "toggle lost the page".into())?;
    Ok(vec![("mremap_toggle_1p_2p", ns)])
}

/// Move a `len`-byte mapping back and forth between `a` and `b`; ns per call.
fn pingpong<S: Space>(
    s: &mut S,
    ctx: &Ctx,
    a: u64,
    b: u64,
    len: u64,
    batch: u32,
    resident: u64,
) -> R<f64> {
    let mut cur = a;
    let mut oth = b;
    let ns = time_loop(s, ctx, batch, 1, |s| {
        let r = s.mremap(cur, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, oth)?;
        if r != oth {
            return Err(format!("{}: move landed at {r:#x}", S::NAME));
        }
        std::mem::swap(&mut cur, &mut oth);
        Ok(())
    })?;
    let r = s.resident(cur, len)?;
    check(r == resident, S::NAME, || {
        format!("{r} pages resident after the moves, wanted {resident}")
    })?;
    Ok(ns)
}

/// A populated 4-page mapping moved back and forth.
pub(crate) fn move_4p<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    let mut out = Vec::new();
    for (id, far) in [("mremap_move_4p", false), ("mremap_move_4p_far", true)] {
        if !ctx.wants(id) {
            continue;
        }
        s.reset()?;
        let a = hole(s, 4 * MIB)?;
        let b = a + if far { 2 * MIB + 64 * 1024 } else { MIB };
        map_fixed(s, a, 4 * P, PROT_RW, 0)?;
        s.touch(a, 4 * P)?;
        out.push((id, pingpong(s, ctx, a, b, 4 * P, 64, 4)?));
    }
    Ok(out)
}

/// A populated 64 MiB mapping moved back and forth, 2 MiB aligned or not.
pub(crate) fn move_64m<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    let mut out = Vec::new();
    for (id, off) in [
        ("mremap_move_64m_aligned", 0),
        ("mremap_move_64m_unaligned", P),
    ] {
        if !ctx.wants(id) {
            continue;
        }
        s.reset()?;
        let a = hole(s, 256 * MIB)?;
        let b = a + 128 * MIB + off;
        map_fixed(s, a, 64 * MIB, PROT_RW, 0)?;
        s.touch(a, 64 * MIB)?;
        // The aligned move takes microseconds: batches of 16 keep the clock out of it.
        let batch = if off == 0 { 16 } else { 1 };
        out.push((id, pingpong(s, ctx, a, b, 64 * MIB, batch, 64 * MIB / P)?));
    }
    Ok(out)
}

/// An untouched 1 GiB MAP_NORESERVE mapping moved back and forth.
pub(crate) fn move_1g_sparse<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    s.reset()?;
    let base = hole(s, 4 * GIB)?;
    let a = base + 2 * MIB;
    let b = a + 2 * GIB;
    map_fixed(s, a, GIB, PROT_RW, MAP_NORESERVE)?;
    let ns = pingpong(s, ctx, a, b, GIB, 16, 0)?;
    Ok(vec![("mremap_move_1g_sparse", ns)])
}

/// MREMAP_DONTUNMAP of a populated 64 MiB mapping, 2 MiB aligned. Each call moves the
/// pages to a fresh hole and leaves the emptied source mapped; the calls are timed in
/// runs of [`DONTUNMAP_RUN`] along a row of holes 128 MiB apart (forth, then back), and
/// the emptied sources are unmapped between runs, outside the timing. So every call
/// sees a populated source and a free destination, as in kbench.c (which times each
/// call alone); the clock is read once per run.
pub(crate) fn dontunmap<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    const DONTUNMAP_RUN: u64 = 16;
    s.reset()?;
    let len = 64 * MIB;
    let step = 128 * MIB;
    let base = hole(s, (DONTUNMAP_RUN + 1) * step)?;
    let pos = |i: u64| base + i * step;
    map_fixed(s, base, len, PROT_RW, 0)?;
    s.touch(base, len)?;
    let flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
    let mut at = 0u64;
    let mut sum = 0u64;
    let mut n = 0u64;
    let mut warm = 1;
    let target = ctx.target.as_nanos() as u64;
    while sum < target {
        let forth = at == 0;
        let t0 = ctx.now();
        for k in 0..DONTUNMAP_RUN {
            let (from, to) = if forth {
                (pos(k), pos(k + 1))
            } else {
                (pos(DONTUNMAP_RUN - k), pos(DONTUNMAP_RUN - k - 1))
            };
            let r = s.mremap(from, len, len, flags, to)?;
            if r != to {
                return Err(format!("{}: DONTUNMAP landed at {r:#x}", S::NAME));
            }
        }
        let t = ctx.since(t0);
        at = if forth { DONTUNMAP_RUN } else { 0 };
        for k in 0..=DONTUNMAP_RUN {
            if k != at {
                s.munmap(pos(k), len)?;
            }
        }
        if warm > 0 {
            warm -= 1;
            continue;
        }
        sum += t;
        n += DONTUNMAP_RUN;
    }
    let r = s.resident(pos(at), len)?;
    check(r == len / P, S::NAME, || {
        format!("{r} pages resident after DONTUNMAP")
    })?;
    let ns = (sum as f64 - ctx.clock_ns * (n / DONTUNMAP_RUN) as f64) / n as f64;
    Ok(vec![("mremap_dontunmap_64m", ns.max(1.0))])
}

/// 10,000 one-page VMAs above the spot where unhinted pages land.
pub(crate) fn vmas_10k<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    s.reset()?;
    let n = 10_000;
    let (area, build) = build_vmas(s, ctx, n, false)?;
    let mut out = vec![("vmas_build_10k", build)];
    for (id, above, merge) in [
        ("mmap_munmap_1p_10k", "mmap_munmap_1p_10k:vmas_above", false),
        (
            "mmap_munmap_1p_10k_merge",
            "mmap_munmap_1p_10k_merge:vmas_above",
            true,
        ),
    ] {
        if ctx.wants(id) {
            let (ns, n) = unhinted_pair(s, ctx, merge, Some(area.start))?;
            out.extend([(id, ns), (above, n)]);
        }
    }
    if ctx.wants("mprotect_merge_split_10k") {
        let a = area.first + ((n / 2) | 1) * P;
        out.push(("mprotect_merge_split_10k", mprotect_merge_split(s, ctx, a)?));
    }
    s.munmap(area.start, area.len)?;
    Ok(out)
}

/// Build `ctx.n_vmas` one-page VMAs (up to `vm.max_map_count`) into a reservation,
/// operate among them, tear them down; then the same into a hole.
pub(crate) fn vmas_max<S: Space>(s: &mut S, ctx: &Ctx) -> R<Out> {
    let n = ctx.n_vmas;
    s.reset()?;
    let (area, build) = build_vmas(s, ctx, n, false)?;
    let mut out = vec![("vmas_build", build)];
    if ctx.wants("mmap_munmap_1p_65k") {
        let (ns, n) = unhinted_pair(s, ctx, false, Some(area.start))?;
        out.extend([
            ("mmap_munmap_1p_65k", ns),
            ("mmap_munmap_1p_65k:vmas_above", n),
        ]);
    }
    if ctx.wants("mprotect_merge_split_65k") {
        let a = area.first + ((n / 2) | 1) * P;
        out.push(("mprotect_merge_split_65k", mprotect_merge_split(s, ctx, a)?));
    }
    let t0 = ctx.now();
    s.munmap(area.start, area.len)?;
    out.push(("vmas_teardown", ctx.since(t0) as f64));
    if ctx.wants("vmas_build_hole") || ctx.wants("vmas_teardown_hole") {
        s.reset()?;
        let (area, build_hole) = build_vmas(s, ctx, n, true)?;
        let t0 = ctx.now();
        s.munmap(area.start, area.len)?;
        out.push(("vmas_build_hole", build_hole));
        out.push(("vmas_teardown_hole", ctx.since(t0) as f64));
    }
    Ok(out)
}

/// Only for measuring memory: build `n` VMAs into a reservation and leave them.
pub(crate) fn build_only<S: Space>(s: &mut S, ctx: &Ctx, n: u64) -> R<Area> {
    Ok(build_vmas(s, ctx, n, false)?.0)
}

/// Grow a buffer from one page to `ctx.realloc_top` by doubling, touching the new half
/// after each step: with mremap(MAYMOVE) (`copy == false`) or with mmap of the new
/// size + memcpy + munmap of the old (`copy == true`).
pub(crate) fn realloc<S: Space>(s: &mut S, ctx: &Ctx, copy: bool) -> R<Out> {
    s.reset()?;
    let top = ctx.realloc_top;
    let t0 = ctx.now();
    let mut resize = 0u64;
    let mut copied = 0u64;
    let mut moves = 0u64;
    let mut p = s.mmap(0, P, PROT_RW, PRIV_ANON)?;
    s.touch(p, P)?;
    let mut sz = P;
    while sz < top {
        let r0 = ctx.now();
        let q = if copy {
            let q = s.mmap(0, 2 * sz, PROT_RW, PRIV_ANON)?;
            s.copy(q, p, sz)?;
            copied += sz;
            s.munmap(p, sz)?;
            q
        } else {
            s.mremap(p, sz, 2 * sz, MREMAP_MAYMOVE, 0)?
        };
        resize += ctx.since(r0);
        moves += u64::from(q != p);
        p = q;
        s.touch(p + sz, sz)?;
        sz *= 2;
    }
    let total = ctx.since(t0);
    let r = s.resident(p, top)?;
    check(r == top / P, S::NAME, || {
        format!("{r} pages resident after realloc")
    })?;
    s.munmap(p, top)?;
    let (id, rid, cid, mid) = if copy {
        (
            "realloc_copy",
            "realloc_copy_resize",
            "realloc_copy:bytes_copied",
            "realloc_copy:moves",
        )
    } else {
        (
            "realloc_mremap",
            "realloc_mremap_resize",
            "realloc_mremap:bytes_copied",
            "realloc_mremap:moves",
        )
    };
    Ok(vec![
        (id, total as f64),
        (rid, resize as f64),
        (cid, copied as f64),
        (mid, moves as f64),
    ])
}
