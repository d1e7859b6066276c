//! The grammar of one statement: a call, its arguments, its expected result.
//!
//! Works on one logical line (see `parse.rs` for how lines are joined) and reports
//! failures as byte spans in it; the driver turns those into [`crate::ParseError`]s.

use std::collections::BTreeSet;

use vmspace::{MremapFlags, Signal};

use crate::ast::{Arg, BinOp, Call, Expect, Expr, FillByte, StrLit};
use crate::lex::{Fail, Lexer, Tok, Token, shorten};
use crate::names::{self, Kind, Signature};

/// At most this many nodes in one expression (bounds recursion in every later pass).
const MAX_EXPR_NODES: usize = 256;
/// At most this deep nesting of parentheses and unary minus.
const MAX_EXPR_DEPTH: usize = 32;

/// Scripts reject what the engine cannot run; logs skip it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`crate::parse_script`]
    Script,
    /// [`crate::parse_strace_log`]
    Strace,
}

/// What one statement line turned out to be.
pub(crate) enum Parsed {
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
pub(crate) enum LineErr {
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
pub(crate) struct StmtParser<'a> {
    lx: Lexer<'a>,
    mode: Mode,
    nodes: usize,
    depth: usize,
    /// The `$name`s a script has bound so far (`None`: not checked, for logs).
    defined: Option<&'a BTreeSet<String>>,
}

type PResult<T> = Result<T, LineErr>;

fn found(t: &Token, text: &str) -> String {
    t.describe(text)
}

impl<'a> StmtParser<'a> {
    /// A parser of `text` from byte `pos`.
    pub(crate) fn new(
        text: &'a str,
        pos: usize,
        mode: Mode,
        defined: Option<&'a BTreeSet<String>>,
    ) -> Self {
        StmtParser {
            lx: Lexer::new(text, pos),
            mode,
            nodes: 0,
            depth: 0,
            defined,
        }
    }

    fn text(&self) -> &'a str {
        self.lx.text()
    }

    fn next(&mut self) -> Result<Token, Fail> {
        self.lx.next_token()
    }

    pub(crate) fn peek(&mut self) -> Result<Token, Fail> {
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

    /// The statement, from its first token to the end of the line.
    pub(crate) fn statement(&mut self) -> PResult<Parsed> {
        let mut bind = None;
        let mut t = self.next()?;
        let mut bind_tok = None;
        if let Tok::Var(name) = &t.tok {
            bind = Some(name.clone());
            bind_tok = Some(t.clone());
            let eq = self.next()?;
            if eq.tok != Tok::Eq {
                return self.expected(&eq, &format!("`=` after `${}`", shorten(name)));
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
            return self.expected(&lp, &format!("`(` after `{}`", shorten(name)));
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
                    // strace prints new_address only with MREMAP_MAYMOVE|MREMAP_FIXED
                    // (where it is needed); four arguments otherwise mean new_address 0.
                    if f.contains(MremapFlags::MAYMOVE | MremapFlags::FIXED) {
                        return self.err(
                            close,
                            "`mremap` with MREMAP_MAYMOVE|MREMAP_FIXED needs a fifth argument \
                             (new_address)",
                        );
                    }
                    if f.contains(MremapFlags::DONTUNMAP) && self.mode == Mode::Strace {
                        // strace does not print new_address for DONTUNMAP: written out.
                        args.push(Arg::Expr(Expr::Null));
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
                    None => self.err(&what, format!("unknown errno name `{}`", shorten(name))),
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
            Tok::Var(v) => match self.defined {
                Some(d) if !d.contains(v) => self.err(
                    &t,
                    format!(
                        "`${0}` is not defined: no earlier line binds it (`${0} = call(...)`)",
                        shorten(v)
                    ),
                ),
                _ => Ok(Expr::Var(v.clone())),
            },
            Tok::Ident => {
                let name = self.ident_text(&t);
                if name == "NULL" {
                    return Ok(Expr::Null);
                }
                if let Some((name, value)) = names::lookup(kind, name) {
                    return Ok(Expr::Name { name, value });
                }
                let name = shorten(name);
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
