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

use std::collections::BTreeMap;
use std::fmt;

use vmspace::{MremapFlags, Signal};

use crate::ast::{Arg, BinOp, Call, Expect, Expr, FillByte, Script, Stmt, StrLit};
use crate::lex::{Fail, Lexer, Tok, Token, is_ident_char, is_ident_start};
use crate::names::{self, Kind, Signature};

/// At most this many nodes in one expression (bounds recursion in every later pass).
const MAX_EXPR_NODES: usize = 256;
/// At most this deep nesting of parentheses and unary minus.
const MAX_EXPR_DEPTH: usize = 32;

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
        writeln!(f, "{num} | {}", self.source_line)?;
        // Keep tabs in the caret line so the caret lands under the same character.
        let lead: String = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(self.width))
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

/// Parse a script. Strict: any line that is not a supported call, a comment, a blank
/// or strace noise is an error, and so is a call the engine cannot run. Lines of real
/// strace output are accepted as they are.
///
/// # Errors
/// The first line that does not parse, with its position and what was expected.
pub fn parse_script(file_name: &str, text: &str) -> Result<Script, ParseError> {
    parse(file_name, text, Mode::Script).map(|(s, _)| s)
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
    parse(file_name, text, Mode::Strace).map(|(script, skipped)| StraceLog { script, skipped })
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    Script,
    Strace,
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

/// Take off `[pid N]`, `N ` (a pid), timestamps, `[ N]` and `[hex]`.
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
            let j = skip_blanks(b, i);
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
            if i >= b.len() || !(b[i] == b' ' || b[i] == b'\t') {
                break;
            }
            let run = &line[pos..i];
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

/// What one statement line turned out to be.
enum Parsed {
    Stmt {
        bind: Option<String>,
        call: Call,
        expect: Option<Expect>,
    },
    /// The first half of a split call; the marker starts at this byte.
    Unfinished { name: &'static str, marker: usize },
    /// A call outside the supported set.
    Unsupported {
        name: String,
        start: usize,
        end: usize,
    },
}

/// Why a line was not accepted.
enum LineErr {
    /// Bad syntax: always an error.
    Syntax(Fail),
    /// Good syntax, but the engine cannot run it: an error in scripts, a skip in logs.
    Unrepresentable { name: String, fail: Fail },
}

impl From<Fail> for LineErr {
    fn from(f: Fail) -> Self {
        LineErr::Syntax(f)
    }
}

/// The parser of one statement.
struct StmtParser<'a> {
    lx: Lexer<'a>,
    mode: Mode,
    nodes: usize,
    depth: usize,
}

type PResult<T> = Result<T, LineErr>;

fn found(t: &Token, text: &str) -> String {
    t.describe(text)
}

impl<'a> StmtParser<'a> {
    fn text(&self) -> &'a str {
        self.lx.text()
    }

    fn next(&mut self) -> Result<Token, Fail> {
        self.lx.next_token()
    }

    fn peek(&mut self) -> Result<Token, Fail> {
        self.lx.peek()
    }

    fn err<T>(&self, t: &Token, msg: impl Into<String>) -> PResult<T> {
        Err(LineErr::Syntax(Fail::new(t.start, t.end, msg)))
    }

    fn expected<T>(&self, t: &Token, what: &str) -> PResult<T> {
        let msg = format!("expected {what}, found {}", found(t, self.text()));
        self.err(t, msg)
    }

    fn ident_text(&self, t: &Token) -> &'a str {
        self.text().get(t.start..t.end).unwrap_or("")
    }

    fn statement(&mut self) -> PResult<Parsed> {
        let mut bind = None;
        let mut t = self.next()?;
        let mut bind_tok = None;
        if let Tok::Var(name) = &t.tok {
            bind = Some(name.clone());
            bind_tok = Some(t.clone());
            let eq = self.next()?;
            if eq.tok != Tok::Eq {
                return self.expected(&eq, &format!("`=` after `${name}`"));
            }
            t = self.next()?;
        }
        if t.tok != Tok::Ident {
            let what = if bind.is_some() {
                "a call after `=`"
            } else {
                "a call such as `mmap(...)`, `$name = call(...)` or a comment"
            };
            return self.expected(&t, what);
        }
        let name = self.ident_text(&t);
        let lp = self.peek()?;
        if lp.tok != Tok::LParen {
            return self.expected(&lp, &format!("`(` after `{name}`"));
        }
        let call = if let Some(sig) = names::syscall(name) {
            match self.syscall(sig)? {
                Ok(call) => call,
                Err(marker) => {
                    return Ok(Parsed::Unfinished {
                        name: sig.name,
                        marker,
                    });
                }
            }
        } else if names::SCRIPT_CALLS.contains(&name) {
            self.script_call(name)?
        } else {
            return Ok(Parsed::Unsupported {
                name: name.to_string(),
                start: t.start,
                end: t.end,
            });
        };
        if let (Some(bt), false) = (&bind_tok, call.is_syscall()) {
            return self.err(bt, "only a system call's result can be bound to a name");
        }
        let expect = self.expectation(&call)?;
        self.tail()?;
        Ok(Parsed::Stmt { bind, call, expect })
    }

    /// Parenthesised strace notes, a `-T` duration, then the end of the line.
    fn tail(&mut self) -> PResult<()> {
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::Eof => return Ok(()),
                Tok::LParen => self.lx.skip_paren_group()?,
                Tok::Duration => {
                    self.next()?;
                }
                _ => return self.expected(&t, "`=`, `!=` or the end of the line"),
            }
        }
    }

    /// The arguments of a system call. `Err(marker)` if the line stops at
    /// `<unfinished ...>`.
    fn syscall(&mut self, sig: &'static Signature) -> PResult<Result<Call, usize>> {
        let lp = self.next()?;
        debug_assert_eq!(lp.tok, Tok::LParen);
        let mut args: Vec<Arg> = Vec::new();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let close;
        loop {
            let t = self.peek()?;
            if t.tok == Tok::Unfinished {
                return Ok(Err(t.start));
            }
            if t.tok == Tok::RParen && args.is_empty() {
                close = self.next()?;
                break;
            }
            let Some(&kind) = sig.params.get(args.len()) else {
                let n = sig.params.len();
                return self.err(
                    &t,
                    format!(
                        "too many arguments: `{}` takes {n} argument{}",
                        sig.name,
                        if n == 1 { "" } else { "s" }
                    ),
                );
            };
            let start = t.start;
            let arg = self.arg(sig.name, kind)?;
            spans.push((start, self.lx.pos()));
            args.push(arg);
            let t = self.peek()?;
            if t.tok == Tok::Unfinished {
                return Ok(Err(t.start));
            }
            let t = self.next()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => {
                    close = t;
                    break;
                }
                _ => {
                    return self.expected(
                        &t,
                        &format!("`,` or `)` after argument {} of `{}`", args.len(), sig.name),
                    );
                }
            }
        }
        if args.len() < sig.min_args {
            let want = if sig.min_args == sig.params.len() {
                sig.min_args.to_string()
            } else {
                format!("{} or {}", sig.min_args, sig.params.len())
            };
            return self.err(
                &close,
                format!(
                    "`{}` takes {want} arguments, found {}",
                    sig.name,
                    args.len()
                ),
            );
        }
        self.check_call(sig, &mut args, &spans, &close)?;
        Ok(Ok(Call::Syscall {
            name: sig.name,
            args,
        }))
    }

    /// Checks that need the whole argument list.
    fn check_call(
        &self,
        sig: &Signature,
        args: &mut Vec<Arg>,
        spans: &[(usize, usize)],
        close: &Token,
    ) -> PResult<()> {
        let konst = |i: usize| match args.get(i) {
            Some(Arg::Expr(e)) => e.const_value(),
            _ => None,
        };
        let unrep = |i: usize, msg: &str| LineErr::Unrepresentable {
            name: sig.name.to_string(),
            fail: Fail::new(spans[i].0, spans[i].1, msg),
        };
        match sig.name {
            "mremap" if args.len() == 4 => {
                if let Some(flags) = konst(3) {
                    let f = MremapFlags::from_bits_retain(flags);
                    if f.contains(MremapFlags::FIXED) {
                        return self.err(
                            close,
                            "`mremap` with MREMAP_FIXED needs a fifth argument (new_address)",
                        );
                    }
                    if f.contains(MremapFlags::DONTUNMAP) {
                        if self.mode == Mode::Strace {
                            // Older strace does not print new_address for DONTUNMAP.
                            args.push(Arg::Expr(Expr::Null));
                        } else {
                            return self.err(
                                close,
                                "`mremap` with MREMAP_DONTUNMAP needs a fifth argument \
                                 (new_address, may be NULL)",
                            );
                        }
                    }
                }
            }
            "pwrite64" => {
                if let (Some(Arg::Str(s)), Some(count)) = (args.get(1), konst(2)) {
                    let len = s.bytes.len() as u64;
                    if (!s.truncated && count != len) || (s.truncated && count < len) {
                        let (a, b) = spans[2];
                        return Err(LineErr::Syntax(Fail::new(
                            a,
                            b,
                            format!(
                                "`pwrite64` count is {count} but the string holds {len} byte{}",
                                if len == 1 { "" } else { "s" }
                            ),
                        )));
                    }
                }
            }
            "prlimit64" => {
                if let Some(pid) = konst(0)
                    && pid != 0
                {
                    return Err(unrep(
                        0,
                        "prlimit64 on another process (only pid 0, the caller, can be run)",
                    ));
                }
                if matches!(args.get(2), Some(Arg::Expr(_))) {
                    return Err(unrep(
                        2,
                        "prlimit64 with a NULL new limit only reads the limit",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn arg(&mut self, call: &str, kind: Kind) -> PResult<Arg> {
        let t = self.peek()?;
        match kind {
            Kind::Str => match t.tok {
                Tok::Str { bytes, truncated } => {
                    self.next()?;
                    Ok(Arg::Str(StrLit { bytes, truncated }))
                }
                Tok::Num { .. } | Tok::Ident if self.mode == Mode::Strace => {
                    Err(LineErr::Unrepresentable {
                        name: call.to_string(),
                        fail: Fail::new(
                            t.start,
                            t.end,
                            format!(
                                "`{call}`'s string argument is shown as an address, not its bytes"
                            ),
                        ),
                    })
                }
                _ => self.expected(&t, "a quoted string"),
            },
            Kind::Rlimit | Kind::RlimitOrNull => {
                if t.tok == Tok::LBrace {
                    return self.rlimit();
                }
                if t.tok == Tok::Ident
                    && self.ident_text(&t) == "NULL"
                    && kind == Kind::RlimitOrNull
                {
                    self.next()?;
                    return Ok(Arg::Expr(Expr::Null));
                }
                if self.mode == Mode::Strace && matches!(t.tok, Tok::Num { .. } | Tok::Ident) {
                    return Err(LineErr::Unrepresentable {
                        name: call.to_string(),
                        fail: Fail::new(
                            t.start,
                            t.end,
                            format!("`{call}`'s limit is shown as an address, not its values"),
                        ),
                    });
                }
                self.expected(&t, kind.describe())
            }
            _ => Ok(Arg::Expr(self.expr(kind)?)),
        }
    }

    fn rlimit(&mut self) -> PResult<Arg> {
        let open = self.next()?;
        let mut cur = None;
        let mut max = None;
        loop {
            let t = self.next()?;
            let field = if t.tok == Tok::Ident {
                self.ident_text(&t)
            } else {
                ""
            };
            let slot = match field {
                "rlim_cur" => &mut cur,
                "rlim_max" => &mut max,
                _ => return self.expected(&t, "`rlim_cur=` or `rlim_max=`"),
            };
            if slot.is_some() {
                return self.err(&t, format!("`{field}` given twice"));
            }
            let eq = self.next()?;
            if eq.tok != Tok::Eq {
                return self.expected(&eq, &format!("`=` after `{field}`"));
            }
            let e = self.expr(Kind::RlimValue)?;
            match field {
                "rlim_cur" => cur = Some(e),
                _ => max = Some(e),
            }
            let t = self.next()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RBrace => match (cur, max) {
                    (Some(cur), Some(max)) => return Ok(Arg::Rlimit { cur, max }),
                    _ => {
                        return Err(LineErr::Syntax(Fail::new(
                            open.start,
                            t.end,
                            "a limit needs both `rlim_cur` and `rlim_max`",
                        )));
                    }
                },
                _ => return self.expected(&t, "`,` or `}`"),
            }
        }
    }

    /// `store`, `load`, `fill`, `maps`, `vmas`.
    fn script_call(&mut self, name: &str) -> PResult<Call> {
        self.next()?; // `(`
        let call = match name {
            "store" => {
                let addr = self.expr(Kind::Addr)?;
                self.comma(name)?;
                let t = self.next()?;
                let Tok::Str { bytes, truncated } = t.tok.clone() else {
                    return self.expected(&t, "a quoted string");
                };
                if truncated {
                    return self.err(&t, "a truncated string (`\"...\"...`) cannot be stored");
                }
                Call::Store { addr, data: bytes }
            }
            "load" => {
                let addr = self.expr(Kind::Addr)?;
                self.comma(name)?;
                let len = self.expr(Kind::Len)?;
                Call::Load { addr, len }
            }
            "fill" => {
                let addr = self.expr(Kind::Addr)?;
                self.comma(name)?;
                let len = self.expr(Kind::Len)?;
                self.comma(name)?;
                let t = self.peek()?;
                let byte = if let Tok::Char(c) = t.tok {
                    self.next()?;
                    FillByte::Char(c)
                } else {
                    let e = self.expr(Kind::Num)?;
                    if let Some(v) = e.const_value()
                        && v > 255
                    {
                        return Err(LineErr::Syntax(Fail::new(
                            t.start,
                            self.lx.pos(),
                            format!("the fill byte must be 0..=255 or a character, found {v}"),
                        )));
                    }
                    FillByte::Expr(e)
                };
                Call::Fill { addr, len, byte }
            }
            "maps" => Call::Maps,
            _ => {
                let start = self.expr(Kind::Addr)?;
                self.comma(name)?;
                let end = self.expr(Kind::Addr)?;
                Call::Vmas { start, end }
            }
        };
        let t = self.next()?;
        if t.tok != Tok::RParen {
            let what = if name == "maps" {
                "`)`: `maps()` takes no arguments".to_string()
            } else {
                format!("`)` to close `{name}(`")
            };
            return self.expected(&t, &what);
        }
        Ok(call)
    }

    fn comma(&mut self, call: &str) -> PResult<()> {
        let t = self.next()?;
        if t.tok == Tok::Comma {
            Ok(())
        } else {
            self.expected(&t, &format!("`,` in `{call}(...)`"))
        }
    }

    fn expectation(&mut self, call: &Call) -> PResult<Option<Expect>> {
        let t = self.peek()?;
        let negated = match t.tok {
            Tok::Eq => false,
            Tok::Ne => true,
            _ => return Ok(None),
        };
        let op = self.next()?;
        let name = call.name();
        if matches!(call, Call::Maps) {
            return self.err(&op, "`maps()` asserts nothing: remove the expected result");
        }
        let t = self.peek()?;
        if negated {
            if !call.is_syscall() {
                return self.err(
                    &op,
                    format!("`!=` is for system call results, not `{name}`"),
                );
            }
            return Ok(Some(Expect::NotValue(self.expr(Kind::Addr)?)));
        }
        match &t.tok {
            Tok::Question => {
                if !call.is_syscall() {
                    return self.err(&t, format!("`?` is for system call results, not `{name}`"));
                }
                // strace: `= ?` and perhaps `ERESTARTSYS (To be restarted ...)`.
                self.next()?;
                self.lx.skip_to_end();
                Ok(Some(Expect::Unknown))
            }
            Tok::Str { bytes, truncated } => {
                self.next()?;
                if *truncated {
                    return self.err(&t, "an expected string cannot be truncated");
                }
                match call {
                    Call::Load { .. } => Ok(Some(Expect::Bytes(bytes.clone()))),
                    Call::Vmas { .. } => match String::from_utf8(bytes.clone()) {
                        Ok(s) => Ok(Some(Expect::Text(s))),
                        Err(_) => self.err(&t, "a layout must be text"),
                    },
                    _ => self.err(
                        &t,
                        format!(
                            "a string result is for `load` and `vmas`, not `{name}` \
                             (expected a number or `-1 ERRNO`)"
                        ),
                    ),
                }
            }
            Tok::Ident if matches!(self.ident_text(&t), "SIGSEGV" | "SIGBUS") => {
                self.next()?;
                if !call.is_access() {
                    return self.err(
                        &t,
                        format!("a signal is the result of a memory access, not of `{name}`"),
                    );
                }
                Ok(Some(Expect::Signal(if self.ident_text(&t) == "SIGSEGV" {
                    Signal::Segv
                } else {
                    Signal::Bus
                })))
            }
            _ => {
                if let Some(errno) = self.errno_result()? {
                    if !call.is_syscall() {
                        return self.err(&t, format!("`{name}` does not fail with an errno"));
                    }
                    return Ok(Some(Expect::Errno(errno)));
                }
                match call {
                    Call::Syscall { .. } => Ok(Some(Expect::Value(self.expr(Kind::Addr)?))),
                    Call::Load { .. } => self.expected(&t, "a quoted string, SIGSEGV or SIGBUS"),
                    Call::Vmas { .. } => self.expected(&t, "a quoted layout string"),
                    _ => self.expected(&t, "SIGSEGV or SIGBUS"),
                }
            }
        }
    }

    /// `-1 ENOMEM`, `-1 (errno 4000)`. `None` (consuming nothing) if the result is not
    /// an errno.
    fn errno_result(&mut self) -> PResult<Option<vmspace::Errno>> {
        let mut probe = Lexer::new(self.text(), self.lx.pos());
        let (Ok(minus), Ok(one), Ok(what)) =
            (probe.next_token(), probe.next_token(), probe.next_token())
        else {
            return Ok(None);
        };
        let is_one = matches!(
            one.tok,
            Tok::Num {
                value: 1,
                radix: crate::ast::Radix::Dec
            }
        );
        if minus.tok != Tok::Minus || !is_one {
            return Ok(None);
        }
        match what.tok {
            Tok::Ident => {
                let name = self.ident_text(&what);
                self.lx = probe;
                match names::errno_from_name(name) {
                    Some(e) => Ok(Some(e)),
                    None => self.err(&what, format!("unknown errno name `{name}`")),
                }
            }
            Tok::LParen => {
                // `(errno N)`
                let kw = probe.next_token()?;
                let n = probe.next_token()?;
                let close = probe.next_token()?;
                let ok = kw.tok == Tok::Ident && self.ident_text(&kw) == "errno";
                match (ok, &n.tok, &close.tok) {
                    (true, Tok::Num { value, .. }, Tok::RParen) => {
                        self.lx = probe;
                        match i64::try_from(*value)
                            .ok()
                            .and_then(vmspace::Errno::from_raw)
                        {
                            Some(e) => Ok(Some(e)),
                            None => self.err(&n, "errno numbers are 1..=4095"),
                        }
                    }
                    _ => self.expected(&kw, "`errno N` in `-1 (errno N)`"),
                }
            }
            _ => Ok(None),
        }
    }

    // Expressions: `|` < `<<` < `+ -` < `*` < unary `-` < atoms.

    fn bump_nodes(&mut self, t: &Token) -> PResult<()> {
        self.nodes += 1;
        if self.nodes > MAX_EXPR_NODES {
            return self.err(
                t,
                format!("expression too long (at most {MAX_EXPR_NODES} terms)"),
            );
        }
        Ok(())
    }

    fn expr(&mut self, kind: Kind) -> PResult<Expr> {
        self.nodes = 0;
        self.depth = 0;
        self.or(kind)
    }

    fn binary_level(
        &mut self,
        kind: Kind,
        ops: &[(Tok, BinOp)],
        next: fn(&mut Self, Kind) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = next(self, kind)?;
        loop {
            let t = self.peek()?;
            let Some(&(_, op)) = ops.iter().find(|(tok, _)| *tok == t.tok) else {
                return Ok(lhs);
            };
            self.next()?;
            self.bump_nodes(&t)?;
            let rhs = next(self, kind)?;
            lhs = Expr::binary(op, lhs, rhs);
        }
    }

    fn or(&mut self, kind: Kind) -> PResult<Expr> {
        self.binary_level(kind, &[(Tok::Pipe, BinOp::Or)], Self::shl)
    }

    fn shl(&mut self, kind: Kind) -> PResult<Expr> {
        self.binary_level(kind, &[(Tok::Shl, BinOp::Shl)], Self::sum)
    }

    fn sum(&mut self, kind: Kind) -> PResult<Expr> {
        self.binary_level(
            kind,
            &[(Tok::Plus, BinOp::Add), (Tok::Minus, BinOp::Sub)],
            Self::product,
        )
    }

    fn product(&mut self, kind: Kind) -> PResult<Expr> {
        self.binary_level(kind, &[(Tok::Star, BinOp::Mul)], Self::unary)
    }

    fn unary(&mut self, kind: Kind) -> PResult<Expr> {
        let t = self.peek()?;
        if t.tok == Tok::Minus || t.tok == Tok::LParen {
            self.depth += 1;
            if self.depth > MAX_EXPR_DEPTH {
                return self.err(&t, "expression nested too deeply");
            }
            self.next()?;
            self.bump_nodes(&t)?;
            let e = if t.tok == Tok::Minus {
                Expr::Neg(Box::new(self.unary(kind)?))
            } else {
                let e = self.or(kind)?;
                let close = self.next()?;
                if close.tok != Tok::RParen {
                    return self.expected(&close, "`)`");
                }
                e
            };
            self.depth -= 1;
            return Ok(e);
        }
        self.atom(kind)
    }

    fn atom(&mut self, kind: Kind) -> PResult<Expr> {
        let t = self.next()?;
        self.bump_nodes(&t)?;
        match &t.tok {
            Tok::Num { value, radix } => Ok(Expr::Num {
                value: *value,
                radix: *radix,
            }),
            Tok::Pages(n) => Ok(Expr::Pages(*n)),
            Tok::Var(v) => Ok(Expr::Var(v.clone())),
            Tok::Ident => {
                let name = self.ident_text(&t);
                if name == "NULL" {
                    return Ok(Expr::Null);
                }
                if let Some((name, value)) = names::lookup(kind, name) {
                    return Ok(Expr::Name { name, value });
                }
                let msg = match kind.prefix() {
                    Some(_) => format!(
                        "`{name}` is not one of the {} names strace prints",
                        kind.describe()
                    ),
                    None => format!(
                        "expected {} (a number, `Np`, `$name` or NULL), found `{name}`",
                        kind.describe()
                    ),
                };
                self.err(&t, msg)
            }
            _ => {
                let what = match kind.prefix() {
                    Some(_) => format!("{} (names joined by `|`, or a number)", kind.describe()),
                    None => format!("{} (a number, `Np`, `$name` or NULL)", kind.describe()),
                };
                self.expected(&t, &what)
            }
        }
    }
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
        }
    }

    fn first_line(&self) -> usize {
        self.segs[0].line
    }

    fn truncate(&mut self, len: usize) {
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

/// A call waiting for its `<... resumed>` half.
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

struct Driver<'a> {
    file: &'a str,
    mode: Mode,
    lines: Vec<&'a str>,
    stmts: Vec<Stmt>,
    skipped: Vec<Skipped>,
    pending: BTreeMap<Option<u32>, Pending>,
}

fn parse(file: &str, text: &str, mode: Mode) -> Result<(Script, Vec<Skipped>), ParseError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut d = Driver {
        file,
        mode,
        lines,
        stmts: Vec::new(),
        skipped: Vec::new(),
        pending: BTreeMap::new(),
    };
    let mut i = 0;
    while i < d.lines.len() {
        // strace -c/-C: the summary table ends the log.
        if d.lines[i].trim_start().starts_with("% time ") {
            break;
        }
        let mut t = Text::physical(i + 1, d.lines[i]);
        i += 1;
        while let Some(k) = embedded_strace_message(&t.s) {
            t.truncate(k);
            if i < d.lines.len() {
                t.append(&Text::physical(i + 1, d.lines[i]), 0);
                i += 1;
            }
        }
        d.line(&t)?;
    }
    for (_, p) in std::mem::take(&mut d.pending) {
        d.never_resumed(p)?;
    }
    d.skipped.sort_by_key(|s| s.line);
    Ok((
        Script {
            file_name: file.to_string(),
            stmts: d.stmts,
        },
        d.skipped,
    ))
}

impl Driver<'_> {
    fn error(&self, t: &Text, f: &Fail) -> ParseError {
        let (line, start) = t.locate(f.start);
        let (end_line, end) = t.locate(f.end.max(f.start + 1) - 1);
        let end = if end_line == line { end + 1 } else { start + 1 };
        let orig = self.lines.get(line - 1).copied().unwrap_or("");
        ParseError::at(self.file, line, orig, start, end, f.msg.clone())
    }

    fn skip(&mut self, line: usize, name: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            line,
            call_name: name.to_string(),
            reason: reason.into(),
        });
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
                    let orig = self.lines.get(line - 1).copied().unwrap_or("");
                    return Err(ParseError::at(
                        self.file,
                        line,
                        orig,
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
        let mut p = StmtParser {
            lx: Lexer::new(&t.s, body),
            mode: self.mode,
            nodes: 0,
            depth: 0,
        };
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
                self.stmts.push(Stmt {
                    line: no,
                    source: t.s.clone(),
                    bind,
                    call,
                    expect,
                    pid,
                });
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
                            "`{name}` is not a supported call (expected one of {}, {})",
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
                        "`<... {name} resumed>` does not match the unfinished `{}` of line {}",
                        p.name(),
                        p.line()
                    ),
                    None => format!("`<... {name} resumed>` without an `<unfinished ...>` start"),
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
            Pending::Unsupported { .. } => Ok(()),
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
    }
}
