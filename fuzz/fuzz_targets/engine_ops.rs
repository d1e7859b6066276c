//! The engine under random operation sequences: after every operation the address
//! space's invariants (`Mm::check_invariants`) must hold, and no operation may panic.
//!
//! Operations are an `Arbitrary` enum whose fields are small selectors, resolved against
//! the current state so that most calls are nearly valid: addresses come from a small
//! window, from what earlier calls returned, from the edges of existing VMAs and from
//! the break; lengths are a few pages; flags are the known bits in any combination, now
//! and then raw values with unknown bits set.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmspace::{Advice, Config, MapsLine, Mm, Op, Outcome, Seed, SeedVma};

const P: u64 = 4096;
/// A window of 512 pages far from the seeded layout.
const WINDOW: u64 = 0x1000_0000_0000;
const WINDOW_PAGES: u64 = 512;
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// A small process, in the shape of a real one: program, heap, an anonymous area,
/// a library, the vDSO, the stack and the vsyscall gate.
const LAYOUT: &[&str] = &[
    "555555554000-555555556000 r--p 00000000 fe:00 1000                       /usr/bin/prog",
    "555555556000-55555555a000 r-xp 00002000 fe:00 1000                       /usr/bin/prog",
    "55555555a000-55555555c000 rw-p 00006000 fe:00 1000                       /usr/bin/prog",
    "55555555c000-55555557d000 rw-p 00000000 00:00 0                          [heap]",
    "7ffff7d80000-7ffff7d84000 rw-p 00000000 00:00 0 ",
    "7ffff7d84000-7ffff7dac000 r--p 00000000 fe:00 2000                       /usr/lib/libc.so.6",
    "7ffff7dac000-7ffff7f00000 r-xp 00028000 fe:00 2000                       /usr/lib/libc.so.6",
    "7ffff7f00000-7ffff7f04000 rw-p 0017c000 fe:00 2000                       /usr/lib/libc.so.6",
    "7ffff7fc2000-7ffff7fc6000 r--p 00000000 00:00 0                          [vvar]",
    "7ffff7fc6000-7ffff7fc8000 r-xp 00000000 00:00 0                          [vdso]",
    "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]",
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
];

fn seed() -> Seed {
    Seed {
        vmas: LAYOUT
            .iter()
            .map(|l| SeedVma {
                line: MapsLine::parse(l).expect("layout line"),
                vm_flags: None,
                faulted: true,
            })
            .collect(),
        mmap_base: 0x7fff_f7ff_f000,
        start_brk: 0x5555_5555_c000,
        brk: 0x5555_5557_d000,
        start_stack: 0x7fff_ffff_e7d0,
        data_segment: 0xa88,
        open_fds: vec![0, 1, 2],
        locked_pages: 0,
    }
}

/// An address, resolved against the state.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Addr {
    kind: u8,
    a: u16,
    b: u16,
}

/// A length, resolved to a few pages most of the time.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Len {
    kind: u8,
    n: u16,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Prot(u8, u32);

#[derive(Arbitrary, Debug, Clone, Copy)]
struct MapFlags(u8, u16, u32);

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Bits(u8, u32);

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Fd(u8);

#[derive(Arbitrary, Debug)]
enum FuzzOp {
    Mmap {
        addr: Addr,
        len: Len,
        prot: Prot,
        flags: MapFlags,
        fd: Fd,
        offset: Len,
    },
    Munmap {
        addr: Addr,
        len: Len,
    },
    Mremap {
        old: Addr,
        old_len: Len,
        new_len: Len,
        flags: Bits,
        new: Addr,
    },
    Mprotect {
        addr: Addr,
        len: Len,
        prot: Prot,
    },
    Mlock {
        addr: Addr,
        len: Len,
    },
    Mlock2 {
        addr: Addr,
        len: Len,
        flags: Bits,
    },
    Munlock {
        addr: Addr,
        len: Len,
    },
    Mlockall {
        flags: Bits,
    },
    Munlockall,
    Madvise {
        addr: Addr,
        len: Len,
        advice: Bits,
    },
    Brk {
        addr: Addr,
    },
    MemfdCreate {
        flags: Bits,
    },
    Ftruncate {
        fd: Fd,
        len: Len,
    },
    Pwrite64 {
        fd: Fd,
        data: Vec<u8>,
        offset: Len,
    },
    Close {
        fd: Fd,
    },
    Setrlimit {
        resource: u8,
        cur: Len,
        max: Len,
    },
    Setuid {
        uid: u8,
    },
    Load {
        addr: Addr,
        len: Len,
    },
    Store {
        addr: Addr,
        data: Vec<u8>,
    },
    Fill {
        addr: Addr,
        len: Len,
        byte: u8,
    },
}

/// What earlier calls returned.
#[derive(Default)]
struct State {
    addrs: Vec<u64>,
    fds: Vec<u64>,
}

impl State {
    fn addr(&self, mm: &Mm, a: Addr) -> u64 {
        let sub = |b: u16| {
            if b.is_multiple_of(8) {
                u64::from(b) % P
            } else {
                0
            }
        };
        // Signed page delta in -8..=7.
        let delta = |b: u16| (i64::from(b % 16) - 8) * P as i64;
        match a.kind % 20 {
            0..=5 => WINDOW + (u64::from(a.a) % WINDOW_PAGES) * P + sub(a.b),
            6..=10 if !self.addrs.is_empty() => {
                let base = self.addrs[usize::from(a.a) % self.addrs.len()];
                base.wrapping_add_signed(delta(a.b))
            }
            11..=13 => {
                let n = mm.map_count().max(1) as usize;
                match mm.vmas().nth(usize::from(a.a) % n) {
                    Some(v) if a.b & 1 == 0 => v.start,
                    Some(v) => v.end,
                    None => WINDOW,
                }
                .wrapping_add_signed(delta(a.b >> 1))
            }
            14 => mm.brk_value().wrapping_add_signed(delta(a.b)) + sub(a.a),
            15 => 0,
            16 => mm.config().mmap_base - (u64::from(a.a) % 64) * P,
            17 => [
                TASK_SIZE - P,
                TASK_SIZE,
                1 << 47,
                0x8000_0000_0000,
                u64::MAX - P + 1,
                0xffff_8000_0000_0000,
                P,
                0x10000,
            ][usize::from(a.a) % 8],
            18 => (u64::from(a.a) << 32 | u64::from(a.b) << 16) & !(P - 1),
            _ => WINDOW + u64::from(a.a) * P + u64::from(a.b),
        }
    }

    fn fd(&self, f: Fd) -> u64 {
        match f.0 % 8 {
            0..=4 if !self.fds.is_empty() => self.fds[usize::from(f.0 / 8) % self.fds.len()],
            5 => u64::MAX,
            6 => u64::from(f.0 / 8) % 4,
            _ => u64::from(f.0),
        }
    }
}

/// Lengths that can succeed stay below 64 MiB, to keep each input fast: `mmap(1 TiB,
/// PROT_READ, MAP_POPULATE)` is valid and fills page tables with the zero page until the
/// frame budget, which counts page tables too, runs out (found by this target; bounded
/// since). The larger values below all fail early.
fn len(l: Len) -> u64 {
    match l.kind % 16 {
        0..=8 => (u64::from(l.n) % 16 + 1) * P,
        9 => u64::from(l.n) % (4 * P),
        10 => 0,
        11 => (u64::from(l.n) % 4 + 1) * (2 << 20),
        12 => (u64::from(l.n) % 64) * P,
        13 => [
            u64::MAX,
            u64::MAX - P + 1,
            1 << 47,
            TASK_SIZE,
            1 << 63,
            (1 << 63) - P,
            48 << 20,
            i64::MAX as u64,
        ][usize::from(l.n) % 8],
        _ => u64::from(l.n),
    }
}

fn prot(p: Prot) -> u64 {
    match p.0 % 16 {
        0..=11 => u64::from(p.0 % 8),
        12 => 0x0100_0000 | u64::from(p.0 % 8), // PROT_GROWSDOWN
        13 => 0x0200_0000 | u64::from(p.0 % 8), // PROT_GROWSUP
        14 => 8 | u64::from(p.0 % 8),           // PROT_SEM
        _ => u64::from(p.1),
    }
}

fn map_flags(f: MapFlags) -> u64 {
    // The modifier bits, all combinations possible.
    const MODS: [u64; 16] = [
        0x08, 0x10, 0x20, 0x40, 0x80, 0x100, 0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000,
        0x20000, 0x40000, 0x80000, 0x10_0000,
    ];
    let ty = match f.0 % 8 {
        0..=3 => 0x02, // MAP_PRIVATE
        4 | 5 => 0x01, // MAP_SHARED
        6 => 0x03,     // MAP_SHARED_VALIDATE
        _ => u64::from(f.0 >> 4),
    };
    let mut mods = 0;
    // Bias: usually MAP_ANONYMOUS, MAP_FIXED sometimes, other bits rarely.
    if f.0 & 0x10 == 0 {
        mods |= 0x20;
    }
    if f.0 & 0x60 == 0 {
        mods |= 0x10;
    }
    let rare = if f.0 & 0x80 != 0 {
        f.1
    } else {
        f.1 & f.1.rotate_left(5) & f.1.rotate_left(11)
    };
    for (i, bit) in MODS.iter().enumerate() {
        if rare & (1 << i) != 0 {
            mods ^= bit;
        }
    }
    if f.2.is_multiple_of(32) {
        mods |= u64::from(f.2) << 8;
    }
    ty | mods
}

fn mremap_flags(b: Bits) -> u64 {
    match b.0 % 16 {
        0..=13 => u64::from(b.0 % 8),
        14 => 8 | u64::from(b.0 % 8),
        _ => u64::from(b.1),
    }
}

fn advice(b: Bits) -> u64 {
    match b.0 % 8 {
        0..=5 => {
            Advice::NAMES[usize::from(b.0 / 8) % Advice::NAMES.len()]
                .0
                .0
        }
        6 => u64::from(b.0),
        _ => u64::from(b.1),
    }
}

fn small_bits(b: Bits, known: u64) -> u64 {
    if b.0 % 8 == 7 {
        u64::from(b.1)
    } else {
        u64::from(b.0) & known
    }
}

fn data(d: &[u8]) -> Vec<u8> {
    d[..d.len().min(3 * P as usize)].to_vec()
}

fn to_op(st: &State, mm: &Mm, f: &FuzzOp) -> Op {
    match *f {
        FuzzOp::Mmap {
            addr,
            len: l,
            prot: p,
            flags,
            fd,
            offset,
        } => {
            let flags = map_flags(flags);
            let fd = if flags & 0x20 != 0 && fd.0 % 4 != 0 {
                u64::MAX
            } else {
                st.fd(fd)
            };
            Op::Mmap {
                addr: st.addr(mm, addr),
                len: len(l),
                prot: prot(p),
                flags,
                fd,
                offset: if offset.kind % 4 == 0 { len(offset) } else { 0 },
            }
        }
        FuzzOp::Munmap { addr, len: l } => Op::Munmap {
            addr: st.addr(mm, addr),
            len: len(l),
        },
        FuzzOp::Mremap {
            old,
            old_len,
            new_len,
            flags,
            new,
        } => Op::Mremap {
            old_addr: st.addr(mm, old),
            old_len: len(old_len),
            new_len: len(new_len),
            flags: mremap_flags(flags),
            new_addr: st.addr(mm, new),
        },
        FuzzOp::Mprotect {
            addr,
            len: l,
            prot: p,
        } => Op::Mprotect {
            addr: st.addr(mm, addr),
            len: len(l),
            prot: prot(p),
        },
        FuzzOp::Mlock { addr, len: l } => Op::Mlock {
            addr: st.addr(mm, addr),
            len: len(l),
        },
        FuzzOp::Mlock2 {
            addr,
            len: l,
            flags,
        } => Op::Mlock2 {
            addr: st.addr(mm, addr),
            len: len(l),
            flags: small_bits(flags, 1),
        },
        FuzzOp::Munlock { addr, len: l } => Op::Munlock {
            addr: st.addr(mm, addr),
            len: len(l),
        },
        FuzzOp::Mlockall { flags } => Op::Mlockall {
            flags: small_bits(flags, 7),
        },
        FuzzOp::Munlockall => Op::Munlockall,
        FuzzOp::Madvise {
            addr,
            len: l,
            advice: a,
        } => Op::Madvise {
            addr: st.addr(mm, addr),
            len: len(l),
            advice: advice(a),
        },
        FuzzOp::Brk { addr } => Op::Brk {
            addr: if addr.kind % 4 == 0 {
                st.addr(mm, addr)
            } else {
                let delta = (i64::from(addr.a % 64) - 16) * P as i64 + i64::from(addr.b % 8);
                mm.brk_value().wrapping_add_signed(delta)
            },
        },
        FuzzOp::MemfdCreate { flags } => Op::MemfdCreate {
            name: b"fuzz".to_vec(),
            flags: small_bits(flags, 0x1f),
        },
        FuzzOp::Ftruncate { fd, len: l } => Op::Ftruncate {
            fd: st.fd(fd),
            length: len(l),
        },
        FuzzOp::Pwrite64 {
            fd,
            data: ref d,
            offset,
        } => Op::Pwrite64 {
            fd: st.fd(fd),
            data: data(d),
            offset: len(offset),
        },
        FuzzOp::Close { fd } => Op::Close { fd: st.fd(fd) },
        FuzzOp::Setrlimit { resource, cur, max } => Op::Setrlimit {
            resource: [2, 3, 8, 9, u64::from(resource)][usize::from(resource) % 5],
            cur: len(cur),
            max: if max.kind % 2 == 0 {
                u64::MAX
            } else {
                len(max)
            },
        },
        FuzzOp::Setuid { uid } => Op::Setuid {
            uid: u64::from(uid % 2) * 1000,
        },
        FuzzOp::Load { addr, len: l } => Op::Load {
            addr: st.addr(mm, addr),
            len: len(l).min(64 * P),
        },
        FuzzOp::Store { addr, data: ref d } => Op::Store {
            addr: st.addr(mm, addr),
            data: data(d),
        },
        FuzzOp::Fill { addr, len: l, byte } => Op::Fill {
            addr: st.addr(mm, addr),
            len: len(l).min(64 * P),
            byte,
        },
    }
}

fuzz_target!(|ops: Vec<FuzzOp>| {
    let cfg = Config {
        // Keep populating calls cheap: 64 MiB of frames.
        frame_budget: (64 << 20) / P,
        ..Config::default()
    };
    let mut mm = Mm::from_seed(&seed(), cfg).expect("seed layout");
    mm.check_invariants()
        .expect("invariants of the seeded layout");
    let mut st = State::default();
    // VMSPACE_FUZZ_TRACE=1 prints each operation and its outcome (for replaying an input).
    let trace = std::env::var_os("VMSPACE_FUZZ_TRACE").is_some();
    for f in ops.iter().take(64) {
        let op = to_op(&st, &mm, f);
        if trace {
            eprintln!("{op:?}");
        }
        let out = mm.apply(&op);
        if trace {
            eprintln!("  -> {out:?} ({} VMAs)", mm.map_count());
        }
        if let Err(e) = mm.check_invariants() {
            panic!(
                "invariant broken after {op:?} -> {out:?}: {e}\n{}",
                mm.maps_text()
            );
        }
        if let Outcome::Value(v) = out {
            match op {
                Op::Mmap { .. } | Op::Mremap { .. } => st.addrs.push(v),
                Op::MemfdCreate { .. } => st.fds.push(v),
                _ => {}
            }
        }
    }
});
