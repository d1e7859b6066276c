//! `vmspace tour`: the scenarios of mremap(2), one commented script each, run step by
//! step on the built-in engine.
//!
//! The scripts live in `examples/tour/` and are compiled into the binary, so the tour
//! runs anywhere. A scenario's opening comment block is its explanation; the comments
//! between statements narrate the steps. Every step shows the statement, its result,
//! the maps lines of the scenario's own mappings that it changed (`-` before, `+`
//! after), and what the engine's counters say about it (pages present, pages moved
//! rather than copied, locked memory).

use std::fmt::Write as _;

use vmspace::{Config, Mm, MremapFlags, Op, Outcome, PageState};
use vmspace_script::{Action, Runner, StepReport, format_op, parse_script};

use crate::term::paint;

/// One scenario of the tour.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// 1-based position in the tour.
    pub number: usize,
    /// Short name, usable on the command line (`vmspace tour dontunmap`).
    pub slug: &'static str,
    /// Heading.
    pub title: &'static str,
    /// Where the script lives in the repository.
    pub path: &'static str,
    /// The script.
    pub text: &'static str,
}

macro_rules! scenario {
    ($n:expr, $slug:expr, $title:expr, $file:literal) => {
        Scenario {
            number: $n,
            slug: $slug,
            title: $title,
            path: concat!("examples/tour/", $file),
            text: include_str!(concat!("../../../examples/tour/", $file)),
        }
    };
}

/// The tour, in order.
pub const SCENARIOS: &[Scenario] = &[
    scenario!(1, "shrink", "Shrink", "01-shrink.vms"),
    scenario!(2, "expand", "Expand in place", "02-expand-in-place.vms"),
    scenario!(3, "move", "Move", "03-move.vms"),
    scenario!(4, "fixed", "MREMAP_FIXED", "04-fixed.vms"),
    scenario!(5, "dontunmap", "MREMAP_DONTUNMAP", "05-dontunmap.vms"),
    scenario!(
        6,
        "duplicate",
        "The shared duplicate",
        "06-shared-duplicate.vms"
    ),
    scenario!(
        7,
        "populate",
        "Populate when locked",
        "07-populate-locked.vms"
    ),
    scenario!(8, "realloc", "The efficient realloc", "08-realloc.vms"),
];

/// Find a scenario by number (`3`) or by name (`move`, or a unique prefix of one).
pub fn find(key: &str) -> Option<&'static Scenario> {
    if let Ok(n) = key.parse::<usize>() {
        return SCENARIOS.iter().find(|s| s.number == n);
    }
    let key = key.to_ascii_lowercase();
    if let Some(s) = SCENARIOS.iter().find(|s| s.slug == key) {
        return Some(s);
    }
    let mut hits = SCENARIOS.iter().filter(|s| s.slug.starts_with(&key));
    match (hits.next(), hits.next()) {
        (Some(s), None) => Some(s),
        _ => None,
    }
}

/// The engine `vmspace run` uses: the vmspace agent's layout on the reference machine.
pub fn default_engine() -> Mm {
    vmspace_check::default_engine(Config::default())
}

/// How a maps line changed in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// There before and after.
    Same,
    /// Only before.
    Removed,
    /// Only after.
    Added,
}

impl Mark {
    /// `' '`, `'-'` or `'+'`.
    pub fn sign(self) -> char {
        match self {
            Mark::Same => ' ',
            Mark::Removed => '-',
            Mark::Added => '+',
        }
    }
}

/// One statement of a scenario, run.
#[derive(Debug, Clone, Default)]
pub struct StepView {
    /// Line in the script.
    pub line: usize,
    /// The comment paragraphs just before the statement.
    pub narration: Vec<String>,
    /// The statement as written.
    pub source: String,
    /// The call with every name resolved.
    pub call: String,
    /// What the engine answered.
    pub outcome: String,
    /// The assertion that failed, if one did.
    pub failed: Option<String>,
    /// The scenario's maps lines around the change (empty when nothing changed).
    pub maps: Vec<(Mark, String)>,
    /// What the engine's counters show about the step.
    pub notes: Vec<String>,
}

/// One scenario, run.
#[derive(Debug, Clone)]
pub struct ScenarioView {
    /// The scenario.
    pub scenario: Scenario,
    /// The first line of the script's opening comment.
    pub lead: String,
    /// The rest of the opening comment, as paragraphs.
    pub intro: Vec<String>,
    /// The statements.
    pub steps: Vec<StepView>,
    /// Totals shown after the steps.
    pub summary: Vec<String>,
    /// Why the run stopped early, if it did.
    pub error: Option<String>,
}

impl ScenarioView {
    /// Did every statement run and every assertion hold?
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.steps.iter().all(|s| s.failed.is_none())
    }
}

/// Split a script into its opening comment (paragraphs) and, per line, the comment
/// text of comment-only lines. The opening comment ends at the first blank line.
fn comments(text: &str) -> (Vec<String>, Vec<Option<String>>) {
    let mut header: Vec<String> = vec![String::new()];
    let mut per_line = Vec::new();
    let mut in_header = true;
    for line in text.lines() {
        let t = line.trim();
        let comment = t.strip_prefix('#').map(|c| c.trim().to_string());
        if in_header {
            match &comment {
                Some(c) if c.is_empty() => header.push(String::new()),
                Some(c) => {
                    let p = header.last_mut().expect("never empty");
                    if !p.is_empty() {
                        p.push(' ');
                    }
                    p.push_str(c);
                }
                None => in_header = false,
            }
            per_line.push(None);
            continue;
        }
        per_line.push(comment);
    }
    header.retain(|p| !p.is_empty());
    (header, per_line)
}

/// The comment paragraphs on the lines `from..to` (0-based, exclusive end).
fn narration(per_line: &[Option<String>], from: usize, to: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in per_line.get(from..to.min(per_line.len())).unwrap_or(&[]) {
        match c {
            Some(c) if !c.is_empty() => {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(c);
            }
            _ => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `[start, end)` of a maps line.
fn line_range(line: &str) -> Option<(u64, u64)> {
    let range = line.split(' ').next()?;
    let (a, b) = range.split_once('-')?;
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}

/// The maps lines that intersect any of `ranges`.
fn region<'a>(maps: &'a str, ranges: &[(u64, u64)]) -> Vec<&'a str> {
    maps.lines()
        .filter(|l| {
            line_range(l).is_some_and(|(s, e)| ranges.iter().any(|&(a, b)| a < e && s < b && a < b))
        })
        .collect()
}

/// A diff of two address-ordered lists of maps lines: removed lines before added ones
/// at the same place.
fn diff_lines(before: &[&str], after: &[&str]) -> Vec<(Mark, String)> {
    let key = |l: &str| line_range(l).map_or(0, |r| r.0);
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < before.len() || j < after.len() {
        match (before.get(i), after.get(j)) {
            (Some(a), Some(b)) if a == b => {
                out.push((Mark::Same, a.to_string()));
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) => {
                // Remove `a` when it is not in `after` further on and starts no later.
                if key(a) <= key(b) && !after[j..].contains(a) {
                    out.push((Mark::Removed, a.to_string()));
                    i += 1;
                } else if !before[i..].contains(b) {
                    out.push((Mark::Added, b.to_string()));
                    j += 1;
                } else {
                    out.push((Mark::Removed, a.to_string()));
                    i += 1;
                }
            }
            (Some(a), None) => {
                out.push((Mark::Removed, a.to_string()));
                i += 1;
            }
            (None, Some(b)) => {
                out.push((Mark::Added, b.to_string()));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

fn present(mm: &Mm, start: u64, len: u64) -> u64 {
    let n = len.div_ceil(4096);
    if n == 0 || n > 1 << 22 {
        return 0;
    }
    mm.page_states(start & !4095, n)
        .iter()
        .filter(|p| matches!(p, PageState::Present(_)))
        .count() as u64
}

fn kib(bytes: u64) -> String {
    let b = bytes;
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else if b.is_multiple_of(1024) {
        format!("{} KiB", b >> 10)
    } else {
        format!("{b} bytes")
    }
}

/// Thousands separators, for byte counts a person reads.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// Totals of the mremap calls of a scenario.
#[derive(Debug, Default)]
struct Totals {
    growths: u64,
    moves: u64,
    in_place: u64,
    copy_bytes: u64,
    moved_pages: u64,
    first: Option<u64>,
    last: Option<(u64, u64)>,
}

/// Run one scenario on a fresh engine.
pub fn run_scenario(sc: &Scenario) -> ScenarioView {
    let (mut intro, per_line) = comments(sc.text);
    let lead = if intro.is_empty() {
        String::new()
    } else {
        intro.remove(0)
    };
    let mut view = ScenarioView {
        scenario: *sc,
        lead,
        intro,
        steps: Vec::new(),
        summary: Vec::new(),
        error: None,
    };
    let script = match parse_script(sc.path, sc.text) {
        Ok(s) => s,
        Err(e) => {
            view.error = Some(e.to_string());
            return view;
        }
    };
    let mut mm = default_engine();
    let frames0 = mm.frames_in_use();
    let visits0 = mm.pagetable_move_visits();
    let mut runner = Runner::new(script);
    let mut interest: Vec<(u64, u64)> = Vec::new();
    let mut prev_line = 0usize;
    let mut totals = Totals::default();
    while let Some(stmt) = runner.next_stmt() {
        let line = stmt.line;
        let source = stmt.source.trim().to_string();
        let planned = stmt.resolve(runner.env()).ok();
        let before = mm.maps_text();
        let counters = mm.counters();
        let frames = mm.frames_in_use();
        let visits = mm.pagetable_move_visits();
        let src_present = match &planned {
            Some(Action::Op(Op::Mremap {
                old_addr, old_len, ..
            })) => present(&mm, *old_addr, *old_len),
            _ => 0,
        };
        let report = match runner.step(&mut mm) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                view.error = Some(e.to_string());
                break;
            }
        };
        let mut step = StepView {
            line,
            narration: narration(&per_line, prev_line, line.saturating_sub(1)),
            source,
            call: call_text(&report),
            outcome: outcome_text(&report),
            failed: report.check.as_ref().err().map(|m| m.to_string()),
            ..StepView::default()
        };
        prev_line = line;
        if let Some(op) = report.op() {
            if !op.is_access() {
                interest.extend(interest_ranges(op, &report.outcome));
                let after = mm.maps_text();
                if after != before {
                    let d = diff_lines(&region(&before, &interest), &region(&after, &interest));
                    if d.iter().any(|(m, _)| *m != Mark::Same) {
                        step.maps = d;
                    }
                }
            }
            notes(
                &mm,
                op,
                &report.outcome,
                Before {
                    counters,
                    frames,
                    visits,
                    src_present,
                },
                &mut step.notes,
                &mut totals,
            );
        }
        view.steps.push(step);
    }
    if sc.slug == "realloc" {
        realloc_summary(&mm, frames0, visits0, &totals, &mut view.summary);
    }
    view
}

/// The ranges a call is about: what it mapped, unmapped or changed (not a hint or a
/// destination it did not use).
fn interest_ranges(op: &Op, outcome: &Outcome) -> Vec<(u64, u64)> {
    let r = |a: u64, l: u64| (a, a.saturating_add(l));
    let value = match outcome {
        Outcome::Value(v) => Some(*v),
        _ => None,
    };
    match *op {
        Op::Mmap { len, .. } => value.map(|v| r(v, len)).into_iter().collect(),
        Op::Mremap {
            old_addr,
            old_len,
            new_len,
            ..
        } => {
            let mut out = vec![r(old_addr, old_len)];
            if let Some(v) = value {
                out.push(r(v, new_len));
            }
            out
        }
        _ => op.touched_ranges(),
    }
}

fn call_text(r: &StepReport) -> String {
    match &r.action {
        Action::Op(op) => format_op(op),
        Action::Maps => "maps()".to_string(),
        Action::Vmas { start, end } => format!("vmas({start:#x}, {end:#x})"),
    }
}

fn outcome_text(r: &StepReport) -> String {
    match (&r.action, r.text()) {
        (Action::Vmas { .. }, Some(t)) => format!("\"{}\"", t.trim_end()),
        _ => r.outcome.to_string(),
    }
}

struct Before {
    counters: vmspace::Counters,
    frames: u64,
    visits: u64,
    src_present: u64,
}

fn notes(mm: &Mm, op: &Op, outcome: &Outcome, b: Before, out: &mut Vec<String>, t: &mut Totals) {
    let after = mm.counters();
    if let (
        Op::Mremap {
            old_addr,
            old_len,
            new_len,
            flags,
            ..
        },
        Outcome::Value(v),
    ) = (op, outcome)
    {
        let (old_addr, old_len, new_len, v) = (*old_addr, *old_len, *new_len, *v);
        let flags = MremapFlags::from_bits_retain(*flags);
        let visits = mm.pagetable_move_visits() - b.visits;
        if old_len == 0 {
            out.push(format!(
                "a second mapping of the same shared pages at {v:#x}; nothing was moved or copied"
            ));
        } else if v != old_addr {
            t.moves += 1;
            t.moved_pages += b.src_present;
            let now = mm.frames_in_use();
            let frames = if now == b.frames {
                "frames in use unchanged".to_string()
            } else if now > b.frames {
                format!(
                    "frames in use +{} (new pages faulted in, not copies)",
                    now - b.frames
                )
            } else {
                format!("frames in use -{}", b.frames - now)
            };
            out.push(format!(
                "moved to {v:#x}: {} now mapped there by moving page-table entries ({} visited), 0 bytes copied; {frames}",
                plural(b.src_present, "present page", "present pages"),
                plural(visits, "entry or table", "entries and tables"),
            ));
            if flags.contains(MremapFlags::DONTUNMAP) {
                out.push(format!(
                    "the old range {old_addr:#x} stays mapped, with no pages in it"
                ));
            }
        } else if new_len < old_len {
            let (keep, end) = (
                old_addr + new_len.div_ceil(4096) * 4096,
                old_addr.saturating_add(old_len.div_ceil(4096) * 4096),
            );
            out.push(format!(
                "shrank in place: [{keep:#x}, {end:#x}) unmapped, as munmap would"
            ));
        } else if new_len > old_len {
            t.in_place += 1;
            out.push(format!(
                "grew in place by {}: nothing moved",
                kib(new_len.div_ceil(4096) * 4096 - old_len.div_ceil(4096) * 4096)
            ));
        }
        if new_len > old_len && old_len > 0 {
            t.growths += 1;
            t.copy_bytes += old_len;
            t.first.get_or_insert(old_len);
            t.last = Some((v, new_len));
        }
        if new_len > 0 {
            let n = new_len.div_ceil(4096);
            out.push(format!(
                "{} of {} present at {v:#x}",
                grouped(present(mm, v, new_len)),
                plural(n, "page", "pages"),
            ));
        }
    }
    if after.vm_lck_kb != b.counters.vm_lck_kb {
        out.push(format!(
            "VmLck {} kB -> {} kB",
            b.counters.vm_lck_kb, after.vm_lck_kb
        ));
    }
}

fn realloc_summary(mm: &Mm, frames0: u64, visits0: u64, t: &Totals, out: &mut Vec<String>) {
    let (Some(first), Some((last, last_len))) = (t.first, t.last) else {
        return;
    };
    out.push(format!(
        "{} by doubling, from {} to {}: {} moved the buffer, {} grew it in place.",
        plural(t.growths, "growth", "growths"),
        kib(first),
        kib(last_len),
        grouped(t.moves),
        grouped(t.in_place),
    ));
    out.push(format!(
        "A realloc that allocates a new block and copies (malloc, memcpy, free) would have copied {} bytes ({} pages).",
        grouped(t.copy_bytes),
        grouped(t.copy_bytes / 4096),
    ));
    out.push(format!(
        "mremap copied 0 bytes: {} pages changed address with their page-table entries, and the page-table moves visited {} entries and tables in all.",
        grouped(t.moved_pages),
        grouped(mm.pagetable_move_visits() - visits0),
    ));
    let frames = mm.frames_in_use() - frames0;
    let touched = present(mm, last, last_len);
    out.push(format!(
        "Frames in use grew by {}, and the final buffer has {} present pages: every page written exists once, none was duplicated.",
        grouped(frames),
        grouped(touched),
    ));
}

/// Run the scenarios.
pub fn run(scenarios: &[&Scenario]) -> Vec<ScenarioView> {
    scenarios.iter().map(|s| run_scenario(s)).collect()
}

/// Wrap `text` at `width` columns, every line starting with `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    wrap_hanging(text, indent, indent, width)
}

/// Wrap `text` at `width` columns: the first line starts with `first`, the others
/// with `rest`.
fn wrap_hanging(text: &str, first: &str, rest: &str, width: usize) -> String {
    let mut out = String::new();
    let mut indent = first;
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            indent = rest;
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > indent.len() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Colour each line of `text` separately.
fn paint_lines(color: bool, code: &str, text: &str) -> String {
    let mut o = String::with_capacity(text.len());
    for l in text.lines() {
        o.push_str(&paint(color, code, l));
        o.push('\n');
    }
    o
}

/// The tour as text; `color` adds ANSI colours.
pub fn to_text(views: &[ScenarioView], color: bool) -> String {
    let mut o = String::new();
    let total = SCENARIOS.len();
    for v in views {
        let sc = &v.scenario;
        let head = format!("{}/{total}  {}", sc.number, sc.title);
        let _ = writeln!(o, "{}", paint(color, "1;36", &head));
        let _ = writeln!(o, "{}", paint(color, "2", &format!("({})", sc.path)));
        o.push('\n');
        if !v.lead.is_empty() {
            o.push_str(&paint_lines(color, "1", &wrap(&v.lead, "", 88)));
            o.push('\n');
        }
        for p in &v.intro {
            o.push_str(&wrap(p, "", 88));
            o.push('\n');
        }
        for s in &v.steps {
            for p in &s.narration {
                o.push_str(&paint_lines(color, "33", &wrap(p, "  # ", 88)));
            }
            let _ = writeln!(o, "  {}", paint(color, "1", &s.source));
            let call = if s.call.starts_with("vmas(") {
                "vmas(...)"
            } else {
                &s.call
            };
            let _ = write!(
                o,
                "    {} = {}",
                paint(color, "2", call),
                paint(color, "1", &s.outcome)
            );
            match &s.failed {
                Some(m) => {
                    let _ = writeln!(o, "{}", paint(color, "1;31", &format!("   FAILED: {m}")));
                }
                None => o.push('\n'),
            }
            for (m, l) in &s.maps {
                let text = format!("      {} {l}", m.sign());
                let line = match m {
                    Mark::Same => text,
                    Mark::Removed => paint(color, "31", &text),
                    Mark::Added => paint(color, "32", &text),
                };
                let _ = writeln!(o, "{}", line.trim_end());
            }
            for n in &s.notes {
                o.push_str(&paint_lines(
                    color,
                    "36",
                    &wrap_hanging(n, "      * ", "        ", 96),
                ));
            }
        }
        if let Some(e) = &v.error {
            let _ = writeln!(o, "{}", paint(color, "1;31", &format!("  stopped: {e}")));
        }
        if !v.summary.is_empty() {
            o.push('\n');
            let _ = writeln!(o, "{}", paint(color, "1", "In sum:"));
            for s in &v.summary {
                o.push_str(&wrap(s, "  ", 88));
            }
        }
        o.push('\n');
    }
    o
}

/// The list of scenarios, one per line.
pub fn list_text() -> String {
    let mut o = String::new();
    for s in SCENARIOS {
        let lead = s
            .text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix('#'))
            .unwrap_or("")
            .trim();
        let _ = writeln!(o, "{:>2}  {:<10} {}", s.number, s.slug, lead);
    }
    o
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;line-height:1.45}\
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:2px solid #0a7;padding-bottom:.2rem}\
.path{color:#666;font-size:.85rem}.lead{font-weight:600}\
.step{margin:.6rem 0 .9rem 0}.narr{color:#7a5b00;margin:.9rem 0 .3rem 0}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}\
.src{font-weight:600}.call{color:#666}.res{color:#05a}.fail{color:#c00;font-weight:600}\
pre.maps{background:#f6f8fa;padding:.4rem .6rem;margin:.3rem 0 .3rem 1.5rem;overflow-x:auto}\
.add{color:#067d17;background:#e6ffec;display:block}.del{color:#b31d28;background:#ffebe9;display:block}.same{display:block}\
ul.notes{margin:.2rem 0 .2rem 1.5rem;color:#045;font-size:.9rem}.summary{background:#eef8f3;padding:.6rem 1rem;border-left:4px solid #0a7}\
nav ol{columns:2}";

/// The tour as a self-contained HTML page (inline CSS, no external resources). The
/// output is also well-formed XML.
pub fn to_html(views: &[ScenarioView]) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    o.push_str("<title>vmspace tour: the scenarios of mremap(2)</title>\n");
    let _ = writeln!(o, "<style>{CSS}</style>\n</head>\n<body>");
    o.push_str("<h1>vmspace tour: the scenarios of mremap(2)</h1>\n");
    o.push_str("<p>Each scenario is a script from <code>examples/tour/</code> run on vmspace's engine, which agrees with Linux 6.18 call for call. Every step shows the statement, the call with its names resolved, its result, the maps lines it changed (<span class=\"del\" style=\"display:inline\">- before</span> <span class=\"add\" style=\"display:inline\">+ after</span>) and what the engine's counters show.</p>\n");
    o.push_str("<nav><ol>\n");
    for v in views {
        let _ = writeln!(
            o,
            "<li><a href=\"#{}\">{}</a></li>",
            esc(v.scenario.slug),
            esc(v.scenario.title)
        );
    }
    o.push_str("</ol></nav>\n");
    for v in views {
        let sc = &v.scenario;
        let _ = writeln!(o, "<section id=\"{}\">", esc(sc.slug));
        let _ = writeln!(
            o,
            "<h2>{}. {}</h2>\n<div class=\"path\">{}</div>",
            sc.number,
            esc(sc.title),
            esc(sc.path)
        );
        if !v.lead.is_empty() {
            let _ = writeln!(o, "<p class=\"lead\">{}</p>", esc(&v.lead));
        }
        for p in &v.intro {
            let _ = writeln!(o, "<p>{}</p>", esc(p));
        }
        for s in &v.steps {
            for p in &s.narration {
                let _ = writeln!(o, "<p class=\"narr\">{}</p>", esc(p));
            }
            o.push_str("<div class=\"step\">");
            let _ = write!(o, "<code class=\"src\">{}</code><br/>", esc(&s.source));
            if !s.call.starts_with("vmas(") {
                let _ = write!(o, "<code class=\"call\">{} = </code>", esc(&s.call));
            }
            let _ = write!(o, "<code class=\"res\">{}</code>", esc(&s.outcome));
            if let Some(m) = &s.failed {
                let _ = write!(o, " <span class=\"fail\">FAILED: {}</span>", esc(m));
            }
            if !s.maps.is_empty() {
                o.push_str("<pre class=\"maps\">");
                for (m, l) in &s.maps {
                    let class = match m {
                        Mark::Same => "same",
                        Mark::Removed => "del",
                        Mark::Added => "add",
                    };
                    let _ = write!(
                        o,
                        "<span class=\"{class}\">{} {}</span>",
                        m.sign(),
                        esc(l.trim_end())
                    );
                }
                o.push_str("</pre>");
            }
            if !s.notes.is_empty() {
                o.push_str("<ul class=\"notes\">");
                for n in &s.notes {
                    let _ = write!(o, "<li>{}</li>", esc(n));
                }
                o.push_str("</ul>");
            }
            o.push_str("</div>\n");
        }
        if let Some(e) = &v.error {
            let _ = writeln!(o, "<p class=\"fail\">stopped: {}</p>", esc(e));
        }
        if !v.summary.is_empty() {
            o.push_str("<div class=\"summary\">\n");
            for s in &v.summary {
                let _ = writeln!(o, "<p>{}</p>", esc(s));
            }
            o.push_str("</div>\n");
        }
        o.push_str("</section>\n");
    }
    o.push_str("</body>\n</html>\n");
    o
}

/// The tour as JSON values, one per scenario.
pub fn to_json(views: &[ScenarioView]) -> Vec<serde_json::Value> {
    views
        .iter()
        .map(|v| {
            let steps: Vec<serde_json::Value> = v
                .steps
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "line": s.line,
                        "narration": s.narration,
                        "source": s.source,
                        "call": s.call,
                        "outcome": s.outcome,
                        "ok": s.failed.is_none(),
                        "failed": s.failed,
                        "maps": s.maps.iter().map(|(m, l)| format!("{} {l}", m.sign())).collect::<Vec<_>>(),
                        "notes": s.notes,
                    })
                })
                .collect();
            serde_json::json!({
                "number": v.scenario.number,
                "slug": v.scenario.slug,
                "title": v.scenario.title,
                "file": v.scenario.path,
                "lead": v.lead,
                "intro": v.intro,
                "steps": steps,
                "summary": v.summary,
                "passed": v.passed(),
                "error": v.error,
            })
        })
        .collect()
}

/// `vmspace tour [SCENARIO] [--list] [--html FILE] [--json]`.
///
/// # Errors
/// An unknown scenario, or a page that cannot be written.
pub fn cmd(
    scenario: Option<&str>,
    list: bool,
    html: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context as _;
    if list {
        if json {
            for s in SCENARIOS {
                println!(
                    "{}",
                    serde_json::json!({"number": s.number, "slug": s.slug, "title": s.title, "file": s.path})
                );
            }
        } else {
            print!("{}", list_text());
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let chosen: Vec<&Scenario> = match scenario {
        Some(k) => vec![
            find(k)
                .with_context(|| format!("no scenario {k:?}; `vmspace tour --list` lists them"))?,
        ],
        None => SCENARIOS.iter().collect(),
    };
    let views = run(&chosen);
    if let Some(path) = html {
        std::fs::write(path, to_html(&views))
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !json {
            println!(
                "wrote {} ({} scenario{})",
                path.display(),
                views.len(),
                if views.len() == 1 { "" } else { "s" }
            );
        }
    }
    if json {
        for v in to_json(&views) {
            println!("{v}");
        }
    } else if html.is_none() {
        print!("{}", to_text(&views, crate::term::color_stdout()));
    }
    let failed: Vec<&str> = views
        .iter()
        .filter(|v| !v.passed())
        .map(|v| v.scenario.path)
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "the engine did not do what these scenarios say: {}",
            failed.join(", ")
        );
        return Ok(std::process::ExitCode::from(1));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_passes_on_the_engine() {
        for s in SCENARIOS {
            let v = run_scenario(s);
            assert!(v.passed(), "{}: {:?}", s.path, v.error);
            assert!(!v.lead.is_empty() && !v.intro.is_empty(), "{}", s.path);
        }
    }

    #[test]
    fn find_by_number_name_and_prefix() {
        assert_eq!(find("3").map(|s| s.slug), Some("move"));
        assert_eq!(find("dontunmap").map(|s| s.number), Some(5));
        assert_eq!(find("real").map(|s| s.number), Some(8));
        assert!(find("9").is_none());
        assert!(find("x").is_none());
    }

    #[test]
    fn diff_marks_removed_before_added() {
        let d = diff_lines(
            &["1000-3000 rw-p a", "5000-6000 r--p b"],
            &["1000-2000 rw-p a", "5000-6000 r--p b"],
        );
        let signs: String = d.iter().map(|(m, _)| m.sign()).collect();
        assert_eq!(signs, "-+ ");
    }

    #[test]
    fn realloc_moves_pages_instead_of_copying() {
        let v = run_scenario(find("realloc").expect("exists"));
        let text = v.summary.join("\n");
        assert!(text.contains("67,104,768 bytes"), "{text}");
        assert!(
            text.contains("Frames in use grew by 16,384, and the final buffer has 16,384"),
            "{text}"
        );
    }
}
