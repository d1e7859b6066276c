//! The printer and the parser agree: operations, scripts, and real logs.

use proptest::prelude::*;
use vmspace::Op;
use vmspace_script::{Action, Call, Env, format_op, parse_script, parse_strace_log};

use crate::util::{fixture, fixtures, one, op};

#[test]
fn format_op_writes_strace_syntax() {
    let cases: Vec<(Op, &str)> = vec![
        (
            Op::Mremap {
                old_addr: 0x7fff_f7ff_0000,
                old_len: 4 * 4096,
                new_len: 8 * 4096,
                flags: 1,
                new_addr: 0,
            },
            "mremap(0x7ffff7ff0000, 4p, 8p, MREMAP_MAYMOVE)",
        ),
        (
            Op::Mremap {
                old_addr: 0x1000,
                old_len: 4096,
                new_len: 4096,
                flags: 4,
                new_addr: 0,
            },
            "mremap(0x1000, 1p, 1p, MREMAP_DONTUNMAP)",
        ),
        (
            // strace would drop a new_address that is not 0; the kernel takes it as a
            // hint for DONTUNMAP, so it is printed.
            Op::Mremap {
                old_addr: 0x1000,
                old_len: 4096,
                new_len: 4096,
                flags: 5,
                new_addr: 0x100_0000_0000,
            },
            "mremap(0x1000, 1p, 1p, MREMAP_MAYMOVE|MREMAP_DONTUNMAP, 0x10000000000)",
        ),
        (
            Op::Mremap {
                old_addr: 0x1000,
                old_len: 1,
                new_len: 4096,
                flags: 0x13,
                new_addr: 0x20_0000,
            },
            "mremap(0x1000, 1, 1p, MREMAP_MAYMOVE|MREMAP_FIXED|0x10, 0x200000)",
        ),
        (
            Op::Mmap {
                addr: 0,
                len: 8192,
                prot: 3,
                flags: 0x22,
                fd: u64::MAX,
                offset: 0,
            },
            "mmap(NULL, 2p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)",
        ),
        (
            Op::Mmap {
                addr: 0x7f00_0000_0000,
                len: 100,
                prot: 0,
                flags: 0x10_0003,
                fd: 3,
                offset: 4096,
            },
            "mmap(0x7f0000000000, 100, PROT_NONE, MAP_SHARED_VALIDATE|MAP_FIXED_NOREPLACE, 3, 1p)",
        ),
        (
            Op::Mmap {
                addr: 0,
                len: 0,
                prot: 0x10,
                flags: 0,
                fd: 0,
                offset: 0,
            },
            "mmap(NULL, 0, 0x10, 0, 0, 0)",
        ),
        (
            Op::Madvise {
                addr: 0x1000,
                len: 4096,
                advice: 4,
            },
            "madvise(0x1000, 1p, MADV_DONTNEED)",
        ),
        (
            Op::Madvise {
                addr: 0x1000,
                len: 4096,
                advice: 0x4d,
            },
            "madvise(0x1000, 1p, 0x4d)",
        ),
        (
            Op::Mlockall { flags: 0x45 },
            "mlockall(MCL_CURRENT|MCL_ONFAULT|0x40)",
        ),
        (Op::Munlockall, "munlockall()"),
        (Op::Brk { addr: 0 }, "brk(NULL)"),
        (
            Op::MemfdCreate {
                name: "a \"b\"\n".into(),
                flags: 1,
            },
            r#"memfd_create("a \"b\"\n", MFD_CLOEXEC)"#,
        ),
        (
            Op::Pwrite64 {
                fd: 3,
                data: b"hi\0\xff".to_vec(),
                offset: 4096,
            },
            r#"pwrite64(3, "hi\x00\xff", 4, 1p)"#,
        ),
        (
            Op::Ftruncate {
                fd: 3,
                length: u64::MAX,
            },
            "ftruncate(3, -1)",
        ),
        (Op::Close { fd: u64::MAX }, "close(-1)"),
        (
            Op::Setrlimit {
                resource: 8,
                cur: 8192 * 1024,
                max: u64::MAX,
            },
            "setrlimit(RLIMIT_MEMLOCK, {rlim_cur=2048p, rlim_max=RLIM64_INFINITY})",
        ),
        (
            Op::Setrlimit {
                resource: 99,
                cur: 1,
                max: 0,
            },
            "setrlimit(99, {rlim_cur=1, rlim_max=0})",
        ),
        (Op::Setuid { uid: 1000 }, "setuid(1000)"),
        (
            Op::Load {
                addr: 0x1000,
                len: 5,
            },
            "load(0x1000, 5)",
        ),
        (
            Op::Store {
                addr: 0x1001,
                data: b"hello".to_vec(),
            },
            r#"store(0x1001, "hello")"#,
        ),
        (
            Op::Fill {
                addr: 0x1000,
                len: 8192,
                byte: b'A',
            },
            "fill(0x1000, 2p, 'A')",
        ),
        (
            Op::Fill {
                addr: 0x1000,
                len: 1,
                byte: 0,
            },
            "fill(0x1000, 1, 0)",
        ),
        (
            Op::Fill {
                addr: 0x1000,
                len: 1,
                byte: b'\'',
            },
            r"fill(0x1000, 1, '\'')",
        ),
    ];
    for (o, text) in cases {
        assert_eq!(format_op(&o), text);
        assert_eq!(op(text), o, "{text}");
    }
}

fn any_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0u64..(1 << 35)).prop_map(|p| p * 4096),
        Just(0u64),
        Just(u64::MAX),
        Just(1u64 << 63),
        (0u64..64),
    ]
}

fn flag_bits() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..0x200,
        (0u32..64).prop_map(|b| 1u64 << b),
        Just(0u64)
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (
            any_u64(),
            any_u64(),
            flag_bits(),
            flag_bits(),
            any_u64(),
            any_u64()
        )
            .prop_map(|(addr, len, prot, flags, fd, offset)| Op::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset
            }),
        (any_u64(), any_u64()).prop_map(|(addr, len)| Op::Munmap { addr, len }),
        (any_u64(), any_u64(), any_u64(), flag_bits(), any_u64()).prop_map(
            |(old_addr, old_len, new_len, flags, new_addr)| Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr
            }
        ),
        (any_u64(), any_u64(), flag_bits()).prop_map(|(addr, len, prot)| Op::Mprotect {
            addr,
            len,
            prot
        }),
        (any_u64(), any_u64()).prop_map(|(addr, len)| Op::Mlock { addr, len }),
        (any_u64(), any_u64(), flag_bits()).prop_map(|(addr, len, flags)| Op::Mlock2 {
            addr,
            len,
            flags
        }),
        (any_u64(), any_u64()).prop_map(|(addr, len)| Op::Munlock { addr, len }),
        flag_bits().prop_map(|flags| Op::Mlockall { flags }),
        Just(Op::Munlockall),
        (
            any_u64(),
            any_u64(),
            prop_oneof![0u64..30, 100u64..104, any::<u64>()]
        )
            .prop_map(|(addr, len, advice)| Op::Madvise { addr, len, advice }),
        any_u64().prop_map(|addr| Op::Brk { addr }),
        (any::<Vec<u8>>(), flag_bits()).prop_map(|(name, flags)| Op::MemfdCreate { name, flags }),
        (any_u64(), any_u64()).prop_map(|(fd, length)| Op::Ftruncate { fd, length }),
        (any_u64(), bytes(), any_u64()).prop_map(|(fd, data, offset)| Op::Pwrite64 {
            fd,
            data,
            offset
        }),
        any_u64().prop_map(|fd| Op::Close { fd }),
        (prop_oneof![0u64..16, any::<u64>()], any_u64(), any_u64())
            .prop_map(|(resource, cur, max)| Op::Setrlimit { resource, cur, max }),
        any_u64().prop_map(|uid| Op::Setuid { uid }),
        (any_u64(), any_u64()).prop_map(|(addr, len)| Op::Load { addr, len }),
        (any_u64(), bytes()).prop_map(|(addr, data)| Op::Store { addr, data }),
        (any_u64(), any_u64(), any::<u8>()).prop_map(|(addr, len, byte)| Op::Fill {
            addr,
            len,
            byte
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::util::cases(2048)))]

    #[test]
    fn format_op_parses_back_to_the_same_op(o in any_op()) {
        let text = format_op(&o);
        let s = parse_script("op.vms", &text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(s.stmts.len(), 1);
        prop_assert_eq!(s.stmts[0].resolve(&Env::new()), Ok(Action::Op(o.clone())), "{}", text);
        // The tree form prints the same line.
        prop_assert_eq!(Call::from_op(&o).to_string(), text);
    }
}

#[test]
fn scripts_print_and_parse_back() {
    let text = r#"
# comments and spacing are not kept; everything else is
$a = mmap(NULL, 4p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANON, -1, 0) != -1
store($a + 1p, "hello\n\x00\xff")
[pid 12] $b = mremap($a, 4p, 8p, MREMAP_MAYMOVE|0x10 /* MREMAP_??? */) = $a - 0x10p + 010
load($b + 1p, 5) = "hello"
fill($b, 1p, '\t') = SIGBUS
fill($b, 1p, 0xff)
mremap($b, 8p, 16p, 0) = -1 ENOMEM (Cannot allocate memory)
munmap($b, 8p) = ?
vmas($a, $a + 6p) = "[0,2)rw-p [4,5)---p"
maps()
setrlimit(RLIMIT_MEMLOCK, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY})
prlimit64(0, RLIMIT_AS, {rlim_cur=(1 + 2)*3, rlim_max=-1}, NULL) = -1 (errno 4000)
mmap(NULL, 1p, PROT_READ, MAP_PRIVATE|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0)
pwrite64(3, "AAAA"..., 100, 0) = 100
"#;
    let s = parse_script("a.vms", text).unwrap();
    let printed = s.to_string();
    let back = parse_script("b.vms", &printed).unwrap();
    assert!(s.same_ast(&back), "{printed}");
    assert_eq!(back.to_string(), printed);
    assert_eq!(
        one("[pid 12] $b = mremap($a, 4p, 8p, MREMAP_MAYMOVE|0x10 /* MREMAP_??? */) = $a - 0x10p + 010").to_string(),
        "[pid 12] $b = mremap($a, 4p, 8p, MREMAP_MAYMOVE|0x10) = $a - 16p + 010"
    );
    assert_eq!(
        one("prlimit64(0, RLIMIT_AS, {rlim_cur=(1 + 2)*3, rlim_max=-1}, NULL) = -1 (errno 4000)")
            .to_string(),
        "prlimit64(0, RLIMIT_AS, {rlim_cur=(1 + 2)*3, rlim_max=-1}, NULL) = -1 (errno 4000)"
    );
}

#[test]
fn real_logs_print_as_scripts_that_parse_back() {
    for name in fixtures() {
        let log = parse_strace_log(&name, &fixture(&name)).unwrap();
        let printed = log.script.to_string();
        // A log printed is a valid script: strict parsing accepts it.
        let back = parse_script("printed.vms", &printed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(log.script.same_ast(&back), "{name}");
        let env = Env::new();
        for (a, b) in log.script.stmts.iter().zip(&back.stmts) {
            assert_eq!(a.resolve(&env), b.resolve(&env));
        }
    }
}
