//! The `vmspace` command line, as a library so that its pieces can be tested.
#![forbid(unsafe_code)]

pub mod bench;
pub mod compare;
pub mod differ;
pub mod fuzz;
pub mod generate;
pub mod input;
pub mod lockstep;
pub mod render_cmd;
pub mod replay;
pub mod seedfile;
pub mod term;
pub mod tour;

/// The layout `vmspace run` starts from: the live agent's layout on the reference
/// machine, captured with `vmspace seed > crates/vmspace-cli/src/default-layout.txt`.
pub fn default_seed() -> vmspace::Seed {
    seedfile::parse(include_str!("default-layout.txt")).expect("the built-in layout parses")
}
