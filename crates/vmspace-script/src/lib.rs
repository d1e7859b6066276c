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
//! # The language
//!
//! The language is specified in the project's DESIGN.md ("One script language for
//! everything"). In short, and with the details this crate settles:
//!
//! ```text
//! line      := prefix* (stmt | noise)? comment?
//! prefix    := "[pid N]" | N (a pid, first on the line) | timestamp (-t/-tt/-ttt/-r)
//!            | "[  N]" (-n) | "[hex]" or "[????]" (-i)
//! stmt      := ("$" name "=")? call (("=" | "!=") result)? paren-note* duration?
//! call      := syscall "(" args ")" | "store(" e "," string ")" | "load(" e "," e ")"
//!            | "fill(" e "," e "," (e | 'c') ")" | "maps()" | "vmas(" e "," e ")"
//! result    := expr | "-1" ERRNO | "-1 (errno N)" | string | SIGSEGV | SIGBUS | "?" ...
//! expr      := term (("|" | "<<" | "+" | "-" | "*") term)*     (C precedence)
//! term      := N | 0xN | 0N (octal) | Np (pages) | $name | NULL | NAME | "-" term
//!            | "(" expr ")" | N "<" fd-decoration ">"
//! string    := '"' C escapes '"' "..."?   ("..." = strace truncated it)
//! comment   := "#" ... | "/*" ... "*/"
//! noise     := "+++ ... +++" | "--- SIG... ---" | "strace: ..." | " | hexdump" | " > frame"
//! ```
//!
//! - Arithmetic wraps at 64 bits: `-1` is `0xffffffffffffffff`. Besides DESIGN.md's
//!   `+` and `-`, expressions take strace's `*` (`8192*1024`) and `<<`
//!   (`21<<MAP_HUGE_SHIFT`), and parentheses.
//! - Symbolic names are checked against the argument they stand in: `PROT_*` only in a
//!   protection, `MADV_*` only in an advice, and so on (`MAP_ANON` and `MAP_ANONYMOUS`
//!   are both accepted). Unknown bits are written as numbers.
//! - An errno strace has no name for is written `-1 (errno N)`, as strace prints it.
//! - A call strace split into `<unfinished ...>` and `<... name resumed>` is joined per
//!   pid. The statement takes the position of the second half (when the call
//!   completed, which is when its result exists) and the line number of the first.
//! - A line strace interrupted with its own `strace: Process N attached` message (it
//!   does when tracing to stderr) is joined with the next line, which continues it.
//! - In logs, `mremap` with `MREMAP_DONTUNMAP` and four arguments (strace 6.1 does not
//!   print `new_address` then) reads as new_address `NULL`, written out in the tree.
//! - `pwrite64` with a string strace truncated writes the bytes shown and zeros up to
//!   the count ([`MAX_PADDED_PWRITE`] bytes at most).
//! - Errors carry the physical line and column even inside a joined line.
//! - Expressions are bounded (256 terms, 32 levels of nesting) so that no input can
//!   exhaust the stack; every pass over the input is linear in its length, give or take
//!   the joins above.
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
mod stmt;
pub mod strace;

pub use ast::{Arg, BinOp, Call, Expect, Expr, FillByte, Radix, Script, Stmt, StrLit};
pub use check::{MAX_SHOWN_BYTES, Mismatch, check, outcome_text, vmas_text};
pub use eval::{Action, Env, EvalError, MAX_PADDED_PWRITE};
pub use parse::{
    LogEvent, LogReader, ParseError, Skipped, StraceLog, decode_text, parse_script,
    parse_script_with_env, parse_strace_log,
};
pub use print::{format_op, quote};
pub use run::{RunError, RunErrorKind, RunResult, Runner, StepReport};

/// The names of the supported system calls, as strace prints them.
pub fn supported_syscalls() -> impl Iterator<Item = &'static str> {
    names::SYSCALLS.iter().map(|s| s.name)
}
