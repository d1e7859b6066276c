//! The parser: scripts and strace logs, one grammar.
//!
//! A file is read line by line. Each line may start with strace's prefixes (a `-f` pid
//! as `[pid 1234] ` or `1234 `, `-t`/`-tt`/`-ttt`/`-r` timestamps, `-n` syscall numbers,
//! `-i` instruction pointers), which are taken off before the statement is parsed.
//! Lines strace writes that are not calls (`+++ exited with 0 +++`, `--- SIGSEGV {...}
//! ---`, `strace: Process 1234 attached`, `-e write=` hex dumps, `-k` stack frames) are
//! passed over, and so is the `-C` summary table at the end (from its `% time` header
//! on). A call strace split into `<unfinished ...>` and `<... name resumed>`
//! halves is joined back per pid and parsed as one line.
//!
//! The two entry points differ only in what they do with calls the engine cannot run:
//! [`parse_script`] rejects them, [`parse_strace_log`] reports them in
//! [`StraceLog::skipped`] and goes on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::ast::{Script, Stmt};
use crate::eval::Env;
use crate::lex::{Fail, Tok, is_ident_char, is_ident_start, shorten};
use crate::names;
use crate::stmt::{LineErr, Mode, Parsed, StmtParser};

/// A file that could not be parsed: where, what was expected, and the line itself.
///
/// Displays like a compiler diagnostic:
///
/// ```text
/// demo.vms:3:11: error: expected `,` or `)` after argument 1 of `munmap`, found `4p`
///   |
/// 3 | munmap($a 4p)
///   |           ^^
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The file name given to the parser.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What went wrong, usually "expected X, found Y".
    pub message: String,
    /// The offending line, verbatim.
    pub source_line: String,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
}

impl ParseError {
    fn at(file: &str, line: usize, text: &str, start: usize, end: usize, msg: String) -> Self {
        let count = |s: Option<&str>, fallback: usize| s.map_or(fallback, |s| s.chars().count());
        let start = start.min(text.len());
        let end = end.clamp(start, text.len());
        let column = count(text.get(..start), start) + 1;
        let width = count(text.get(start..end), end - start).max(1);
        ParseError {
            file: file.to_string(),
            line,
            column,
            message: msg,
            source_line: text.to_string(),
            width,
        }
    }
}

/// A line longer than this many characters is shown as an excerpt around the error.
const EXCERPT_WHOLE: usize = 160;
/// Characters an excerpt shows on each side of the error (and at most this many are
/// underlined).
const EXCERPT_CONTEXT: usize = 60;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        writeln!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )?;
        writeln!(f, "{pad} |")?;
        // A long line is cut around the error, with `...` where text was left out, so
        // that the report stays a few lines whatever the line's length.
        let total = self.source_line.chars().count();
        let col = self.column.saturating_sub(1).min(total);
        let (from, to, width) = if total <= EXCERPT_WHOLE {
            (0, total, self.width)
        } else {
            let width = self.width.min(EXCERPT_CONTEXT);
            let from = col.saturating_sub(EXCERPT_CONTEXT);
            (from, total.min(col + width + EXCERPT_CONTEXT), width)
        };
        let byte = |c: usize| {
            self.source_line
                .char_indices()
                .nth(c)
                .map_or(self.source_line.len(), |(i, _)| i)
        };
        let shown = &self.source_line[byte(from)..byte(to)];
        let (pre, post) = (
            if from > 0 { "..." } else { "" },
            if to < total { "..." } else { "" },
        );
        // Control characters (a NUL, an escape sequence) are not sent to the terminal.
        let safe: String = shown
            .chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        writeln!(f, "{num} | {pre}{safe}{post}")?;
        // Keep tabs in the caret line so the caret lands under the same character.
        let lead: String = shown
            .chars()
            .take(col - from)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let pre_pad = " ".repeat(pre.len());
        write!(f, "{pad} | {pre_pad}{lead}{}", "^".repeat(width))
    }
}

impl std::error::Error for ParseError {}

/// A line of an strace log that names a call the engine cannot run, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number.
    pub line: usize,
    /// The call's name as strace printed it.
    pub call_name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// An strace log, parsed: the calls that can be run, and the ones that were skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StraceLog {
    /// The runnable calls, with the results strace saw as expectations.
    pub script: Script,
    /// Calls outside the supported set, and supported calls strace printed in a form
    /// that cannot be run (a `prlimit64` query, a buffer shown as an address, ...).
    pub skipped: Vec<Skipped>,
}

/// The text of a script or log read as bytes, or, if it is not UTF-8, a
/// [`ParseError`] at the first byte that is not (its line and column, the line shown with
/// that byte replaced by U+FFFD).
///
/// # Errors
/// Bytes that are not UTF-8.
pub fn decode_text(file_name: &str, bytes: Vec<u8>) -> Result<String, ParseError> {
    let e = match String::from_utf8(bytes) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let b = e.as_bytes();
    let at = e.utf8_error().valid_up_to();
    let line_start = b[..at]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + b[..at].iter().filter(|&&c| c == b'\n').count();
    let line_end = b[at..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| at + i);
    let raw = &b[line_start..line_end];
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let text = String::from_utf8_lossy(raw);
    // Everything before `at` is valid, so the lossy text has the same characters there.
    let start = at - line_start;
    Err(ParseError::at(
        file_name,
        line,
        &text,
        start,
        start + '\u{fffd}'.len_utf8(),
        format!(
            "invalid UTF-8 (byte {:#04x}): scripts and logs are UTF-8 text",
            b[at]
        ),
    ))
}

/// Parse a script. Strict: any line that is not a supported call, a comment, a blank
/// or strace noise is an error, and so is a call the engine cannot run. Lines of real
/// strace output are accepted as they are.
///
/// # Errors
/// The first line that does not parse, with its position and what was expected.
///
/// A `$name` must be bound by an earlier line (`$name = call(...)`): one that is not is
/// an error at its column, so that nothing of a script that names an undefined value
/// runs. (A name bound by a call that then fails is a run-time error; see
/// [`crate::Runner`].)
pub fn parse_script(file_name: &str, text: &str) -> Result<Script, ParseError> {
    parse_script_with_env(file_name, text, &Env::new())
}

/// [`parse_script`] for a script that a [`crate::Runner`] starts with the bindings of
/// `env` ([`crate::Runner::with_env`]): the names bound there count as defined.
///
/// # Errors
/// As [`parse_script`].
pub fn parse_script_with_env(file_name: &str, text: &str, env: &Env) -> Result<Script, ParseError> {
    let defined = env.iter().map(|(n, _)| n.to_string()).collect();
    parse(file_name, text, Mode::Script, Some(defined)).map(|(s, _)| s)
}

/// Parse an strace log. Lenient about calls: a call outside the supported set (or one
/// printed in a form that cannot be run) is recorded in [`StraceLog::skipped`] and
/// passed over. Still strict about syntax: a supported call that does not parse is an
/// error.
///
/// `mremap` with `MREMAP_DONTUNMAP` but no fifth argument (older strace does not print
/// it) is read as having `new_address` `NULL`, written out explicitly in the tree.
///
/// # Errors
/// The first line that does not parse.
pub fn parse_strace_log(file_name: &str, text: &str) -> Result<StraceLog, ParseError> {
    parse(file_name, text, Mode::Strace, Some(BTreeSet::new()))
        .map(|(script, skipped)| StraceLog { script, skipped })
}

/// The strace prefixes of a line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Prefix {
    pid: Option<u32>,
    /// Where the body starts.
    body: usize,
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// After a pid ending at `i`: skip `-Y`'s `<comm>` if the byte after its `>` is
/// `close` (or a blank when `close` is 0).
fn skip_comm(b: &[u8], i: usize, close: u8) -> usize {
    if b.get(i) != Some(&b'<') {
        return i;
    }
    // A comm is at most 15 bytes, escaped by strace; allow some room.
    let end = b.len().min(i + 80);
    for j in i + 1..end {
        if b[j] == b'>' {
            let next = b.get(j + 1).copied().unwrap_or(b' ');
            let fits = if close == 0 {
                next == b' ' || next == b'\t'
            } else {
                next == close
            };
            if fits {
                return j + 1;
            }
        }
    }
    i
}

/// Take off `[pid N]`, `N ` (a pid, with `-Y`'s `<comm>`), timestamps, `[ N]` and
/// `[hex]`.
fn parse_prefix(line: &str) -> Prefix {
    let b = line.as_bytes();
    let mut pos = skip_blanks(b, 0);
    let mut pid = None;
    let mut first = true;
    loop {
        let rest = &b[pos..];
        if rest.starts_with(b"[pid") {
            let mut i = skip_blanks(b, pos + 4);
            let ds = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = line[ds..i].parse::<u32>().ok();
            let j = skip_blanks(b, skip_comm(b, i, b']'));
            match n {
                Some(n) if b.get(j) == Some(&b']') => {
                    pid = Some(n);
                    pos = skip_blanks(b, j + 1);
                    first = false;
                    continue;
                }
                _ => break,
            }
        }
        if rest.first().is_some_and(u8::is_ascii_digit) {
            let mut i = pos;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b':') {
                i += 1;
            }
            let run_end = i;
            if first {
                i = skip_comm(b, i, 0);
            }
            if i >= b.len() || !(b[i] == b' ' || b[i] == b'\t') {
                break;
            }
            let run = &line[pos..run_end];
            if run.bytes().all(|c| c.is_ascii_digit()) {
                match (first, run.parse::<u32>()) {
                    (true, Ok(n)) => pid = Some(n),
                    _ => break,
                }
            }
            pos = skip_blanks(b, i);
            first = false;
            continue;
        }
        if rest.first() == Some(&b'[') {
            let mut i = pos + 1;
            while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b' ' || b[i] == b'?') {
                i += 1;
            }
            if i > pos + 1 && b.get(i) == Some(&b']') && line[pos + 1..i].trim() != "" {
                pos = skip_blanks(b, i + 1);
                first = false;
                continue;
            }
        }
        break;
    }
    Prefix { pid, body: pos }
}

/// A piece of a logical line: `text[at..]` comes from physical line `line` starting
/// at byte `col`.
#[derive(Copy, Clone, Debug)]
struct Seg {
    at: usize,
    line: usize,
    col: usize,
}

/// A logical line: one physical line, or several joined (a call strace split into
/// `<unfinished ...>` and `<... resumed>`, or a line strace interrupted with its own
/// `strace: Process N attached` message), with where each piece came from.
#[derive(Clone, Debug)]
struct Text {
    s: String,
    segs: Vec<Seg>,
    /// The physical lines of a text that was cut or joined, as they were read (for
    /// error reports); empty while the text is one physical line as read.
    origs: Vec<(usize, String)>,
}

impl Text {
    fn physical(line: usize, s: &str) -> Self {
        Text {
            s: s.to_string(),
            segs: vec![Seg {
                at: 0,
                line,
                col: 0,
            }],
            origs: Vec::new(),
        }
    }

    fn first_line(&self) -> usize {
        self.segs[0].line
    }

    /// Before the text is cut or joined: keep the physical line it is.
    fn save_orig(&mut self) {
        if self.origs.is_empty() {
            self.origs.push((self.segs[0].line, self.s.clone()));
        }
    }

    /// Physical line `line` as it was read.
    fn orig(&self, line: usize) -> &str {
        if self.origs.is_empty() {
            return &self.s;
        }
        self.origs
            .iter()
            .find(|(l, _)| *l == line)
            .map_or("", |(_, s)| s.as_str())
    }

    fn truncate(&mut self, len: usize) {
        self.save_orig();
        self.s.truncate(len);
        let keep = self
            .segs
            .iter()
            .filter(|g| g.at < len.max(1))
            .count()
            .max(1);
        self.segs.truncate(keep);
    }

    /// Append `other.s[from..]`.
    fn append(&mut self, other: &Text, from: usize) {
        self.save_orig();
        if other.origs.is_empty() {
            self.origs.push((other.first_line(), other.s.clone()));
        } else {
            self.origs.extend(other.origs.iter().cloned());
        }
        let base = self.s.len();
        self.s.push_str(&other.s[from..]);
        for (i, g) in other.segs.iter().enumerate() {
            let end = other.segs.get(i + 1).map_or(other.s.len(), |n| n.at);
            if end <= from && i + 1 < other.segs.len() {
                continue;
            }
            let skip = from.saturating_sub(g.at);
            self.segs.push(Seg {
                at: base + g.at.max(from) - from,
                line: g.line,
                col: g.col + skip,
            });
        }
    }

    /// The physical line and byte column of `pos`.
    fn locate(&self, pos: usize) -> (usize, usize) {
        let g = self
            .segs
            .iter()
            .rev()
            .find(|g| g.at <= pos)
            .unwrap_or(&self.segs[0]);
        (g.line, g.col + (pos - g.at.min(pos)))
    }
}

/// Where strace's own `strace: Process N attached` message interrupts a line (it does
/// when tracing to stderr): the byte where the message starts, if the line ends with it.
fn embedded_strace_message(line: &str) -> Option<usize> {
    let k = line.rfind("strace: Process ")?;
    if k == 0 {
        return None;
    }
    let rest = &line[k + "strace: Process ".len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let word = rest[digits..].strip_prefix(' ')?;
    (digits > 0 && !word.is_empty() && word.bytes().all(|c| c.is_ascii_alphabetic())).then_some(k)
}

fn is_exec(name: &str) -> bool {
    name == "execve" || name == "execveat"
}

/// `= 0` at the end of a line (after a `-T` duration, if any).
fn succeeded(line: &str) -> bool {
    let t = line.trim_end();
    let t = match t.rfind(" <") {
        Some(i) if t.ends_with('>') && !t.ends_with("...>") => &t[..i],
        _ => t,
    };
    t.trim_end().ends_with(" = 0")
}

/// A call waiting for its `<... resumed>` half.
#[derive(Debug)]
enum Pending {
    Supported {
        name: &'static str,
        /// The logical line up to the marker (its prefix included).
        first: Text,
        body: usize,
        /// Physical line and byte column of the `<unfinished ...>` marker.
        marker_at: (usize, usize),
    },
    Unsupported {
        line: usize,
        name: String,
    },
}

impl Pending {
    fn line(&self) -> usize {
        match self {
            Pending::Supported { first, .. } => first.first_line(),
            Pending::Unsupported { line, .. } => *line,
        }
    }

    fn name(&self) -> &str {
        match self {
            Pending::Supported { name, .. } => name,
            Pending::Unsupported { name, .. } => name,
        }
    }
}

/// One thing a log says, in the order a [`LogReader`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// A runnable call (for a split call, when its second half is read).
    Stmt(Stmt),
    /// A call that cannot be run.
    Skipped(Skipped),
    /// A successful `execve` or `execveat` (`= 0`; for a split call, when its second half
    /// is read): the process's address space starts anew.
    Exec {
        /// The line of the call (its first half).
        line: usize,
        /// The process id strace printed, if any.
        pid: Option<u32>,
    },
    /// strace's `+++ exited with N +++` or `+++ killed by SIG... +++`: the process is gone.
    Exit {
        /// The line.
        line: usize,
        /// The process id strace printed, if any.
        pid: Option<u32>,
    },
}

/// An strace log read one line at a time, as [`parse_strace_log`] reads it whole:
/// memory holds one line and the calls still waiting for their `<... resumed>` half
/// (one per process), not the log.
///
/// ```
/// use vmspace_script::{LogEvent, LogReader};
///
/// let mut r = LogReader::new("t.log");
/// r.push_line("7 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000").unwrap();
/// r.push_line("7 +++ exited with 0 +++").unwrap();
/// r.finish().unwrap();
/// assert!(matches!(r.next_event(), Some(LogEvent::Stmt(s)) if s.pid == Some(7)));
/// assert_eq!(r.next_event(), Some(LogEvent::Exit { line: 2, pid: Some(7) }));
/// assert_eq!(r.next_event(), None);
/// ```
#[derive(Debug)]
pub struct LogReader {
    d: Driver,
    /// The physical lines read so far.
    line: usize,
    /// A line strace interrupted with its own message, waiting for its continuation.
    held: Option<Text>,
    /// The `-C` summary table started: the rest is not read.
    ended: bool,
}

impl LogReader {
    /// A reader of the log named `file_name` (the name is used in errors).
    pub fn new(file_name: &str) -> Self {
        LogReader {
            d: Driver::new(file_name, Mode::Strace, Some(BTreeSet::new())),
            line: 0,
            held: None,
            ended: false,
        }
    }

    /// Read the next physical line (without its line ending).
    ///
    /// # Errors
    /// A line that does not parse.
    pub fn push_line(&mut self, line: &str) -> Result<(), ParseError> {
        self.line += 1;
        let line = if self.line == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        self.d
            .push(self.line, line, &mut self.held, &mut self.ended)
    }

    /// The end of the log: calls never resumed are skipped.
    ///
    /// # Errors
    /// None for logs (kept for the shape of the API).
    pub fn finish(&mut self) -> Result<(), ParseError> {
        self.d.finish(&mut self.held)
    }

    /// The next event read, if any.
    pub fn next_event(&mut self) -> Option<LogEvent> {
        self.d.events.pop_front()
    }
}

#[derive(Debug)]
struct Driver {
    file: String,
    mode: Mode,
    events: VecDeque<LogEvent>,
    pending: BTreeMap<Option<u32>, Pending>,
    /// The `$name`s bound so far (a `$name` used before its binding is an error, in a
    /// script and in a log alike: a log is printed as a script that must read back).
    /// `None`: not checked.
    defined: Option<BTreeSet<String>>,
}

fn parse(
    file: &str,
    text: &str,
    mode: Mode,
    defined: Option<BTreeSet<String>>,
) -> Result<(Script, Vec<Skipped>), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut d = Driver::new(file, mode, defined);
    let mut held = None;
    let mut ended = false;
    let mut stmts = Vec::new();
    let mut skipped = Vec::new();
    let mut drain = |d: &mut Driver| {
        for e in d.events.drain(..) {
            match e {
                LogEvent::Stmt(s) => stmts.push(s),
                LogEvent::Skipped(s) => skipped.push(s),
                LogEvent::Exec { .. } | LogEvent::Exit { .. } => {}
            }
        }
    };
    for (i, l) in text.split('\n').enumerate() {
        let l = l.strip_suffix('\r').unwrap_or(l);
        d.push(i + 1, l, &mut held, &mut ended)?;
        drain(&mut d);
    }
    d.finish(&mut held)?;
    drain(&mut d);
    skipped.sort_by_key(|s| s.line);
    Ok((
        Script {
            file_name: file.to_string(),
            stmts,
        },
        skipped,
    ))
}

impl Driver {
    fn new(file: &str, mode: Mode, defined: Option<BTreeSet<String>>) -> Self {
        Driver {
            file: file.to_string(),
            mode,
            events: VecDeque::new(),
            pending: BTreeMap::new(),
            defined,
        }
    }

    /// Physical line `no`.
    fn push(
        &mut self,
        no: usize,
        line: &str,
        held: &mut Option<Text>,
        ended: &mut bool,
    ) -> Result<(), ParseError> {
        if *ended {
            return Ok(());
        }
        let mut t = match held.take() {
            Some(mut h) => {
                h.append(&Text::physical(no, line), 0);
                h
            }
            None => {
                // strace -c/-C: the summary table ends the log.
                if line.trim_start().starts_with("% time ") {
                    *ended = true;
                    return Ok(());
                }
                Text::physical(no, line)
            }
        };
        if let Some(k) = embedded_strace_message(&t.s) {
            t.truncate(k);
            *held = Some(t);
            return Ok(());
        }
        self.line(&t)
    }

    fn finish(&mut self, held: &mut Option<Text>) -> Result<(), ParseError> {
        if let Some(t) = held.take() {
            self.line(&t)?;
        }
        for (_, p) in std::mem::take(&mut self.pending) {
            self.never_resumed(p)?;
        }
        Ok(())
    }

    fn error(&self, t: &Text, f: &Fail) -> ParseError {
        let (line, start) = t.locate(f.start);
        let (end_line, end) = t.locate(f.end.max(f.start + 1) - 1);
        let end = if end_line == line { end + 1 } else { start + 1 };
        ParseError::at(&self.file, line, t.orig(line), start, end, f.msg.clone())
    }

    fn skip(&mut self, line: usize, name: &str, reason: impl Into<String>) {
        self.events.push_back(LogEvent::Skipped(Skipped {
            line,
            call_name: name.to_string(),
            reason: reason.into(),
        }));
    }

    fn never_resumed(&mut self, p: Pending) -> Result<(), ParseError> {
        match p {
            Pending::Unsupported { .. } => Ok(()),
            Pending::Supported {
                name,
                first,
                marker_at: (line, col),
                ..
            } => {
                if self.mode == Mode::Script {
                    return Err(ParseError::at(
                        &self.file,
                        line,
                        first.orig(line),
                        col,
                        col + "<unfinished ...>".len(),
                        format!("`{name}` is <unfinished ...> and never resumed"),
                    ));
                }
                self.skip(first.first_line(), name, "unfinished and never resumed");
                Ok(())
            }
        }
    }

    fn line(&mut self, t: &Text) -> Result<(), ParseError> {
        let prefix = parse_prefix(&t.s);
        let body = &t.s[prefix.body..];
        if body.starts_with("+++ exited with ") || body.starts_with("+++ killed by ") {
            self.events.push_back(LogEvent::Exit {
                line: t.first_line(),
                pid: prefix.pid,
            });
            return Ok(());
        }
        let noise = ["+++", "---", "strace: ", "|", "> "];
        if body.is_empty() || body.starts_with('#') || noise.iter().any(|n| body.starts_with(n)) {
            return Ok(());
        }
        if body.starts_with("<...") {
            return self.resumed(t, prefix);
        }
        self.statement(t, prefix.body, prefix.pid)
    }

    /// Parse a statement in `t` from byte `body`.
    fn statement(&mut self, t: &Text, body: usize, pid: Option<u32>) -> Result<(), ParseError> {
        let mut p = StmtParser::new(&t.s, body, self.mode, self.defined.as_ref());
        // A line of nothing but trivia (`/* ... */`).
        match p.peek() {
            Ok(tok) if tok.tok == Tok::Eof => return Ok(()),
            Ok(_) => {}
            Err(f) => return Err(self.error(t, &f)),
        }
        let no = t.first_line();
        let unfinished_line = t.s.trim_end().ends_with("<unfinished ...>");
        let parsed = match p.statement() {
            Ok(parsed) => parsed,
            Err(LineErr::Syntax(f)) => return Err(self.error(t, &f)),
            Err(LineErr::Unrepresentable { name, fail }) => {
                if self.mode == Mode::Script {
                    return Err(self.error(t, &fail));
                }
                self.skip(no, &name, fail.msg);
                if unfinished_line {
                    self.start_pending(pid, Pending::Unsupported { line: no, name })?;
                }
                return Ok(());
            }
        };
        match parsed {
            Parsed::Stmt { bind, call, expect } => {
                if let (Some(d), Some(name)) = (&mut self.defined, &bind) {
                    d.insert(name.clone());
                }
                self.events.push_back(LogEvent::Stmt(Stmt {
                    line: no,
                    source: t.s.clone(),
                    bind,
                    call,
                    expect,
                    pid,
                }));
            }
            Parsed::Unfinished { name, marker } => {
                let marker_at = t.locate(marker);
                let mut first = t.clone();
                let mut cut = marker;
                if t.s[..cut].ends_with(' ') {
                    cut -= 1;
                }
                first.truncate(cut);
                self.start_pending(
                    pid,
                    Pending::Supported {
                        name,
                        first,
                        body,
                        marker_at,
                    },
                )?;
            }
            Parsed::Unsupported { name, start, end } => {
                if self.mode == Mode::Script {
                    let f = Fail::new(
                        start,
                        end,
                        format!(
                            "`{}` is not a supported call (expected one of {}, {})",
                            shorten(&name),
                            names::SYSCALLS
                                .iter()
                                .map(|s| s.name)
                                .collect::<Vec<_>>()
                                .join(", "),
                            names::SCRIPT_CALLS.join(", ")
                        ),
                    );
                    return Err(self.error(t, &f));
                }
                self.skip(no, &name, "not a supported call");
                if unfinished_line {
                    self.start_pending(pid, Pending::Unsupported { line: no, name })?;
                } else if is_exec(&name) && succeeded(&t.s) {
                    self.events.push_back(LogEvent::Exec { line: no, pid });
                }
            }
        }
        Ok(())
    }

    fn start_pending(&mut self, pid: Option<u32>, p: Pending) -> Result<(), ParseError> {
        if let Some(old) = self.pending.insert(pid, p) {
            self.never_resumed(old)?;
        }
        Ok(())
    }

    /// `<... NAME resumed>REST`
    fn resumed(&mut self, t: &Text, prefix: Prefix) -> Result<(), ParseError> {
        let line = t.s.as_str();
        let b = line.as_bytes();
        let start = prefix.body;
        let mut i = skip_blanks(b, start + 4);
        let name_start = i;
        if i < b.len() && is_ident_start(b[i]) {
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
        }
        let name = &line[name_start..i];
        let j = skip_blanks(b, i);
        if name.is_empty() || !line[j..].starts_with("resumed>") {
            let f = Fail::new(start, j.max(start + 4), "expected `<... NAME resumed>`");
            return Err(self.error(t, &f));
        }
        let mut rest = j + "resumed>".len();
        if line[rest..].starts_with(" <unfinished ...>") {
            rest += " <unfinished ...>".len();
        }
        let pending = match self.pending.remove(&prefix.pid) {
            Some(p) if p.name() == name => p,
            other => {
                let why = match &other {
                    Some(p) => format!(
                        "`<... {} resumed>` does not match the unfinished `{}` of line {}",
                        shorten(name),
                        shorten(p.name()),
                        p.line()
                    ),
                    None => format!(
                        "`<... {} resumed>` without an `<unfinished ...>` start",
                        shorten(name)
                    ),
                };
                if let Some(p) = other {
                    self.never_resumed(p)?;
                }
                if self.mode == Mode::Script {
                    return Err(self.error(t, &Fail::new(start, j + 8, why)));
                }
                if names::syscall(name).is_some() {
                    self.skip(t.first_line(), name, "resumed without its start");
                }
                return Ok(());
            }
        };
        match pending {
            Pending::Unsupported { line, name } => {
                if is_exec(&name) && succeeded(&t.s) {
                    self.events.push_back(LogEvent::Exec {
                        line,
                        pid: prefix.pid,
                    });
                }
                Ok(())
            }
            Pending::Supported {
                mut first, body, ..
            } => {
                first.append(t, rest);
                self.statement(&first, body, prefix.pid)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        fn p(s: &str) -> (Option<u32>, &str) {
            let p = parse_prefix(s);
            (p.pid, &s[p.body..])
        }
        assert_eq!(p("mmap(x)"), (None, "mmap(x)"));
        assert_eq!(p("[pid  4897] mmap(x)"), (Some(4897), "mmap(x)"));
        assert_eq!(
            p("4835  10:00:51.984546 brk(NULL)"),
            (Some(4835), "brk(NULL)")
        );
        assert_eq!(p("     0.000011 brk(NULL)"), (None, "brk(NULL)"));
        assert_eq!(p("1795687251.783570 brk(NULL)"), (None, "brk(NULL)"));
        assert_eq!(p("10:00:51 brk(NULL)"), (None, "brk(NULL)"));
        assert_eq!(
            p("[pid  6350] 10:02:49.445545 [  11] [00007f5914cdca07] munmap(0x1, 4096)"),
            (Some(6350), "munmap(0x1, 4096)")
        );
        assert_eq!(p("4790       0.000011 x"), (Some(4790), "x"));
        assert_eq!(p("12 34 x"), (Some(12), "34 x"));
        assert_eq!(p("[pid x] y"), (None, "[pid x] y"));
        assert_eq!(p("[pid 24494<p>] m(x)"), (Some(24494), "m(x)"));
        assert_eq!(p("24498<p> m(x)"), (Some(24498), "m(x)"));
        assert_eq!(p("24498<a b>c> 10:00:00.1 m(x)"), (Some(24498), "m(x)"));
    }
}
