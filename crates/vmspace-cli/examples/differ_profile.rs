//! Measure where the differ spends its time per operation (apply on the kernel, maps
//! read, engine maps and normalisation, pagemap, status).
use std::time::{Duration, Instant};
use vmspace::{Backend, Mm, Op};

fn main() {
    let cmd = vmspace_linux::AgentCommand {
        program: "target/release/vmspace".into(),
        args: vec!["__agent".into()],
    };
    let mut live = vmspace_linux::LiveBackend::spawn(&cmd, Duration::from_secs(10)).unwrap();
    if std::env::args().any(|a| a == "--pin") {
        live.pin_to_current_cpu().unwrap();
    }
    let seed = live.seed().clone();
    let mut mm = Mm::from_seed(
        &seed,
        vmspace::Config {
            mmap_base: seed.mmap_base,
            ..Default::default()
        },
    )
    .unwrap();
    let n = 5000;
    let op_a = Op::Mmap {
        addr: 0x3f00_0000_0000,
        len: 4096,
        prot: 3,
        flags: 0x32,
        fd: u64::MAX,
        offset: 0,
    };
    let op_b = Op::Munmap {
        addr: 0x3f00_0000_0000,
        len: 4096,
    };
    let mut t = [Duration::ZERO; 6];
    for i in 0..n {
        let op = if i % 2 == 0 { &op_a } else { &op_b };
        let s = Instant::now();
        live.apply(op).unwrap();
        t[0] += s.elapsed();
        let s = Instant::now();
        let km = live.maps().unwrap();
        t[1] += s.elapsed();
        let s = Instant::now();
        mm.apply(op);
        let em = mm.maps_text();
        t[2] += s.elapsed();
        let s = Instant::now();
        let a = vmspace_check::compare::normalize_maps(&km);
        let b = vmspace_check::compare::normalize_maps(&em);
        assert_eq!(a, b);
        t[3] += s.elapsed();
        let s = Instant::now();
        live.pages(0x3f00_0000_0000, 1).unwrap();
        t[4] += s.elapsed();
        let s = Instant::now();
        live.counters().unwrap();
        t[5] += s.elapsed();
    }
    let names = [
        "kernel apply",
        "kernel maps",
        "engine apply+maps",
        "normalize x2",
        "kernel pagemap",
        "kernel status",
    ];
    for (n2, d) in names.iter().zip(t) {
        println!("{n2:20} {:8.1} us/op", d.as_secs_f64() * 1e6 / n as f64);
    }
}
