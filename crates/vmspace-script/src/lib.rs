//! Scripts and strace logs for vmspace: one parser, one printer, and a runner.
//!
//! Scripts are written in strace's own syntax, so a line of real strace output is also a
//! line of script:
//!
//! ```
//! use vmspace_script::{parse_script, Action};
//!
//! let script = parse_script("demo.vms", "\
//! ## a comment
//! $a = mmap(NULL, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
//! store($a + 1p, \"hello\")
//! $b = mremap($a, 4p, 8p, MREMAP_MAYMOVE)
//! load($b + 1p, 5) = \"hello\"
//! mremap($b, 8p, 16p, 0) = -1 ENOMEM
//! 4835  10:00:51.985157 munmap(0x7f41ad9fa000, 8192) = 0 <0.000050>
//! ").unwrap();
//! assert_eq!(script.stmts.len(), 6);
//!
//! let mut env = vmspace_script::Env::new();
//! env.set("a", 0x7f0000000000);
//! let Action::Op(op) = script.stmts[1].resolve(&env).unwrap() else { panic!() };
//! assert_eq!(op, vmspace::Op::Store { addr: 0x7f0000001000, data: b"hello".to_vec() });
//! ```
//!
//! - [`parse_script`] and [`parse_strace_log`] read text into a [`Script`] (strict, and
//!   lenient about calls outside the supported set, respectively).
//! - [`Script`]'s `Display` prints it back; the parser reads the printed text to the
//!   same tree. [`format_op`] writes one [`vmspace::Op`] as a line.
//! - [`Stmt::resolve`] turns a statement into an [`Action`] with the bindings in an
//!   [`Env`]; [`check`] compares a [`vmspace::Outcome`] with an [`Expect`].
//! - [`Runner`] does all of that over any [`vmspace::Backend`].
//!
//! The language is described in the project's DESIGN.md ("One script language for
//! everything").
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ast;
mod check;
mod eval;
mod lex;
mod names;
mod parse;
mod print;
#[cfg(test)]
mod proptests;
mod run;

pub use ast::{Arg, BinOp, Call, Expect, Expr, FillByte, Radix, Script, Stmt, StrLit};
pub use check::{Mismatch, check, vmas_text};
pub use eval::{Action, Env, EvalError, MAX_PADDED_PWRITE};
pub use parse::{ParseError, Skipped, StraceLog, parse_script, parse_strace_log};
pub use print::{format_op, quote};
pub use run::{RunError, RunErrorKind, RunResult, Runner, StepReport};

/// The names of the supported system calls, as strace prints them.
pub fn supported_syscalls() -> impl Iterator<Item = &'static str> {
    names::SYSCALLS.iter().map(|s| s.name)
}
