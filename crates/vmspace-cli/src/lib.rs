//! The `vmspace` command line, as a library so that its pieces can be tested.
#![forbid(unsafe_code)]

pub mod compare;
pub mod differ;
pub mod fuzz;
pub mod generate;
pub mod lockstep;
pub mod term;
