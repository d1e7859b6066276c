//! Bad input gets a clear error and exit status 2, within bounded memory: inputs past
//! `--max-input` (read no further than the limit), a standard output that cannot be
//! written, out-of-range arguments, huge lines, undefined names, loads larger than the
//! memory budget, and logs with many calls or many processes.
//!
//! Memory bounds are checked by running the CLI under `ulimit -v` (an address-space
//! limit: an allocation past it fails and the process aborts).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vmspace() -> &'static str {
    env!("CARGO_BIN_EXE_vmspace")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(vmspace())
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `vmspace ARGS` with the address space limited to `kib` KiB.
fn run_limited(kib: u64, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$@\""))
        .arg("sh")
        .arg(vmspace())
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// `vmspace ARGS > /dev/full`.
fn run_to_full(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    Command::new(vmspace())
        .args(args)
        .current_dir(root())
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn file(name: &str, text: &str) -> String {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit status 2, no panic, and the message.
fn assert_error(o: &Output, what: &str, msg: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: {:?}\n{err}", o.status);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(!err.contains("stack backtrace"), "{what}: {err}");
    assert!(err.contains(msg), "{what}: expected {msg:?} in:\n{err}");
}

#[test]
fn endless_inputs_are_refused_past_the_limit_in_bounded_memory() {
    // 256 MiB of address space: reading /dev/zero or /dev/urandom to the end (or even
    // to 256 MiB) would abort; the default limit (64 MiB for scripts) stops it first.
    for args in [
        &["run", "/dev/zero"][..],
        &["run", "/dev/urandom"],
        &["diff", "/dev/zero"],
        &["render", "/dev/zero", "-o", "/dev/null"],
        &["run", "--max-input", "1M", "/dev/zero"],
    ] {
        let o = run_limited(256 << 10, args);
        assert_error(&o, &args.join(" "), "is larger than");
        assert!(stderr(&o).contains("--max-input"), "{}", stderr(&o));
    }
    // Logs are streamed: a line may be 16 MiB at most.
    let o = run_limited(256 << 10, &["replay", "/dev/zero"]);
    assert_error(
        &o,
        "replay /dev/zero",
        "the line is longer than 16777216 bytes",
    );
    let o = run_limited(256 << 10, &["replay", "/dev/urandom"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    // The whole log is bounded too.
    let log = file(
        "limit.log",
        &"1 munmap(0x7f0000000000, 4096) = 0\n".repeat(100),
    );
    let o = run(&["replay", "--max-input", "1K", &log]);
    assert_error(&o, "replay --max-input 1K", "is larger than 1024 bytes");
}

#[test]
fn the_limit_is_exact_and_can_be_raised() {
    let line = "munmap(0x100000000, 4096) = 0\n";
    let script = file("limit.vms", &line.repeat(64));
    let size = (line.len() * 64).to_string();
    let below = (line.len() * 64 - 1).to_string();
    let o = run(&["run", "--max-input", &size, &script]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["run", "--max-input", &below, &script]);
    assert_error(
        &o,
        "one byte over",
        &format!("is larger than {below} bytes"),
    );
    let o = run(&["run", "--max-input", "12Q", &script]);
    assert_error(&o, "bad size", "unknown size suffix");
}

#[test]
fn invalid_utf8_has_a_line_and_a_column() {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("utf8.vms");
    std::fs::write(
        &p,
        b"munmap(0x100000000, 4096) = 0\nmunmap(0x100000000, 4096) \xff= 0\n",
    )
    .unwrap();
    let o = run(&["run", p.to_str().unwrap()]);
    assert_error(&o, "run", "utf8.vms:2:27: error: invalid UTF-8 (byte 0xff)");
    let o = run(&["replay", p.to_str().unwrap()]);
    assert_error(
        &o,
        "replay",
        "utf8.vms:2:27: error: invalid UTF-8 (byte 0xff)",
    );
}

#[test]
fn a_full_standard_output_is_an_error_not_a_panic() {
    let script = file(
        "full.vms",
        "$a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\nmunmap($a, 4096) = 0\n",
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let out = out.to_str().unwrap();
    for args in [
        &["run", &script][..],
        &["run", "--json", &script],
        &["tour"],
        &["tour", "--list"],
        &["replay", "examples/strace/gcc-compile.log"],
        &[
            "replay",
            "--all",
            "--json",
            "examples/strace/gcc-compile.log",
        ],
        &["render", &script, "-o", "/dev/stdout"],
        &["fuzz", "--ops", "20", "--out", out],
        &["bench", "--quick"],
        &["--help"],
        &["--version"],
        &["run", "--help"],
    ] {
        let o = run_to_full(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
    }
}

#[test]
fn out_of_range_arguments_are_errors() {
    let script = file("range.vms", "munmap(0x100000000, 4096) = 0\n");
    for (args, msg) in [
        (
            &["diff", "--timeout", "18446744073709551615", &script][..],
            "is not in 0..=31536000",
        ),
        (
            &["fuzz", "--shrink-secs", "18446744073709551615"],
            "is not in 0..=31536000",
        ),
        (&["bench", "--cpu", "1024"], "CPU 1024 is out of range"),
    ] {
        let o = run(args);
        assert_error(&o, &args.join(" "), msg);
    }
    // The longest allowed timeout works.
    let o = run(&["diff", "--timeout", "31536000", &script]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_error_on_a_10_mb_line_prints_an_excerpt() {
    let script = file(
        "long-line.vms",
        &format!("store(0x100000000, \"{}\") junk\n", "A".repeat(10 << 20)),
    );
    let o = run(&["run", &script]);
    assert_error(&o, "run", "long-line.vms:1:");
    let err = stderr(&o);
    assert!(err.len() < 1000, "{} bytes of stderr", err.len());
    assert!(err.contains("AAA\") junk"), "{err}");
    // A run error (here: an access that faults) cuts the statement too.
    let script = file(
        "long-store.vms",
        &format!("store(0x100000000, \"{}\")\n", "A".repeat(10 << 20)),
    );
    let o = run(&["run", &script]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.len() < 1000, "{} bytes of stderr", err.len());
}

#[test]
fn an_undefined_name_is_an_error_before_anything_runs() {
    let script = file(
        "undefined.vms",
        "$a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         munmap($a, 4096) = 0\n\
         munmap($b, 4096) = 0\n",
    );
    for cmd in ["run", "diff"] {
        let o = run(&[cmd, &script]);
        assert_error(
            &o,
            cmd,
            "undefined.vms:3:8: error: `$b` is not defined: no earlier line binds it",
        );
        // Nothing ran: not even the first line.
        assert_eq!(stdout(&o), "", "{cmd}");
    }
    // A name bound by a call that fails stays a run-time error.
    let script = file(
        "bind-fails.vms",
        "$a = mmap(NULL, 0, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\nmunmap($a, 4096)\n",
    );
    let o = run(&["run", &script]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`$a` names a success"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn loads_are_held_to_the_memory_budget_and_printed_bounded() {
    let script = file(
        "big-load.vms",
        "$a = mmap(NULL, 0x10000000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         load($a, 0x10000000)\n",
    );
    // 256 MiB of load under a 64 MiB budget, in 512 MiB of address space: refused.
    let o = run_limited(512 << 10, &["run", "--memory-budget", "64M", &script]);
    assert_error(
        &o,
        "run",
        "big-load.vms:2: error: a load of 268435456 bytes is more than --memory-budget (67108864 bytes) allows",
    );
    // Under the default budget the load runs, and its printing takes no more than the
    // buffer: 256 MiB of zeros would be 1 GiB as text.
    let o = run_limited(768 << 10, &["run", &script]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.len() < 20_000, "{} bytes printed", out.len());
    assert!(
        out.trim_end().ends_with("\\x00\"..."),
        "{}",
        &out[out.len() - 100..]
    );
}

#[test]
fn replay_streams_the_log() {
    // 160,000 calls (10 MB) of one process: the replay keeps no call, so it fits in
    // 64 MiB of address space.
    let mut log = String::new();
    for i in 0..53_000u64 {
        let a = 0x7f00_0000_0000 + (i % 1000) * 0x10000;
        log.push_str(&format!(
            "1000  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = {a:#x}\n\
             1000  mprotect({a:#x}, 4096, PROT_READ) = 0\n\
             1000  munmap({a:#x}, 8192) = 0\n"
        ));
    }
    let p = file("stream.log", &log);
    drop(log);
    let o = run_limited(64 << 10, &["replay", &p]);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert!(
        stdout(&o).ends_with(
            ", pid 1000: 159000 calls: 106000 agreed, 53000 adopted, 0 disagreed, 0 unknown; 0 skipped\n"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn replay_all_is_linear_in_processes() {
    // 20,000 processes, each mapping and unmapping, then exiting: each engine is dropped
    // when its process exits (20,000 engines at once would not fit in 256 MiB; the
    // replay before streaming took 11 GB and minutes, quadratic in processes).
    let mut log = String::new();
    for p in 0..20_000u64 {
        let a = 0x7f00_0000_0000 + (p % 1000) * 0x10000;
        let pid = 2000 + p;
        log.push_str(&format!(
            "{pid}  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = {a:#x}\n\
             {pid}  munmap({a:#x}, 8192) = 0\n\
             {pid}  +++ exited with 0 +++\n"
        ));
    }
    let p = file("pids.log", &log);
    let o = run_limited(256 << 10, &["replay", "--all", &p]);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    let out = stdout(&o);
    assert!(
        out.ends_with(
            ": 20000 processes, 40000 calls: 20000 agreed, 20000 adopted, 0 disagreed, 0 unknown\n"
        ),
        "{}",
        &out[out.len().saturating_sub(300)..]
    );
    // One summary per process, in the order they appear.
    let pids: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split(", pid ").nth(1))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(pids.len(), 20_000);
    assert_eq!((pids[0], pids[19_999]), ("2000", "21999"));
}
