//! The `vmspace` command line, as a library so that its pieces can be tested.
#![forbid(unsafe_code)]

#[cfg(live)]
pub mod bench;
pub mod input;
pub mod render_cmd;
pub mod replay;
pub mod term;
pub mod tour;
