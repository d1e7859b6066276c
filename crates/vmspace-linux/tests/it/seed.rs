//! Spawning, the starting layout and the seed.

use std::time::Duration;

use vmspace::addr::TASK_SIZE;
use vmspace::{Backend, Config, MapsLine, Op};
use vmspace_linux::{AgentCommand, LiveBackend, LiveError};

use crate::{agent, spawn};

fn soft_stack_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max stack size"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn seed_matches_the_live_layout() {
    let mut b = spawn();
    let maps = b.maps().unwrap();
    let seed = b.seed().clone();
    let lines: Vec<MapsLine> = maps.lines().map(|l| MapsLine::parse(l).unwrap()).collect();
    assert!(lines.len() > 10, "{maps}");
    // The seed is the layout at spawn, and nothing has happened since.
    assert_eq!(
        seed.vmas.iter().map(|v| &v.line).collect::<Vec<_>>(),
        lines.iter().collect::<Vec<_>>()
    );
    assert!(seed.vmas.iter().all(|v| v.vm_flags.is_some()));
    let stack = lines
        .iter()
        .position(|l| l.name.as_deref() == Some("[stack]"))
        .unwrap();
    assert_eq!(lines[stack].end, 0x7fff_ffff_f000);
    assert!(seed.vmas[stack].faulted);
    assert_eq!(lines.last().unwrap().name.as_deref(), Some("[vsyscall]"));
    assert!(!seed.vmas.last().unwrap().faulted);

    // mmap_base from the agent's own RLIMIT_STACK ...
    let limit = soft_stack_limit(b.pid());
    assert_eq!(b.rlimits().stack.cur, limit);
    assert_eq!(
        seed.mmap_base,
        Config::mmap_base_for_stack_limit(TASK_SIZE, limit, 256 * 4096)
    );
    if limit == 8 << 20 {
        assert_eq!(seed.mmap_base, 0x7fff_f7ff_f000);
    }
    // ... is where the loader's top-down placements began: the dynamic linker's last
    // mapping ends there, directly below the stack region.
    let below_stack = &lines[stack - 1];
    assert_eq!(below_stack.end, seed.mmap_base);
    assert!(
        below_stack.name.as_deref().unwrap().contains("ld-linux"),
        "{below_stack}"
    );

    // start_brk is where [heap] starts; brk(0) at start-up is where it ends.
    let heap = lines
        .iter()
        .find(|l| l.name.as_deref() == Some("[heap]"))
        .unwrap();
    assert_eq!(seed.start_brk, heap.start);
    assert_eq!(seed.brk, heap.end);
    assert_eq!(seed.open_fds, [0, 1, 2, 1000, 1001]);
    assert_eq!(seed.locked_pages, 0);
    let c = b.counters().unwrap();
    assert_eq!(c.map_count, lines.len() as u64 - 1);
    assert_eq!(c.vm_lck_kb, 0);
}

#[test]
fn agent_runs_without_randomisation_and_with_only_its_descriptors() {
    let b = spawn();
    let pid = b.pid();
    let pers = std::fs::read_to_string(format!("/proc/{pid}/personality")).unwrap();
    assert_eq!(
        u32::from_str_radix(pers.trim(), 16).unwrap() & 0x0040000,
        0x0040000
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(
        comm.trim_end(),
        "vmspace-agent",
        "named after the program, not `exe`"
    );
    let link = |fd: u32| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
    assert_eq!(link(0).to_str(), Some("/dev/null"));
    assert_eq!(link(1).to_str(), Some("/dev/null"));
    assert!(link(1000).to_str().unwrap().starts_with("pipe:"));
    assert!(link(1001).to_str().unwrap().starts_with("pipe:"));
}

#[test]
fn two_agents_have_identical_maps() {
    let mut a = spawn();
    let mut b = spawn();
    assert_ne!(a.pid(), b.pid());
    assert_eq!(a.maps().unwrap(), b.maps().unwrap());
    assert_eq!(a.seed(), b.seed());
    // ... and stay identical under the same operations.
    let ops = [
        crate::mmap_op(5 * 4096, 3, 0x22, u64::MAX),
        crate::mmap_op(300 << 20, 1, 0x4022, u64::MAX),
        Op::MemfdCreate {
            name: "d".into(),
            flags: 0,
        },
        Op::Ftruncate {
            fd: 3,
            length: 8192,
        },
        crate::mmap_op(8192, 3, 0x01, 3),
        Op::Brk {
            addr: a.seed().brk + 10 * 4096,
        },
    ];
    for op in ops {
        assert_eq!(a.apply(&op).unwrap(), b.apply(&op).unwrap(), "{op:?}");
    }
    // Everything but the memfd's inode number, which is fresh for every file.
    let normalised = |maps: String| -> Vec<MapsLine> {
        maps.lines()
            .map(|l| {
                let mut line = MapsLine::parse(l).unwrap();
                if line
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("/memfd:"))
                {
                    line.inode = 0;
                }
                line
            })
            .collect()
    };
    let (ma, mb) = (a.maps().unwrap(), b.maps().unwrap());
    assert_ne!(ma, mb, "memfd inodes differ");
    assert_eq!(normalised(ma), normalised(mb));
}

/// The agent started through a shell that changes RLIMIT_STACK first.
fn with_stack_limit(limit: &str) -> AgentCommand {
    let inner = agent();
    AgentCommand {
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            format!("ulimit -s {limit} && exec \"$0\"").into(),
            inner.program.into_os_string(),
        ],
    }
}

#[test]
fn mmap_base_follows_a_large_stack_limit() {
    // 256 MiB is above the 128 MiB floor, so the gap is the limit plus the 1 MiB guard.
    let mut b = LiveBackend::spawn(&with_stack_limit("262144"), Duration::from_secs(20)).unwrap();
    assert_eq!(soft_stack_limit(b.pid()), 256 << 20);
    assert_eq!(b.seed().mmap_base, 0x7fff_efef_f000);
    assert_eq!(b.seed().mmap_base, TASK_SIZE - (256 << 20) - (1 << 20));
    let maps = b.maps().unwrap();
    assert!(maps.contains("7fffefefd000-7fffefeff000 rw-p"), "{maps}");
}

#[test]
fn unlimited_stack_is_refused_as_the_legacy_layout() {
    let err =
        LiveBackend::spawn(&with_stack_limit("unlimited"), Duration::from_secs(20)).unwrap_err();
    assert!(matches!(err, LiveError::Layout { .. }), "{err}");
    assert!(err.to_string().contains("ulimit -s"), "{err}");
}

#[test]
fn an_agent_started_without_randomisation_skips_the_re_execution_and_looks_the_same() {
    let mut a = spawn();
    let inner = agent();
    let cmd = AgentCommand {
        program: "/usr/bin/setarch".into(),
        args: vec!["x86_64".into(), "-R".into(), inner.program.into_os_string()],
    };
    let mut b = LiveBackend::spawn(&cmd, Duration::from_secs(20)).unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", b.pid())).unwrap();
    assert_eq!(comm.trim_end(), "vmspace-agent");
    assert_eq!(a.maps().unwrap(), b.maps().unwrap());
    // The initial stack pointer depends on the arguments and environment the program
    // was started with, which differ between the two paths; the layout does not.
    let (mut sa, mut sb) = (a.seed().clone(), b.seed().clone());
    sa.start_stack = 0;
    sb.start_stack = 0;
    assert_eq!(sa, sb);
}

/// The backend's `/proc` reads skip the read that would return 0 where the text is
/// known to be complete; what they return must be the whole file, byte for byte, also
/// when the maps text needs several reads (more than one seq_file buffer).
#[test]
fn proc_reads_return_the_whole_file() {
    let mut b = spawn();
    let pid = b.pid();
    for _ in 0..5 {
        let maps = b.maps().unwrap();
        assert_eq!(
            maps,
            std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap()
        );
        let size: u64 = b.size_counters().unwrap().0;
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
        let pages: u64 = statm.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(size, pages * 4);
        let c = b.status_counters().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert_eq!(
            c.vm_size_kb,
            vmspace_linux::procfs::status_kb(&status, "VmSize").unwrap()
        );
        // Grow the maps text by many separate VMAs (alternating protections keep them
        // apart): 60 lines of about 50 bytes per round.
        for i in 0..60 {
            let prot = if i % 2 == 0 {
                crate::PROT_READ
            } else {
                crate::PROT_RW
            };
            crate::mmap_anon(&mut b, crate::PAGE, prot);
        }
    }
    assert!(b.maps().unwrap().len() > 3 * 4096);
}

/// An agent started on another thread is the same as one started in place: the same
/// seed layout, and it serves requests.
#[test]
fn an_agent_started_in_the_background_serves_requests() {
    let cpus = vmspace_linux::CpuAffinity::of_current_thread().unwrap();
    let pending = LiveBackend::spawn_in_background(&agent(), Duration::from_secs(20), &cpus);
    let mut here = spawn();
    let mut there = pending.take().unwrap();
    assert_eq!(there.seed().vmas, here.seed().vmas);
    assert_eq!(there.seed().mmap_base, here.seed().mmap_base);
    let a = crate::mmap_anon(&mut there, crate::PAGE, crate::PROT_RW);
    assert_eq!(a, crate::mmap_anon(&mut here, crate::PAGE, crate::PROT_RW));
    assert_eq!(there.maps().unwrap(), here.maps().unwrap());
    // A failed start is reported by `take`, not lost with the thread.
    let missing = AgentCommand {
        program: "/nonexistent/vmspace-agent".into(),
        args: vec![],
    };
    let err = LiveBackend::spawn_in_background(&missing, Duration::from_secs(5), &cpus)
        .take()
        .unwrap_err();
    assert!(matches!(err, LiveError::Spawn { .. }), "{err}");
}
