//! The script corpus: every script under `corpus/` and `examples/` must hold under
//! `vmspace diff` (the engine and the live kernel agree at every step and every
//! assertion holds). Scripts that do not depend on the agent's layout (everything but
//! `corpus/regressions/`, which replays fuzzer findings with absolute addresses) must
//! also hold under `vmspace run` on the engine alone.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scripts(&p, out);
        } else if p.extension().is_some_and(|e| e == "vms") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str], file: &Path) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(args)
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "vmspace {} {} exited with {}:\n{}{}",
            args.join(" "),
            file.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn every_script_agrees_with_the_live_kernel() {
    let mut files = Vec::new();
    scripts(&root().join("corpus"), &mut files);
    scripts(&root().join("examples"), &mut files);
    assert!(
        files.len() >= 10,
        "the corpus is missing: {} scripts",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        // The live kernel is not fully deterministic (a huge page allocation can fail
        // under memory pressure, for one): a script that fails is run once more, and
        // a pass on the second try is reported, not hidden.
        if let Err(e) = run(&["diff"], f) {
            match run(&["diff"], f) {
                Ok(()) => eprintln!(
                    "warning: {} passed only on a second try; the first failure was:\n{e}",
                    f.display()
                ),
                Err(e2) => failures.push(e2),
            }
        }
        let layout_bound = f.components().any(|c| c.as_os_str() == "regressions");
        if !layout_bound && let Err(e) = run(&["run"], f) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
