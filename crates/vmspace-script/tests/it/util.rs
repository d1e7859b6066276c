//! Helpers shared by the test modules.

use vmspace::Op;
use vmspace_script::{
    Action, Env, Expect, Script, Stmt, parse_script, parse_script_with_env, parse_strace_log,
};

/// Parse a script fragment or fail the test with the rendered error. The fragment's
/// `$name`s count as bound before it starts (as with `Runner::with_env`), so that one
/// line can be tested alone; `parse_script` itself rejects a name no earlier line binds
/// (tested in `errors.rs`).
pub(crate) fn script(text: &str) -> Script {
    let mut env = Env::new();
    for part in text.split('$').skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        env.set(&name, 0);
    }
    parse_script_with_env("test.vms", text, &env).unwrap_or_else(|e| panic!("{e}"))
}

/// The only statement of a one-line script.
pub(crate) fn one(text: &str) -> Stmt {
    let s = script(text);
    assert_eq!(s.stmts.len(), 1, "{text}");
    s.stmts.into_iter().next().unwrap()
}

/// The operation a one-line script stands for, with `env`.
pub(crate) fn op_with(text: &str, env: &Env) -> Op {
    match one(text).resolve(env) {
        Ok(Action::Op(op)) => op,
        other => panic!("{text}: {other:?}"),
    }
}

/// The operation a one-line script stands for, with no bindings.
pub(crate) fn op(text: &str) -> Op {
    op_with(text, &Env::new())
}

/// The operation and expectation of a one-line strace log.
pub(crate) fn strace_line(text: &str) -> (Op, Option<Expect>, Option<u32>) {
    let log = parse_strace_log("test.strace", text).unwrap_or_else(|e| panic!("{e}"));
    assert!(log.skipped.is_empty(), "{:?}", log.skipped);
    assert_eq!(log.script.stmts.len(), 1, "{text}");
    let s = &log.script.stmts[0];
    match s.resolve(&Env::new()) {
        Ok(Action::Op(op)) => (op, s.expect.clone(), s.pid),
        other => panic!("{text}: {other:?}"),
    }
}

/// The rendered error of a script that must not parse.
pub(crate) fn error(text: &str) -> String {
    match parse_script("bad.vms", text) {
        Ok(s) => panic!("parsed but should not have: {text}\n{s}"),
        Err(e) => e.to_string(),
    }
}

/// The fixture file with this name, from tests/data.
pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every fixture's file name.
pub(crate) fn fixtures() -> Vec<String> {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

/// A proptest case count: `default`, or `PROPTEST_CASES` from the environment for a
/// longer run.
pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
