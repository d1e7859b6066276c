//! strace logs as they come: prefixes, decorations, raw and verbose forms, split calls,
//! noise lines, skipped calls, and the real logs in tests/data.

use std::collections::BTreeMap;

use vmspace::{Errno, MapFlags, MremapFlags, Op, ProtFlags};
use vmspace_script::{Action, Arg, Call, Env, Expect, Expr, StrLit, parse_strace_log};

use crate::util::{fixture, fixtures, strace_line};

const RW: u64 = ProtFlags::READ.bits() | ProtFlags::WRITE.bits();

#[test]
fn every_supported_call_in_every_prefix_form() {
    let mmap = Op::Mmap {
        addr: 0,
        len: 16384,
        prot: RW,
        flags: MapFlags::PRIVATE.bits() | MapFlags::ANONYMOUS.bits(),
        fd: u64::MAX,
        offset: 0,
    };
    let forms = [
        (
            "mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            None,
        ),
        (
            "4567  mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(4567),
        ),
        (
            "[pid  4897] mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(4897),
        ),
        (
            "4781  10:00:51 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(4781),
        ),
        (
            "4835  10:00:52.033819 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000 <0.000011>",
            Some(4835),
        ),
        (
            "4772  1795687251.783570 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(4772),
        ),
        (
            "1795687369.491113317 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            None,
        ),
        (
            "     0.000011 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            None,
        ),
        (
            "4790       0.000011 mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(4790),
        ),
        (
            "[pid  6350] 10:02:49.445545 [   9] [00007f5914cdca07] mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000 <0.000064>",
            Some(6350),
        ),
        ("mmap(NULL, 16384, 0x3, 0x22, -1, 0) = 0x7f492ae15000", None),
        (
            "[pid 24494<p>] mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(24494),
        ),
        (
            "24498<p> mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f492ae15000",
            Some(24498),
        ),
        (
            "4835  10:00:52.033819 mmap(NULL, 16384, 0x3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0) = 0x7f492ae15000 <0.000011>",
            Some(4835),
        ),
    ];
    for (line, pid) in forms {
        let (op, expect, got_pid) = strace_line(line);
        assert_eq!(op, mmap, "{line}");
        assert_eq!(
            expect,
            Some(Expect::Value(Expr::hex(0x7f49_2ae1_5000))),
            "{line}"
        );
        assert_eq!(got_pid, pid, "{line}");
    }
}

#[test]
fn one_real_line_of_each_supported_call() {
    let v = |x: u64| Some(Expect::Value(Expr::hex(x)));
    let d = |x: u64| Some(Expect::Value(Expr::dec(x)));
    let enomem = Some(Expect::Errno(Errno::ENOMEM));
    let einval = Some(Expect::Errno(Errno::EINVAL));
    let a = 0x7f41_ac80_2000;
    let cases: Vec<(&str, Op, Option<Expect>)> = vec![
        (
            "4835  10:00:52.039544 mmap(0x7f0000000000, 8192, 0x3 /* PROT_READ|PROT_WRITE */, 0x100001 /* MAP_SHARED|MAP_FIXED_NOREPLACE */, 3</memfd:x>(deleted), 0x1000) = 0x7f0000000000 <0.000020>",
            Op::Mmap {
                addr: 0x7f00_0000_0000,
                len: 8192,
                prot: RW,
                flags: MapFlags::SHARED.bits() | MapFlags::FIXED_NOREPLACE.bits(),
                fd: 3,
                offset: 0x1000,
            },
            v(0x7f00_0000_0000),
        ),
        (
            "4567  mmap(NULL, 4096, PROT_READ, MAP_SHARED|MAP_ANONYMOUS|MAP_POPULATE|MAP_LOCKED|0x800000, -1, 0) = 0x7f492ae13000",
            Op::Mmap {
                addr: 0,
                len: 4096,
                prot: 1,
                flags: 0x1 | 0x20 | 0x8000 | 0x2000 | 0x80_0000,
                fd: u64::MAX,
                offset: 0,
            },
            v(0x7f49_2ae1_3000),
        ),
        (
            "4835  10:00:52.039660 mmap(NULL, 18446744073709551615, 0x1 /* PROT_READ */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0) = -1 ENOMEM (Cannot allocate memory) <0.000003>",
            Op::Mmap {
                addr: 0,
                len: u64::MAX,
                prot: 1,
                flags: 0x22,
                fd: u64::MAX,
                offset: 0,
            },
            enomem.clone(),
        ),
        (
            "4835  10:00:52.039672 munmap(0x7f0000000000, 8192) = 0 <0.000009>",
            Op::Munmap {
                addr: 0x7f00_0000_0000,
                len: 8192,
            },
            d(0),
        ),
        (
            "4567  mremap(0x7f492ae15000, 16384, 32768, MREMAP_MAYMOVE) = 0x7f492ac23000",
            Op::Mremap {
                old_addr: 0x7f49_2ae1_5000,
                old_len: 16384,
                new_len: 32768,
                flags: 1,
                new_addr: 0,
            },
            v(0x7f49_2ac2_3000),
        ),
        (
            "4835  10:00:52.033935 mremap(0x7f41ac802000, 4096, 4096, 0x3 /* MREMAP_MAYMOVE|MREMAP_FIXED */, 0x7f41ad9f6000) = 0x7f41ad9f6000 <0.000010>",
            Op::Mremap {
                old_addr: a,
                old_len: 4096,
                new_len: 4096,
                flags: 3,
                new_addr: 0x7f41_ad9f_6000,
            },
            v(0x7f41_ad9f_6000),
        ),
        (
            // strace 6.1 prints no new_address for DONTUNMAP: read as NULL.
            "4567  mremap(0x7f492ac24000, 4096, 4096, MREMAP_MAYMOVE|MREMAP_DONTUNMAP) = 0x7f492ae14000",
            Op::Mremap {
                old_addr: 0x7f49_2ac2_4000,
                old_len: 4096,
                new_len: 4096,
                flags: (MremapFlags::MAYMOVE | MremapFlags::DONTUNMAP).bits(),
                new_addr: 0,
            },
            v(0x7f49_2ae1_4000),
        ),
        (
            "4567  mremap(0x7f492ac23000, 4096, 8192, 0x30 /* MREMAP_??? */) = -1 EINVAL (Invalid argument)",
            Op::Mremap {
                old_addr: 0x7f49_2ac2_3000,
                old_len: 4096,
                new_len: 8192,
                flags: 0x30,
                new_addr: 0,
            },
            einval.clone(),
        ),
        (
            "mprotect(0x7fad49ae2000, 4096, 0x11) = -1 EINVAL (Invalid argument)",
            Op::Mprotect {
                addr: 0x7fad_49ae_2000,
                len: 4096,
                prot: 0x11,
            },
            einval.clone(),
        ),
        (
            "4567  mlock(0x7f492ac23000, 4096)       = -1 ENOMEM (Cannot allocate memory)",
            Op::Mlock {
                addr: 0x7f49_2ac2_3000,
                len: 4096,
            },
            enomem.clone(),
        ),
        (
            "4835  10:00:52.034034 mlock2(0x7f41ac802000, 4096, 0x1 /* MLOCK_ONFAULT */) = -1 ENOMEM (Cannot allocate memory) <0.000007>",
            Op::Mlock2 {
                addr: a,
                len: 4096,
                flags: 1,
            },
            enomem.clone(),
        ),
        (
            "4567  munlock(0x7f492ac23000, 4096)     = -1 ENOMEM (Cannot allocate memory)",
            Op::Munlock {
                addr: 0x7f49_2ac2_3000,
                len: 4096,
            },
            enomem.clone(),
        ),
        (
            "4567  mlockall(MCL_CURRENT|MCL_ONFAULT|0x40) = -1 EINVAL (Invalid argument)",
            Op::Mlockall { flags: 0x45 },
            einval.clone(),
        ),
        (
            "4835  10:00:52.038556 munlockall()      = 0 <0.000582>",
            Op::Munlockall,
            d(0),
        ),
        (
            "madvise(0x7fad49ae2000, 4096, 0x66)     = -1 ENOMEM (Cannot allocate memory)",
            Op::Madvise {
                addr: 0x7fad_49ae_2000,
                len: 4096,
                advice: 0x66,
            },
            enomem.clone(),
        ),
        (
            "4567  madvise(0x7f492ac23000, 4096, MADV_DONTNEED) = -1 ENOMEM (Cannot allocate memory)",
            Op::Madvise {
                addr: 0x7f49_2ac2_3000,
                len: 4096,
                advice: 4,
            },
            enomem.clone(),
        ),
        (
            "4835  10:00:51.988937 brk(0x562a12329000) = 0x562a12329000 <0.000048>",
            Op::Brk {
                addr: 0x562a_1232_9000,
            },
            v(0x562a_1232_9000),
        ),
        (
            "4567  brk(NULL)                         = 0x563a0e677000",
            Op::Brk { addr: 0 },
            v(0x563a_0e67_7000),
        ),
        (
            "4835  10:00:52.039200 memfd_create(\"x\", 0x1 /* MFD_CLOEXEC */) = 3</memfd:x>(deleted) <0.000017>",
            Op::MemfdCreate {
                name: "x".into(),
                flags: 1,
            },
            d(3),
        ),
        (
            "memfd_create(\"with \\\"quote\\\"\\n\", 0)     = 4</memfd:with \\\"quote\\\"\\n>(deleted)",
            Op::MemfdCreate {
                name: "with \"quote\"\n".into(),
                flags: 0,
            },
            d(4),
        ),
        (
            "ftruncate(3</memfd:x>(deleted), 12288)  = 0",
            Op::Ftruncate {
                fd: 3,
                length: 12288,
            },
            d(0),
        ),
        (
            "ftruncate(3</memfd:x (deleted)>, 12288)  = 0",
            Op::Ftruncate {
                fd: 3,
                length: 12288,
            },
            d(0),
        ),
        (
            "4567  pwrite64(3, \"hello\\n\\t\\\\\\0\\1\\377\\0\", 12, 4096) = 12",
            Op::Pwrite64 {
                fd: 3,
                data: b"hello\n\t\\\0\x01\xff\0".to_vec(),
                offset: 4096,
            },
            d(12),
        ),
        (
            "4835  10:00:52.039718 close(4</memfd:with \\\"quote\\\"\\n>(deleted)) = 0 <0.000004>",
            Op::Close { fd: 4 },
            d(0),
        ),
        (
            "4567  setrlimit(RLIMIT_AS, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0",
            Op::Setrlimit {
                resource: vmspace::Resource::AS.0,
                cur: 8192 * 1024,
                max: u64::MAX,
            },
            d(0),
        ),
        (
            "4835  10:00:52.039733 prlimit64(0, 0x8 /* RLIMIT_MEMLOCK */, {rlim_cur=8388608 /* 8192*1024 */, rlim_max=18446744073709551615 /* RLIM64_INFINITY */}, NULL) = -1 EPERM (Operation not permitted) <0.000006>",
            Op::Setrlimit {
                resource: vmspace::Resource::MEMLOCK.0,
                cur: 8192 * 1024,
                max: u64::MAX,
            },
            Some(Expect::Errno(Errno::EPERM)),
        ),
        (
            "4835  10:00:52.039802 setuid(0)         = 0 <0.000008>",
            Op::Setuid { uid: 0 },
            d(0),
        ),
    ];
    for (line, want, expect) in cases {
        let (op, got_expect, _) = strace_line(line);
        assert_eq!(op, want, "{line}");
        assert_eq!(got_expect, expect, "{line}");
    }
}

#[test]
fn result_forms() {
    let e = |line: &str| strace_line(line).1;
    assert_eq!(e("munmap(0x1000, 4096) = ?"), Some(Expect::Unknown));
    assert_eq!(
        e(
            "munmap(0x7f2366660000, 33699)           = ? ERESTARTSYS (To be restarted if SA_RESTART is set) (INJECTED)"
        ),
        Some(Expect::Unknown)
    );
    assert_eq!(
        e("munmap(0x7f978ec9f000, 33699)           = -1 (errno 4000) (INJECTED)"),
        Some(Expect::Errno(Errno::from_raw(4000).unwrap()))
    );
    assert_eq!(
        e("munmap(0x7fd516035000, 33699)           = 5 (INJECTED)"),
        Some(Expect::Value(Expr::dec(5)))
    );
    assert_eq!(
        e("memfd_create(\"x\", MFD_CLOEXEC)          = 3</memfd:x>(deleted)"),
        Some(Expect::Value(Expr::dec(3)))
    );
}

#[test]
fn truncated_strings_are_marked() {
    let log = parse_strace_log(
        "s8.strace",
        "pwrite64(3, \"AAAAAAAA\"..., 100, 0)      = 100\nmemfd_create(\"with \\\"qu\"..., 0)         = 4\n",
    )
    .unwrap();
    let Call::Syscall { args, .. } = &log.script.stmts[0].call else {
        panic!()
    };
    assert_eq!(
        args[1],
        Arg::Str(StrLit {
            bytes: b"AAAAAAAA".to_vec(),
            truncated: true
        })
    );
    let Ok(Action::Op(Op::Pwrite64 { data, .. })) = log.script.stmts[0].resolve(&Env::new()) else {
        panic!()
    };
    assert_eq!(data.len(), 100);
    assert_eq!(&data[..8], b"AAAAAAAA");
    let Call::Syscall { args, .. } = &log.script.stmts[1].call else {
        panic!()
    };
    assert_eq!(
        args[0],
        Arg::Str(StrLit {
            bytes: b"with \"qu".to_vec(),
            truncated: true
        })
    );
}

#[test]
fn unfinished_and_resumed_are_joined_per_pid() {
    let text = "\
[pid  4897] mmap(NULL, 8392704, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0 <unfinished ...>
[pid  4898] munmap(0x7f73363b4000, 4096 <unfinished ...>
[pid  4897] <... mmap resumed>)         = 0x7f73351c5000
[pid  4898] <... munmap resumed>)       = 0
4637  10:00:51.989554 mprotect(0x7f41ac80b000, 8388608, 0x3 /* PROT_READ|PROT_WRITE */ <unfinished ...>
4638  10:00:51.989600 rt_sigprocmask(SIG_SETMASK, [],  <unfinished ...>
4637  10:00:51.989700 <... mprotect resumed>) = 0 <0.000100>
4638  10:00:51.989800 <... rt_sigprocmask resumed>NULL, 8) = 0
4639  mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>
4639  <... mmap resumed> <unfinished ...>) = ?
4640  munlockall( <unfinished ...>
4640  <... munlockall resumed>) = 0
";
    let log = parse_strace_log("pairs.strace", text).unwrap();
    let s = &log.script.stmts;
    assert_eq!(s.len(), 5, "{}", log.script);
    // In the order the calls completed, with the line where each started.
    assert_eq!(
        s.iter().map(|s| s.line).collect::<Vec<_>>(),
        [1, 2, 5, 9, 11]
    );
    assert_eq!(
        s.iter().map(|s| s.pid).collect::<Vec<_>>(),
        [Some(4897), Some(4898), Some(4637), Some(4639), Some(4640)]
    );
    assert_eq!(
        s[0].source,
        "[pid  4897] mmap(NULL, 8392704, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0)         = 0x7f73351c5000"
    );
    assert_eq!(
        s[0].expect,
        Some(Expect::Value(Expr::hex(0x7f73_351c_5000)))
    );
    assert_eq!(
        s[1].resolve(&Env::new()).unwrap(),
        Action::Op(Op::Munmap {
            addr: 0x7f73_363b_4000,
            len: 4096
        })
    );
    assert_eq!(
        s[2].resolve(&Env::new()).unwrap(),
        Action::Op(Op::Mprotect {
            addr: 0x7f41_ac80_b000,
            len: 8_388_608,
            prot: RW
        })
    );
    assert_eq!(s[3].expect, Some(Expect::Unknown));
    assert_eq!(
        s[4].resolve(&Env::new()).unwrap(),
        Action::Op(Op::Munlockall)
    );
    // The unsupported pair is reported once, at its first half.
    assert_eq!(log.skipped.len(), 1);
    assert_eq!(
        (log.skipped[0].line, log.skipped[0].call_name.as_str()),
        (6, "rt_sigprocmask")
    );
}

#[test]
fn orphan_halves_are_reported_in_logs() {
    let text = "\
7 <... mmap resumed>) = 0x1000
8 munmap(0x1000, 4096 <unfinished ...>
9 mprotect(0x1000, 4096, PROT_READ <unfinished ...>
9 <... munmap resumed>) = 0
";
    let log = parse_strace_log("orphans.strace", text).unwrap();
    assert!(log.script.stmts.is_empty());
    let got: Vec<(usize, &str, &str)> = log
        .skipped
        .iter()
        .map(|s| (s.line, s.call_name.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "mmap", "resumed without its start"),
            (2, "munmap", "unfinished and never resumed"),
            (3, "mprotect", "unfinished and never resumed"),
            (4, "munmap", "resumed without its start"),
        ]
    );
}

#[test]
fn noise_lines_are_passed_over() {
    let text = "\
4754  --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0xffffffffffffffff} ---
4754  +++ killed by SIGSEGV +++
+++ exited with 0 +++
--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=1, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
strace: Process 6350 attached
16074 [  60] [????????????????] +++ exited with 0 +++
 | 00000  68 65 6c 6c 6f                                    hello            |
 > /usr/lib/x86_64-linux-gnu/libc.so.6(__mmap+0x27) [0x11ba27]

munmap(0x1000, 4096) = 0
";
    let log = parse_strace_log("noise.strace", text).unwrap();
    assert_eq!(log.script.stmts.len(), 1);
    assert!(log.skipped.is_empty());
}

#[test]
fn strace_messages_inside_a_line_are_cut_out() {
    // Tracing to stderr, strace writes its own message into the middle of a line and
    // continues the line on the next one.
    let text = "\
[pid 16080] mmap(NULL, 8192, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0strace: Process 16081 attached
 <unfinished ...>
[pid 16079] rt_sigprocmask(SIG_SETMASK, [], NULL, 8) = 0
[pid 16080] <... mmap resumed>)         = 0x7f50b4e1c000
clone3({flags=CLONE_VM, child_tid=0x7f50b4e1e990}strace: Process 16080 attached
 => {parent_tid=[16080]}, 88) = 16080
";
    let log = parse_strace_log("stderr.strace", text).unwrap();
    assert_eq!(log.script.stmts.len(), 1);
    let s = &log.script.stmts[0];
    assert_eq!(s.line, 1);
    assert_eq!(
        s.resolve(&Env::new()).unwrap(),
        Action::Op(Op::Mmap {
            addr: 0,
            len: 8192,
            prot: 1,
            flags: 0x22,
            fd: u64::MAX,
            offset: 0
        })
    );
    let names: Vec<&str> = log.skipped.iter().map(|s| s.call_name.as_str()).collect();
    assert_eq!(names, ["rt_sigprocmask", "clone3"]);
}

#[test]
fn unrunnable_forms_of_supported_calls_are_skipped_with_a_reason() {
    let text = "\
prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0
prlimit64(1234, RLIMIT_AS, {rlim_cur=1, rlim_max=2}, NULL) = 0
pwrite64(3, 0x7ffc00000000, 12, 0) = -1 EFAULT (Bad address)
setrlimit(RLIMIT_AS, 0x10) = -1 EFAULT (Bad address)
openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3
";
    let log = parse_strace_log("skips.strace", text).unwrap();
    assert!(log.script.stmts.is_empty());
    let got: Vec<(usize, &str)> = log
        .skipped
        .iter()
        .map(|s| (s.line, s.call_name.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "prlimit64"),
            (2, "prlimit64"),
            (3, "pwrite64"),
            (4, "setrlimit"),
            (5, "openat")
        ]
    );
    assert!(log.skipped[0].reason.contains("NULL new limit"));
    assert!(log.skipped[1].reason.contains("another process"));
    assert!(log.skipped[2].reason.contains("shown as an address"));
    assert_eq!(log.skipped[4].reason, "not a supported call");
}

#[test]
fn supported_calls_that_do_not_parse_are_still_errors_in_logs() {
    let e = parse_strace_log("x.strace", "munmap(0x1000, 4096, PROT_BOGUS) = 0\n").unwrap_err();
    assert_eq!(e.line, 1);
}

/// The shape of an operation with addresses and data taken out (addresses differ from
/// run to run; data is cut by `-s`).
fn shape(op: &Op) -> String {
    match op {
        Op::Mmap {
            len,
            prot,
            flags,
            fd,
            offset,
            ..
        } => format!("mmap {len} {prot:#x} {flags:#x} {fd} {offset:#x}"),
        Op::Munmap { len, .. } => format!("munmap {len}"),
        Op::Mremap {
            old_len,
            new_len,
            flags,
            ..
        } => format!("mremap {old_len} {new_len} {flags:#x}"),
        Op::Mprotect { len, prot, .. } => format!("mprotect {len} {prot:#x}"),
        Op::Mlock { len, .. } => format!("mlock {len}"),
        Op::Mlock2 { len, flags, .. } => format!("mlock2 {len} {flags:#x}"),
        Op::Munlock { len, .. } => format!("munlock {len}"),
        Op::Madvise { len, advice, .. } => format!("madvise {len} {advice:#x}"),
        Op::Brk { .. } => "brk".to_string(),
        Op::MemfdCreate { flags, .. } => format!("memfd_create {flags:#x}"),
        Op::Pwrite64 { fd, data, offset } => format!("pwrite64 {fd} {} {offset}", data.len()),
        other => format!("{other:?}"),
    }
}

fn main_thread_shapes(name: &str) -> Vec<String> {
    let log = parse_strace_log(name, &fixture(name)).unwrap_or_else(|e| panic!("{e}"));
    // The main thread makes the first calls. Traced to stderr, its lines carry a pid
    // only while other threads run.
    let main_pid = log.script.stmts.iter().find_map(|s| s.pid);
    log.script
        .stmts
        .iter()
        .filter(|s| s.pid == main_pid || s.pid.is_none())
        .map(|s| match s.resolve(&Env::new()) {
            Ok(Action::Op(op)) => shape(&op),
            other => panic!("{name}: {other:?}"),
        })
        .collect()
}

#[test]
fn real_logs_parse_and_agree_across_option_sets() {
    let names = fixtures();
    assert!(names.len() >= 12, "{names:?}");
    let mut by_shape: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for name in &names {
        if name.starts_with("f") {
            by_shape
                .entry(main_thread_shapes(name))
                .or_default()
                .push(name.clone());
        }
    }
    // Every -f variant (-o, stderr, -t, -tt -T, -ttt, -r, -n -i, -y -X verbose -tt -T)
    // reads to the same calls of the main thread, with the same values.
    assert_eq!(by_shape.len(), 1, "{by_shape:#?}");
    // The single-process variants agree with each other too (abbrev, raw, verbose, -y, -C,
    // and -s 8 apart from the data strace cut off).
    let single = ["y.log", "Xraw.log", "Xverbose.log", "s8.log", "C.log"];
    let first = main_thread_shapes(single[0]);
    assert!(first.len() > 50);
    for name in single {
        assert_eq!(main_thread_shapes(name), first, "{name}");
    }
}

/// The first `name(` on a line, found without the parser: an independent count of the
/// calls a log starts.
fn first_call_name(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if boundary && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if b.get(i) == Some(&b'(') {
                return Some(&line[start..i]);
            }
        } else {
            i += 1;
        }
    }
    None
}

#[test]
fn real_logs_keep_every_supported_call() {
    let supported: Vec<&str> = vmspace_script::supported_syscalls().collect();
    for name in fixtures() {
        let text = fixture(&name);
        let log = parse_strace_log(&name, &text).unwrap();
        let starts = text
            .lines()
            .filter(|l| first_call_name(l).is_some_and(|n| supported.contains(&n)))
            .count();
        let skipped_supported = log
            .skipped
            .iter()
            .filter(|s| supported.contains(&s.call_name.as_str()))
            .count();
        // Every supported call the log starts is a statement or a reported skip.
        assert_eq!(log.script.stmts.len() + skipped_supported, starts, "{name}");
        // The only supported call skipped in these logs is the prlimit64 query.
        for skip in log
            .skipped
            .iter()
            .filter(|s| supported.contains(&s.call_name.as_str()))
        {
            assert_eq!(skip.call_name, "prlimit64", "{name}: {skip:?}");
        }
        for s in &log.script.stmts {
            assert!(s.expect.is_some(), "{name}:{}: {}", s.line, s.source);
        }
        for call in &supported {
            assert!(
                log.script.stmts.iter().any(|s| s.call.name() == *call),
                "{name}: no {call}"
            );
        }
    }
}

#[test]
fn a_log_read_line_by_line_is_the_log_read_whole() {
    use vmspace_script::{LogEvent, LogReader};
    for name in fixtures() {
        let text = fixture(&name);
        let whole = parse_strace_log(&name, &text).unwrap();
        let mut r = LogReader::new(&name);
        let (mut stmts, mut skipped, mut execs) = (Vec::new(), Vec::new(), 0);
        let mut drain = |r: &mut LogReader| {
            while let Some(e) = r.next_event() {
                match e {
                    LogEvent::Stmt(s) => stmts.push(s),
                    LogEvent::Skipped(s) => skipped.push(s),
                    LogEvent::Exec { .. } => execs += 1,
                    LogEvent::Exit { .. } => {}
                }
            }
        };
        for line in text.split('\n') {
            r.push_line(line.strip_suffix('\r').unwrap_or(line))
                .unwrap();
            drain(&mut r);
        }
        r.finish().unwrap();
        drain(&mut r);
        skipped.sort_by_key(|s| s.line);
        assert_eq!(stmts, whole.script.stmts, "{name}");
        assert_eq!(skipped, whole.skipped, "{name}");
        // Every fixture starts with the traced program's execve, which succeeded.
        assert!(execs >= 1, "{name}");
    }
}
