//! Comparing outcomes with expectations, and the `vmas(start, end)` layout text.

use std::fmt;

use vmspace::addr::PAGE_SIZE;
use vmspace::{MapsLine, Outcome, Signal};

use crate::ast::{Expect, Expr};
use crate::eval::Env;
use crate::print::quote;

/// An outcome that is not what the script expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// What was expected, as a person would write it.
    pub expected: String,
    /// What happened.
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.got)
    }
}

impl std::error::Error for Mismatch {}

/// The most bytes of a load's result [`outcome_text`] shows.
pub const MAX_SHOWN_BYTES: usize = 4096;

/// An outcome as reports show it: like its `Display`, but a load's bytes past the first
/// [`MAX_SHOWN_BYTES`] are left out and marked with strace's `...` after the string,
/// so that printing a large load takes no more memory than this.
pub fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Bytes(b) if b.len() > MAX_SHOWN_BYTES => {
            format!("{}...", Outcome::Bytes(b[..MAX_SHOWN_BYTES].to_vec()))
        }
        other => other.to_string(),
    }
}

fn show_value(v: u64) -> String {
    Outcome::Value(v).to_string()
}

/// `$a + 1p (0x7f0000001000)` for an expression, just the value for a literal.
fn show_expr(e: &Expr, env: &Env) -> Result<String, String> {
    match e.eval(env) {
        Ok(v) => {
            let shown = show_value(v);
            let text = e.to_string();
            Ok(if text == shown {
                shown
            } else {
                format!("{text} ({shown})")
            })
        }
        Err(err) => Err(format!("{e} ({err})")),
    }
}

fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::Segv => "SIGSEGV",
        Signal::Bus => "SIGBUS",
    }
}

/// Does `outcome` satisfy `expect`?
///
/// - `Value(e)`: a successful call returning `e` (a completed store or fill counts as
///   the value 0);
/// - `NotValue(e)`: anything except a successful call returning `e`;
/// - `Errno(e)`: a failed call with errno `e`;
/// - `Bytes(b)`: a load that read exactly `b`;
/// - `Signal(s)`: an access that faulted with `s`;
/// - `Text(t)`: a layout (passed as [`Outcome::Bytes`] of the text) equal to `t`, with
///   runs of whitespace treated as one space;
/// - `Unknown`: anything.
///
/// [`Outcome::Unsupported`] never satisfies an expectation.
///
/// # Errors
/// A [`Mismatch`] naming what was expected and what happened. An expression naming an
/// unbound `$name` is a mismatch too.
pub fn check(expect: &Expect, outcome: &Outcome, env: &Env) -> Result<(), Mismatch> {
    let got = || outcome_text(outcome);
    let fail = |expected: String| {
        Err(Mismatch {
            expected,
            got: got(),
        })
    };
    if let Outcome::Unsupported(_) = outcome
        && *expect != Expect::Unknown
    {
        return fail(expect_text(expect, env));
    }
    match expect {
        Expect::Unknown => Ok(()),
        Expect::Value(e) => {
            let want = match e.eval(env) {
                Ok(v) => v,
                Err(_) => return fail(expect_text(expect, env)),
            };
            match outcome {
                Outcome::Value(v) if *v == want => Ok(()),
                Outcome::Done if want == 0 => Ok(()),
                _ => fail(expect_text(expect, env)),
            }
        }
        Expect::NotValue(e) => {
            let Ok(want) = e.eval(env) else {
                return fail(expect_text(expect, env));
            };
            match outcome {
                Outcome::Value(v) if *v == want => fail(expect_text(expect, env)),
                _ => Ok(()),
            }
        }
        Expect::Errno(e) => match outcome {
            Outcome::Error(got) if got == e => Ok(()),
            _ => fail(expect_text(expect, env)),
        },
        Expect::Bytes(b) => match outcome {
            Outcome::Bytes(got) if got == b => Ok(()),
            _ => fail(expect_text(expect, env)),
        },
        Expect::Signal(s) => match outcome {
            Outcome::Fault(f) if f.signal == *s => Ok(()),
            _ => fail(expect_text(expect, env)),
        },
        Expect::Text(t) => match outcome {
            Outcome::Bytes(b) => {
                let got = String::from_utf8_lossy(b);
                if normalize(&got) == normalize(t) {
                    Ok(())
                } else {
                    Err(Mismatch {
                        expected: quote(normalize(t).as_bytes()),
                        got: quote(normalize(&got).as_bytes()),
                    })
                }
            }
            _ => fail(expect_text(expect, env)),
        },
    }
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An expectation as a person would read it in a mismatch report.
fn expect_text(expect: &Expect, env: &Env) -> String {
    match expect {
        Expect::Value(e) => show_expr(e, env).unwrap_or_else(|x| x),
        Expect::NotValue(e) => format!("anything but {}", show_expr(e, env).unwrap_or_else(|x| x)),
        Expect::Errno(e) => Outcome::Error(*e).to_string(),
        Expect::Bytes(b) => quote(b),
        Expect::Signal(s) => signal_name(*s).to_string(),
        Expect::Text(t) => quote(t.as_bytes()),
        Expect::Unknown => "?".to_string(),
    }
}

/// The layout of the window `[start, end)` in a maps text, as `vmas()` compares it:
/// each VMA that intersects the window, clipped to it, as `[first,last)perm` where the
/// page indices count from `start` and `perm` is the maps line's four permission
/// characters; entries are separated by one space. Lines that do not parse, and the
/// `[vsyscall]` line, are passed over.
///
/// ```
/// let maps = "\
/// 7f0000000000-7f0000002000 rw-p 00000000 00:00 0 \n\
/// 7f0000004000-7f0000006000 ---p 00000000 00:00 0 \n";
/// assert_eq!(
///     vmspace_script::vmas_text(maps, 0x7f0000000000, 0x7f0000005000),
///     "[0,2)rw-p [4,5)---p"
/// );
/// ```
pub fn vmas_text(maps_text: &str, start: u64, end: u64) -> String {
    let mut out = Vec::new();
    for line in maps_text.lines() {
        let Ok(m) = MapsLine::parse(line) else {
            continue;
        };
        if m.name.as_deref() == Some("[vsyscall]") {
            continue;
        }
        let s = m.start.max(start);
        let e = m.end.min(end);
        if s >= e {
            continue;
        }
        let first = (s - start) / PAGE_SIZE;
        let last = (e - start).div_ceil(PAGE_SIZE);
        let p = m.perms();
        out.push(format!(
            "[{first},{last}){}{}{}{}",
            p[0] as char, p[1] as char, p[2] as char, p[3] as char
        ));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmspace::{Errno, Fault, FaultCode};

    #[test]
    fn values_errnos_and_signals() {
        let mut env = Env::new();
        env.set("a", 0x1000);
        let v = |e: Expr| Expect::Value(e);
        check(&v(Expr::Var("a".into())), &Outcome::Value(0x1000), &env).unwrap();
        let m = check(&v(Expr::Var("a".into())), &Outcome::Value(0x2000), &env).unwrap_err();
        assert_eq!(m.to_string(), "expected $a (4096), got 8192");
        let m = check(&v(Expr::dec(0)), &Outcome::Error(Errno::ENOMEM), &env).unwrap_err();
        assert_eq!(
            m.to_string(),
            "expected 0, got -1 ENOMEM (Cannot allocate memory)"
        );
        check(
            &Expect::Errno(Errno::EINVAL),
            &Outcome::Error(Errno::EINVAL),
            &env,
        )
        .unwrap();
        check(
            &Expect::NotValue(Expr::dec(5)),
            &Outcome::Error(Errno::EINVAL),
            &env,
        )
        .unwrap();
        check(&Expect::NotValue(Expr::dec(5)), &Outcome::Value(5), &env).unwrap_err();
        let fault = Outcome::Fault(Fault {
            signal: Signal::Segv,
            code: FaultCode::MapErr,
            addr: 0,
        });
        check(&Expect::Signal(Signal::Segv), &fault, &env).unwrap();
        check(&Expect::Signal(Signal::Bus), &fault, &env).unwrap_err();
        check(&Expect::Unknown, &fault, &env).unwrap();
        check(
            &Expect::Value(Expr::dec(0)),
            &Outcome::Unsupported("x".into()),
            &env,
        )
        .unwrap_err();
        let m = check(&v(Expr::Var("zz".into())), &Outcome::Value(0), &env).unwrap_err();
        assert_eq!(m.expected, "$zz (`$zz` is not bound)");
    }

    #[test]
    fn layout_text() {
        let maps = "\
00400000-00401000 r--p 00000000 00:00 0 \n\
00401000-00403000 rw-p 00000000 00:00 0 \n\
00405000-00406000 r-xs 00000000 00:00 0 \n\
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
        assert_eq!(vmas_text(maps, 0x401000, 0x406000), "[0,2)rw-p [4,5)r-xs");
        assert_eq!(vmas_text(maps, 0x402000, 0x405000), "[0,1)rw-p");
        assert_eq!(vmas_text(maps, 0x0, u64::MAX).split(' ').count(), 3);
        assert_eq!(vmas_text(maps, 0x403000, 0x405000), "");
        let ok = check(
            &Expect::Text("[0,2)rw-p   [4,5)r-xs".into()),
            &Outcome::Bytes(b"[0,2)rw-p [4,5)r-xs".to_vec()),
            &Env::new(),
        );
        ok.unwrap();
    }
}
