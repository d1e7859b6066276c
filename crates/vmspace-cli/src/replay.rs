//! `vmspace replay`: an strace log of a real program, replayed call by call on the
//! engine, with the results the kernel recorded compared with the engine's.
//!
//! The recorded process started from a layout nobody knows (its executable, the
//! dynamic loader, its stack, all placed at exec time, with address-space
//! randomisation), so the replay separates what can be checked from what cannot:
//!
//! - **adopted**: calls that let the kernel choose an address (`mmap` without
//!   `MAP_FIXED`, `mremap` that moved with `MREMAP_MAYMOVE`, the first `brk`). The
//!   engine's own choice would be meaningless, so it takes the recorded address
//!   instead: it re-runs the call with `MAP_FIXED` / `MREMAP_FIXED` at that address
//!   and says so. The first `brk` of a process (and the first after an `execve`) shows
//!   where `execve` placed the break; the engine starts its own break there
//!   (`Mm::set_brk_base`), and every later `brk` is run and checked. Where that cannot
//!   be done (an unaligned break, a first `brk` that already moved it, a break that
//!   jumped outside the log, a disagreement the engine cannot undo) the engine follows
//!   the recorded break instead, mapping and unmapping the heap range, and the calls
//!   are adopted.
//! - **agreed** / **disagreed**: every other call on memory the replay knows about is
//!   run as it was made, and the engine's result is compared with the log's.
//! - **unknown**: calls on ranges the log never showed being mapped or unmapped (the
//!   executable's and the loader's own mappings, the stack), on file descriptors the
//!   engine never saw, or whose result the log does not have (`= ?`). They are not run.
//!
//! A file the process maps (a library, a locale file) is not in the log, so each file
//! descriptor it maps stands in as an engine memfd of sufficient size: the VMAs have the
//! same offsets, protections and sharing, which is what the calls' results depend on.
//!
//! A successful `execve` of the replayed process (when the log traced it) starts a new
//! address space: the engine is reset.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use vmspace::{Errno, MapFlags, Mm, MremapFlags, Op, Outcome};
use vmspace_script::{Action, Env, Expect};

const PAGE: u64 = 4096;

fn page_up(x: u64) -> u64 {
    x.saturating_add(PAGE - 1) & !(PAGE - 1)
}

fn page_down(x: u64) -> u64 {
    x & !(PAGE - 1)
}

/// What became of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// The engine's result is the one the log recorded.
    Agreed,
    /// The engine took the address the log recorded (the kernel chose it).
    Adopted,
    /// The engine's result differs from the log's.
    Disagreed,
    /// The call could not be checked (memory or descriptors the log never showed, or
    /// no recorded result).
    Unknown,
}

impl Verdict {
    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Agreed => "agreed",
            Verdict::Adopted => "adopted",
            Verdict::Disagreed => "disagreed",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One replayed call.
#[derive(Debug, Clone)]
pub struct CallReport {
    /// Line in the log.
    pub line: usize,
    /// The process id strace printed, if any.
    pub pid: Option<u32>,
    /// The call as the log shows it.
    pub call: String,
    /// The result the log recorded.
    pub recorded: String,
    /// What the engine answered to the call it ran (not set for unknown calls).
    pub engine: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// What the replay did or why it disagrees.
    pub note: String,
}

/// Totals of a replay.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The log's name.
    pub log: String,
    /// The replayed process ids (empty when the log has no pids).
    pub pids: Vec<u32>,
    /// Calls of the replayed process that were considered.
    pub calls: usize,
    /// See [`Verdict::Agreed`].
    pub agreed: usize,
    /// See [`Verdict::Adopted`].
    pub adopted: usize,
    /// See [`Verdict::Disagreed`].
    pub disagreed: usize,
    /// See [`Verdict::Unknown`].
    pub unknown: usize,
    /// Lines of the log (any process) naming calls outside the supported set.
    pub skipped: usize,
    /// `skipped` by call name.
    pub skipped_by_call: BTreeMap<String, usize>,
    /// Runnable calls of processes that were not replayed, by pid.
    pub other_pids: BTreeMap<u32, usize>,
    /// Successful `execve`s of the replayed process after its first call (each one
    /// reset the engine).
    pub execs: usize,
    /// File descriptors that stood in as engine memfds.
    pub stand_ins: usize,
}

impl Summary {
    /// The one-line summary.
    pub fn line(&self) -> String {
        let pids = if self.pids.is_empty() {
            String::new()
        } else {
            let p: Vec<String> = self.pids.iter().map(u32::to_string).collect();
            format!(", pid {}", p.join(","))
        };
        let mut s = format!(
            "{}{pids}: {} calls: {} agreed, {} adopted, {} disagreed, {} unknown; {} skipped",
            self.log,
            self.calls,
            self.agreed,
            self.adopted,
            self.disagreed,
            self.unknown,
            self.skipped
        );
        if !self.skipped_by_call.is_empty() {
            let parts: Vec<String> = self
                .skipped_by_call
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = write!(s, " ({})", parts.join(", "));
        }
        s
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "log": self.log,
            "pids": self.pids,
            "calls": self.calls,
            "agreed": self.agreed,
            "adopted": self.adopted,
            "disagreed": self.disagreed,
            "unknown": self.unknown,
            "skipped": self.skipped,
            "skipped_by_call": self.skipped_by_call,
            "other_pids": self.other_pids.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            "execs": self.execs,
            "stand_ins": self.stand_ins,
        })
    }
}

impl CallReport {
    /// One line of text.
    pub fn line_text(&self) -> String {
        let mut s = format!(
            "line {}: {} = {}  [{}]",
            self.line,
            self.call,
            self.recorded,
            self.verdict.name()
        );
        if !self.note.is_empty() {
            let _ = write!(s, " {}", self.note);
        }
        s
    }

    /// The report as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "line": self.line,
            "pid": self.pid,
            "call": self.call,
            "recorded": self.recorded,
            "engine": self.engine,
            "verdict": self.verdict.name(),
            "note": self.note,
        })
    }
}

/// Which processes to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Process ids to replay together (threads of one process); empty: the first
    /// process in the log.
    pub pids: Vec<u32>,
}

/// Sorted, disjoint, non-adjacent `[start, end)` ranges.
#[derive(Debug, Clone, Default)]
struct Ranges(BTreeMap<u64, u64>);

impl Ranges {
    fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        if let Some((&s, &e)) = self.0.range(..=start).next_back()
            && e >= start
        {
            start = s;
            end = end.max(e);
        }
        let overlapping: Vec<u64> = self.0.range(start..=end).map(|(&s, _)| s).collect();
        for s in overlapping {
            if let Some(e) = self.0.remove(&s) {
                end = end.max(e);
            }
        }
        self.0.insert(start, end);
    }

    /// The parts of `[start, end)` not covered.
    fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cur = start;
        if let Some((_, &e)) = self.0.range(..=start).next_back()
            && e > cur
        {
            cur = e;
        }
        for (&s, &e) in self.0.range(start..end) {
            if s > cur {
                out.push((cur, s.min(end)));
            }
            cur = cur.max(e);
        }
        if cur < end {
            out.push((cur, end));
        }
        out
    }

    fn covers(&self, start: u64, end: u64) -> bool {
        start >= end || self.gaps(start, end).is_empty()
    }

    fn intersects(&self, start: u64, end: u64) -> bool {
        start < end && self.gaps(start, end) != vec![(start, end)]
    }
}

/// The result strace recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rec {
    Value(u64),
    Err(Errno),
    Unknown,
}

/// How the engine's program break relates to the process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Brk {
    /// No brk call yet (since the start or the last `execve`).
    Unseen,
    /// The engine's break is the process's (started with `Mm::set_brk_base` at the
    /// first brk's result): brk calls are run and their results compared.
    Engine,
    /// The engine's break cannot follow the process's (the break was not page aligned,
    /// the first brk already moved it, or a disagreement the engine could not undo):
    /// the process's break as last recorded; the engine maps and unmaps the heap range
    /// the log shows, and the calls are adopted.
    Followed(u64),
}

/// The built-in layout as `execve` leaves it: its heap dropped and the break back at
/// its start, so that the first brk of the log can place the break
/// (`Mm::set_brk_base`).
fn engine() -> Mm {
    let mut seed = vmspace_check::default_seed();
    seed.vmas
        .retain(|v| v.line.name.as_deref() != Some("[heap]"));
    seed.brk = seed.start_brk;
    vmspace_check::engine_on(&seed, vmspace::Config::default())
        .expect("the built-in layout is valid")
}

struct Replayer {
    mm: Mm,
    /// Ranges whose state (mapped or not) the engine knows from the log.
    known: Ranges,
    /// Process fd -> engine fd.
    fds: HashMap<u64, u64>,
    /// Engine fds that stand in for files, with their current size.
    stand_ins: HashMap<u64, u64>,
    /// How the engine's break relates to the process's.
    brk: Brk,
    stand_ins_made: usize,
}

impl Replayer {
    fn new() -> Self {
        Replayer {
            mm: engine(),
            known: Ranges::default(),
            fds: HashMap::new(),
            stand_ins: HashMap::new(),
            brk: Brk::Unseen,
            stand_ins_made: 0,
        }
    }

    fn reset(&mut self) {
        let made = self.stand_ins_made;
        *self = Replayer::new();
        self.stand_ins_made = made;
    }

    /// Engine VMAs in `[start, end)` that lie in known memory: the log says the range
    /// was free, so the engine's state has drifted from the process's.
    fn known_mapped(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        self.mm
            .vmas()
            .filter(|v| v.start < end && v.end > start)
            .map(|v| (v.start.max(start), v.end.min(end)))
            .find(|&(s, e)| self.known.intersects(s, e))
    }

    /// The log shows `[start, end)` free: unmap whatever the engine has there in
    /// memory the log never showed (the built-in layout's mappings), and know it.
    fn clear_unknown(&mut self, start: u64, end: u64) {
        for (s, e) in self.known.gaps(start, end) {
            if self.mm.vmas().any(|v| v.start < e && v.end > s) {
                let _ = self.mm.apply(&Op::Munmap {
                    addr: s,
                    len: e - s,
                });
            }
        }
        self.known.insert(start, end);
    }

    /// The engine fd for a process fd that the process maps: its memfd, or a stand-in
    /// memfd at least `size` bytes long.
    fn file_fd(&mut self, fd: u64, size: u64) -> Result<u64, String> {
        if let Some(&e) = self.fds.get(&fd) {
            if let Some(cur) = self.stand_ins.get(&e).copied()
                && size > cur
            {
                let _ = self.mm.apply(&Op::Ftruncate {
                    fd: e,
                    length: size,
                });
                self.stand_ins.insert(e, size);
            }
            return Ok(e);
        }
        let name = format!("fd{}", fd as i64).into_bytes();
        match self.mm.apply(&Op::MemfdCreate { name, flags: 0 }) {
            Outcome::Value(e) => {
                let _ = self.mm.apply(&Op::Ftruncate {
                    fd: e,
                    length: size,
                });
                self.fds.insert(fd, e);
                self.stand_ins.insert(e, size);
                self.stand_ins_made += 1;
                Ok(e)
            }
            other => Err(format!("no stand-in for fd {}: {other}", fd as i64)),
        }
    }

    fn run(&mut self, op: &Op) -> Outcome {
        match self.mm.apply(op) {
            // `Mm::apply` passes the engine's "not modelled" marker (errno 0) through
            // as an error for mmap (MAP_HUGETLB|MAP_NORESERVE).
            Outcome::Error(e) if e.raw() == 0 => {
                Outcome::Unsupported(self.mm.last_reason().to_string())
            }
            out => out,
        }
    }

    /// A call the kernel refused with ENOMEM succeeded on the engine: ENOMEM can come
    /// from limits and memory use the log does not show, so it cannot be checked.
    fn enomem_unknown(out: &Outcome) -> (Verdict, Option<String>, String) {
        (
            Verdict::Unknown,
            Some(out.to_string()),
            "the kernel said ENOMEM, which can come from limits and memory use the log does not show; the engine's change was undone".to_string(),
        )
    }

    fn explain(&self, out: &Outcome) -> String {
        match out {
            Outcome::Error(_) if !self.mm.last_reason().is_empty() => {
                format!("{out} [{}]", self.mm.last_reason())
            }
            _ => out.to_string(),
        }
    }

    /// Compare and report.
    fn judge(&self, out: &Outcome, rec: Rec) -> (Verdict, String) {
        let same = match (out, rec) {
            (Outcome::Value(a), Rec::Value(b)) => *a == b,
            (Outcome::Error(a), Rec::Err(b)) => *a == b,
            _ => false,
        };
        if same {
            (Verdict::Agreed, String::new())
        } else if let Outcome::Unsupported(why) = out {
            (
                Verdict::Unknown,
                format!("the engine does not model this: {why}"),
            )
        } else {
            (
                Verdict::Disagreed,
                format!("engine: {}, log: {}", self.explain(out), rec_text(rec)),
            )
        }
    }

    /// Replay one call.
    fn call(&mut self, op: &Op, rec: Rec) -> (Verdict, Option<String>, String) {
        if rec == Rec::Unknown {
            return (
                Verdict::Unknown,
                None,
                "the log has no result for it".to_string(),
            );
        }
        match *op {
            Op::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset,
            } => self.mmap(addr, len, prot, flags, fd, offset, rec),
            Op::Munmap { addr, len } => {
                let out = self.run(op);
                if matches!(out, Outcome::Value(0)) {
                    self.known
                        .insert(page_down(addr), page_up(addr.saturating_add(len)));
                }
                self.checked(&out, rec)
            }
            Op::Mprotect { addr, len, .. }
            | Op::Madvise { addr, len, .. }
            | Op::Mlock { addr, len }
            | Op::Mlock2 { addr, len, .. }
            | Op::Munlock { addr, len } => {
                let (s, e) = (page_down(addr), page_up(addr.saturating_add(len)));
                if len != 0 && !self.known.covers(s, e) {
                    return unknown_range(s, e);
                }
                let out = self.run(op);
                self.checked(&out, rec)
            }
            Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => self.mremap(old_addr, old_len, new_len, flags, new_addr, rec),
            Op::Brk { addr } => self.brk(addr, rec),
            Op::MemfdCreate { .. } => {
                if let Rec::Value(p) = rec
                    && let Some(e) = self.fds.get(&p).copied()
                    && self.stand_ins.contains_key(&e)
                {
                    // The process's fd p is free again: the file behind the stand-in
                    // was closed (closes are not in the log).
                    let _ = self.mm.apply(&Op::Close { fd: e });
                    self.fds.remove(&p);
                    self.stand_ins.remove(&e);
                }
                let out = self.run(op);
                match (out.clone(), rec) {
                    (Outcome::Value(e), Rec::Value(p)) => {
                        self.fds.insert(p, e);
                        if e == p {
                            (Verdict::Agreed, Some(out.to_string()), String::new())
                        } else {
                            (
                                Verdict::Adopted,
                                Some(out.to_string()),
                                format!(
                                    "the process got fd {p}, the engine fd {e}: calls on fd {p} go to fd {e}"
                                ),
                            )
                        }
                    }
                    _ => self.checked(&out, rec),
                }
            }
            Op::Ftruncate { fd, .. } | Op::Pwrite64 { fd, .. } | Op::Close { fd } => {
                let Some(&e) = self.fds.get(&fd) else {
                    return (
                        Verdict::Unknown,
                        None,
                        format!("fd {} is not one the log showed being created", fd as i64),
                    );
                };
                let op = match op.clone() {
                    Op::Ftruncate { length, .. } => Op::Ftruncate { fd: e, length },
                    Op::Pwrite64 { data, offset, .. } => Op::Pwrite64 {
                        fd: e,
                        data,
                        offset,
                    },
                    _ => Op::Close { fd: e },
                };
                let out = self.run(&op);
                if matches!(op, Op::Close { .. }) && matches!(out, Outcome::Value(0)) {
                    self.fds.remove(&fd);
                    self.stand_ins.remove(&e);
                }
                self.checked(&out, rec)
            }
            _ => {
                let out = self.run(op);
                self.checked(&out, rec)
            }
        }
    }

    fn checked(&self, out: &Outcome, rec: Rec) -> (Verdict, Option<String>, String) {
        let (v, note) = self.judge(out, rec);
        (v, Some(out.to_string()), note)
    }

    /// The adopted call `op` must return `want`.
    fn adopt(&mut self, op: &Op, want: u64, what: String) -> (Verdict, Option<String>, String) {
        let out = self.run(op);
        if out == Outcome::Value(want) {
            (Verdict::Adopted, Some(out.to_string()), what)
        } else if let Outcome::Unsupported(why) = &out {
            (
                Verdict::Unknown,
                None,
                format!("the engine does not model this: {why}"),
            )
        } else {
            (
                Verdict::Disagreed,
                Some(out.to_string()),
                format!(
                    "the engine could not take the recorded address: {}",
                    self.explain(&out)
                ),
            )
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: u64,
        offset: u64,
        rec: Rec,
    ) -> (Verdict, Option<String>, String) {
        let f = MapFlags::from_bits_retain(flags);
        let fd = if f.contains(MapFlags::ANONYMOUS) {
            fd
        } else {
            let need = page_up(offset.saturating_add(len));
            match self.file_fd(fd, need) {
                Ok(e) => e,
                Err(why) => return (Verdict::Unknown, None, why),
            }
        };
        let fixed = f.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE);
        let len_up = page_up(len);
        let mut op = Op::Mmap {
            addr,
            len,
            prot,
            flags,
            fd,
            offset,
        };
        match rec {
            Rec::Value(r) if !fixed => {
                let end = r.saturating_add(len_up);
                let drift = self.known_mapped(r, end);
                op = Op::Mmap {
                    addr: r,
                    len,
                    prot,
                    flags: (flags & !MapFlags::FIXED_NOREPLACE.bits()) | MapFlags::FIXED.bits(),
                    fd,
                    offset,
                };
                self.clear_unknown(r, end);
                if let Some((s, e)) = drift {
                    let out = self.run(&op);
                    return (
                        Verdict::Disagreed,
                        Some(out.to_string()),
                        format!(
                            "the kernel found {r:#x} free, but the engine still had [{s:#x}, {e:#x}) mapped"
                        ),
                    );
                }
                self.adopt(
                    &op,
                    r,
                    format!("the engine takes {r:#x} (chosen by the kernel)"),
                )
            }
            Rec::Value(r) => {
                if f.contains(MapFlags::FIXED_NOREPLACE) {
                    // Succeeded: the range was free.
                    self.clear_unknown(addr, addr.saturating_add(len_up));
                }
                let out = self.run(&op);
                if out == Outcome::Value(r) {
                    self.known.insert(r, r.saturating_add(len_up));
                }
                self.checked(&out, rec)
            }
            Rec::Err(_) => {
                if f.contains(MapFlags::FIXED_NOREPLACE)
                    && !self.known.covers(addr, addr.saturating_add(len_up))
                {
                    return unknown_range(addr, addr.saturating_add(len_up));
                }
                let out = self.run(&op);
                if let (Outcome::Value(v), false) = (&out, fixed) {
                    // Undo, to stay with the process.
                    let _ = self.mm.apply(&Op::Munmap { addr: *v, len });
                    if rec == Rec::Err(Errno::ENOMEM) {
                        return Self::enomem_unknown(&out);
                    }
                }
                self.checked(&out, rec)
            }
            Rec::Unknown => (Verdict::Unknown, None, String::new()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
        rec: Rec,
    ) -> (Verdict, Option<String>, String) {
        let f = MremapFlags::from_bits_retain(flags);
        let (old_up, new_up) = (page_up(old_len), page_up(new_len));
        let keep = old_up.min(new_up).max(PAGE);
        if !self.known.covers(old, old.saturating_add(keep)) {
            return unknown_range(old, old.saturating_add(keep));
        }
        let op = Op::Mremap {
            old_addr: old,
            old_len,
            new_len,
            flags,
            new_addr,
        };
        let fixed = f.contains(MremapFlags::FIXED);
        let Rec::Value(r) = rec else {
            let out = self.run(&op);
            if let (Outcome::Value(v), Rec::Err(Errno::ENOMEM)) = (&out, rec)
                && new_up > old_up
            {
                // Undo: back to the old place and size.
                let back = if *v == old {
                    Op::Mremap {
                        old_addr: old,
                        old_len: new_up,
                        new_len: old_up,
                        flags: 0,
                        new_addr: 0,
                    }
                } else {
                    Op::Mremap {
                        old_addr: *v,
                        old_len: new_up,
                        new_len: old_up,
                        flags: (MremapFlags::MAYMOVE | MremapFlags::FIXED).bits(),
                        new_addr: old,
                    }
                };
                let _ = self.mm.apply(&back);
                return Self::enomem_unknown(&out);
            }
            return self.checked(&out, rec);
        };
        if fixed {
            let out = self.run(&op);
            if out == Outcome::Value(r) {
                self.known.insert(r, r.saturating_add(new_up));
                self.known.insert(old, old.saturating_add(old_up));
            }
            return self.checked(&out, rec);
        }
        let moved = r != old || f.contains(MremapFlags::DONTUNMAP);
        if moved && f.contains(MremapFlags::MAYMOVE) {
            let end = r.saturating_add(new_up);
            let drift = self.known_mapped(r, end);
            // Would the engine have grown it in place where the kernel moved it?
            let grow = old.saturating_add(old_up)..old.saturating_add(new_up);
            let in_place = !f.contains(MremapFlags::DONTUNMAP)
                && new_up > old_up
                && self.known.covers(grow.start, grow.end)
                && self
                    .mm
                    .vmas()
                    .any(|v| v.start <= old && v.end == grow.start)
                && !self
                    .mm
                    .vmas()
                    .any(|v| v.start < grow.end && v.end > grow.start);
            self.clear_unknown(r, end);
            let adopted = Op::Mremap {
                old_addr: old,
                old_len,
                new_len,
                flags: flags | MremapFlags::FIXED.bits(),
                new_addr: r,
            };
            let out = self.run(&adopted);
            if let Outcome::Unsupported(why) = &out {
                return (
                    Verdict::Unknown,
                    None,
                    format!("the engine does not model this: {why}"),
                );
            }
            if out == Outcome::Value(r) && !f.contains(MremapFlags::DONTUNMAP) {
                self.known.insert(old, old.saturating_add(old_up));
            }
            if in_place {
                return (
                    Verdict::Disagreed,
                    Some(out.to_string()),
                    format!(
                        "the kernel moved it, but the engine had [{:#x}, {:#x}) free to grow in place",
                        grow.start, grow.end
                    ),
                );
            }
            if let Some((s, e)) = drift {
                return (
                    Verdict::Disagreed,
                    Some(out.to_string()),
                    format!(
                        "the kernel found {r:#x} free, but the engine still had [{s:#x}, {e:#x}) mapped"
                    ),
                );
            }
            if out == Outcome::Value(r) {
                return (
                    Verdict::Adopted,
                    Some(out.to_string()),
                    format!("the engine moves it to {r:#x} (chosen by the kernel)"),
                );
            }
            return (
                Verdict::Disagreed,
                Some(out.to_string()),
                format!(
                    "the engine could not take the recorded address: {}",
                    self.explain(&out)
                ),
            );
        }
        // In place: the pages the mapping grew into were free.
        if new_up > old_up && r == old {
            self.clear_unknown(old.saturating_add(old_up), old.saturating_add(new_up));
        }
        let out = self.run(&op);
        if out == Outcome::Value(r) {
            self.known
                .insert(old, old.saturating_add(old_up.max(new_up)));
        }
        self.checked(&out, rec)
    }

    fn brk(&mut self, addr: u64, rec: Rec) -> (Verdict, Option<String>, String) {
        let Rec::Value(r) = rec else {
            return (
                Verdict::Unknown,
                None,
                "brk does not fail this way".to_string(),
            );
        };
        match self.brk {
            Brk::Unseen => self.brk_first(addr, r),
            Brk::Engine => self.brk_checked(addr, r),
            Brk::Followed(old) => self.brk_followed(old, addr, r),
        }
    }

    /// The first brk of the process: the kernel placed the break at exec time
    /// (`arch_randomize_brk`), so the engine's break starts where the log shows it.
    fn brk_first(&mut self, addr: u64, r: u64) -> (Verdict, Option<String>, String) {
        if addr != 0 && r == addr {
            self.brk = Brk::Followed(r);
            return (
                Verdict::Adopted,
                None,
                format!(
                    "the first brk the log shows already moved the break, so where the heap starts is unknown; the engine follows the break ({r:#x}) without checking"
                ),
            );
        }
        self.brk_base(r, format!("the process's break starts at {r:#x}"))
    }

    /// Start the engine's break at `r` (the process's break, placed by the kernel);
    /// if it cannot, follow the process's break from now on.
    fn brk_base(&mut self, r: u64, what: String) -> (Verdict, Option<String>, String) {
        if !r.is_multiple_of(PAGE) {
            self.brk = Brk::Followed(r);
            return (
                Verdict::Adopted,
                None,
                format!(
                    "{what}, which is not page aligned (the kernel's start of the heap is), so the engine cannot start its break there; it follows the break without checking"
                ),
            );
        }
        match self.mm.set_brk_base(r) {
            Ok(()) => {
                self.brk = Brk::Engine;
                (
                    Verdict::Adopted,
                    Some(Outcome::Value(r).to_string()),
                    format!(
                        "{what}; the engine starts its break there and checks the brk calls that follow"
                    ),
                )
            }
            Err(e) => {
                self.brk = Brk::Followed(r);
                (
                    Verdict::Adopted,
                    None,
                    format!(
                        "{what}; the engine cannot start its break there ({e}), so it follows the break without checking"
                    ),
                )
            }
        }
    }

    /// A brk once the engine's break is the process's: run it and compare.
    fn brk_checked(&mut self, addr: u64, r: u64) -> (Verdict, Option<String>, String) {
        let cur = self.mm.brk_value();
        if r != addr && r != cur {
            // The kernel neither moved the break to `addr` nor left it where the
            // engine has it: it moved without a traced brk (an exec the log does not
            // show).
            return self.brk_base(
                r,
                format!(
                    "the break moved from {cur:#x} to {r:#x} outside the log (an untraced execve?)"
                ),
            );
        }
        let (a, b) = (page_up(cur), page_up(addr));
        if r == addr && b > a {
            // The kernel found [a, b) free, and the page above it.
            self.clear_unknown(a, b.saturating_add(PAGE));
        }
        let out = self.run(&Op::Brk { addr });
        let e = match out {
            Outcome::Value(e) => e,
            _ => return self.checked(&out, Rec::Value(r)),
        };
        if e == r {
            if r == addr && b < a {
                // The heap shrank: [b, a) is free now.
                self.known.insert(b, a);
            }
            return (Verdict::Agreed, Some(out.to_string()), String::new());
        }
        // They differ. What lies in the range the growth needed, before the engine
        // puts its break back on the process's (if brk can).
        let grow_to = b.saturating_add(PAGE);
        let in_way = self
            .mm
            .vmas()
            .find(|v| v.start < grow_to && v.end > a)
            .map(|v| (v.start, v.end));
        let synced = self.mm.brk(r) == r;
        if r == cur && e > cur && !self.known.covers(a, grow_to) {
            // The kernel refused to grow where the engine could: memory the log never
            // showed may be in the way.
            return (
                Verdict::Unknown,
                Some(out.to_string()),
                format!(
                    "the kernel refused to grow the heap to {addr:#x} and the engine did not, but [{a:#x}, {grow_to:#x}) includes memory the log never showed being mapped; the engine's change was undone"
                ),
            );
        }
        let why = if r == cur && e > cur {
            format!(
                "the kernel refused to grow the heap to {addr:#x}, the engine grew it: [{a:#x}, {grow_to:#x}) is free in the memory the log showed (unless a limit the log does not show, such as RLIMIT_DATA, refused it)"
            )
        } else if r == cur {
            format!("the kernel refused to move the break to {addr:#x}, the engine moved it")
        } else if let (true, Some((s, e))) = (r > cur, in_way) {
            format!(
                "the kernel grew the heap to {r:#x}, the engine refused: it has [{s:#x}, {e:#x}) mapped where the heap and the free page above it would go"
            )
        } else {
            format!("the kernel moved the break to {r:#x}, the engine refused")
        };
        let mut note = format!("engine: {}, log: {}: {why}", out, rec_text(Rec::Value(r)));
        if synced {
            let _ = write!(note, "; the engine's break was put back at {r:#x}");
        } else {
            // The engine cannot follow with brk: from here on it maps and unmaps the
            // heap range as the log shows the break move.
            self.brk = Brk::Followed(cur);
            let _ = self.brk_followed(cur, addr, r);
            let _ = write!(
                note,
                "; the engine follows the process's break from here on without checking"
            );
        }
        (Verdict::Disagreed, Some(out.to_string()), note)
    }

    /// A brk while the engine cannot run brk calls as the process made them: the
    /// engine maps (or unmaps) the heap range the log shows.
    fn brk_followed(&mut self, old: u64, addr: u64, r: u64) -> (Verdict, Option<String>, String) {
        if addr == 0 && r != old {
            // The break moved without a traced brk (an exec the log does not show).
            return self.brk_base(
                r,
                format!(
                    "the break moved from {old:#x} to {r:#x} outside the log (an untraced execve?)"
                ),
            );
        }
        self.brk = Brk::Followed(r);
        if r != addr && r != old {
            return (
                Verdict::Adopted,
                None,
                format!(
                    "the break is {r:#x} (the log did not show it move); the engine follows it"
                ),
            );
        }
        let (a, b) = (page_up(old), page_up(r));
        if b > a {
            let drift = self.known_mapped(a, b);
            self.clear_unknown(a, b);
            let op = Op::Mmap {
                addr: a,
                len: b - a,
                prot: 3,
                flags: (MapFlags::PRIVATE | MapFlags::ANONYMOUS | MapFlags::FIXED).bits(),
                fd: u64::MAX,
                offset: 0,
            };
            if let Some((s, e)) = drift {
                let out = self.run(&op);
                return (
                    Verdict::Disagreed,
                    Some(out.to_string()),
                    format!("the heap grew over [{s:#x}, {e:#x}), which the engine had mapped"),
                );
            }
            self.adopt(
                &op,
                a,
                format!("the heap grows: the engine maps [{a:#x}, {b:#x})"),
            )
        } else if b < a {
            let out = self.run(&Op::Munmap {
                addr: b,
                len: a - b,
            });
            self.known.insert(b, a);
            (
                Verdict::Adopted,
                Some(out.to_string()),
                format!("the heap shrinks: the engine unmaps [{b:#x}, {a:#x})"),
            )
        } else {
            let what = if addr == 0 || addr == r {
                format!("the break stays at {r:#x}")
            } else {
                format!("the kernel refused to move the break to {addr:#x}")
            };
            (Verdict::Adopted, None, what)
        }
    }
}

fn unknown_range(s: u64, e: u64) -> (Verdict, Option<String>, String) {
    (
        Verdict::Unknown,
        None,
        format!("[{s:#x}, {e:#x}) includes memory the log never showed being mapped"),
    )
}

fn rec_text(r: Rec) -> String {
    match r {
        Rec::Value(v) => Outcome::Value(v).to_string(),
        Rec::Err(e) => Outcome::Error(e).to_string(),
        Rec::Unknown => "?".to_string(),
    }
}

/// Which processes a replay follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// The process `strace -f` started: the pid of the log's first line, if it has
    /// runnable calls (else the first process with runnable calls, found by replaying
    /// the log again: see [`Replay::finish`]). `Some(pid)` forces the choice.
    First(Option<u32>),
    /// These pids together (threads of one process).
    Pids(Vec<u32>),
    /// Every process on its own engine.
    All,
}

/// The replay of one process (or of the threads chosen together).
struct Run {
    r: Replayer,
    summary: Summary,
    started: bool,
    /// The line of its first call (runs are reported in this order).
    first_line: usize,
}

impl Run {
    fn new(name: &str, pids: Vec<u32>, line: usize) -> Self {
        Run {
            r: Replayer::new(),
            summary: Summary {
                log: name.to_string(),
                pids,
                ..Summary::default()
            },
            started: false,
            first_line: line,
        }
    }

    fn call(&mut self, stmt: &vmspace_script::Stmt) -> CallReport {
        self.started = true;
        self.first_line = self.first_line.min(stmt.line);
        let name = stmt.call.name();
        let (call, recorded) = vmspace_script::strace::call_and_result(&stmt.source, name);
        let rec = match &stmt.expect {
            Some(Expect::Value(e)) => e.const_value().map_or(Rec::Unknown, Rec::Value),
            Some(Expect::Errno(e)) => Rec::Err(*e),
            _ => Rec::Unknown,
        };
        let (verdict, engine, note) = match stmt.resolve(&Env::new()) {
            Ok(Action::Op(op)) => self.r.call(&op, rec),
            Ok(_) => (Verdict::Unknown, None, "not a call".to_string()),
            Err(e) => (Verdict::Unknown, None, e.to_string()),
        };
        let s = &mut self.summary;
        match verdict {
            Verdict::Agreed => s.agreed += 1,
            Verdict::Adopted => s.adopted += 1,
            Verdict::Disagreed => s.disagreed += 1,
            Verdict::Unknown => s.unknown += 1,
        }
        s.calls += 1;
        CallReport {
            line: stmt.line,
            pid: stmt.pid,
            call,
            recorded,
            engine,
            verdict,
            note,
        }
    }

    fn done(mut self) -> (usize, Summary) {
        self.summary.stand_ins = self.r.stand_ins_made;
        (self.first_line, self.summary)
    }
}

/// A replay fed one log event at a time ([`vmspace_script::LogReader`]): it keeps one
/// engine per process it follows (with `--all`, a process's engine is dropped when the
/// log shows it exit) and counters, never the log or its calls.
pub struct Replay {
    name: String,
    select: Select,
    /// The pid of the log's first non-blank line (`Select::First`).
    first_line_pid: Option<Option<u32>>,
    /// The pid of the log's first runnable call.
    first_stmt_pid: Option<Option<u32>>,
    /// Runs in progress, by pid (`None`: calls without a pid; `Select::Pids` keeps its
    /// one run under `None`).
    runs: BTreeMap<Option<u32>, Run>,
    /// Runs that ended (their process exited), with their first line.
    done: Vec<(usize, Summary)>,
    skipped: usize,
    skipped_by_call: BTreeMap<String, usize>,
    /// Runnable calls of processes not followed, by pid.
    other_pids: BTreeMap<u32, usize>,
    /// The earliest runnable call with a pid: (line, pid).
    first_runnable: Option<(usize, u32)>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("name", &self.name)
            .field("select", &self.select)
            .field("runs", &self.runs.len())
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// A replay of the log `name` following `select`.
    pub fn new(name: &str, select: Select) -> Self {
        Replay {
            name: name.to_string(),
            select,
            first_line_pid: None,
            first_stmt_pid: None,
            runs: BTreeMap::new(),
            done: Vec::new(),
            skipped: 0,
            skipped_by_call: BTreeMap::new(),
            other_pids: BTreeMap::new(),
            first_runnable: None,
        }
    }

    /// A raw line of the log, before it goes to the reader (the first non-blank one
    /// names the process `strace -f` started).
    pub fn raw_line(&mut self, line: &str) {
        if self.first_line_pid.is_none() && !line.trim().is_empty() {
            self.first_line_pid = Some(vmspace_script::strace::line_pid(line));
        }
    }

    /// The run a call of `pid` belongs to, if it is followed.
    fn key(&self, pid: Option<u32>) -> Option<Option<u32>> {
        match (&self.select, pid) {
            (Select::Pids(list), Some(p)) => list.contains(&p).then_some(None),
            (Select::Pids(_), None) => None,
            (Select::All, p) => Some(p),
            (Select::First(forced), Some(p)) => {
                let chosen = forced.or(self.first_line_pid.flatten());
                (chosen == Some(p)).then_some(Some(p))
            }
            (Select::First(_), None) => (self.first_stmt_pid == Some(None)).then_some(None),
        }
    }

    fn run_pids(&self, key: Option<u32>) -> Vec<u32> {
        match &self.select {
            Select::Pids(list) => list.clone(),
            _ => key.into_iter().collect(),
        }
    }

    /// Take in one event; `report` is called with each replayed call.
    pub fn event(&mut self, ev: vmspace_script::LogEvent, report: &mut dyn FnMut(&CallReport)) {
        use vmspace_script::LogEvent;
        match ev {
            LogEvent::Stmt(stmt) => {
                self.first_stmt_pid.get_or_insert(stmt.pid);
                if let Some(p) = stmt.pid
                    && self.first_runnable.is_none_or(|(l, _)| stmt.line < l)
                {
                    self.first_runnable = Some((stmt.line, p));
                }
                let Some(key) = self.key(stmt.pid) else {
                    if let Some(p) = stmt.pid {
                        *self.other_pids.entry(p).or_default() += 1;
                    }
                    return;
                };
                let pids = self.run_pids(key);
                let name = &self.name;
                let run = self
                    .runs
                    .entry(key)
                    .or_insert_with(|| Run::new(name, pids, stmt.line));
                report(&run.call(&stmt));
            }
            LogEvent::Skipped(s) => {
                self.skipped += 1;
                *self.skipped_by_call.entry(s.call_name).or_default() += 1;
            }
            LogEvent::Exec { pid, .. } => {
                if let Some(key) = self.key(pid)
                    && let Some(run) = self.runs.get_mut(&key)
                    && run.started
                {
                    run.r.reset();
                    run.summary.execs += 1;
                }
            }
            LogEvent::Exit { pid, .. } => {
                // With --all, a process that exited needs its engine no more.
                if self.select == Select::All
                    && pid.is_some()
                    && let Some(run) = self.runs.remove(&pid)
                {
                    self.done.push(run.done());
                }
            }
        }
    }

    /// The summaries, one per run in the order of their first calls; or, when the
    /// process of the log's first line made no runnable call, `Err(pid)` of the first
    /// process that did: replay the log again with `Select::First(Some(pid))`.
    ///
    /// # Errors
    /// `Err(pid)` as above.
    pub fn finish(mut self) -> Result<Vec<Summary>, u32> {
        if let Select::First(None) = self.select
            && let Some(Some(p)) = self.first_line_pid
            && !self.runs.contains_key(&Some(p))
            && let Some((_, q)) = self.first_runnable
        {
            return Err(q);
        }
        if self.select == Select::All && self.runs.keys().any(Option::is_some) {
            // Calls without a pid in a log with pids belong to no process.
            self.runs.remove(&None);
        }
        let mut all: Vec<(usize, Summary)> = std::mem::take(&mut self.done);
        all.extend(std::mem::take(&mut self.runs).into_values().map(Run::done));
        if all.is_empty() {
            // Nothing ran: the summary of the process that would have.
            let pids = match &self.select {
                Select::Pids(list) => list.clone(),
                Select::First(forced) => forced
                    .or(self.first_line_pid.flatten())
                    .into_iter()
                    .collect(),
                Select::All => Vec::new(),
            };
            all.push(Run::new(&self.name, pids, 0).done());
        }
        all.sort_by_key(|(l, _)| *l);
        Ok(all
            .into_iter()
            .map(|(_, mut s)| {
                s.skipped = self.skipped;
                s.skipped_by_call = self.skipped_by_call.clone();
                if self.select != Select::All {
                    s.other_pids = self.other_pids.clone();
                }
                s
            })
            .collect())
    }
}

/// Replay a log held in memory (for tests and small logs): the reports and the
/// summaries.
///
/// # Errors
/// A line that does not parse.
pub fn replay_text(
    name: &str,
    text: &str,
    select: &Select,
) -> Result<(Vec<CallReport>, Vec<Summary>), vmspace_script::ParseError> {
    let mut select = select.clone();
    loop {
        let mut reports = Vec::new();
        let mut reader = vmspace_script::LogReader::new(name);
        let mut rp = Replay::new(name, select.clone());
        let lines = text.strip_suffix('\n').unwrap_or(text).split('\n');
        for line in lines {
            let line = line.strip_suffix('\r').unwrap_or(line);
            rp.raw_line(line);
            reader.push_line(line)?;
            while let Some(ev) = reader.next_event() {
                rp.event(ev, &mut |r| reports.push(r.clone()));
            }
        }
        reader.finish()?;
        while let Some(ev) = reader.next_event() {
            rp.event(ev, &mut |r| reports.push(r.clone()));
        }
        match rp.finish() {
            Ok(s) => return Ok((reports, s)),
            Err(pid) => select = Select::First(Some(pid)),
        }
    }
}

/// The sum of several processes' summaries.
pub fn total(log: &str, parts: &[Summary]) -> Summary {
    let mut t = Summary {
        log: log.to_string(),
        ..Summary::default()
    };
    for s in parts {
        t.pids.extend(&s.pids);
        t.calls += s.calls;
        t.agreed += s.agreed;
        t.adopted += s.adopted;
        t.disagreed += s.disagreed;
        t.unknown += s.unknown;
        t.execs += s.execs;
        t.stand_ins += s.stand_ins;
    }
    if let Some(s) = parts.first() {
        t.skipped = s.skipped;
        t.skipped_by_call = s.skipped_by_call.clone();
    }
    t
}

/// `vmspace replay LOG [--pid N,...] [--all] [--verbose] [--json] [--strict]`.
///
/// The log is streamed: read one line at a time (at most `max_input` bytes in all, each
/// line at most [`crate::input::MAX_LOG_LINE`]), each call replayed and reported as it
/// is read; memory holds the engines of the processes followed and counters. With
/// `--all`, the per-call lines of all processes come in the log's order, and the
/// per-process summaries at the end. A line that does not parse stops the replay there
/// (exit status 2), after the calls before it were reported.
///
/// # Errors
/// A log that cannot be read or does not parse (exit status 2).
#[allow(clippy::too_many_arguments)]
pub fn cmd(
    path: &std::path::Path,
    opts: &ReplayOptions,
    all: bool,
    verbose: bool,
    json: bool,
    strict: bool,
    max_input: u64,
) -> anyhow::Result<std::process::ExitCode> {
    let name = path.display().to_string();
    let mut select = if all {
        Select::All
    } else if opts.pids.is_empty() {
        Select::First(None)
    } else {
        Select::Pids(opts.pids.clone())
    };
    let color = !json && crate::term::color_stdout();
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let start = std::time::Instant::now();
    let mut bar: Option<crate::term::Progress> = None;
    let mut print = |r: &CallReport| {
        if !(verbose || r.verdict == Verdict::Disagreed) {
            return;
        }
        if json {
            println!("{}", r.to_json());
        } else {
            let code = match r.verdict {
                Verdict::Agreed => "32",
                Verdict::Adopted => "36",
                Verdict::Disagreed => "31",
                Verdict::Unknown => "33",
            };
            println!("{}", crate::term::paint(color, code, &r.line_text()));
        }
    };
    let summaries = loop {
        let mut lines = crate::input::Lines::open(path, max_input)?;
        let mut reader = vmspace_script::LogReader::new(&name);
        let mut rp = Replay::new(&name, select.clone());
        while let Some(line) = lines.next()? {
            rp.raw_line(line);
            reader.push_line(line).map_err(|e| anyhow::anyhow!("{e}"))?;
            while let Some(ev) = reader.next_event() {
                rp.event(ev, &mut print);
            }
            if size > 0 && start.elapsed().as_secs() >= 1 {
                bar.get_or_insert_with(|| crate::term::Progress::new(size))
                    .update(lines.bytes_read(), "");
            }
        }
        reader.finish().map_err(|e| anyhow::anyhow!("{e}"))?;
        while let Some(ev) = reader.next_event() {
            rp.event(ev, &mut print);
        }
        match rp.finish() {
            Ok(s) => break s,
            Err(pid) => select = Select::First(Some(pid)),
        }
    };
    if let Some(b) = bar.take() {
        b.finish();
    }
    for summary in &summaries {
        if json {
            println!("{}", summary.to_json());
        } else {
            if !all && !summary.other_pids.is_empty() {
                let others: Vec<String> = summary
                    .other_pids
                    .iter()
                    .map(|(p, n)| format!("{p} ({n})"))
                    .collect();
                println!(
                    "other processes in the log (replay them with --pid or --all): {}",
                    others.join(", ")
                );
            }
            if summary.execs > 0 {
                println!(
                    "execve: {} after the first call (each started a new address space)",
                    summary.execs
                );
            }
            println!("{}", summary.line());
        }
    }
    let t = total(&name, &summaries);
    if summaries.len() > 1 {
        if json {
            let mut v = t.to_json();
            v["processes"] = summaries.len().into();
            println!("{v}");
        } else {
            println!(
                "{}: {} processes, {} calls: {} agreed, {} adopted, {} disagreed, {} unknown",
                name,
                summaries.len(),
                t.calls,
                t.agreed,
                t.adopted,
                t.disagreed,
                t.unknown
            );
        }
    }
    if strict && t.disagreed > 0 {
        return Ok(std::process::ExitCode::from(1));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<CallReport>, Summary) {
        let (reps, mut s) = replay_text("t.log", text, &Select::First(None)).expect("parses");
        (reps, s.remove(0))
    }

    #[test]
    fn the_first_process_is_the_one_on_the_first_line() {
        let (reps, s) = run("\
[pid  101] 10:00:00.000001 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>
[pid  102] 10:00:00.000002 brk(NULL) = 0x55d000000000
[pid  101] 10:00:00.000003 <... mmap resumed>) = 0x7f0000200000 <0.000010>
[pid  101] 10:00:00.000004 mprotect(0x7f0000200000, 4096, PROT_NONE) = 0 <0.000003>
");
        assert_eq!(s.pids, vec![101]);
        assert_eq!(s.other_pids.get(&102), Some(&1));
        assert_eq!(reps[0].line, 1);
        assert_eq!(
            reps[0].call,
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
        );
        assert_eq!(reps[0].recorded, "0x7f0000200000");
        assert_eq!(reps[1].verdict, Verdict::Agreed);
    }

    #[test]
    fn enomem_from_unknown_limits_is_unknown_and_undone() {
        let (reps, s) = run("\
9 mmap(NULL, 2097152, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_NORESERVE, -1, 0) = 0x7f0000200000
9 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM (Cannot allocate memory)
9 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000400000
9 mremap(0x7f0000400000, 8192, 1048576, MREMAP_MAYMOVE) = -1 ENOMEM (Cannot allocate memory)
9 mprotect(0x7f0000400000, 8192, PROT_READ) = 0
9 munmap(0x7f0000400000, 8192) = 0
9 mprotect(0x7f0000400000, 4096, PROT_READ) = -1 ENOMEM (Cannot allocate memory)
");
        let v: Vec<Verdict> = reps.iter().map(|r| r.verdict).collect();
        assert_eq!(
            v,
            [
                Verdict::Unknown,
                Verdict::Unknown,
                Verdict::Adopted,
                Verdict::Unknown,
                Verdict::Agreed,
                Verdict::Agreed,
                Verdict::Agreed
            ],
            "{reps:#?}"
        );
        assert!(reps[0].note.contains("hugetlb"), "{}", reps[0].note);
        assert_eq!(s.disagreed, 0);
    }

    #[test]
    fn ranges_merge_and_gaps() {
        let mut r = Ranges::default();
        r.insert(0x1000, 0x3000);
        r.insert(0x5000, 0x6000);
        r.insert(0x3000, 0x4000);
        assert_eq!(
            r.gaps(0, 0x7000),
            vec![(0, 0x1000), (0x4000, 0x5000), (0x6000, 0x7000)]
        );
        assert!(r.covers(0x1000, 0x4000));
        assert!(!r.covers(0x1000, 0x5000));
        assert!(r.intersects(0x3800, 0x9000));
        assert!(!r.intersects(0x4000, 0x5000));
    }

    #[test]
    fn adopts_kernel_choices_and_checks_the_rest() {
        let (reps, s) = run("\
100 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000100000
100 mremap(0x7f0000100000, 16384, 65536, MREMAP_MAYMOVE) = 0x7f0000200000
100 mprotect(0x7f0000100000, 4096, PROT_READ) = -1 ENOMEM (Cannot allocate memory)
100 munmap(0x7f0000200000, 4096) = 0
100 mprotect(0x7f0000200000, 4096, PROT_READ) = -1 ENOMEM (Cannot allocate memory)
100 mprotect(0x555555554000, 4096, PROT_READ) = 0
100 brk(NULL) = 0x560000000000
100 brk(0x560000021000) = 0x560000021000
100 madvise(0x560000000000, 8192, MADV_DONTNEED) = 0
");
        let verdicts: Vec<&str> = reps.iter().map(|r| r.verdict.name()).collect();
        assert_eq!(
            verdicts,
            [
                "adopted", "adopted", "agreed", "agreed", "agreed", "unknown", "adopted", "agreed",
                "agreed"
            ],
            "{reps:#?}"
        );
        assert_eq!(
            (s.calls, s.agreed, s.adopted, s.disagreed, s.unknown),
            (9, 5, 3, 0, 1)
        );
        assert_eq!(s.pids, vec![100]);
    }

    #[test]
    fn reports_disagreements() {
        let (reps, s) = run("\
mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000100000
mprotect(0x7f0000100000, 8192, PROT_READ) = -1 EACCES (Permission denied)
");
        assert_eq!(s.disagreed, 1);
        assert!(reps[1].note.contains("engine: 0"), "{}", reps[1].note);
        assert!(s.pids.is_empty());
    }

    #[test]
    fn file_mappings_stand_in_as_memfds() {
        let (reps, s) = run("\
7 mmap(NULL, 20000, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3, 0) = 0x7f0000100000
7 mmap(0x7f0000101000, 8192, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1000) = 0x7f0000101000
7 mprotect(0x7f0000103000, 4096, PROT_NONE) = 0
");
        assert_eq!((s.adopted, s.agreed), (1, 2), "{reps:#?}");
        assert_eq!(s.stand_ins, 1);
    }

    #[test]
    fn other_pids_and_execve() {
        let text = "\
5 execve(\"/bin/x\", [\"x\"], 0x7ffc /* 3 vars */) = 0
5 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000100000
6 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000200000
5 execve(\"/bin/y\", [\"y\"], 0x7ffc /* 3 vars */) = 0
5 mprotect(0x7f0000100000, 4096, PROT_READ) = 0
";
        let (reps, s) = run(text);
        assert_eq!(s.execs, 1);
        assert_eq!(s.other_pids.get(&6), Some(&1));
        // After the exec the range is unknown again.
        assert_eq!(reps[0].verdict, Verdict::Adopted);
        assert_eq!(reps[1].verdict, Verdict::Unknown);
    }

    fn verdicts(reps: &[CallReport]) -> Vec<&'static str> {
        reps.iter().map(|r| r.verdict.name()).collect()
    }

    #[test]
    fn brk_growth_into_a_known_mapping_disagrees() {
        // The log maps a page inside where the heap then grows: the kernel would have
        // refused that growth, so the log and the engine disagree.
        let (reps, s) = run("\
1 brk(NULL) = 0x560000000000
1 brk(0x560000008000) = 0x560000008000
1 mmap(0x560000010000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x560000010000
1 brk(0x560000021000) = 0x560000021000
1 brk(0x560000022000) = 0x560000022000
");
        assert_eq!(
            verdicts(&reps),
            ["adopted", "agreed", "agreed", "disagreed", "adopted"],
            "{reps:#?}"
        );
        assert_eq!(reps[3].engine.as_deref(), Some("0x560000008000"));
        assert!(
            reps[3]
                .note
                .starts_with("engine: 0x560000008000, log: 0x560000021000: ")
                && reps[3]
                    .note
                    .contains("[0x560000010000, 0x560000011000) mapped"),
            "{}",
            reps[3].note
        );
        // The engine could not follow with brk: it maps the heap range from then on.
        assert!(reps[3].note.contains("follows"), "{}", reps[3].note);
        assert!(reps[4].note.contains("the heap grows"), "{}", reps[4].note);
        assert_eq!(s.disagreed, 1);
    }

    #[test]
    fn a_refused_brk_the_engine_would_allow_disagrees() {
        // The log showed [0x560000021000, 0x560000051000) free, yet the kernel refused
        // to grow the heap into it.
        let (reps, s) = run("\
1 brk(NULL) = 0x560000000000
1 brk(0x560000021000) = 0x560000021000
1 munmap(0x560000021000, 196608) = 0
1 brk(0x560000042000) = 0x560000021000
1 brk(NULL) = 0x560000021000
1 brk(0x560000010000) = 0x560000010000
");
        assert_eq!(
            verdicts(&reps),
            [
                "adopted",
                "agreed",
                "agreed",
                "disagreed",
                "agreed",
                "agreed"
            ],
            "{reps:#?}"
        );
        assert_eq!(reps[3].engine.as_deref(), Some("0x560000042000"));
        assert!(
            reps[3]
                .note
                .contains("the kernel refused to grow the heap to 0x560000042000")
                && reps[3].note.contains("put back at 0x560000021000"),
            "{}",
            reps[3].note
        );
        assert_eq!(s.disagreed, 1);

        // The same refusal over memory the log never showed cannot be checked.
        let (reps, _) = run("\
1 brk(NULL) = 0x560000000000
1 brk(0x560000021000) = 0x560000021000
1 brk(0x560000042000) = 0x560000021000
1 brk(NULL) = 0x560000021000
");
        assert_eq!(
            verdicts(&reps),
            ["adopted", "agreed", "unknown", "agreed"],
            "{reps:#?}"
        );
        assert!(reps[2].note.contains("never showed"), "{}", reps[2].note);
    }

    #[test]
    fn brk_below_the_start_is_refused_by_both() {
        let (reps, s) = run("\
1 brk(NULL) = 0x560000000000
1 brk(0x55ffffff0000) = 0x560000000000
1 brk(0x560000021000) = 0x560000021000
1 brk(0x560000000000) = 0x560000000000
");
        assert_eq!(
            verdicts(&reps),
            ["adopted", "agreed", "agreed", "agreed"],
            "{reps:#?}"
        );
        assert_eq!(s.disagreed, 0);
    }

    #[test]
    fn brk_is_followed_when_it_cannot_be_checked() {
        // An unaligned first break: the kernel's start of the heap is page aligned.
        let (reps, _) = run("\
1 brk(NULL) = 0x560000000800
1 brk(0x560000021000) = 0x560000021000
");
        assert_eq!(verdicts(&reps), ["adopted", "adopted"], "{reps:#?}");
        assert!(
            reps[0].note.contains("not page aligned"),
            "{}",
            reps[0].note
        );

        // The first brk the log shows already moved the break.
        let (reps, _) = run("\
1 brk(0x560000021000) = 0x560000021000
1 brk(0x560000042000) = 0x560000042000
");
        assert_eq!(verdicts(&reps), ["adopted", "adopted"], "{reps:#?}");

        // The break jumps on brk(NULL) (an untraced execve): adopted; with a heap in
        // the engine its base cannot move, so the engine follows from then on.
        let (reps, s) = run("\
1 brk(NULL) = 0x560000000000
1 brk(0x560000021000) = 0x560000021000
1 brk(NULL) = 0x570000000000
1 brk(0x570000021000) = 0x570000021000
");
        assert_eq!(
            verdicts(&reps),
            ["adopted", "agreed", "adopted", "adopted"],
            "{reps:#?}"
        );
        assert!(reps[2].note.contains("untraced execve"), "{}", reps[2].note);
        assert_eq!(s.disagreed, 0);

        // A traced execve resets the engine: the next first brk starts a new break.
        let (reps, s) = run("\
1 brk(NULL) = 0x560000000000
1 brk(0x560000021000) = 0x560000021000
1 execve(\"/bin/y\", [\"y\"], 0x7ffc /* 3 vars */) = 0
1 brk(NULL) = 0x570000000000
1 brk(0x570000021000) = 0x570000021000
");
        assert_eq!(s.execs, 1);
        assert_eq!(
            verdicts(&reps),
            ["adopted", "agreed", "adopted", "agreed"],
            "{reps:#?}"
        );
    }
}
