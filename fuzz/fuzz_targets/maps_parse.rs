//! `MapsLine::parse` on arbitrary text: a line or an error, never a panic. A line that
//! parses prints (`write_to`/`Display`) as text that parses back to the same value, and
//! printing that value again gives the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmspace::MapsLine;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = MapsLine::parse(line) else {
        return;
    };
    let mut printed = String::new();
    parsed.write_to(&mut printed);
    assert_eq!(printed, parsed.to_string(), "write_to and Display differ");
    let back = match MapsLine::parse(&printed) {
        Ok(back) => back,
        Err(e) => panic!("{line:?} printed as {printed:?}, which does not parse: {e}"),
    };
    assert_eq!(back, parsed, "{line:?} printed as {printed:?}");
    assert_eq!(back.to_string(), printed);
});
