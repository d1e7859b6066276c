//! parse → print → parse yields the same tree (line numbers and source text aside), and
//! printing is a fixed point: the second print equals the first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmspace_script::parse_script;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = parse_script("fuzz.vms", text) else {
        return;
    };
    let printed = first.to_string();
    let back = match parse_script("printed.vms", &printed) {
        Ok(back) => back,
        Err(e) => panic!("printed script does not parse\ninput:\n{text}\nprinted:\n{printed}\n{e}"),
    };
    assert!(
        first.same_ast(&back),
        "printed script reads back differently\ninput:\n{text}\nprinted:\n{printed}\n\
         first: {:#?}\nback: {:#?}",
        first.stmts,
        back.stmts
    );
    assert_eq!(printed, back.to_string(), "printing is not a fixed point");
});
