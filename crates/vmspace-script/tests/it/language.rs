//! Every construct of the language reference (DESIGN.md, "Language reference").

use vmspace::{
    Advice, Errno, MapFlags, MemfdFlags, MlockAllFlags, MremapFlags, Op, ProtFlags, Signal,
};
use vmspace_script::{Action, Arg, Call, Env, Expect, Expr, FillByte, Radix, StrLit};

use crate::util::{error, one, op, op_with, script};

const P: u64 = 4096;
const RW: u64 = ProtFlags::READ.bits() | ProtFlags::WRITE.bits();
const PRIV_ANON: u64 = MapFlags::PRIVATE.bits() | MapFlags::ANONYMOUS.bits();

fn env(pairs: &[(&str, u64)]) -> Env {
    let mut e = Env::new();
    for (k, v) in pairs {
        e.set(k, *v);
    }
    e
}

#[test]
fn the_design_example_parses() {
    let s = script(
        r#"
# a comment
$a = mmap(NULL, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
store($a + 1p, "hello")
$b = mremap($a, 4p, 8p, MREMAP_MAYMOVE)
load($b + 1p, 5) = "hello"
mremap($b, 8p, 16p, 0) = -1 ENOMEM
munmap($b, 8p) = 0
load($b, 1) = SIGSEGV
"#,
    );
    assert_eq!(s.stmts.len(), 7);
    assert_eq!(s.file_name, "test.vms");
    let lines: Vec<usize> = s.stmts.iter().map(|s| s.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(
        s.stmts[0].source,
        "$a = mmap(NULL, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
    );
    assert_eq!(s.stmts[0].bind.as_deref(), Some("a"));
    assert_eq!(s.stmts[3].expect, Some(Expect::Bytes(b"hello".to_vec())));
    assert_eq!(s.stmts[4].expect, Some(Expect::Errno(Errno::ENOMEM)));
    assert_eq!(s.stmts[5].expect, Some(Expect::Value(Expr::dec(0))));
    assert_eq!(s.stmts[6].expect, Some(Expect::Signal(Signal::Segv)));
    let e = env(&[("a", 0x7f00_0000_0000), ("b", 0x7f10_0000_0000)]);
    assert_eq!(
        s.stmts[0].resolve(&e).unwrap(),
        Action::Op(Op::Mmap {
            addr: 0,
            len: 4 * P,
            prot: RW,
            flags: PRIV_ANON,
            fd: u64::MAX,
            offset: 0
        })
    );
    assert_eq!(
        s.stmts[1].resolve(&e).unwrap(),
        Action::Op(Op::Store {
            addr: 0x7f00_0000_1000,
            data: b"hello".to_vec()
        })
    );
    assert_eq!(
        s.stmts[2].resolve(&e).unwrap(),
        Action::Op(Op::Mremap {
            old_addr: 0x7f00_0000_0000,
            old_len: 4 * P,
            new_len: 8 * P,
            flags: MremapFlags::MAYMOVE.bits(),
            new_addr: 0
        })
    );
}

#[test]
fn bind_assert_or_both() {
    let s =
        one("$a = mmap(NULL, 1p, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000");
    assert_eq!(s.bind.as_deref(), Some("a"));
    assert_eq!(s.expect, Some(Expect::Value(Expr::hex(0x7f00_0000_0000))));
    let s = one("munmap(0x1000, 1p) = 0");
    assert_eq!(s.bind, None);
    assert_eq!(s.expect, Some(Expect::Value(Expr::dec(0))));
    let s = one("munmap(0x1000, 1p)");
    assert_eq!((s.bind, s.expect), (None, None));
    let s = one("$x_1 = brk(NULL)");
    assert_eq!(s.bind.as_deref(), Some("x_1"));
}

#[test]
fn comments_anywhere_outside_strings() {
    let s = script(
        "# whole line\n\
         munmap(0x1000, /* strace note */ 1p) # trailing\n\
         \n   \t\n\
         /* only a comment */\n\
         store(0x1000, \"# not a comment\") # but this is\n",
    );
    assert_eq!(s.stmts.len(), 2);
    assert_eq!(
        s.stmts[1].call,
        Call::Store {
            addr: Expr::hex(0x1000),
            data: b"# not a comment".to_vec()
        }
    );
}

#[test]
fn numbers_decimal_hex_octal_and_pages() {
    assert_eq!(
        op("munmap(4096, 0x1000)"),
        Op::Munmap {
            addr: 4096,
            len: 4096
        }
    );
    assert_eq!(
        op("munmap(0xfffffffffffffffe, 18446744073709551615)"),
        Op::Munmap {
            addr: 0xffff_ffff_ffff_fffe,
            len: u64::MAX
        }
    );
    assert_eq!(
        op("munmap(010, 3p)"),
        Op::Munmap {
            addr: 8,
            len: 3 * P
        }
    );
    assert_eq!(
        op("munmap(0x10p, 0p)"),
        Op::Munmap {
            addr: 16 * P,
            len: 0
        }
    );
    let s = one("munmap(0x1000, 010)");
    let Call::Syscall { args, .. } = &s.call else {
        panic!()
    };
    assert_eq!(
        args,
        &[
            Arg::Expr(Expr::Num {
                value: 0x1000,
                radix: Radix::Hex
            }),
            Arg::Expr(Expr::Num {
                value: 8,
                radix: Radix::Oct
            })
        ]
    );
}

#[test]
fn expressions_sum_difference_product_shift_and_parentheses() {
    let e = env(&[("R", 0x7f00_0000_0000), ("a", 5)]);
    let m = |t: &str| match op_with(&format!("munmap({t}, 0)"), &e) {
        Op::Munmap { addr, .. } => addr,
        _ => unreachable!(),
    };
    assert_eq!(m("$R + 40p + 1"), 0x7f00_0000_0000 + 40 * P + 1);
    assert_eq!(m("$R - 1p"), 0x7f00_0000_0000 - P);
    assert_eq!(m("$a - 10"), 5u64.wrapping_sub(10));
    assert_eq!(m("-1"), u64::MAX);
    assert_eq!(m("--1"), 1);
    assert_eq!(m("8192*1024"), 8192 * 1024);
    assert_eq!(m("2 + 3*4"), 14);
    assert_eq!(m("(2 + 3)*4"), 20);
    assert_eq!(m("1 - 2 - 3"), 1u64.wrapping_sub(2).wrapping_sub(3));
    assert_eq!(m("21<<26"), 21 << 26);
    assert_eq!(m("1<<64"), 0);
    assert_eq!(m("1|2 + 4"), 7);
    assert_eq!(m("0xffffffffffffffff + 2"), 1);
    // As in DESIGN.md: expressions in expected results too.
    let s = one("mremap($a, 1, 4096, 0) = $R + 8p");
    assert_eq!(
        s.expect.unwrap(),
        Expect::Value(Expr::binary(
            vmspace_script::BinOp::Add,
            Expr::Var("R".into()),
            Expr::Pages(8)
        ))
    );
}

#[test]
fn unbound_names_are_evaluation_errors() {
    let s = one("munmap($nope, 1p)");
    let err = s.resolve(&Env::new()).unwrap_err();
    assert_eq!(err.to_string(), "`$nope` is not bound");
}

#[test]
fn flag_names_zero_and_unknown_bits() {
    let prot = |t: &str| match op(&format!("mprotect(0x1000, 1p, {t})")) {
        Op::Mprotect { prot, .. } => prot,
        _ => unreachable!(),
    };
    assert_eq!(prot("PROT_READ|PROT_WRITE"), RW);
    assert_eq!(prot("PROT_NONE"), 0);
    assert_eq!(prot("0"), 0);
    assert_eq!(prot("PROT_READ|0x10"), ProtFlags::READ.bits() | 0x10);
    assert_eq!(prot("0x3 /* PROT_READ|PROT_WRITE */"), RW);
    let mremap = |t: &str| match op(&format!("mremap(0x1000, 1p, 2p, {t})")) {
        Op::Mremap { flags, .. } => flags,
        _ => unreachable!(),
    };
    assert_eq!(
        mremap("MREMAP_MAYMOVE|0x10"),
        MremapFlags::MAYMOVE.bits() | 0x10
    );
    assert_eq!(mremap("0x10 /* MREMAP_??? */"), 0x10);
    let map = |t: &str| match op(&format!("mmap(NULL, 1p, PROT_READ, {t}, -1, 0)")) {
        Op::Mmap { flags, .. } => flags,
        _ => unreachable!(),
    };
    assert_eq!(
        map("MAP_PRIVATE|MAP_ANON"),
        map("MAP_PRIVATE|MAP_ANONYMOUS")
    );
    assert_eq!(
        map("MAP_SHARED|MAP_FIXED_NOREPLACE|MAP_POPULATE"),
        MapFlags::SHARED.bits() | MapFlags::FIXED_NOREPLACE.bits() | MapFlags::POPULATE.bits()
    );
    assert_eq!(map("MAP_SHARED_VALIDATE"), MapFlags::SHARED_VALIDATE.bits());
    assert_eq!(
        map("MAP_PRIVATE|MAP_HUGETLB|21<<MAP_HUGE_SHIFT"),
        MapFlags::PRIVATE.bits() | MapFlags::HUGETLB.bits() | (21 << 26)
    );
    assert_eq!(
        map("MAP_PRIVATE|MAP_32BIT|MAP_STACK|MAP_GROWSDOWN|MAP_LOCKED|MAP_NORESERVE"),
        MapFlags::PRIVATE.bits()
            | MapFlags::BIT32.bits()
            | MapFlags::STACK.bits()
            | MapFlags::GROWSDOWN.bits()
            | MapFlags::LOCKED.bits()
            | MapFlags::NORESERVE.bits()
    );
    assert_eq!(
        op("mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT)"),
        Op::Mlockall {
            flags: (MlockAllFlags::CURRENT | MlockAllFlags::FUTURE | MlockAllFlags::ONFAULT).bits()
        }
    );
    assert_eq!(
        op("madvise(0x1000, 1p, MADV_DONTNEED)"),
        Op::Madvise {
            addr: 0x1000,
            len: P,
            advice: Advice::DONTNEED.0
        }
    );
    assert_eq!(
        op("madvise(0x1000, 1p, 0x66 /* MADV_??? */)"),
        Op::Madvise {
            addr: 0x1000,
            len: P,
            advice: 0x66
        }
    );
    assert_eq!(
        op("madvise(0x1000, 1p, MADV_GUARD_INSTALL)"),
        Op::Madvise {
            addr: 0x1000,
            len: P,
            advice: Advice::GUARD_INSTALL.0
        }
    );
}

#[test]
fn flag_names_belong_to_their_argument() {
    assert!(
        error("mprotect(0x1000, 1p, MAP_FIXED)")
            .contains("`MAP_FIXED` is not one of the PROT_* flags names")
    );
    assert!(
        error("mmap(NULL, PROT_READ, PROT_READ, MAP_PRIVATE, -1, 0)").contains("expected a length")
    );
    assert!(error("madvise(0x1000, 1p, MADV_BOGUS)").contains("`MADV_BOGUS`"));
}

#[test]
fn errno_results_with_and_without_message() {
    for t in [
        "munmap(0x1001, 1p) = -1 EINVAL",
        "munmap(0x1001, 1p) = -1 EINVAL (Invalid argument)",
        "munmap(0x1001, 1p) = -1 EINVAL (anything at all, ignored)",
    ] {
        assert_eq!(one(t).expect, Some(Expect::Errno(Errno::EINVAL)), "{t}");
    }
    // Names strace prints that the engine's table does not have.
    assert_eq!(
        one("munmap(0, 1) = -1 ENOSPC (No space left on device)").expect,
        Some(Expect::Errno(Errno::from_raw(28).unwrap()))
    );
    assert_eq!(
        one("munmap(0, 1) = -1 EWOULDBLOCK").expect,
        Some(Expect::Errno(Errno::EAGAIN))
    );
    // strace's form for an errno without a name.
    assert_eq!(
        one("munmap(0, 1) = -1 (errno 4000) (INJECTED)").expect,
        Some(Expect::Errno(Errno::from_raw(4000).unwrap()))
    );
    // `-1` alone is a value.
    assert_eq!(
        one("brk(0) = -1").expect,
        Some(Expect::Value(Expr::Neg(Box::new(Expr::dec(1)))))
    );
    assert!(error("munmap(0, 1) = -1 EBOGUS").contains("unknown errno name `EBOGUS`"));
}

#[test]
fn not_value_and_unknown_results() {
    assert_eq!(
        one("$b = mremap($a, 1p, 2p, MREMAP_MAYMOVE) != $a").expect,
        Some(Expect::NotValue(Expr::Var("a".into())))
    );
    assert_eq!(one("munmap(0, 1) = ?").expect, Some(Expect::Unknown));
    assert_eq!(
        one("munmap(0, 1) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)").expect,
        Some(Expect::Unknown)
    );
}

#[test]
fn mremap_takes_four_or_five_arguments() {
    assert_eq!(
        op("mremap(0x1000, 1p, 2p, MREMAP_MAYMOVE)"),
        Op::Mremap {
            old_addr: 0x1000,
            old_len: P,
            new_len: 2 * P,
            flags: 1,
            new_addr: 0
        }
    );
    assert_eq!(
        op("mremap(0x1000, 1p, 2p, MREMAP_MAYMOVE|MREMAP_FIXED, 0x200000)"),
        Op::Mremap {
            old_addr: 0x1000,
            old_len: P,
            new_len: 2 * P,
            flags: (MremapFlags::MAYMOVE | MremapFlags::FIXED).bits(),
            new_addr: 0x20_0000
        }
    );
    assert_eq!(
        op("mremap(0x1000, 1p, 1p, MREMAP_MAYMOVE|MREMAP_DONTUNMAP, NULL)"),
        Op::Mremap {
            old_addr: 0x1000,
            old_len: P,
            new_len: P,
            flags: (MremapFlags::MAYMOVE | MremapFlags::DONTUNMAP).bits(),
            new_addr: 0
        }
    );
    // A fifth argument without FIXED is still passed through (the ABI allows it).
    assert_eq!(
        op("mremap(0x1000, 1p, 2p, 0, 0x5000)"),
        Op::Mremap {
            old_addr: 0x1000,
            old_len: P,
            new_len: 2 * P,
            flags: 0,
            new_addr: 0x5000
        }
    );
    assert!(
        error("mremap(0x1000, 1p, 2p, MREMAP_MAYMOVE|MREMAP_FIXED)")
            .contains("needs a fifth argument")
    );
    // As strace prints it and C calls it: without MREMAP_MAYMOVE|MREMAP_FIXED the
    // fifth argument may be left out, and is 0.
    assert_eq!(
        op("mremap(0x1000, 4p, 4p, MREMAP_MAYMOVE|MREMAP_DONTUNMAP)"),
        Op::Mremap {
            old_addr: 0x1000,
            old_len: 4 * P,
            new_len: 4 * P,
            flags: (MremapFlags::MAYMOVE | MremapFlags::DONTUNMAP).bits(),
            new_addr: 0
        }
    );
    assert_eq!(
        op("mremap(0x1000, 1p, 1p, MREMAP_FIXED)"),
        Op::Mremap {
            old_addr: 0x1000,
            old_len: P,
            new_len: P,
            flags: MremapFlags::FIXED.bits(),
            new_addr: 0
        }
    );
    assert!(error("mremap(0x1000, 1p, 2p)").contains("`mremap` takes 4 or 5 arguments, found 3"));
    assert!(error("mremap(0x1000, 1p, 2p, 0, 0, 0)").contains("too many arguments"));
    // With the flags in a variable the check happens when the statement is resolved.
    let s = one("mremap(0x1000, 1p, 2p, $f)");
    assert_eq!(
        s.resolve(&env(&[("f", 3)])).unwrap_err(),
        vmspace_script::EvalError::MissingNewAddress
    );
}

#[test]
fn memory_access_calls() {
    assert_eq!(
        op("load(0x1000, 5)"),
        Op::Load {
            addr: 0x1000,
            len: 5
        }
    );
    assert_eq!(
        op("fill(0x1000, 2p, 0xff)"),
        Op::Fill {
            addr: 0x1000,
            len: 2 * P,
            byte: 0xff
        }
    );
    assert_eq!(
        op("fill(0x1000, 1, 'a')"),
        Op::Fill {
            addr: 0x1000,
            len: 1,
            byte: b'a'
        }
    );
    assert_eq!(
        op(r"fill(0x1000, 1, '\n')"),
        Op::Fill {
            addr: 0x1000,
            len: 1,
            byte: b'\n'
        }
    );
    assert_eq!(
        op(r"fill(0x1000, 1, '\'')"),
        Op::Fill {
            addr: 0x1000,
            len: 1,
            byte: b'\''
        }
    );
    assert_eq!(
        one("fill(0x1000, 1, 'a')").call,
        Call::Fill {
            addr: Expr::hex(0x1000),
            len: Expr::dec(1),
            byte: FillByte::Char(b'a')
        }
    );
    assert!(error("fill(0x1000, 1, 256)").contains("0..=255"));
    let s = one("fill(0x1000, 1, $b)");
    assert_eq!(
        s.resolve(&env(&[("b", 300)])).unwrap_err(),
        vmspace_script::EvalError::FillByte(300)
    );
    assert_eq!(
        one("store(0x1000, \"x\") = SIGBUS").expect,
        Some(Expect::Signal(Signal::Bus))
    );
    assert_eq!(
        one("fill(0x1000, 1, 0) = SIGSEGV").expect,
        Some(Expect::Signal(Signal::Segv))
    );
}

#[test]
fn string_escapes() {
    assert_eq!(
        op(r#"store(0x1000, "a\nb\tc\\d\"e\0f\x41\x4a\101\377\12")"#),
        Op::Store {
            addr: 0x1000,
            data: b"a\nb\tc\\d\"e\0fAJA\xff\n".to_vec()
        }
    );
    // strace writes `\0` followed by a digit as three octal digits.
    assert_eq!(
        op(r#"store(0, "\0001")"#),
        Op::Store {
            addr: 0,
            data: b"\x001".to_vec()
        }
    );
    assert_eq!(
        op(r#"store(0, "")"#),
        Op::Store {
            addr: 0,
            data: vec![]
        }
    );
    assert_eq!(
        op("store(0, \"caf\u{e9}\")"),
        Op::Store {
            addr: 0,
            data: "caf\u{e9}".as_bytes().to_vec()
        }
    );
}

#[test]
fn layout_and_maps() {
    let s = one(r#"vmas($a, $a + 6p) = "[0,2)rw-p [4,5)---p""#);
    assert_eq!(s.expect, Some(Expect::Text("[0,2)rw-p [4,5)---p".into())));
    assert_eq!(
        s.resolve(&env(&[("a", 0x10000)])).unwrap(),
        Action::Vmas {
            start: 0x10000,
            end: 0x10000 + 6 * P
        }
    );
    let s = one("maps()");
    assert_eq!(s.call, Call::Maps);
    assert_eq!(s.resolve(&Env::new()).unwrap(), Action::Maps);
    assert!(error("maps() = \"x\"").contains("asserts nothing"));
    assert!(error("maps(1)").contains("takes no arguments"));
}

#[test]
fn process_setup_calls() {
    let (memlock, as_, data) = (
        vmspace::Resource::MEMLOCK.0,
        vmspace::Resource::AS.0,
        vmspace::Resource::DATA.0,
    );
    assert_eq!(
        op("setrlimit(RLIMIT_MEMLOCK, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY})"),
        Op::Setrlimit {
            resource: memlock,
            cur: 8192 * 1024,
            max: u64::MAX
        }
    );
    assert_eq!(
        op("setrlimit(RLIMIT_AS, {rlim_max=RLIM_INFINITY, rlim_cur=16p})"),
        Op::Setrlimit {
            resource: as_,
            cur: 16 * P,
            max: u64::MAX
        }
    );
    assert_eq!(
        op("prlimit64(0, RLIMIT_DATA, {rlim_cur=12345, rlim_max=RLIM64_INFINITY}, NULL)"),
        Op::Setrlimit {
            resource: data,
            cur: 12345,
            max: u64::MAX
        }
    );
    assert_eq!(
        op(
            "prlimit64(0, RLIMIT_DATA, {rlim_cur=1, rlim_max=2}, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY})"
        ),
        Op::Setrlimit {
            resource: data,
            cur: 1,
            max: 2
        }
    );
    assert_eq!(op("setuid(1000)"), Op::Setuid { uid: 1000 });
    assert!(
        error("prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=1, rlim_max=2})")
            .contains("NULL new limit")
    );
    assert!(
        error("prlimit64(1234, RLIMIT_STACK, {rlim_cur=1, rlim_max=2}, NULL)")
            .contains("another process")
    );
    assert!(error("setrlimit(RLIMIT_AS, {rlim_cur=1})").contains("both `rlim_cur` and `rlim_max`"));
    assert!(error("setrlimit(RLIMIT_AS, {rlim_cur=1, rlim_cur=2})").contains("given twice"));
}

#[test]
fn every_supported_call_resolves() {
    let cases: Vec<(&str, Op)> = vec![
        (
            "mmap(0x7f0000000000, 8192, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED_NOREPLACE, 3, 0x1000)",
            Op::Mmap {
                addr: 0x7f00_0000_0000,
                len: 8192,
                prot: RW,
                flags: MapFlags::SHARED.bits() | MapFlags::FIXED_NOREPLACE.bits(),
                fd: 3,
                offset: 0x1000,
            },
        ),
        (
            "munmap(0x1000, 8192)",
            Op::Munmap {
                addr: 0x1000,
                len: 8192,
            },
        ),
        (
            "mprotect(0x1000, 1p, PROT_EXEC)",
            Op::Mprotect {
                addr: 0x1000,
                len: P,
                prot: ProtFlags::EXEC.bits(),
            },
        ),
        (
            "mlock(0x1001, 1)",
            Op::Mlock {
                addr: 0x1001,
                len: 1,
            },
        ),
        (
            "mlock2(0x1000, 1p, MLOCK_ONFAULT)",
            Op::Mlock2 {
                addr: 0x1000,
                len: P,
                flags: 1,
            },
        ),
        (
            "mlock2(0x1000, 1p, 0)",
            Op::Mlock2 {
                addr: 0x1000,
                len: P,
                flags: 0,
            },
        ),
        (
            "munlock(0x1000, 1p)",
            Op::Munlock {
                addr: 0x1000,
                len: P,
            },
        ),
        (
            "mlockall(MCL_CURRENT)",
            Op::Mlockall {
                flags: MlockAllFlags::CURRENT.bits(),
            },
        ),
        ("munlockall()", Op::Munlockall),
        ("brk(NULL)", Op::Brk { addr: 0 }),
        (
            "brk(0x555555559000)",
            Op::Brk {
                addr: 0x5555_5555_9000,
            },
        ),
        (
            "memfd_create(\"x\", MFD_CLOEXEC|MFD_ALLOW_SEALING)",
            Op::MemfdCreate {
                name: "x".into(),
                flags: (MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).bits(),
            },
        ),
        (
            // Names are bytes: not UTF-8, escapes and all.
            "memfd_create(\"a\\nb\\xff\\377\\0c\", 0)",
            Op::MemfdCreate {
                name: b"a\nb\xff\xff\0c".to_vec(),
                flags: 0,
            },
        ),
        (
            "ftruncate(3, 12288)",
            Op::Ftruncate {
                fd: 3,
                length: 12288,
            },
        ),
        (
            "ftruncate(-1, -1)",
            Op::Ftruncate {
                fd: u64::MAX,
                length: u64::MAX,
            },
        ),
        (
            "pwrite64(3, \"hello\", 5, 4096)",
            Op::Pwrite64 {
                fd: 3,
                data: b"hello".to_vec(),
                offset: 4096,
            },
        ),
        ("close(3)", Op::Close { fd: 3 }),
        ("close(-1)", Op::Close { fd: u64::MAX }),
        ("setuid(0)", Op::Setuid { uid: 0 }),
    ];
    for (text, want) in cases {
        assert_eq!(op(text), want, "{text}");
    }
}

#[test]
fn pwrite64_count_and_truncated_strings() {
    assert!(
        error("pwrite64(3, \"hello\", 4, 0)").contains("count is 4 but the string holds 5 bytes")
    );
    // strace cut the string short: the count stands, and the unknown tail is zeros.
    let s = one("pwrite64(3, \"AAAA\"..., 10, 0)");
    let Call::Syscall { args, .. } = &s.call else {
        panic!()
    };
    assert_eq!(
        args[1],
        Arg::Str(StrLit {
            bytes: b"AAAA".to_vec(),
            truncated: true
        })
    );
    assert_eq!(
        s.resolve(&Env::new()).unwrap(),
        Action::Op(Op::Pwrite64 {
            fd: 3,
            data: b"AAAA\0\0\0\0\0\0".to_vec(),
            offset: 0
        })
    );
    assert!(error("pwrite64(3, \"AAAA\"..., 2, 0)").contains("count is 2"));
    assert!(error("store(0, \"AAAA\"...)").contains("truncated"));
    // A truncated memfd name is used as far as it goes.
    assert_eq!(
        op("memfd_create(\"with \\\"qu\"..., 0)"),
        Op::MemfdCreate {
            name: "with \"qu".into(),
            flags: 0
        }
    );
}

#[test]
fn strace_output_lines_are_script_lines() {
    let s = script(
        "4835  10:00:51.985157 munmap(0x7f41ad9fa000, 8192) = 0 <0.000050>\n\
         [pid  4897] mmap(NULL, 8392704, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0) = 0x7f73351c5000\n\
         1795687251.783570 brk(NULL) = 0x562a12329000\n\
         +++ exited with 0 +++\n",
    );
    assert_eq!(s.stmts.len(), 3);
    assert_eq!(s.stmts[0].pid, Some(4835));
    assert_eq!(s.stmts[1].pid, Some(4897));
    assert_eq!(s.stmts[2].pid, None);
    assert_eq!(
        s.stmts[1].expect,
        Some(Expect::Value(Expr::hex(0x7f73_351c_5000)))
    );
    // Unsupported calls are errors in a script.
    assert!(
        error("openat(AT_FDCWD, \"/x\", O_RDONLY) = 3")
            .contains("`openat` is not a supported call")
    );
}

#[test]
fn expectations_must_fit_the_call() {
    assert!(error("munmap(0, 1) = \"x\"").contains("a string result is for `load` and `vmas`"));
    assert!(error("munmap(0, 1) = SIGSEGV").contains("a signal is the result of a memory access"));
    assert!(error("load(0, 1) = 5").contains("expected a quoted string, SIGSEGV or SIGBUS"));
    assert!(error("store(0, \"x\") = -1 EFAULT").contains("does not fail with an errno"));
    assert!(error("$a = load(0, 1)").contains("only a system call's result can be bound"));
    assert!(error("load(0, 1) != 3").contains("`!=` is for system call results"));
}

#[test]
fn line_endings_empty_files_and_byte_order_marks() {
    let s = script("munmap(0, 1)\r\nmunmap(0, 2) = 0\r\n");
    assert_eq!(s.stmts.len(), 2);
    assert_eq!(s.stmts[1].source, "munmap(0, 2) = 0");
    assert!(script("").stmts.is_empty());
    assert!(script("\n\n# nothing\n").stmts.is_empty());
    assert_eq!(script("\u{feff}munmap(0, 1)").stmts.len(), 1);
    assert_eq!(script("munmap(0, 1)").stmts.len(), 1);
}
