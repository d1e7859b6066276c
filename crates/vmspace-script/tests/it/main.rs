//! Integration tests of vmspace-script, through its public API only.

mod errors;
mod language;
mod robustness;
mod roundtrip;
mod runner;
mod strace;
mod util;
