//! `vmspace run` as a user meets it: its output, its exit status, and its messages
//! for scripts that fail or do not parse.
//!
//! The snapshot's values are the engine's; `tests/corpus.rs` checks the same script
//! against the live kernel with `vmspace diff`, so they are also the kernel's.
//! Refresh the snapshot with `VMSPACE_BLESS=1 cargo test -p vmspace-cli --test run_cli`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vmspace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn script(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn trace_output_matches_the_snapshot() {
    let out = vmspace(&["run", "examples/mremap-grow.vms", "--trace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let snap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/run-mremap-grow-trace.txt");
    let got = text(&out.stdout);
    if std::env::var_os("VMSPACE_BLESS").is_some() {
        std::fs::write(&snap, &got).unwrap();
    }
    let want = std::fs::read_to_string(&snap).unwrap();
    assert_eq!(
        got, want,
        "run --trace output changed (VMSPACE_BLESS=1 to accept)"
    );
    // Removals come before additions, and lines are indented under their call.
    assert!(got.contains(
        "mremap(0x7ffff7ca1000, 16p, 8p, MREMAP_MAYMOVE) = 0x7ffff7ca1000\n    - 7ffff7ca1000-7ffff7db5000"
    ));
}

#[test]
fn a_failed_assertion_shows_expected_and_actual_and_exits_1() {
    let f = script(
        "failed-assertion.vms",
        "$a = mmap(NULL, 2p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         load($a, 1) = \"x\"\n\
         munmap($a, 1p) = 1\n\
         munmap($a, 1p) = 0\n",
    );
    let out = vmspace(&["run", &f]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "load(0x7ffff7fba000, 1) = \"\\x00\"    # FAILED: expected \"x\", got \"\\x00\"\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("munmap(0x7ffff7fba000, 1p) = 0    # FAILED: expected 1, got 0\n"),
        "{stdout}"
    );
    // The run goes on after a failed assertion: the last call ran.
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert_eq!(text(&out.stderr), "2 assertion(s) failed\n");
}

#[test]
fn an_unexpected_fault_stops_the_run_and_says_how_to_expect_it() {
    let f = script(
        "unexpected-fault.vms",
        "$a = mmap(NULL, 2p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         store($a, \"x\")\n\
         munmap($a, 2p) = 0\n",
    );
    let out = vmspace(&["run", &f]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let err = text(&out.stderr);
    assert!(
        err.contains(":2: the access faulted (SIGSEGV {si_code=SEGV_ACCERR, si_addr=0x7ffff7fba000}); write `= SIGSEGV` or `= SIGBUS` after it if that is expected\n  store($a, \"x\")"),
        "{err}"
    );
}

#[test]
fn a_script_that_does_not_parse_runs_nothing_and_points_at_the_error() {
    let f = script(
        "bad-syntax.vms",
        "munmap(0x10000, 1p) = 0\nmunmap(0x10000, 1p, = 0\n",
    );
    let out = vmspace(&["run", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "", "nothing may run");
    assert_eq!(
        text(&out.stderr),
        format!(
            "{f}:2:21: error: too many arguments: `munmap` takes 2 arguments\n  |\n2 | munmap(0x10000, 1p, = 0\n  |                     ^\n"
        )
    );
    let g = script("unsupported-call.vms", "open(\"/etc/passwd\", O_RDONLY)\n");
    let out = vmspace(&["run", &g]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{g}:1:1: error: `open` is not a supported call (expected one of mmap, munmap, mremap"
        )),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_reported_without_a_backtrace() {
    let out = vmspace(&["run", "no/such/script.vms"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "vmspace: error: cannot read no/such/script.vms: No such file or directory (os error 2)\n"
    );
}

#[test]
fn json_is_one_object_per_statement() {
    let out = vmspace(&["run", "examples/mremap-grow.vms", "--json"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let objs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 12);
    assert_eq!(objs[0]["line"], 6);
    assert_eq!(objs[0]["outcome"], "0x7ffff7ca1000");
    assert!(objs.iter().all(|o| o["ok"] == true));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // `vmspace run ... | head -1`: once the reader is gone, the process ends by SIGPIPE
    // like a C tool, not with a panic message about a broken pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(["tour"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(err, "", "no message on a closed pipe");
}

/// `run` starts from the built-in layout, whose program path is a neutral one (not the
/// build directory of the machine it was captured on), and its help says how that
/// differs from `diff`'s.
#[test]
fn run_starts_from_the_built_in_layout_and_says_so() {
    let maps = vmspace(&["run", &script("maps", "maps()\n")]);
    assert!(maps.status.success());
    let maps = text(&maps.stdout);
    assert!(maps.contains(" /usr/bin/vmspace\n"), "{maps}");
    assert!(!maps.contains("/target/"), "{maps}");
    let help = text(&vmspace(&["run", "--help"]).stdout);
    assert!(
        help.contains("The engine starts from a built-in layout")
            && help.contains("`vmspace diff` starts both sides from the live agent's layout"),
        "{help}"
    );
    let help = text(&vmspace(&["diff", "--help"]).stdout);
    assert!(
        help.contains("Both sides start from the live agent's layout on this machine"),
        "{help}"
    );
}
