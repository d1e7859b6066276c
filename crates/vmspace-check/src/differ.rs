//! Running the same operations on two backends in lockstep and stopping at the first
//! difference in a result, the maps text, page presence/frame identity or counters.

use std::fmt;

use vmspace::{Backend, BackendError, Op, Outcome, PageState};

use crate::compare;

/// Where two backends first disagreed.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// The operation after which they disagree.
    pub op: Op,
    /// What disagreed: `result`, `maps`, `pages` or `counters`.
    pub kind: &'static str,
    /// A one-line description.
    pub detail: String,
    /// The engine's result of the operation.
    pub engine: Outcome,
    /// The kernel's result of the operation.
    pub kernel: Outcome,
    /// Why the engine decided as it did, when it failed a call.
    pub engine_reason: Option<String>,
    /// A diff of the two maps texts (`-` engine only, `+` kernel only).
    pub maps_diff: Option<String>,
}

/// An outcome with every detail (faults with their code and address).
pub fn detailed(o: &Outcome) -> String {
    match o {
        Outcome::Fault(f) => f.to_string(),
        o => o.to_string(),
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the engine and the kernel disagree on the {} after",
            self.kind
        )?;
        writeln!(f, "  {}", vmspace_script::format_op(&self.op))?;
        writeln!(f, "  engine: {}", detailed(&self.engine))?;
        if let Some(r) = &self.engine_reason {
            writeln!(f, "          ({r})")?;
        }
        writeln!(f, "  kernel: {}", detailed(&self.kernel))?;
        writeln!(f, "  {}", self.detail)?;
        if let Some(d) = &self.maps_diff {
            writeln!(f, "maps (- engine only, + kernel only):")?;
            for l in d.lines() {
                writeln!(f, "  {l}")?;
            }
        }
        Ok(())
    }
}

/// The outcome of one lockstep step: the verdict on one operation. A failure of the
/// tool (the kernel side's process died, `/proc` could not be read) is not a verdict
/// but the `Err` of [`Differ::step`], a [`BackendError`] whose kind says whether the
/// process died ([`vmspace::BackendErrorKind::AgentDied`], with its wait status).
#[derive(Clone, Debug)]
pub enum Step {
    /// Both backends agree; the (common) outcome.
    Agree(Outcome),
    /// They disagree: both answered, the kernel side was alive throughout (confirmed
    /// before this verdict) and its observations were complete.
    Diverge(Box<Divergence>),
    /// One side does not model the operation (or the engine cannot know the answer):
    /// neither an agreement nor a disagreement. The two sides may have parted (one
    /// performed the operation, the other did not), so the pair must not be stepped
    /// further.
    Unsupported(Unsupported),
}

/// An operation one side does not model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The operation.
    pub op: Op,
    /// Which side said so: `engine`, `kernel`, or `differ` (the differ's own rule,
    /// e.g. a load from the agent's own memory, whose contents the engine cannot know).
    pub side: &'static str,
    /// Why.
    pub what: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not modelled ({}): {}\n  {}",
            self.side,
            self.what,
            vmspace_script::format_op(&self.op)
        )
    }
}

/// One of the seeded process's own mappings (the agent's code, heap, stack, transfer
/// buffer, ...), as the seed listed it or where a script moved it.
#[derive(Clone, Debug)]
struct OwnRange {
    start: u64,
    end: u64,
    /// What it is, for warnings: the maps name, or `anonymous`.
    name: String,
}

/// Two backends driven in lockstep.
pub struct Differ<'a> {
    /// The engine (`vmspace::Mm`).
    pub engine: &'a mut vmspace::Mm,
    /// The other side (the live kernel).
    pub kernel: &'a mut dyn Backend,
    /// Page ranges operations have named so far, as sorted disjoint `[start, end)`.
    touched: std::collections::BTreeMap<u64, u64>,
    /// At most this many pages are compared per step.
    pub max_compare_pages: u64,
    /// Ranges whose page-table state and contents the engine cannot know (the seeded
    /// process's own mappings, populated before the engine took over): pages never
    /// compared, loads unsupported, changes warned about ([`Differ::own_touch`]).
    opaque: Vec<OwnRange>,
    /// The seeded process's break at the start (below it, `brk` shrinks its heap).
    seed_brk: u64,
    /// Set by [`Differ::step`] when the operation changed or may have changed the
    /// seeded process's own memory: which mapping, for a warning.
    pub own_touch: Option<String>,
    /// Steps so far.
    steps: u64,
    /// Where the next rotating slice of the touched set starts.
    cursor: u64,
    /// The correspondence of shmem inode numbers between the two sides.
    matcher: compare::MapsMatcher,
    /// The engine's VMA generation after the previous step.
    last_gen: u64,
    /// Time spent per phase (kernel call, engine call, kernel maps, engine maps and
    /// comparison, pages, counters), for `VMSPACE_TIMING`.
    pub timing: [std::time::Duration; 6],
    /// The engine's `locked_vm` (kB) after the previous step.
    was_locked: u64,
    /// The engine's maps text as last rendered, with its VMA generation.
    engine_maps: Option<(u64, String)>,
    /// The tables of the frame-sharing comparison.
    pairing: compare::FramePairing,
    /// Buffers for the kernel's and the engine's page lists (kept between steps).
    page_bufs: (Vec<PageState>, Vec<PageState>),
    /// The kernel's maps text at the last comparison that agreed, with the engine's
    /// VMA generation then.
    last_kmaps: Option<(u64, String)>,
    /// Steps since the whole maps texts were last compared.
    since_full: u64,
    /// The engine's break before the current step.
    brk: u64,
    /// The last operation both sides agreed on, with its outcome.
    last: Option<(Op, Outcome)>,
}

impl fmt::Debug for Differ<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Differ")
            .field("touched", &self.touched)
            .finish_non_exhaustive()
    }
}

const PAGE: u64 = 4096;
/// Runs of compared pages at most this far apart are read from the kernel together.
const MERGE_GAP: u64 = 512 * PAGE;
const USER_END: u64 = 1 << 47;
/// The whole maps texts are compared at least every this many steps (or every
/// `map_count / 8`, whichever is more), and at [`Differ::finish`].
const FULL_EVERY: u64 = 32;

/// `[a, b) [c, d)` for a message.
fn ranges_text(ranges: &[(u64, u64)]) -> String {
    let v: Vec<String> = ranges
        .iter()
        .map(|(a, b)| format!("[{a:#x}, {b:#x})"))
        .collect();
    v.join(" ")
}

impl<'a> Differ<'a> {
    /// A differ over the engine and another backend.
    pub fn new(engine: &'a mut vmspace::Mm, kernel: &'a mut dyn Backend) -> Self {
        let was_locked = vmspace::Mm::counters(engine).vm_lck_kb;
        Self {
            engine,
            kernel,
            touched: std::collections::BTreeMap::new(),
            max_compare_pages: 4096,
            opaque: Vec::new(),
            seed_brk: 0,
            own_touch: None,
            steps: 0,
            cursor: 0,
            matcher: compare::MapsMatcher::default(),
            last_gen: u64::MAX,
            timing: Default::default(),
            was_locked,
            engine_maps: None,
            pairing: compare::FramePairing::default(),
            page_bufs: (Vec::new(), Vec::new()),
            last_kmaps: None,
            since_full: 0,
            brk: 0,
            last: None,
        }
    }

    /// A differ that does not compare page-table state inside `seed`'s mappings.
    pub fn seeded(
        engine: &'a mut vmspace::Mm,
        kernel: &'a mut dyn Backend,
        seed: &vmspace::Seed,
    ) -> Self {
        let mut d = Self::new(engine, kernel);
        d.opaque = seed
            .vmas
            .iter()
            .map(|v| OwnRange {
                start: v.line.start,
                end: v.line.end,
                name: v
                    .line
                    .name
                    .clone()
                    .unwrap_or_else(|| "anonymous".to_string()),
            })
            .collect();
        d.seed_brk = seed.brk;
        d
    }

    /// The seeded process's own mapping that `[s, e)` overlaps, if any.
    fn own_at(&self, s: u64, e: u64) -> Option<&OwnRange> {
        self.opaque.iter().find(|r| s < r.end && r.start < e)
    }

    /// The ranges `op` may change the contents or mapping of (not only its page
    /// tables' population): where a script damages the agent if they are its own.
    fn damaged_ranges(&self, op: &Op, kernel: &Outcome) -> Vec<(u64, u64)> {
        const MAP_FIXED: u64 = 0x10;
        const MREMAP_FIXED: u64 = 2;
        let r = |a: u64, l: u64| (a, a.saturating_add(l));
        match *op {
            // An access that faulted wrote the bytes below the faulting one only.
            Op::Store { addr, .. } | Op::Fill { addr, .. } => match *kernel {
                Outcome::Fault(f) if f.addr >= addr => vec![(addr, f.addr)],
                _ => op.touched_ranges(),
            },
            Op::Munmap { .. } | Op::Mprotect { .. } => op.touched_ranges(),
            Op::Mmap {
                addr, len, flags, ..
            } if flags & MAP_FIXED != 0 => vec![r(addr, len)],
            // MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTNEED_LOCKED and
            // MADV_GUARD_INSTALL drop or fence off contents.
            Op::Madvise { addr, len, advice } if [4, 8, 9, 24, 102].contains(&advice) => {
                vec![r(addr, len)]
            }
            Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => {
                let mut v = vec![r(old_addr, old_len)];
                if flags & MREMAP_FIXED != 0 {
                    v.push(r(new_addr, new_len));
                }
                v
            }
            Op::Brk { .. } => match *kernel {
                Outcome::Value(b) if b < self.seed_brk => vec![(b, self.seed_brk)],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Confirm that the kernel side is alive and everything read from it so far was
    /// complete (see [`Backend::confirm`]).
    ///
    /// # Errors
    /// If it is not: the tool failed, no verdict can be given.
    pub fn confirm(&mut self) -> Result<(), BackendError> {
        self.kernel.confirm()
    }

    fn touch(&mut self, start: u64, end: u64) {
        let s = start.min(USER_END) & !(PAGE - 1);
        let e = end.min(USER_END).div_ceil(PAGE) * PAGE;
        if e <= s {
            return;
        }
        // Merge with the ranges it overlaps or meets: the one starting at or below
        // `s` and every one starting in `[s, e]`.
        let (mut s, mut e) = (s, e);
        if let Some((&ps, &pe)) = self.touched.range(..=s).next_back()
            && pe >= s
        {
            s = ps;
            e = e.max(pe);
        }
        while let Some((&ns, &ne)) = self.touched.range(s..=e).next() {
            e = e.max(ne);
            self.touched.remove(&ns);
        }
        self.touched.insert(s, e);
    }

    /// Perform `op` on both and compare everything observable.
    ///
    /// # Errors
    /// A failure of the kernel side (see [`Step`]).
    pub fn step(&mut self, op: &Op) -> Result<Step, BackendError> {
        self.own_touch = None;
        let unsupported = |side, what: String| {
            Ok(Step::Unsupported(Unsupported {
                op: op.clone(),
                side,
                what,
            }))
        };
        let t0 = std::time::Instant::now();
        self.brk = self.engine.brk_value();
        let kernel = self.kernel.apply(op)?;
        // What the kernel side does not do, the engine must not do either.
        if let Outcome::Unsupported(why) = &kernel {
            return unsupported("kernel", why.clone());
        }
        // The engine cannot know the contents of memory it did not create: bytes the
        // kernel read there would be compared with made-up ones. (A load that faults
        // returns no bytes, and the fault is compared as usual.)
        if let (Op::Load { addr, len }, Outcome::Bytes(_)) = (op, &kernel)
            && let Some(own) = self.own_at(*addr, addr.saturating_add(*len))
        {
            return unsupported(
                "differ",
                format!(
                    "a load from the agent's own memory ({} at {:#x}-{:#x}), whose contents \
                     the engine does not model",
                    own.name, own.start, own.end
                ),
            );
        }
        if !matches!(kernel, Outcome::Error(_)) {
            let own = self
                .damaged_ranges(op, &kernel)
                .into_iter()
                .find_map(|(s, e)| self.own_at(s, e))
                .map(|o| format!("{} at {:#x}-{:#x}", o.name, o.start, o.end));
            self.own_touch = own;
        }
        let t1 = std::time::Instant::now();
        let engine = self.engine.apply(op);
        let t2 = std::time::Instant::now();
        self.timing[0] += t1 - t0;
        self.timing[1] += t2 - t1;
        if let Outcome::Unsupported(why) = &engine {
            return unsupported("engine", why.clone());
        }
        for (s, e) in op.touched_ranges() {
            if e.saturating_sub(s) <= 1 << 40 {
                self.touch(s, e);
            }
        }
        let diverge = |this: &mut Self, kind, detail: String, maps_diff| {
            // Whatever was read from the kernel side must have been read from a live
            // process: a dead one's files read as empty.
            this.kernel.confirm()?;
            let reason = this.engine.last_reason();
            Ok(Step::Diverge(Box::new(Divergence {
                op: op.clone(),
                kind,
                detail,
                engine: engine.clone(),
                kernel: kernel.clone(),
                engine_reason: (!reason.is_empty()).then(|| reason.to_string()),
                maps_diff,
            })))
        };
        if !compare::outcomes_agree(&engine, &kernel) {
            return diverge(
                self,
                "result",
                format!("engine returned {engine}, kernel returned {kernel}"),
                None,
            );
        }
        let t2 = std::time::Instant::now();
        // Calls that cannot change the VMA list skip the kernel's maps: memfd and
        // process calls, and accesses that grew no stack on the engine side (a
        // kernel-only change would show at the next full comparison).
        // The engine's maps text changes exactly when its VMA generation does.
        let generation = self.engine.vma_generation();
        let engine_changed = generation != self.last_gen;
        let may_change = match op {
            Op::MemfdCreate { .. }
            | Op::Ftruncate { .. }
            | Op::Pwrite64 { .. }
            | Op::Close { .. }
            | Op::Setrlimit { .. }
            | Op::Setuid { .. } => false,
            Op::Load { .. } | Op::Store { .. } | Op::Fill { .. } => engine_changed,
            _ => true,
        };
        self.since_full += 1;
        let t3;
        // The whole text is compared now and then (more rarely the more VMAs there
        // are, so that its cost per step stays bounded), after calls whose effect on
        // the VMAs is not confined to ranges they name, and when the kernel cannot
        // answer for a window; otherwise only the VMAs the call could have changed.
        let window = if may_change || engine_changed {
            self.window_of(op, &kernel)
        } else {
            None
        };
        let full_due = self.since_full >= FULL_EVERY.max(self.engine.map_count() / 8);
        let kwindow = match &window {
            Some(w) if !full_due => self.kernel.maps_window(w)?,
            _ => None,
        };
        if let (Some(kwin), Some(w)) = (kwindow, &window) {
            let ewin = vmspace::Mm::maps_window(self.engine, w);
            t3 = std::time::Instant::now();
            self.timing[2] += t3 - t2;
            if !self.matcher.same(&ewin, &kwin) {
                let (kn, en) = (
                    compare::normalize_maps(&kwin),
                    compare::normalize_maps(&ewin),
                );
                return diverge(
                    self,
                    "maps",
                    format!("the maps lines differ in {}", ranges_text(w)),
                    Some(compare::maps_diff(&en, &kn)),
                );
            }
        } else if may_change || engine_changed || full_due {
            if let Some(d) = self.compare_full_maps(generation)? {
                return diverge(self, "maps", "the maps texts differ".to_string(), Some(d));
            }
            t3 = std::time::Instant::now();
            self.timing[2] += t3 - t2;
        } else {
            t3 = std::time::Instant::now();
        }
        let maps_changed = engine_changed;
        self.last_gen = generation;
        // Pages the engine cannot know (the seeded process's) stay opaque when moved.
        if let (
            Op::Mremap {
                old_addr, old_len, ..
            },
            Outcome::Value(to),
        ) = (op, &kernel)
        {
            let (from, len, to) = (*old_addr, *old_len, *to);
            let moved: Vec<OwnRange> = self
                .opaque
                .iter()
                .filter_map(|r| {
                    let (s, e) = (r.start.max(from), r.end.min(from.saturating_add(len)));
                    (s < e && to != from).then(|| OwnRange {
                        start: to + (s - from),
                        end: to + (e - from),
                        name: r.name.clone(),
                    })
                })
                .collect();
            self.opaque.extend(moved);
        }
        let t4 = std::time::Instant::now();
        self.timing[3] += t4 - t3;
        let ranges = self.ranges_to_compare(op, &kernel);
        if let Some(d) = self.compare_pages(&ranges)? {
            return diverge(self, "pages", d, None);
        }
        let t5 = std::time::Instant::now();
        self.timing[4] += t5 - t4;
        let ec = vmspace::Mm::counters(self.engine);
        let sizes = if may_change || engine_changed || self.steps.is_multiple_of(64) {
            Some(self.kernel.size_counters()?)
        } else {
            None
        };
        if let Some((ks, kd)) =
            sizes.filter(|&s| s != (ec.vm_size_kb, ec.vm_data_kb + ec.vm_stk_kb))
        {
            let d = format!(
                "VmSize engine {} kB, kernel {ks} kB; VmData+VmStk engine {} kB, kernel {kd} kB",
                ec.vm_size_kb,
                ec.vm_data_kb + ec.vm_stk_kb
            );
            return diverge(self, "counters", d, None);
        }
        // VmLck needs the full status, which is expensive: read it where the call can
        // have changed locked memory: a lock-family call or MAP_LOCKED; a change of the
        // engine's locked_vm; VMAs changed under MCL_FUTURE (only lock calls end it),
        // or where the engine has locked VMAs in the changed window (or there is no
        // window); and every 64th step regardless. A kernel that locked or unlocked
        // memory elsewhere shows at that 64th step or at `finish`.
        self.steps += 1;
        let lock_op = matches!(
            op,
            Op::Mlock { .. }
                | Op::Mlock2 { .. }
                | Op::Munlock { .. }
                | Op::Mlockall { .. }
                | Op::Munlockall
        ) || matches!(op, Op::Mmap { flags, .. } if flags & 0x2000 != 0);
        let locked_window = maps_changed
            && match &window {
                Some(w) => w.iter().any(|&(s, e)| {
                    self.engine
                        .vmas_in(s, e)
                        .any(|v| v.vm_flags.contains(vmspace::VmFlags::LOCKED))
                }),
                // No window: the extent of the change is unknown (no call that changes
                // the VMAs has none today but the lock calls, read anyway).
                None => true,
            };
        if lock_op
            || ec.vm_lck_kb != self.was_locked
            || (self.engine.locks_future() && maps_changed)
            || locked_window
            || self.steps.is_multiple_of(64)
        {
            let mut kc = self.kernel.status_counters()?;
            // The VMA count is covered by the maps comparison.
            kc.map_count = ec.map_count;
            if let Some(d) = compare::counters_disagreement(&ec, &kc) {
                return diverge(self, "counters", d, None);
            }
        }
        self.was_locked = ec.vm_lck_kb;
        self.timing[5] += t5.elapsed();
        self.last = Some((op.clone(), kernel.clone()));
        Ok(Step::Agree(kernel))
    }

    /// The comparison that ends a run: the whole maps texts and every counter, which
    /// the steps compare only where a call could have changed them, then a confirmation
    /// that the kernel side is still alive ([`Backend::confirm`]). `Ok(None)` when they
    /// agree.
    pub fn finish(&mut self) -> Result<Option<Divergence>, BackendError> {
        let generation = self.engine.vma_generation();
        let Some((last, outcome)) = self.last.clone() else {
            return Ok(None);
        };
        let make = |kind, detail: String, maps_diff| Divergence {
            op: last.clone(),
            kind,
            detail,
            engine: outcome.clone(),
            kernel: outcome.clone(),
            engine_reason: None,
            maps_diff,
        };
        let found = if let Some(d) = self.compare_full_maps(generation)? {
            Some(make(
                "maps",
                "the maps texts differ at the end of the run".to_string(),
                Some(d),
            ))
        } else {
            let ec = vmspace::Mm::counters(self.engine);
            let mut kc = self.kernel.status_counters()?;
            kc.map_count = ec.map_count;
            compare::counters_disagreement(&ec, &kc).map(|d| make("counters", d, None))
        };
        // Everything read from the kernel side must have been read from a live process
        // (a dead one's files read as empty).
        self.kernel.confirm()?;
        Ok(found)
    }

    /// Compare the whole maps texts; a diff when they differ.
    fn compare_full_maps(&mut self, generation: u64) -> Result<Option<String>, BackendError> {
        self.since_full = 0;
        // The engine's text is rendered again only when its VMAs changed.
        if self
            .engine_maps
            .as_ref()
            .is_none_or(|(g, _)| *g != generation)
        {
            self.engine_maps = Some((generation, self.engine.maps_text()));
        }
        let kmaps = self.kernel.maps()?;
        let emaps = self.engine_maps.as_ref().map_or("", |(_, t)| t.as_str());
        // The same kernel text as at the last comparison, with the same engine text,
        // agrees as it did then.
        let unchanged = self
            .last_kmaps
            .as_ref()
            .is_some_and(|(g, k)| *g == generation && *k == kmaps);
        if !unchanged && !self.matcher.same(emaps, &kmaps) {
            let (kn, en) = (
                compare::normalize_maps(&kmaps),
                compare::normalize_maps(emaps),
            );
            return Ok(Some(compare::maps_diff(&en, &kn)));
        }
        self.last_kmaps = Some((generation, kmaps));
        Ok(None)
    }

    /// The address ranges in which `op` (with the kernel's `outcome`) can have changed
    /// VMAs, sorted and disjoint; `None` when its effect is not confined to ranges it
    /// names (the whole text is compared then).
    fn window_of(&mut self, op: &Op, outcome: &Outcome) -> Option<Vec<(u64, u64)>> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut add = |s: u64, e: u64| {
            let (s, e) = (s.min(USER_END), e.min(USER_END));
            if s < e {
                out.push((s, e));
            }
        };
        match op {
            Op::Mmap { .. }
            | Op::Munmap { .. }
            | Op::Mremap { .. }
            | Op::Mprotect { .. }
            | Op::Madvise { .. }
            | Op::Mlock { .. }
            | Op::Mlock2 { .. }
            | Op::Munlock { .. }
            | Op::Load { .. }
            | Op::Store { .. }
            | Op::Fill { .. } => {
                for (s, e) in op.touched_ranges() {
                    add(s, e);
                }
            }
            Op::Brk { .. } => {
                // The heap moves between the old break and the new one (on either
                // side), and only VMAs there can gain or lose the [heap] name.
                let (old, new) = (self.brk, self.engine.brk_value());
                let k = match outcome {
                    Outcome::Value(v) => *v,
                    _ => new,
                };
                let lo = old.min(new).min(k);
                let hi = old.max(new).max(k);
                add(lo.saturating_sub(PAGE), hi.saturating_add(PAGE));
            }
            _ => return None,
        }
        if let (Op::Mmap { len, .. } | Op::Mremap { new_len: len, .. }, Outcome::Value(v)) =
            (op, outcome)
        {
            add(*v, v.saturating_add(*len));
        }
        if out.is_empty() {
            // Nothing named: e.g. a zero-length call; the VMA list cannot have changed
            // unless the engine says it did.
            return if self.engine.vma_generation() == self.last_gen {
                Some(out)
            } else {
                None
            };
        }
        out.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
        for (a, b) in out {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Some(merged)
    }

    /// The page ranges to compare after `op`: its own ranges (and a new mapping's
    /// range), widened to the 64 KiB fault-around window; a rotating slice of every
    /// range touched before; or all of those after a call with process-wide effects.
    fn ranges_to_compare(&mut self, op: &Op, outcome: &Outcome) -> Vec<(u64, u64)> {
        const SLICE: u64 = 64 * PAGE;
        let widen = |s: u64, e: u64| {
            (
                (s & !0xffff).min(USER_END),
                e.saturating_add(0xffff).min(USER_END) & !0xffff,
            )
        };
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (s, e) in op.touched_ranges() {
            if e.saturating_sub(s) <= 1 << 40 {
                out.push(widen(s, e));
            }
        }
        if let (Op::Mmap { len, .. } | Op::Mremap { new_len: len, .. }, Outcome::Value(v)) =
            (op, outcome)
        {
            out.push(widen(*v, v.saturating_add(*len)));
        }
        let global = matches!(
            op,
            Op::Ftruncate { .. }
                | Op::Pwrite64 { .. }
                | Op::Close { .. }
                | Op::Mlockall { .. }
                | Op::Munlockall
                | Op::Brk { .. }
        );
        if global {
            out.extend(self.touched.iter().map(|(&a, &b)| (a, b)));
        } else if !self.touched.is_empty() {
            // The next SLICE bytes of the touched set after the cursor, wrapping around.
            let mut left = SLICE;
            let mut cursor = self.cursor;
            for _ in 0..2 {
                let containing = self
                    .touched
                    .range(..=cursor)
                    .next_back()
                    .filter(|&(_, &te)| te > cursor);
                let after = self.touched.range((
                    std::ops::Bound::Excluded(cursor),
                    std::ops::Bound::Unbounded,
                ));
                for (&ts, &te) in containing.into_iter().chain(after) {
                    if left == 0 {
                        break;
                    }
                    let s = ts.max(cursor);
                    let e = te.min(s + left);
                    out.push((s, e));
                    left -= e - s;
                    cursor = e;
                }
                if left == 0 {
                    break;
                }
                cursor = 0;
            }
            self.cursor = cursor;
        }
        out.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in out {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }

    /// Compare presence and frame identity over `ranges`, where they lie inside VMAs
    /// (outside them both sides have no page-table entries by construction) and
    /// outside the seeded process's own mappings.
    fn compare_pages(&mut self, ranges: &[(u64, u64)]) -> Result<Option<String>, BackendError> {
        // The maps agree where the call could have changed them, so the engine's VMAs
        // there are the kernel's.
        let mut runs = Vec::new();
        let mut budget = self.max_compare_pages;
        'outer: for &(ts, te) in ranges {
            for v in self.engine.vmas_in(ts, te) {
                let (vs, ve) = (v.start, v.end);
                let s = ts.max(vs);
                let e = te.min(ve);
                if s < e && self.own_at(s, e).is_none() {
                    let n = ((e - s) / PAGE).min(budget);
                    runs.push((s, n));
                    budget -= n;
                    if budget == 0 {
                        break 'outer;
                    }
                }
            }
        }
        // The page lists are built in buffers kept between steps; the addresses only
        // for a disagreement's message.
        let (mut ks, mut es) = std::mem::take(&mut self.page_bufs);
        ks.clear();
        es.clear();
        // The kernel's pages are read in one request per group of nearby runs (each
        // request costs a system call and a page-table walk; the entries of the holes
        // between runs cost next to nothing), then cut back to the runs.
        let mut i = 0;
        while i < runs.len() {
            let (first, _) = runs[i];
            let mut j = i + 1;
            while j < runs.len()
                && runs[j]
                    .0
                    .checked_sub(runs[j - 1].0 + runs[j - 1].1 * PAGE)
                    .is_some_and(|gap| gap <= MERGE_GAP)
            {
                j += 1;
            }
            let (ls, ln) = runs[j - 1];
            let group = match self.kernel.pages(first, (ls - first) / PAGE + ln) {
                Ok(g) => g,
                Err(e) => {
                    self.page_bufs = (ks, es);
                    return Err(e);
                }
            };
            for &(s, n) in &runs[i..j] {
                let at = ((s - first) / PAGE) as usize;
                ks.extend_from_slice(&group[at..at + n as usize]);
                es.extend(self.engine.page_states(s, n));
            }
            i = j;
        }
        let found = if self.pairing.agree(&es, &ks) {
            None
        } else {
            let addrs: Vec<u64> = runs
                .iter()
                .flat_map(|&(s, n)| (0..n).map(move |i| s + i * PAGE))
                .collect();
            compare::pages_disagreement_with(&mut self.pairing, &addrs, &es, &ks)
        };
        self.page_bufs = (ks, es);
        Ok(found)
    }
}
