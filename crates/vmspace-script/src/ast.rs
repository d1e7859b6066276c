//! The syntax tree of a script: statements, calls, arguments, expressions, expected
//! results.
//!
//! The tree keeps what a person wrote where it carries meaning (flag names, `NULL`,
//! `Np` pages, hex or decimal) so that the printer writes it back the same way; it drops
//! what carries none (comments, timestamps, `-T` durations, `-y` fd decorations, the
//! errno message in parentheses).

use vmspace::{Errno, Signal};

/// A parsed script or strace log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// The file the text came from (used in error messages and reports).
    pub file_name: String,
    /// The statements, in execution order.
    pub stmts: Vec<Stmt>,
}

impl Script {
    /// Do the two scripts have the same statements, ignoring line numbers, source text
    /// and the file name? (What a print → parse round trip preserves.)
    pub fn same_ast(&self, other: &Script) -> bool {
        self.stmts.len() == other.stmts.len()
            && self
                .stmts
                .iter()
                .zip(&other.stmts)
                .all(|(a, b)| a.same_ast(b))
    }
}

/// One statement: a call, optionally bound to a name and optionally asserted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// 1-based line number where the statement starts (for a call strace split into
    /// `<unfinished ...>` and `<... resumed>`, the line of the first half).
    pub line: usize,
    /// The original text: the line itself, or both halves of a split call joined into
    /// one line.
    pub source: String,
    /// `$name = ...`: the name (without `$`) bound to the call's return value.
    pub bind: Option<String>,
    /// The call.
    pub call: Call,
    /// `... = expected`.
    pub expect: Option<Expect>,
    /// The process id from an strace `-f` prefix (`[pid 1234] ` or `1234 `).
    pub pid: Option<u32>,
}

impl Stmt {
    /// A statement with no binding, expectation or pid (line 0, empty source).
    pub fn new(call: Call) -> Self {
        Stmt {
            line: 0,
            source: String::new(),
            bind: None,
            call,
            expect: None,
            pid: None,
        }
    }

    /// Equal ignoring `line` and `source`.
    pub fn same_ast(&self, other: &Stmt) -> bool {
        self.bind == other.bind
            && self.call == other.call
            && self.expect == other.expect
            && self.pid == other.pid
    }
}

/// A call: one of the supported system calls, or one of the script's own operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// A system call in strace syntax. `name` is one of the supported names
    /// (`"mmap"`, ..., `"setrlimit"`, `"prlimit64"`, `"setuid"`) and `args` have the
    /// shapes that call takes; the parser guarantees both.
    Syscall {
        /// The call's name as strace prints it.
        name: &'static str,
        /// The arguments, in order.
        args: Vec<Arg>,
    },
    /// `store(addr, "bytes")`: write the bytes as the process would.
    Store {
        /// First byte.
        addr: Expr,
        /// The bytes.
        data: Vec<u8>,
    },
    /// `load(addr, len)`: read bytes as the process would.
    Load {
        /// First byte.
        addr: Expr,
        /// How many.
        len: Expr,
    },
    /// `fill(addr, len, byte)`: write `len` copies of a byte.
    Fill {
        /// First byte.
        addr: Expr,
        /// How many.
        len: Expr,
        /// The value.
        byte: FillByte,
    },
    /// `maps()`: show the whole maps text.
    Maps,
    /// `vmas(start, end)`: the VMAs intersecting `[start, end)`, as layout text.
    Vmas {
        /// Window start.
        start: Expr,
        /// Window end (exclusive).
        end: Expr,
    },
}

impl Call {
    /// The call's name as written (`"mmap"`, `"store"`, `"maps"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Call::Syscall { name, .. } => name,
            Call::Store { .. } => "store",
            Call::Load { .. } => "load",
            Call::Fill { .. } => "fill",
            Call::Maps => "maps",
            Call::Vmas { .. } => "vmas",
        }
    }

    /// Is this a system call (as opposed to a memory access or an observation)?
    pub fn is_syscall(&self) -> bool {
        matches!(self, Call::Syscall { .. })
    }

    /// Is this a memory access (`store`, `load`, `fill`)?
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            Call::Store { .. } | Call::Load { .. } | Call::Fill { .. }
        )
    }
}

/// The byte of `fill`: an expression (`0x41`, `$b`) or a character literal (`'A'`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FillByte {
    /// A number that must evaluate to 0..=255.
    Expr(Expr),
    /// A character literal.
    Char(u8),
}

/// One argument of a system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A number, address, flag set, `NULL`, ...
    Expr(Expr),
    /// A quoted string.
    Str(StrLit),
    /// `{rlim_cur=N, rlim_max=N}`.
    Rlimit {
        /// `rlim_cur`
        cur: Expr,
        /// `rlim_max`
        max: Expr,
    },
}

/// A quoted string argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    /// The bytes, escapes decoded.
    pub bytes: Vec<u8>,
    /// strace cut the string short (`"AAAA"...`): `bytes` is only a prefix.
    pub truncated: bool,
}

/// How a number literal was written.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Radix {
    /// `4096`
    Dec,
    /// `0x1000`
    Hex,
    /// `010000` (C octal)
    Oct,
}

/// A binary operator of an expression.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a|b` (flags)
    Or,
    /// `a<<b` (strace's `21<<MAP_HUGE_SHIFT`)
    Shl,
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a*b` (strace's `8192*1024`)
    Mul,
}

/// An expression: wherever a number may stand. Arithmetic wraps at 64 bits, so `-1`
/// is `0xffffffffffffffff`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A number literal.
    Num {
        /// Its value.
        value: u64,
        /// How it was written.
        radix: Radix,
    },
    /// `Np`: N pages of 4096 bytes (N is stored; the value is N * 4096).
    Pages(u64),
    /// `$name` (stored without the `$`).
    Var(String),
    /// A symbolic name valid at this position (`PROT_READ`, `MADV_DONTNEED`,
    /// `RLIMIT_AS`, `RLIM64_INFINITY`, ...).
    Name {
        /// The name.
        name: &'static str,
        /// Its value.
        value: u64,
    },
    /// `NULL` (0).
    Null,
    /// `-e`
    Neg(Box<Expr>),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
}

impl Expr {
    /// A decimal literal.
    pub fn dec(value: u64) -> Self {
        Expr::Num {
            value,
            radix: Radix::Dec,
        }
    }

    /// A hex literal.
    pub fn hex(value: u64) -> Self {
        Expr::Num {
            value,
            radix: Radix::Hex,
        }
    }

    /// `lhs op rhs`
    pub fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Self {
        Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    /// The value, if the expression names no variable.
    pub fn const_value(&self) -> Option<u64> {
        crate::eval::eval_expr(self, &|_| None).ok()
    }

    /// The number of nodes in the tree.
    pub fn size(&self) -> usize {
        match self {
            Expr::Neg(e) => 1 + e.size(),
            Expr::Binary { lhs, rhs, .. } => 1 + lhs.size() + rhs.size(),
            _ => 1,
        }
    }
}

/// What a statement asserts about its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `= expr`: the call succeeded with this value.
    Value(Expr),
    /// `!= expr`: any outcome but this value.
    NotValue(Expr),
    /// `= -1 ERRNO`: the call failed with this errno.
    Errno(Errno),
    /// `= "bytes"` after `load`.
    Bytes(Vec<u8>),
    /// `= SIGSEGV` / `= SIGBUS` after a memory access.
    Signal(Signal),
    /// `= "[0,2)rw-p ..."` after `vmas`.
    Text(String),
    /// strace's `= ?`: the result is not known (the process exited during the call).
    Unknown,
}
