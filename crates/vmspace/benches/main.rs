//! Engine hot paths: page-table moves (aligned against unaligned), VMA lookup, the
//! top-down gap search, and split/merge by mprotect.
//!
//! `cargo bench -p vmspace`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vmspace::{Config, Mm, Op};

const P: u64 = 4096;
const MIB: u64 = 1 << 20;

fn anon_fixed(addr: u64, len: u64, prot: u64) -> Op {
    Op::Mmap {
        addr,
        len,
        prot,
        flags: 0x32,
        fd: u64::MAX,
        offset: 0,
    }
}

/// An engine with a populated 64 MiB mapping at `src`.
fn populated(src: u64) -> Mm {
    let mut mm = Mm::new(Config::default());
    mm.apply(&anon_fixed(src, 64 * MIB, 3));
    mm.apply(&Op::Madvise {
        addr: src,
        len: 64 * MIB,
        advice: 23,
    });
    mm
}

fn moves(c: &mut Criterion) {
    let mut g = c.benchmark_group("mremap 64 MiB populated, back and forth");
    let src = 0x4000_0000_0000;
    for (name, dst) in [
        ("2 MiB aligned", 0x5000_0000_0000u64),
        ("unaligned", 0x5000_0000_1000),
    ] {
        let mut mm = populated(src);
        let mut at = src;
        g.bench_function(name, |b| {
            b.iter(|| {
                let to = if at == src { dst } else { src };
                let r = mm.apply(&Op::Mremap {
                    old_addr: at,
                    old_len: 64 * MIB,
                    new_len: 64 * MIB,
                    flags: 3,
                    new_addr: to,
                });
                at = to;
                black_box(r)
            })
        });
    }
    g.finish();
}

fn many_vmas(n: u64) -> Mm {
    let mut mm = Mm::new(Config::default());
    for i in 0..n {
        // Alternating protections keep neighbours from merging.
        mm.apply(&anon_fixed(
            0x1000_0000_0000 + i * P,
            P,
            if i % 2 == 0 { 1 } else { 3 },
        ));
    }
    mm
}

fn lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("10,000 VMAs");
    let mut mm = many_vmas(10_000);
    let mut i = 0u64;
    g.bench_function("load (VMA lookup and fault)", |b| {
        b.iter(|| {
            i = (i + 7919) % 10_000;
            black_box(mm.apply(&Op::Load {
                addr: 0x1000_0000_0000 + i * P,
                len: 1,
            }))
        })
    });
    g.bench_function("unhinted mmap + munmap (gap search)", |b| {
        b.iter(|| {
            let Op::Mmap { .. } = anon_fixed(0, 0, 0) else {
                unreachable!()
            };
            let r = mm.apply(&Op::Mmap {
                addr: 0,
                len: P,
                prot: 3,
                flags: 0x22,
                fd: u64::MAX,
                offset: 0,
            });
            if let vmspace::Outcome::Value(a) = r {
                mm.apply(&Op::Munmap { addr: a, len: P });
            }
            black_box(r)
        })
    });
    // The same search when every gap above is plugged: mmap_base sits at the top of
    // the 10,000 VMAs, so the new mapping lands below all of them (the worst case for
    // a search that walks VMAs; the gap maxima make it one descent, and the search
    // hint, while nothing changes above the answer, a check).
    let mut below = Mm::new(Config {
        mmap_base: 0x1000_0000_0000 + 10_000 * P,
        ..Config::default()
    });
    for i in 0..10_000 {
        below.apply(&anon_fixed(
            0x1000_0000_0000 + i * P,
            P,
            if i % 2 == 0 { 1 } else { 3 },
        ));
    }
    // An unhinted mmap of `len` that lands right below the 10,000 VMAs, and its munmap.
    let mut pair_below = move |len: u64| {
        let r = below.apply(&Op::Mmap {
            addr: 0,
            len,
            prot: 3,
            flags: 0x22,
            fd: u64::MAX,
            offset: 0,
        });
        assert_eq!(r, vmspace::Outcome::Value(0x1000_0000_0000 - len));
        below.apply(&Op::Munmap {
            addr: 0x1000_0000_0000 - len,
            len,
        });
        r
    };
    g.bench_function(
        "unhinted mmap + munmap below all of them (gap search)",
        |b| b.iter(|| black_box(pair_below(P))),
    );
    // The same with lengths of 1 and 2 pages in turn: the hint holds one question, so
    // every search goes through the block, group and supergroup maxima.
    let mut two = false;
    g.bench_function(
        "unhinted mmap + munmap below all of them, 1 and 2 pages in turn (gap search, no hint)",
        |b| {
            b.iter(|| {
                two = !two;
                black_box(pair_below(if two { 2 * P } else { P }))
            })
        },
    );
    // MAP_32BIT searches bottom-up from 1 GiB: with 10,000 VMAs packed there, the
    // first free range is above all of them (found through the gap maxima).
    let mut low = Mm::new(Config::default());
    for i in 0..10_000 {
        low.apply(&anon_fixed(
            0x4000_0000 + i * P,
            P,
            if i % 2 == 0 { 1 } else { 3 },
        ));
    }
    let above = 0x4000_0000 + 10_000 * P;
    g.bench_function(
        "MAP_32BIT mmap + munmap above all of them (bottom-up gap search)",
        |b| {
            b.iter(|| {
                let r = low.apply(&Op::Mmap {
                    addr: 0,
                    len: P,
                    prot: 3,
                    flags: 0x22 | 0x40,
                    fd: u64::MAX,
                    offset: 0,
                });
                assert_eq!(r, vmspace::Outcome::Value(above));
                low.apply(&Op::Munmap {
                    addr: above,
                    len: P,
                });
                black_box(r)
            })
        },
    );
    g.bench_function("mprotect split and re-merge", |b| {
        b.iter(|| {
            i = (i + 7919) % 10_000;
            let a = 0x1000_0000_0000 + (i | 1) * P;
            mm.apply(&Op::Mprotect {
                addr: a,
                len: P,
                prot: 1,
            });
            black_box(mm.apply(&Op::Mprotect {
                addr: a,
                len: P,
                prot: 3,
            }))
        })
    });
    g.finish();
}

criterion_group!(benches, moves, lookups);
criterion_main!(benches);
