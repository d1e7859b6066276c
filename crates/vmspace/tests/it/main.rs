//! Integration tests of the engine through its public API. Every operation is followed
//! by `Mm::check_invariants()`. Expected values come from the Linux 6.18 facts in
//! `shared/spec/linux-semantics.md` (each confirmed on the live kernel by a probe) and,
//! where noted, from runs on the live kernel.

mod harness;

mod abi;
mod access;
mod backend;
mod brk;
mod madvise;
mod maps_format;
mod memfd;
mod merge;
mod mlock;
mod mmap;
mod mprotect;
mod mremap;
mod munmap;
mod pagetable;
mod reference_model;
