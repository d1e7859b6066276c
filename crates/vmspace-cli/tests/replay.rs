//! `vmspace replay`: the strace logs shipped in examples/strace/, replayed on the
//! engine. The counts are those of the logs as captured (see examples/strace/README.md);
//! a change in them means the replay or the engine changed behaviour.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vmspace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("vmspace runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

fn temp(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("vmspace-replay-test-{}-{name}", std::process::id()));
    std::fs::write(&p, text).expect("temp file");
    p
}

/// (log, the summary line of the first process).
const LOGS: &[(&str, &str)] = &[
    (
        "examples/strace/python3-import.log",
        "examples/strace/python3-import.log, pid 7853: 104 calls: 73 agreed, 29 adopted, 0 disagreed, 2 unknown; 1 skipped (execve 1)",
    ),
    (
        "examples/strace/gcc-compile.log",
        "examples/strace/gcc-compile.log, pid 7857: 16 calls: 9 agreed, 5 adopted, 0 disagreed, 2 unknown; 3 skipped (execve 3)",
    ),
    (
        "examples/strace/rust-grow-vec.log",
        "examples/strace/rust-grow-vec.log, pid 7886: 33 calls: 15 agreed, 16 adopted, 0 disagreed, 2 unknown; 1 skipped (execve 1)",
    ),
    (
        "examples/strace/python3-mmap-resize.log",
        "examples/strace/python3-mmap-resize.log, pid 7896: 75 calls: 34 agreed, 28 adopted, 0 disagreed, 13 unknown; 1 skipped (execve 1)",
    ),
];

#[test]
fn every_shipped_log_replays_with_stable_counts() {
    for (log, summary) in LOGS {
        let o = vmspace(&["replay", log]);
        assert!(o.status.success(), "{log}: {o:?}");
        let text = stdout(&o);
        assert_eq!(text.lines().last(), Some(*summary), "{log}:\n{text}");
    }
}

#[test]
fn every_process_of_the_gcc_log() {
    let o = vmspace(&["replay", "--all", "examples/strace/gcc-compile.log"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert_eq!(
        text.lines().last(),
        Some(
            "examples/strace/gcc-compile.log: 3 processes, 162 calls: 108 agreed, 48 adopted, 0 disagreed, 6 unknown"
        ),
        "{text}"
    );
    // cc1 on its own.
    let cc1 = vmspace(&["replay", "--pid", "7859", "examples/strace/gcc-compile.log"]);
    assert!(stdout(&cc1).contains("pid 7859: "), "{cc1:?}");
}

#[test]
fn json_summary_and_per_call_objects() {
    let log = "examples/strace/rust-grow-vec.log";
    let o = vmspace(&["replay", "--json", log]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    assert_eq!(v["calls"], 33);
    assert_eq!(v["agreed"], 15);
    assert_eq!(v["adopted"], 16);
    assert_eq!(v["disagreed"], 0);
    assert_eq!(v["unknown"], 2);
    assert_eq!(v["skipped_by_call"]["execve"], 1);

    let o = vmspace(&["replay", "--json", "--verbose", log]);
    let values: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(values.len(), 34);
    // glibc's realloc of the Vec: every mremap moved, and the engine took the address.
    let mremaps: Vec<&serde_json::Value> = values
        .iter()
        .filter(|v| v["call"].as_str().is_some_and(|c| c.starts_with("mremap(")))
        .collect();
    assert_eq!(mremaps.len(), 8);
    assert!(mremaps.iter().all(|v| v["verdict"] == "adopted"));
    assert_eq!(values.last().expect("summary")["calls"], 33);
}

#[test]
fn malformed_log_exits_2_with_a_position() {
    let p = temp(
        "bad.log",
        "12 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
         12 munmap(0x7f0000000000 4096) = 0\n",
    );
    let o = vmspace(&["replay", p.to_str().expect("utf-8")]);
    let _ = std::fs::remove_file(&p);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.log:2:26: error:"), "{err}");
}

#[test]
fn disagreements_are_reported_and_fatal_only_with_strict() {
    let p = temp(
        "dis.log",
        "12 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n\
         12 mprotect(0x7f0000000000, 4096, PROT_WRITE) = -1 EACCES (Permission denied)\n\
         12 mprotect(0x555555554000, 4096, PROT_READ) = 0\n",
    );
    let path = p.to_str().expect("utf-8");
    let o = vmspace(&["replay", path]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains("line 2: mprotect(0x7f0000000000, 4096, PROT_WRITE) = -1 EACCES (Permission denied)  [disagreed] engine: 0, log: -1 EACCES"),
        "{text}"
    );
    assert!(text.contains(": 3 calls: 0 agreed, 1 adopted, 1 disagreed, 1 unknown; 0 skipped"));
    let strict = vmspace(&["replay", "--strict", path]);
    let _ = std::fs::remove_file(&p);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn help_has_an_example_and_says_disagreements_are_not_fatal() {
    let o = vmspace(&["replay", "--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("Example:"));
    assert!(text.contains("vmspace replay py.log"));
    assert!(text.contains("Disagreements are reported, not fatal"));
}
