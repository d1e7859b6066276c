//! `parse_strace_log` on arbitrary text: a log or a `ParseError` with a position, never
//! a panic. A log that parses prints as a script that `parse_script` reads back to the
//! same tree (the printer's promise; the strace reader fills in what strace leaves out,
//! so its tree is a valid script tree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmspace_script::{parse_script, parse_strace_log};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_strace_log("fuzz.strace", &text) {
        Ok(log) => {
            for s in &log.skipped {
                assert!(s.line >= 1, "{s:?}");
            }
            let printed = log.script.to_string();
            match parse_script("printed.vms", &printed) {
                Ok(back) => assert!(
                    log.script.same_ast(&back),
                    "printed log reads back differently\ninput:\n{text}\nprinted:\n{printed}\n\
                     first: {:#?}\nback: {:#?}",
                    log.script.stmts,
                    back.stmts
                ),
                Err(e) => {
                    panic!("printed log does not parse\ninput:\n{text}\nprinted:\n{printed}\n{e}")
                }
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && e.width >= 1, "{e:?}");
            let _ = e.to_string();
        }
    }
});
