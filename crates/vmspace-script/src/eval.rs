//! From statements to operations: variables, expression values, and the [`Op`] each
//! call stands for.

use std::collections::BTreeMap;
use std::fmt;

use vmspace::{MremapFlags, Op};

use crate::ast::{Arg, BinOp, Call, Expr, FillByte, Stmt};

/// The largest `pwrite64` count whose unknown tail (after a string strace truncated)
/// is filled in with zeros; larger counts are an error rather than an allocation.
pub const MAX_PADDED_PWRITE: u64 = 1 << 24;

/// The values bound by `$name = call(...)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, u64>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `$name` (`name` without the `$`).
    pub fn get(&self, name: &str) -> Option<u64> {
        self.vars.get(name).copied()
    }

    /// Bind `$name` to `value`, replacing an earlier binding.
    pub fn set(&mut self, name: &str, value: u64) {
        self.vars.insert(name.to_string(), value);
    }

    /// Every binding, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// A statement that parsed but cannot be turned into an operation with the current
/// bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// `$name` has not been bound.
    Unbound(String),
    /// The call's arguments do not have the shape the call takes (only possible for a
    /// tree built by hand, not for one the parser produced).
    BadArgs {
        /// The call.
        call: &'static str,
        /// What is wrong.
        why: String,
    },
    /// `mremap` with `MREMAP_MAYMOVE|MREMAP_FIXED` and no new_address.
    MissingNewAddress,
    /// `pwrite64`'s count does not fit the string.
    PwriteCount {
        /// The count argument.
        count: u64,
        /// The string's length.
        len: u64,
        /// strace truncated the string.
        truncated: bool,
    },
    /// `prlimit64` on a pid other than 0.
    PrlimitPid(u64),
    /// The `fill` byte is not in 0..=255.
    FillByte(u64),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Unbound(n) => write!(f, "`${n}` is not bound"),
            EvalError::BadArgs { call, why } => write!(f, "bad arguments to `{call}`: {why}"),
            EvalError::MissingNewAddress => write!(
                f,
                "`mremap` with MREMAP_MAYMOVE|MREMAP_FIXED needs a fifth argument (new_address)"
            ),
            EvalError::PwriteCount {
                count,
                len,
                truncated: false,
            } => write!(
                f,
                "`pwrite64` count is {count} but the string holds {len} bytes"
            ),
            EvalError::PwriteCount { count, len, .. } => write!(
                f,
                "`pwrite64` count {count} does not fit a truncated string of {len} bytes \
                 (at most {MAX_PADDED_PWRITE} bytes are padded)"
            ),
            EvalError::PrlimitPid(p) => {
                write!(
                    f,
                    "prlimit64 on pid {p}: only pid 0 (the caller) can be run"
                )
            }
            EvalError::FillByte(v) => write!(f, "the fill byte must be 0..=255, found {v}"),
        }
    }
}

impl std::error::Error for EvalError {}

/// What a statement asks a backend to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Apply an operation.
    Op(Op),
    /// Show the maps text.
    Maps,
    /// Show (and maybe compare) the layout of `[start, end)`.
    Vmas {
        /// Window start.
        start: u64,
        /// Window end (exclusive).
        end: u64,
    },
}

/// Evaluate with a variable lookup. Arithmetic wraps at 64 bits; `a << b` is 0 when
/// `b >= 64`.
pub(crate) fn eval_expr(e: &Expr, var: &dyn Fn(&str) -> Option<u64>) -> Result<u64, EvalError> {
    Ok(match e {
        Expr::Num { value, .. } => *value,
        Expr::Pages(n) => n.wrapping_mul(vmspace::addr::PAGE_SIZE),
        Expr::Var(v) => var(v).ok_or_else(|| EvalError::Unbound(v.clone()))?,
        Expr::Name { value, .. } => *value,
        Expr::Null => 0,
        Expr::Neg(x) => eval_expr(x, var)?.wrapping_neg(),
        Expr::Binary { op, lhs, rhs } => {
            let a = eval_expr(lhs, var)?;
            let b = eval_expr(rhs, var)?;
            match op {
                BinOp::Or => a | b,
                BinOp::Shl => u32::try_from(b)
                    .ok()
                    .and_then(|b| a.checked_shl(b))
                    .unwrap_or(0),
                BinOp::Add => a.wrapping_add(b),
                BinOp::Sub => a.wrapping_sub(b),
                BinOp::Mul => a.wrapping_mul(b),
            }
        }
    })
}

impl Expr {
    /// The value with the given bindings.
    ///
    /// # Errors
    /// [`EvalError::Unbound`] for a `$name` not in `env`.
    pub fn eval(&self, env: &Env) -> Result<u64, EvalError> {
        eval_expr(self, &|n| env.get(n))
    }

    /// The `$name`s the expression uses.
    pub fn vars(&self) -> Vec<&str> {
        let mut out = Vec::new();
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
            match e {
                Expr::Var(v) => out.push(v),
                Expr::Neg(x) => walk(x, out),
                Expr::Binary { lhs, rhs, .. } => {
                    walk(lhs, out);
                    walk(rhs, out);
                }
                _ => {}
            }
        }
        walk(self, &mut out);
        out
    }
}

impl Stmt {
    /// The action this statement stands for, with `$name`s taken from `env`.
    ///
    /// # Errors
    /// An unbound variable, or arguments that do not fit (see [`EvalError`]).
    pub fn resolve(&self, env: &Env) -> Result<Action, EvalError> {
        self.call.resolve(env)
    }
}

struct Args<'a> {
    call: &'static str,
    args: &'a [Arg],
    env: &'a Env,
}

impl Args<'_> {
    fn bad(&self, why: impl Into<String>) -> EvalError {
        EvalError::BadArgs {
            call: self.call,
            why: why.into(),
        }
    }

    fn count(&self, min: usize, max: usize) -> Result<(), EvalError> {
        let n = self.args.len();
        if n < min || n > max {
            return Err(self.bad(format!("expected {min}..={max} arguments, found {n}")));
        }
        Ok(())
    }

    fn num(&self, i: usize) -> Result<u64, EvalError> {
        match self.args.get(i) {
            Some(Arg::Expr(e)) => e.eval(self.env),
            _ => Err(self.bad(format!("argument {} is not a number", i + 1))),
        }
    }

    fn str(&self, i: usize) -> Result<(&[u8], bool), EvalError> {
        match self.args.get(i) {
            Some(Arg::Str(s)) => Ok((&s.bytes, s.truncated)),
            _ => Err(self.bad(format!("argument {} is not a string", i + 1))),
        }
    }

    fn rlimit(&self, i: usize) -> Result<(u64, u64), EvalError> {
        match self.args.get(i) {
            Some(Arg::Rlimit { cur, max }) => Ok((cur.eval(self.env)?, max.eval(self.env)?)),
            _ => Err(self.bad(format!("argument {} is not a limit", i + 1))),
        }
    }
}

impl Call {
    /// The action this call stands for, with `$name`s taken from `env`.
    ///
    /// A `pwrite64` whose string strace truncated writes the bytes shown followed by
    /// zeros up to the count (at most [`MAX_PADDED_PWRITE`] bytes); a `memfd_create`
    /// name that is not UTF-8 is converted lossily.
    ///
    /// # Errors
    /// An unbound variable, or arguments that do not fit (see [`EvalError`]).
    pub fn resolve(&self, env: &Env) -> Result<Action, EvalError> {
        let op = match self {
            Call::Maps => return Ok(Action::Maps),
            Call::Vmas { start, end } => {
                return Ok(Action::Vmas {
                    start: start.eval(env)?,
                    end: end.eval(env)?,
                });
            }
            Call::Store { addr, data } => Op::Store {
                addr: addr.eval(env)?,
                data: data.clone(),
            },
            Call::Load { addr, len } => Op::Load {
                addr: addr.eval(env)?,
                len: len.eval(env)?,
            },
            Call::Fill { addr, len, byte } => {
                let byte = match byte {
                    FillByte::Char(c) => *c,
                    FillByte::Expr(e) => {
                        let v = e.eval(env)?;
                        u8::try_from(v).map_err(|_| EvalError::FillByte(v))?
                    }
                };
                Op::Fill {
                    addr: addr.eval(env)?,
                    len: len.eval(env)?,
                    byte,
                }
            }
            Call::Syscall { name, args } => syscall_op(Args {
                call: name,
                args,
                env,
            })?,
        };
        Ok(Action::Op(op))
    }
}

fn syscall_op(a: Args<'_>) -> Result<Op, EvalError> {
    let n = |i| a.num(i);
    Ok(match a.call {
        "mmap" => {
            a.count(6, 6)?;
            Op::Mmap {
                addr: n(0)?,
                len: n(1)?,
                prot: n(2)?,
                flags: n(3)?,
                fd: n(4)?,
                offset: n(5)?,
            }
        }
        "munmap" => {
            a.count(2, 2)?;
            Op::Munmap {
                addr: n(0)?,
                len: n(1)?,
            }
        }
        "mremap" => {
            a.count(4, 5)?;
            let flags = n(3)?;
            let new_addr = if a.args.len() == 5 {
                n(4)?
            } else {
                // As strace prints it: new_address only with MREMAP_MAYMOVE|MREMAP_FIXED;
                // otherwise an omitted one is 0 (C code passes none).
                if MremapFlags::from_bits_retain(flags)
                    .contains(MremapFlags::MAYMOVE | MremapFlags::FIXED)
                {
                    return Err(EvalError::MissingNewAddress);
                }
                0
            };
            Op::Mremap {
                old_addr: n(0)?,
                old_len: n(1)?,
                new_len: n(2)?,
                flags,
                new_addr,
            }
        }
        "mprotect" => {
            a.count(3, 3)?;
            Op::Mprotect {
                addr: n(0)?,
                len: n(1)?,
                prot: n(2)?,
            }
        }
        "mlock" => {
            a.count(2, 2)?;
            Op::Mlock {
                addr: n(0)?,
                len: n(1)?,
            }
        }
        "mlock2" => {
            a.count(3, 3)?;
            Op::Mlock2 {
                addr: n(0)?,
                len: n(1)?,
                flags: n(2)?,
            }
        }
        "munlock" => {
            a.count(2, 2)?;
            Op::Munlock {
                addr: n(0)?,
                len: n(1)?,
            }
        }
        "mlockall" => {
            a.count(1, 1)?;
            Op::Mlockall { flags: n(0)? }
        }
        "munlockall" => {
            a.count(0, 0)?;
            Op::Munlockall
        }
        "madvise" => {
            a.count(3, 3)?;
            Op::Madvise {
                addr: n(0)?,
                len: n(1)?,
                advice: n(2)?,
            }
        }
        "brk" => {
            a.count(1, 1)?;
            Op::Brk { addr: n(0)? }
        }
        "memfd_create" => {
            a.count(2, 2)?;
            let (name, _) = a.str(0)?;
            Op::MemfdCreate {
                name: name.to_vec(),
                flags: n(1)?,
            }
        }
        "ftruncate" => {
            a.count(2, 2)?;
            Op::Ftruncate {
                fd: n(0)?,
                length: n(1)?,
            }
        }
        "pwrite64" => {
            a.count(4, 4)?;
            let (bytes, truncated) = a.str(1)?;
            let count = n(2)?;
            let len = bytes.len() as u64;
            let fits = if truncated {
                count >= len && count <= MAX_PADDED_PWRITE
            } else {
                count == len
            };
            if !fits {
                return Err(EvalError::PwriteCount {
                    count,
                    len,
                    truncated,
                });
            }
            let mut data = bytes.to_vec();
            // `fits` bounds count, so this cannot truncate or allocate without limit.
            data.resize(usize::try_from(count).unwrap_or(0).max(data.len()), 0);
            Op::Pwrite64 {
                fd: n(0)?,
                data,
                offset: n(3)?,
            }
        }
        "close" => {
            a.count(1, 1)?;
            Op::Close { fd: n(0)? }
        }
        "setrlimit" => {
            a.count(2, 2)?;
            let (cur, max) = a.rlimit(1)?;
            Op::Setrlimit {
                resource: n(0)?,
                cur,
                max,
            }
        }
        "prlimit64" => {
            a.count(3, 4)?;
            let pid = n(0)?;
            if pid != 0 {
                return Err(EvalError::PrlimitPid(pid));
            }
            let (cur, max) = a.rlimit(2)?;
            Op::Setrlimit {
                resource: n(1)?,
                cur,
                max,
            }
        }
        "setuid" => {
            a.count(1, 1)?;
            Op::Setuid { uid: n(0)? }
        }
        other => {
            return Err(EvalError::BadArgs {
                call: a.call,
                why: format!("`{other}` is not a supported call"),
            });
        }
    })
}
