//! The printer: trees back to script text, and operations as script lines.
//!
//! Whatever the printer writes, the parser reads back to the same tree (line numbers
//! and source text aside).

use std::fmt::{self, Write};

use vmspace::{Advice, MremapFlags, Op, Signal};

use crate::ast::{Arg, BinOp, Call, Expect, Expr, FillByte, Radix, Script, Stmt, StrLit};
use crate::names::{self, Kind, Sym};

/// Write bytes as a quoted C string the parser reads back exactly: `\n`, `\t`, `\r`,
/// `\\`, `\"` by name, other bytes outside printable ASCII as `\xHH` (always two digits).
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &c in bytes {
        push_escaped(&mut s, c, b'"');
    }
    s.push('"');
    s
}

fn push_escaped(s: &mut String, c: u8, quote: u8) {
    match c {
        b'\n' => s.push_str("\\n"),
        b'\t' => s.push_str("\\t"),
        b'\r' => s.push_str("\\r"),
        b'\\' => s.push_str("\\\\"),
        c if c == quote => {
            s.push('\\');
            s.push(c as char);
        }
        0x20..=0x7e => s.push(c as char),
        _ => {
            let _ = write!(s, "\\x{c:02x}");
        }
    }
}

impl fmt::Display for StrLit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(&self.bytes))?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => match op {
            BinOp::Or => 1,
            BinOp::Shl => 2,
            BinOp::Add | BinOp::Sub => 3,
            BinOp::Mul => 4,
        },
        Expr::Neg(_) => 5,
        _ => 6,
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    let p = prec(e);
    if p < min {
        f.write_char('(')?;
        write_expr(f, e, 0)?;
        return f.write_char(')');
    }
    match e {
        Expr::Num { value, radix } => match radix {
            Radix::Dec => write!(f, "{value}"),
            Radix::Hex => write!(f, "{value:#x}"),
            Radix::Oct => write!(f, "0{value:o}"),
        },
        Expr::Pages(n) => write!(f, "{n}p"),
        Expr::Var(v) => write!(f, "${v}"),
        Expr::Name { name, .. } => f.write_str(name),
        Expr::Null => f.write_str("NULL"),
        Expr::Neg(x) => {
            f.write_char('-')?;
            write_expr(f, x, 5)
        }
        Expr::Binary { op, lhs, rhs } => {
            write_expr(f, lhs, p)?;
            f.write_str(match op {
                BinOp::Or => "|",
                BinOp::Shl => "<<",
                BinOp::Add => " + ",
                BinOp::Sub => " - ",
                BinOp::Mul => "*",
            })?;
            write_expr(f, rhs, p + 1)
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, 0)
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Expr(e) => e.fmt(f),
            Arg::Str(s) => s.fmt(f),
            Arg::Rlimit { cur, max } => write!(f, "{{rlim_cur={cur}, rlim_max={max}}}"),
        }
    }
}

impl fmt::Display for FillByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FillByte::Expr(e) => e.fmt(f),
            FillByte::Char(c) => {
                let mut s = String::from("'");
                push_escaped(&mut s, *c, b'\'');
                s.push('\'');
                f.write_str(&s)
            }
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Syscall { name, args } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_char(')')
            }
            Call::Store { addr, data } => write!(f, "store({addr}, {})", quote(data)),
            Call::Load { addr, len } => write!(f, "load({addr}, {len})"),
            Call::Fill { addr, len, byte } => write!(f, "fill({addr}, {len}, {byte})"),
            Call::Maps => f.write_str("maps()"),
            Call::Vmas { start, end } => write!(f, "vmas({start}, {end})"),
        }
    }
}

impl fmt::Display for Expect {
    /// The expectation as written after the call: `= 0`, `!= $a`, `= -1 ENOMEM (Cannot
    /// allocate memory)`, `= SIGSEGV`, `= "bytes"`, `= ?`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Value(e) => write!(f, "= {e}"),
            Expect::NotValue(e) => write!(f, "!= {e}"),
            Expect::Errno(e) => {
                match names::errno_name(*e) {
                    Some(n) => write!(f, "= -1 {n}")?,
                    None => write!(f, "= -1 (errno {})", e.raw())?,
                }
                match e.message() {
                    Some(m) => write!(f, " ({m})"),
                    None => Ok(()),
                }
            }
            Expect::Bytes(b) => write!(f, "= {}", quote(b)),
            Expect::Signal(Signal::Segv) => f.write_str("= SIGSEGV"),
            Expect::Signal(Signal::Bus) => f.write_str("= SIGBUS"),
            Expect::Text(t) => write!(f, "= {}", quote(t.as_bytes())),
            Expect::Unknown => f.write_str("= ?"),
        }
    }
}

impl fmt::Display for Stmt {
    /// One line, without the newline: `[pid N] $name = call(...) = expected`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pid) = self.pid {
            write!(f, "[pid {pid}] ")?;
        }
        if let Some(b) = &self.bind {
            write!(f, "${b} = ")?;
        }
        self.call.fmt(f)?;
        if let Some(e) = &self.expect {
            write!(f, " {e}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Script {
    /// One statement a line. Comments, timestamps and strace decorations are not kept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.stmts {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

// From operations to trees.

fn addr(v: u64) -> Expr {
    if v == 0 { Expr::Null } else { Expr::hex(v) }
}

fn len(v: u64) -> Expr {
    if v != 0 && v.is_multiple_of(vmspace::addr::PAGE_SIZE) {
        Expr::Pages(v / vmspace::addr::PAGE_SIZE)
    } else {
        Expr::dec(v)
    }
}

/// Values read as signed by the kernel (fds, offsets): negative when the top bit is set.
fn signed(v: u64) -> Expr {
    if v > i64::MAX as u64 {
        Expr::Neg(Box::new(len(v.wrapping_neg())))
    } else {
        len(v)
    }
}

fn or_all(parts: Vec<Expr>) -> Option<Expr> {
    parts
        .into_iter()
        .reduce(|a, b| Expr::binary(BinOp::Or, a, b))
}

/// Split `v` into single-bit names of `table`, the rest as one hex number.
fn bits(table: &[Sym], mut v: u64, parts: &mut Vec<Expr>) -> u64 {
    for s in table {
        if s.print && s.value.is_power_of_two() && v & s.value != 0 {
            parts.push(Expr::Name {
                name: s.name,
                value: s.value,
            });
            v &= !s.value;
        }
    }
    v
}

fn flags(kind: Kind, v: u64) -> Expr {
    let mut parts = Vec::new();
    let mut rest = v;
    if kind == Kind::Prot && v == 0 {
        return Expr::Name {
            name: "PROT_NONE",
            value: 0,
        };
    }
    if kind == Kind::Map {
        let ty = v & vmspace::MapFlags::TYPE_MASK;
        if let Some(s) = names::MAP_TYPES.iter().find(|s| s.value == ty) {
            parts.push(Expr::Name {
                name: s.name,
                value: s.value,
            });
            rest &= !ty;
        }
    }
    rest = bits(names::table(kind), rest, &mut parts);
    if rest != 0 {
        parts.push(Expr::hex(rest));
    }
    or_all(parts).unwrap_or_else(|| Expr::dec(0))
}

fn named(kind: Kind, v: u64, radix_hex: bool) -> Expr {
    let found = if kind == Kind::Madv {
        Advice(v).name()
    } else {
        names::table(kind)
            .iter()
            .find(|s| s.print && s.value == v)
            .map(|s| s.name)
    };
    match found {
        Some(name) => Expr::Name { name, value: v },
        None if radix_hex => Expr::hex(v),
        None => Expr::dec(v),
    }
}

fn rlim(v: u64) -> Expr {
    if v == vmspace::flags::RLIM_INFINITY {
        Expr::Name {
            name: "RLIM64_INFINITY",
            value: v,
        }
    } else {
        len(v)
    }
}

fn sys(name: &'static str, args: Vec<Arg>) -> Call {
    Call::Syscall { name, args }
}

fn e(x: Expr) -> Arg {
    Arg::Expr(x)
}

impl Call {
    /// The call that stands for `op`, written the way strace would print it: addresses
    /// in hex (0 as `NULL`), page-multiple lengths as `Np`, flags by name with unknown
    /// bits in hex, fds and offsets negative when the top bit is set. Resolving it gives
    /// `op` back.
    pub fn from_op(op: &Op) -> Call {
        match op {
            Op::Mmap {
                addr: a,
                len: l,
                prot,
                flags: fl,
                fd,
                offset,
            } => sys(
                "mmap",
                vec![
                    e(addr(*a)),
                    e(len(*l)),
                    e(flags(Kind::Prot, *prot)),
                    e(flags(Kind::Map, *fl)),
                    e(signed(*fd)),
                    e(signed(*offset)),
                ],
            ),
            Op::Munmap { addr: a, len: l } => sys("munmap", vec![e(addr(*a)), e(len(*l))]),
            Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags: fl,
                new_addr,
            } => {
                let mut args = vec![
                    e(addr(*old_addr)),
                    e(len(*old_len)),
                    e(len(*new_len)),
                    e(flags(Kind::Mremap, *fl)),
                ];
                // As strace: new_address with MREMAP_MAYMOVE|MREMAP_FIXED, and (which
                // strace would drop) whenever it is not 0.
                let needs = MremapFlags::from_bits_retain(*fl)
                    .contains(MremapFlags::MAYMOVE | MremapFlags::FIXED);
                if *new_addr != 0 || needs {
                    args.push(e(addr(*new_addr)));
                }
                sys("mremap", args)
            }
            Op::Mprotect {
                addr: a,
                len: l,
                prot,
            } => sys(
                "mprotect",
                vec![e(addr(*a)), e(len(*l)), e(flags(Kind::Prot, *prot))],
            ),
            Op::Mlock { addr: a, len: l } => sys("mlock", vec![e(addr(*a)), e(len(*l))]),
            Op::Mlock2 {
                addr: a,
                len: l,
                flags: fl,
            } => sys(
                "mlock2",
                vec![e(addr(*a)), e(len(*l)), e(flags(Kind::Mlock, *fl))],
            ),
            Op::Munlock { addr: a, len: l } => sys("munlock", vec![e(addr(*a)), e(len(*l))]),
            Op::Mlockall { flags: fl } => sys("mlockall", vec![e(flags(Kind::Mcl, *fl))]),
            Op::Munlockall => sys("munlockall", vec![]),
            Op::Madvise {
                addr: a,
                len: l,
                advice,
            } => sys(
                "madvise",
                vec![e(addr(*a)), e(len(*l)), e(named(Kind::Madv, *advice, true))],
            ),
            Op::Brk { addr: a } => sys("brk", vec![e(addr(*a))]),
            Op::MemfdCreate { name, flags: fl } => sys(
                "memfd_create",
                vec![
                    Arg::Str(StrLit {
                        bytes: name.clone(),
                        truncated: false,
                    }),
                    e(flags(Kind::Mfd, *fl)),
                ],
            ),
            Op::Ftruncate { fd, length } => {
                sys("ftruncate", vec![e(signed(*fd)), e(signed(*length))])
            }
            Op::Pwrite64 { fd, data, offset } => sys(
                "pwrite64",
                vec![
                    e(signed(*fd)),
                    Arg::Str(StrLit {
                        bytes: data.clone(),
                        truncated: false,
                    }),
                    e(Expr::dec(data.len() as u64)),
                    e(signed(*offset)),
                ],
            ),
            Op::Close { fd } => sys("close", vec![e(signed(*fd))]),
            Op::Setrlimit { resource, cur, max } => sys(
                "setrlimit",
                vec![
                    e(named(Kind::Resource, *resource, false)),
                    Arg::Rlimit {
                        cur: rlim(*cur),
                        max: rlim(*max),
                    },
                ],
            ),
            Op::Setuid { uid } => sys("setuid", vec![e(Expr::dec(*uid))]),
            Op::Load { addr: a, len: l } => Call::Load {
                addr: addr(*a),
                len: len(*l),
            },
            Op::Store { addr: a, data } => Call::Store {
                addr: addr(*a),
                data: data.clone(),
            },
            Op::Fill {
                addr: a,
                len: l,
                byte,
            } => Call::Fill {
                addr: addr(*a),
                len: len(*l),
                byte: if (0x20..=0x7e).contains(byte) {
                    FillByte::Char(*byte)
                } else {
                    FillByte::Expr(Expr::dec(u64::from(*byte)))
                },
            },
        }
    }
}

/// An operation as a script line in strace syntax, e.g.
/// `mremap(0x7ffff7ff0000, 4p, 8p, MREMAP_MAYMOVE)`. [`crate::parse_script`] reads it
/// back to the same operation.
pub fn format_op(op: &Op) -> String {
    Call::from_op(op).to_string()
}
