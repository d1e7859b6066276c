//! A script cannot make the CLI exhaust the host's memory: populating absurd ranges
//! gets the errno Linux gives when memory runs out (ENOMEM), and the process stays
//! inside an address-space limit a few times its `--memory-budget`.
//!
//! The script is run on the engine only: on the live kernel, populating 16 TiB of
//! MAP_NORESERVE memory would exhaust this machine (its first line, which the kernel
//! refuses at mmap time under heuristic overcommit, is checked against the kernel
//! by `first_line_agrees_with_the_kernel`).

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = "\
# 2^46 bytes, private and writable: refused by the overcommit heuristic.
mmap(NULL, 0x400000000000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) = -1 ENOMEM
# 16 TiB without reservation is mapped; filling it runs out of memory.
$b = mmap(NULL, 0x100000000000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)
madvise($b, 0x100000000000, MADV_POPULATE_WRITE) = -1 ENOMEM
mlock($b, 0x100000000000) = -1 EAGAIN
munmap($b, 0x100000000000) = 0
# Reading maps the shared zero page: no frames, but 16 TiB of it needs 32 GiB of
# page tables, and those come out of the same budget.
$c = mmap(NULL, 0x100000000000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)
madvise($c, 0x100000000000, MADV_POPULATE_READ) = -1 ENOMEM
munmap($c, 0x100000000000) = 0
$d = mmap(NULL, 0x100000000000, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)
madvise($d, 0x100000000000, MADV_POPULATE_WRITE) = -1 ENOMEM
munmap($d, 0x100000000000) = 0
# Everything was given back: ordinary work goes on.
$e = mmap(NULL, 1p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
store($e, \"still alive\")
load($e, 11) = \"still alive\"
";

fn script_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn populating_absurd_ranges_is_enomem_within_the_memory_budget() {
    let path = script_file("memory-bound.vms", SCRIPT);
    // `ulimit -v` caps the whole address space of the CLI (code, heap, everything) at
    // 512 MiB, eight times the engine's memory budget: an engine that backed 16 TiB, or
    // whose page tables escaped the budget, would abort on allocation failure here.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 524288 && exec \"$0\" run --memory-budget 64M \"$1\"")
        .arg(env!("CARGO_BIN_EXE_vmspace"))
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert_eq!(stdout.matches("ENOMEM").count(), 4, "{stdout}");
}

#[test]
fn first_line_agrees_with_the_kernel() {
    let first = SCRIPT.lines().take(2).collect::<Vec<_>>().join("\n") + "\n";
    let path = script_file("memory-bound-first.vms", &first);
    let out = Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .arg("diff")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn memory_budget_must_be_a_size() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(["run", "--memory-budget", "12Q", "x.vms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown size suffix 'Q'"), "{err}");
}
