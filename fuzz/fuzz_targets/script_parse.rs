//! `parse_script` on arbitrary text: it returns a script or a `ParseError` with a
//! position, and never panics. Both results are formatted too (the diagnostic's caret
//! line and the printer must not panic either).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmspace_script::parse_script;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_script("fuzz.vms", &text) {
        Ok(script) => {
            let _ = script.to_string();
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && e.width >= 1, "{e:?}");
            assert!(
                e.line <= text.split('\n').count(),
                "error line {} beyond the input: {e:?}",
                e.line
            );
            let _ = e.to_string();
        }
    }
});
