//! Throughput of operations through the agent: an mmap/munmap loop, with and without
//! reading `/proc/<pid>/maps` after each operation.
//!
//! The example re-executes itself as the agent (`roundtrip __agent`), the way the
//! `vmspace` binary does. Run with `cargo run --release -p vmspace-linux --example
//! roundtrip [iterations]`; pin with `taskset -c 0` to compare with the kernel
//! baseline's pinned numbers.

use std::time::{Duration, Instant};

use vmspace::{Backend, Op, Outcome};
use vmspace_linux::{AgentCommand, LiveBackend};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("__agent") {
        vmspace_linux::agent_main();
    }
    let iters: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let cmd = AgentCommand::current_exe("__agent").expect("current_exe");
    let mut b = LiveBackend::spawn(&cmd, Duration::from_secs(10)).expect("spawn");
    let mmap = Op::Mmap {
        addr: 0,
        len: 4096,
        prot: 3,
        flags: 0x22,
        fd: u64::MAX,
        offset: 0,
    };
    for with_maps in [false, true, false, true] {
        let mut maps_bytes = 0;
        let t = Instant::now();
        for _ in 0..iters {
            let Ok(Outcome::Value(a)) = b.apply(&mmap) else {
                panic!("mmap failed")
            };
            if with_maps {
                maps_bytes += b.maps().unwrap().len();
            }
            assert_eq!(
                b.apply(&Op::Munmap { addr: a, len: 4096 }),
                Ok(Outcome::Value(0))
            );
            if with_maps {
                maps_bytes += b.maps().unwrap().len();
            }
        }
        let el = t.elapsed();
        let ops = 2 * iters;
        println!(
            "{:<28} {ops} ops in {:>7.1} ms: {:>9.0} ops/s, {:>6.2} us/op{}",
            if with_maps {
                "mmap/munmap + maps read"
            } else {
                "mmap/munmap"
            },
            el.as_secs_f64() * 1e3,
            ops as f64 / el.as_secs_f64(),
            el.as_secs_f64() * 1e6 / ops as f64,
            if with_maps {
                format!(" (maps text {} bytes)", maps_bytes / ops as usize)
            } else {
                String::new()
            }
        );
    }
}
