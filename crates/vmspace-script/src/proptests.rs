//! Random scripts: print → parse gives the same tree.
//!
//! Lives inside the crate because the generator draws flag names from the private
//! name tables, so every generated name is valid at its position.

use proptest::prelude::*;
use vmspace::Signal;

use crate::ast::{Arg, BinOp, Call, Expect, Expr, FillByte, Radix, Script, Stmt, StrLit};
use crate::names::{self, Kind};
use crate::parse_script_with_env;

fn var_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}"
}

fn leaf(kind: Kind) -> BoxedStrategy<Expr> {
    let names = names::all_names(kind);
    let num = (
        any::<u64>(),
        prop_oneof![Just(Radix::Dec), Just(Radix::Hex), Just(Radix::Oct)],
    )
        .prop_map(|(value, radix)| Expr::Num { value, radix });
    let small = (0u64..64, Just(Radix::Dec)).prop_map(|(value, radix)| Expr::Num { value, radix });
    let pages = (0u64..(1 << 52)).prop_map(Expr::Pages);
    let var = var_name().prop_map(Expr::Var);
    if names.is_empty() {
        prop_oneof![num, small, pages, var, Just(Expr::Null)].boxed()
    } else {
        let name =
            proptest::sample::select(names).prop_map(|(name, value)| Expr::Name { name, value });
        prop_oneof![2 => name, 1 => num, 1 => small, 1 => var, 1 => Just(Expr::Null)].boxed()
    }
}

fn expr(kind: Kind) -> BoxedStrategy<Expr> {
    leaf(kind)
        .prop_recursive(3, 12, 2, |inner| {
            let op = prop_oneof![
                Just(BinOp::Or),
                Just(BinOp::Shl),
                Just(BinOp::Add),
                Just(BinOp::Sub),
                Just(BinOp::Mul)
            ];
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
                (op, inner.clone(), inner).prop_map(|(op, a, b)| Expr::binary(op, a, b)),
            ]
        })
        .boxed()
}

fn strlit(allow_truncated: bool) -> impl Strategy<Value = StrLit> {
    (proptest::collection::vec(any::<u8>(), 0..24), any::<bool>()).prop_map(move |(bytes, t)| {
        StrLit {
            bytes,
            truncated: t && allow_truncated,
        }
    })
}

fn rlimit() -> impl Strategy<Value = Arg> {
    (expr(Kind::RlimValue), expr(Kind::RlimValue)).prop_map(|(cur, max)| Arg::Rlimit { cur, max })
}

/// A syscall whose arguments every parser check accepts.
fn syscall() -> BoxedStrategy<Call> {
    let sigs: Vec<&'static names::Signature> = names::SYSCALLS.iter().collect();
    proptest::sample::select(sigs)
        .prop_flat_map(|sig| {
            let name = sig.name;
            let args: BoxedStrategy<Vec<Arg>> = match name {
                "pwrite64" => (
                    expr(Kind::Signed),
                    strlit(true),
                    0u64..4,
                    any::<bool>(),
                    var_name(),
                    expr(Kind::Signed),
                )
                    .prop_map(|(fd, s, extra, use_var, v, off)| {
                        let len = s.bytes.len() as u64;
                        let count = if use_var {
                            Expr::Var(v)
                        } else if s.truncated {
                            Expr::dec(len + extra)
                        } else {
                            Expr::dec(len)
                        };
                        vec![Arg::Expr(fd), Arg::Str(s), Arg::Expr(count), Arg::Expr(off)]
                    })
                    .boxed(),
                "prlimit64" => (
                    prop_oneof![Just(Expr::dec(0)), var_name().prop_map(Expr::Var)],
                    expr(Kind::Resource),
                    rlimit(),
                    prop_oneof![Just(Arg::Expr(Expr::Null)), rlimit()],
                )
                    .prop_map(|(pid, res, new, old)| vec![Arg::Expr(pid), Arg::Expr(res), new, old])
                    .boxed(),
                "mremap" => (
                    expr(Kind::Addr),
                    expr(Kind::Len),
                    expr(Kind::Len),
                    expr(Kind::Mremap),
                    expr(Kind::Addr),
                    any::<bool>(),
                )
                    .prop_map(|(a, b, c, flags, new, five)| {
                        let mut v: Vec<Arg> = [a, b, c].into_iter().map(Arg::Expr).collect();
                        let needs = flags.const_value().is_some_and(|f| f & 6 != 0);
                        v.push(Arg::Expr(flags));
                        if five || needs {
                            v.push(Arg::Expr(new));
                        }
                        v
                    })
                    .boxed(),
                _ => sig
                    .params
                    .iter()
                    .map(|&k| match k {
                        Kind::Str => strlit(true).prop_map(Arg::Str).boxed(),
                        Kind::Rlimit => rlimit().boxed(),
                        Kind::RlimitOrNull => {
                            prop_oneof![Just(Arg::Expr(Expr::Null)), rlimit()].boxed()
                        }
                        k => expr(k).prop_map(Arg::Expr).boxed(),
                    })
                    .collect::<Vec<_>>()
                    .boxed(),
            };
            args.prop_map(move |args| Call::Syscall { name, args })
        })
        .boxed()
}

fn script_call() -> BoxedStrategy<Call> {
    let a = || expr(Kind::Addr);
    let byte = prop_oneof![
        any::<u8>().prop_map(FillByte::Char),
        (0u64..256).prop_map(|v| FillByte::Expr(Expr::dec(v))),
        var_name().prop_map(|v| FillByte::Expr(Expr::Var(v))),
    ];
    prop_oneof![
        (a(), proptest::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(addr, data)| Call::Store { addr, data }),
        (a(), expr(Kind::Len)).prop_map(|(addr, len)| Call::Load { addr, len }),
        (a(), expr(Kind::Len), byte).prop_map(|(addr, len, byte)| Call::Fill { addr, len, byte }),
        Just(Call::Maps),
        (a(), a()).prop_map(|(start, end)| Call::Vmas { start, end }),
    ]
    .boxed()
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let sys = (
        syscall(),
        proptest::option::of(var_name()),
        proptest::option::of(prop_oneof![
            expr(Kind::Addr).prop_map(Expect::Value),
            expr(Kind::Addr).prop_map(Expect::NotValue),
            (1i64..=4095).prop_map(|n| Expect::Errno(vmspace::Errno::from_raw(n).unwrap())),
            Just(Expect::Unknown),
        ]),
    )
        .prop_map(|(call, bind, expect)| (call, bind, expect));
    let other = script_call().prop_flat_map(|call| {
        let expect: BoxedStrategy<Option<Expect>> = match &call {
            Call::Load { .. } => proptest::option::of(prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..8).prop_map(Expect::Bytes),
                Just(Expect::Signal(Signal::Segv)),
                Just(Expect::Signal(Signal::Bus)),
            ])
            .boxed(),
            Call::Store { .. } | Call::Fill { .. } => proptest::option::of(prop_oneof![
                Just(Expect::Signal(Signal::Segv)),
                Just(Expect::Signal(Signal::Bus)),
            ])
            .boxed(),
            Call::Vmas { .. } => proptest::option::of(".{0,12}".prop_map(Expect::Text)).boxed(),
            _ => Just(None).boxed(),
        };
        (Just(call), Just(None::<String>), expect)
    });
    (
        prop_oneof![3 => sys, 1 => other],
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|((call, bind, expect), pid)| Stmt {
            line: 0,
            source: String::new(),
            bind,
            call,
            expect,
            pid,
        })
}

/// 512 cases, or `PROPTEST_CASES` from the environment for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    #[test]
    fn printed_scripts_parse_back_to_the_same_tree(stmts in proptest::collection::vec(stmt(), 0..8)) {
        let script = Script { file_name: "gen.vms".into(), stmts };
        let text = script.to_string();
        // The generator uses names no line binds: the runner would start with them.
        let mut env = crate::Env::new();
        for part in text.split('$').skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            env.set(&name, 0);
        }
        let back = match parse_script_with_env("gen.vms", &text, &env) {
            Ok(s) => s,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- text:\n{text}"))),
        };
        prop_assert!(script.same_ast(&back), "text:\n{}\nback:\n{}", text, back);
        // And printing is stable.
        prop_assert_eq!(back.to_string(), text);
    }
}
