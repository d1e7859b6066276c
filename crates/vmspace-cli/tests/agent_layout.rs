//! The live agent is the `vmspace` binary itself, and the differ reads the agent's
//! `/proc/pid/maps` after nearly every operation: each shared library the binary links
//! adds five lines to that text and to the cost of every read. This keeps the set of
//! libraries at what Rust's standard library needs (libc, libgcc_s and the loader).

use std::process::Command;

#[test]
fn the_agent_maps_no_library_beyond_libc_libgcc_and_the_loader() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .arg("seed")
        .output()
        .expect("vmspace runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut libs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|name| name.contains(".so"))
        .map(|name| name.rsplit('/').next().unwrap_or(name))
        .collect();
    libs.dedup();
    libs.sort_unstable();
    libs.dedup();
    assert_eq!(
        libs,
        ["ld-linux-x86-64.so.2", "libc.so.6", "libgcc_s.so.1"],
        "a new library (libm comes with f64::log2, ln, powf, sin, ...):\n{text}"
    );
}
