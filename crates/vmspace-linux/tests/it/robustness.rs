//! An agent that stops answering or dies is reported within the timeout and reaped.

use std::path::Path;
use std::time::{Duration, Instant};

use vmspace::{Backend, Op};
use vmspace_linux::{AgentCommand, LiveBackend, LiveError};

use crate::*;

const SHORT: Duration = Duration::from_millis(300);

#[test]
fn a_stopped_agent_times_out_and_is_reaped() {
    let mut b = spawn();
    let pid = b.pid();
    b.set_timeout(SHORT);
    signal_from_outside(pid, "STOP", 'T');
    let t = Instant::now();
    let err = b
        .run(&mmap_op(
            PAGE,
            PROT_RW,
            MAP_PRIVATE | MAP_ANONYMOUS,
            u64::MAX,
        ))
        .unwrap_err();
    let took = t.elapsed();
    assert!(
        took >= SHORT && took < SHORT + Duration::from_secs(2),
        "{took:?}"
    );
    assert!(matches!(err, LiveError::Timeout { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("T (stopped)") && msg.contains("mmap(0x0, 0x1000"),
        "{msg}"
    );
    assert!(!proc_exists(pid), "reaped, no zombie");
    // The backend stays usable as an object, and says why it cannot work.
    assert!(matches!(
        b.run(&Op::Brk { addr: 0 }),
        Err(LiveError::Gone(_))
    ));
    assert!(b.maps().unwrap_err().message.contains("no longer running"));
    assert!(b.pages(0, 1).is_err() && b.counters().is_err());
}

#[test]
fn a_stopped_agent_times_out_during_a_large_transfer() {
    // 3 MiB does not fit in the pipe: the parent's write must not block forever.
    let mut b = spawn();
    let pid = b.pid();
    let a = mmap_anon(&mut b, 3 << 20, PROT_RW);
    b.set_timeout(SHORT);
    signal_from_outside(pid, "STOP", 'T');
    let t = Instant::now();
    let err = b
        .run(&Op::Store {
            addr: a,
            data: vec![7; 3 << 20],
        })
        .unwrap_err();
    assert!(t.elapsed() < SHORT + Duration::from_secs(2));
    assert!(err.to_string().contains("store(0x"), "{err}");
    assert!(!proc_exists(pid));
}

#[test]
fn an_agent_killed_from_outside_is_reported() {
    let mut b = spawn();
    let pid = b.pid();
    signal_from_outside(pid, "KILL", 'Z');
    let err = b
        .run(&Op::Munmap {
            addr: 0x10000,
            len: PAGE,
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LiveError::Died { .. }), "{msg}");
    assert!(
        msg.contains("killed by SIGKILL") && msg.contains("munmap(0x10000, 0x1000)"),
        "{msg}"
    );
    assert!(!proc_exists(pid));
}

#[test]
fn an_agent_that_crashes_is_reported_with_its_last_operation() {
    let mut b = spawn();
    let pid = b.pid();
    // Unmap the agent's own code: the return from the system call faults outside the
    // access routine, which is a real crash.
    let text = b
        .seed()
        .vmas
        .iter()
        .find(|v| {
            v.line.exec
                && v.line
                    .name
                    .as_deref()
                    .is_some_and(|n| n.ends_with("/vmspace-agent"))
        })
        .unwrap()
        .line
        .clone();
    let err = b
        .run(&Op::Munmap {
            addr: text.start,
            len: text.end - text.start,
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("killed by SIGSEGV") && msg.contains("munmap("),
        "{msg}"
    );
    assert!(!proc_exists(pid));
}

#[test]
fn drop_kills_and_reaps() {
    let b = spawn();
    let pid = b.pid();
    assert!(proc_exists(pid));
    drop(b);
    assert!(!proc_exists(pid));
    // Also when the agent is stopped.
    let b = spawn();
    let pid = b.pid();
    signal_from_outside(pid, "STOP", 'T');
    drop(b);
    assert!(!proc_exists(pid));
}

#[test]
fn start_up_failures_are_bounded_and_explained() {
    let cmd = |p: &str, args: &[&str]| AgentCommand {
        program: p.into(),
        args: args.iter().map(Into::into).collect(),
    };
    let err = LiveBackend::spawn(&cmd("/nonexistent/agent", &[]), SHORT).unwrap_err();
    assert!(matches!(err, LiveError::Spawn { .. }), "{err}");
    // A program that never greets.
    let t = Instant::now();
    let err = LiveBackend::spawn(&cmd("/bin/sleep", &["30"]), SHORT).unwrap_err();
    assert!(t.elapsed() < SHORT + Duration::from_secs(2));
    assert!(matches!(err, LiveError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("start-up"), "{err}");
    // A program that exits at once, saying why.
    let err = LiveBackend::spawn(
        &cmd("/bin/sh", &["-c", "echo no agent here >&2; exit 3"]),
        SHORT,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("exited with status 3") && msg.contains("no agent here"),
        "{msg}"
    );
    // An agent that cannot move its pipes to fd 1000.
    let inner = env!("CARGO_BIN_EXE_vmspace-agent");
    let err = LiveBackend::spawn(
        &cmd("/bin/sh", &["-c", "ulimit -n 100 && exec \"$0\"", inner]),
        SHORT,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("status 70") && msg.contains("RLIMIT_NOFILE"),
        "{msg}"
    );
}

#[test]
fn a_set_user_id_agent_cannot_keep_addr_no_randomize_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("suid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("vmspace-agent");
    write_executable_copy(Path::new(env!("CARGO_BIN_EXE_vmspace-agent")), &copy);
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let nosuid = on_nosuid_mount(&dir);
    let cmd = AgentCommand {
        program: copy,
        args: vec![],
    };
    let result = LiveBackend::spawn(&cmd, Duration::from_secs(20));
    std::fs::remove_dir_all(&dir).unwrap();
    if nosuid {
        // The set-user-ID bit means nothing there, and the agent starts normally.
        result.unwrap();
        return;
    }
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("did not survive") && msg.contains("set-user-ID"),
        "{msg}"
    );
}

/// Copy the executable `from` to `to` so that it can be executed at once.
///
/// Not with `std::fs::copy` in this process: the copy's descriptor, open for writing,
/// is close-on-exec, but another test thread that forks while it is open hands a
/// duplicate to its child, which holds it until that child's own exec; executing the
/// copy in that window fails with ETXTBSY ("Text file busy"), now and then, under load.
/// A `cp` process writes the copy instead: the only descriptor ever open for writing
/// on it is in that process, and it has exited (closing it) before we go on.
fn write_executable_copy(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(
        status.success(),
        "cp {} {}: {status}",
        from.display(),
        to.display()
    );
}

/// Is `path` on a file system mounted `nosuid` (per /proc/self/mountinfo)?
fn on_nosuid_mount(path: &Path) -> bool {
    let path = path.canonicalize().unwrap();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut best: Option<(usize, bool)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (mount_point, options) = (f[4], f[5]);
        if path.starts_with(mount_point) && best.is_none_or(|(len, _)| mount_point.len() >= len) {
            best = Some((mount_point.len(), options.split(',').any(|o| o == "nosuid")));
        }
    }
    best.is_some_and(|(_, nosuid)| nosuid)
}
