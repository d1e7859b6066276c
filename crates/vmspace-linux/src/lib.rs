//! The live Linux kernel as a [`vmspace::Backend`].
//!
//! [`LiveBackend::spawn`] starts an *agent*: a program that calls [`agent_main`] (this
//! crate's `vmspace-agent` binary, or the `vmspace` binary re-executed with `__agent`).
//! The agent re-executes itself with `personality(ADDR_NO_RANDOMIZE)` so that its
//! layout, and with it `mmap_base`, is the same on every run, then serves requests over
//! two pipes: each system call is made raw with exactly the operation's register
//! values, and each memory access is made by the CPU, with SIGSEGV and SIGBUS caught and
//! returned as [`vmspace::Fault`]s. Between requests it neither allocates nor maps
//! anything, so its layout changes only as the script says.
//!
//! The parent observes the agent through `/proc/<pid>/{maps,smaps,pagemap,status,stat}`
//! ([`procfs`] has the parsers) and bounds every exchange with a timeout: an agent
//! that stops answering or dies is killed if need be, reaped, and reported as a
//! [`LiveError`] naming the operation.
//!
//! x86-64 Linux only. Frame numbers in `pagemap` are visible only to root
//! (CAP_SYS_ADMIN); without it every present page shows frame 0.
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("vmspace-linux supports x86-64 Linux only (its access routine is x86-64 assembly)");

mod agent;
mod config;
mod error;
pub mod kbench;
mod live;
pub mod procfs;
mod proto;
mod sys;

pub use agent::agent_main;
pub use config::engine_config;
pub use error::LiveError;
pub use live::{AgentCommand, CpuAffinity, LiveBackend, Prefetched};

/// Catch SIGINT and SIGTERM instead of dying of them, so that a long-running command
/// can finish what it holds (write a finding, print its summary) and stop: the first
/// signal is recorded for [`stop_requested`]; a second one ends the process as usual.
/// Agents started afterwards run in their own process group, so a Ctrl-C at the
/// terminal reaches only the parent.
///
/// # Errors
/// If `sigaction` fails.
pub fn catch_stop_signals() -> std::io::Result<()> {
    sys::catch_stop_signals()
}

/// The SIGINT or SIGTERM caught since [`catch_stop_signals`], if one was.
pub fn stop_requested() -> Option<i32> {
    sys::stop_requested()
}

/// Let SIGPIPE end the process quietly, as it does for C programs: a command-line tool
/// whose output is piped into `head` then stops instead of failing on the write (the
/// Rust runtime ignores SIGPIPE by default). Writes to an agent are not affected: a
/// [`LiveBackend`] blocks SIGPIPE while it writes, and reports a broken pipe as the
/// agent's death.
pub fn die_on_sigpipe() {
    sys::default_signal(libc::SIGPIPE);
}
