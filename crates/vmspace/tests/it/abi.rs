//! The engine never panics, whatever the arguments: every call over the whole ABI range
//! of every argument (addresses near 0, 2^47 and 2^64, lengths that wrap, every flag
//! bit) returns an errno or a result, and the invariants hold after every step.

use proptest::prelude::*;
use vmspace::{Config, Mm, Op, Outcome};

/// Register values that hit the edges most of the time, anything otherwise.
fn reg() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(4095),
        Just(4096),
        Just(4097),
        Just(1 << 21),
        Just((1 << 47) - 4096),
        Just(1 << 47),
        Just((1 << 47) + 4096),
        Just(0x7fff_f7ff_f000),
        Just(0x7fff_ffff_f000),
        Just(u64::MAX),
        Just(u64::MAX - 4095),
        Just(u64::MAX - 4096),
        Just(i64::MAX as u64),
        Just(1 << 63),
        Just(0xffff_8000_0000_0000),
        (0u64..1 << 20).prop_map(|p| 0x1000_0000_0000 + p * 4096),
        (0u64..64).prop_map(|p| p * 4096),
        any::<u64>(),
    ]
}

fn flags() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..0x40,
        any::<u32>().prop_map(u64::from),
        any::<u64>(),
        (0u32..64).prop_map(|b| 1u64 << b)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            reg(),
            reg(),
            flags(),
            flags(),
            prop_oneof![Just(u64::MAX), 0u64..8, any::<u64>()],
            reg()
        )
            .prop_map(|(addr, len, prot, flags, fd, offset)| Op::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset
            }),
        (reg(), reg()).prop_map(|(addr, len)| Op::Munmap { addr, len }),
        (reg(), reg(), reg(), flags(), reg()).prop_map(
            |(old_addr, old_len, new_len, flags, new_addr)| Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr
            }
        ),
        (reg(), reg(), flags()).prop_map(|(addr, len, prot)| Op::Mprotect { addr, len, prot }),
        (reg(), reg()).prop_map(|(addr, len)| Op::Mlock { addr, len }),
        (reg(), reg(), flags()).prop_map(|(addr, len, flags)| Op::Mlock2 { addr, len, flags }),
        (reg(), reg()).prop_map(|(addr, len)| Op::Munlock { addr, len }),
        flags().prop_map(|flags| Op::Mlockall { flags }),
        Just(Op::Munlockall),
        (
            reg(),
            reg(),
            prop_oneof![0u64..30, 100u64..110, any::<u64>()]
        )
            .prop_map(|(addr, len, advice)| Op::Madvise { addr, len, advice }),
        reg().prop_map(|addr| Op::Brk { addr }),
        ("[a-z\\x00]{0,300}", flags()).prop_map(|(name, flags)| Op::MemfdCreate {
            name: name.into_bytes(),
            flags
        }),
        (0u64..8, reg()).prop_map(|(fd, length)| Op::Ftruncate { fd, length }),
        (
            0u64..8,
            proptest::collection::vec(any::<u8>(), 0..64),
            reg()
        )
            .prop_map(|(fd, data, offset)| Op::Pwrite64 { fd, data, offset }),
        (0u64..8).prop_map(|fd| Op::Close { fd }),
        (0u64..20, reg(), reg()).prop_map(|(resource, cur, max)| Op::Setrlimit {
            resource,
            cur,
            max
        }),
        reg().prop_map(|uid| Op::Setuid { uid }),
        (reg(), prop_oneof![0u64..8192, reg()]).prop_map(|(addr, len)| Op::Load { addr, len }),
        (reg(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(addr, data)| Op::Store { addr, data }),
        (reg(), prop_oneof![0u64..8192, reg()], any::<u8>())
            .prop_map(|(addr, len, byte)| Op::Fill { addr, len, byte }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn any_arguments_give_an_errno_or_a_result(ops in proptest::collection::vec(op(), 1..40)) {
        // A small frame budget keeps populating huge ranges cheap; it is reached, not
        // exceeded.
        let budget = 1 << 14;
        let mut mm = Mm::new(Config { frame_budget: budget, ..Config::default() });
        for o in &ops {
            let out = mm.apply(o);
            if let Err(e) = mm.check_invariants() {
                panic!("after {o:?} -> {out:?}: {e}");
            }
            prop_assert!(mm.frames_in_use() + mm.pagetable_tables() <= budget, "{} frames + {} tables", mm.frames_in_use(), mm.pagetable_tables());
            if let Outcome::Bytes(b) = &out {
                prop_assert!(b.len() as u64 <= 1 << 30);
            }
        }
    }
}
