//! [`LiveError`]: failures of the harness, as opposed to results of the calls it makes.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::procfs::ProcParseError;

/// A failure of the live backend itself: the agent could not be started, stopped
/// answering, died, or `/proc` could not be read. A system call that fails in the
/// agent is not an error here; it is an [`vmspace::Outcome::Error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The protocol pipes could not be created.
    #[error(
        "could not create the pipes to the agent: {0} (is this process out of file descriptors?)"
    )]
    Pipe(#[source] io::Error),

    /// The agent program could not be executed.
    #[error(
        "could not start the agent `{}`: {source} (check that the program exists, is executable, \
         and calls vmspace_linux::agent_main() for the arguments given)",
        program.display()
    )]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The agent did not answer within the timeout; it has been killed and reaped.
    #[error(
        "the agent did not answer within {timeout:?} during {op}; it was {state}. It has been \
         killed and reaped. If the operation is legitimately slow, raise the timeout with \
         LiveBackend::set_timeout"
    )]
    Timeout {
        /// The operation in progress.
        op: String,
        /// The timeout that ran out.
        timeout: Duration,
        /// The agent's scheduler state when the time ran out (`T (stopped)`, ...).
        state: String,
    },

    /// The agent exited or was killed; it has been reaped.
    #[error("the agent died during {op}: {status}{stderr}")]
    Died {
        /// The operation in progress.
        op: String,
        /// How it ended (`killed by SIGSEGV`, `exited with status 70`).
        status: String,
        /// What it wrote to stderr, prefixed for display, or empty.
        stderr: String,
    },

    /// An earlier failure ended the agent; this backend cannot be used any more.
    #[error("the agent is no longer running (earlier: {0}); spawn a new one")]
    Gone(String),

    /// Reading or writing the protocol pipes failed for another reason.
    #[error("I/O error talking to the agent during {op}: {source}")]
    Io {
        /// The operation in progress.
        op: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A `/proc/<pid>` file could not be read.
    #[error(
        "could not read {path}: {source} (the agent may have exited; frame numbers and \
         start_brk need root or CAP_SYS_ADMIN)"
    )]
    Proc {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A `/proc/<pid>` file did not have the expected shape.
    #[error("could not parse {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What was wrong.
        #[source]
        source: ProcParseError,
    },

    /// The agent sent something this program does not understand.
    #[error(
        "protocol error during {op}: {detail} (is the agent program built from the same \
         vmspace-linux as this one?)"
    )]
    Protocol {
        /// The operation in progress.
        op: String,
        /// What was wrong.
        detail: String,
    },

    /// The agent's starting layout is not the deterministic top-down one the engine
    /// models.
    #[error("the agent's layout is not the one the engine models: {detail}")]
    Layout {
        /// What differs, and what to change.
        detail: String,
    },

    /// The agent's resource limits that the engine does not model could not be set to
    /// the values it assumes.
    #[error(
        "could not give the agent {what}, the value the engine assumes (which does not model \
         this limit): {source}; a lowered hard limit can be raised only with CAP_SYS_RESOURCE, \
         so start from a shell whose hard limit is not lowered (`ulimit -H -f`, `ulimit -H -n`)"
    )]
    Limits {
        /// The limit and the value.
        what: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A script operation unmapped or protected the agent's own transfer buffer.
    #[error(
        "{op} made the agent fault on its own transfer buffer at {addr:#x}: the script unmapped \
         or protected memory the agent needs, so it cannot continue; spawn a new one"
    )]
    Damaged {
        /// The operation in progress.
        op: String,
        /// The faulting address.
        addr: u64,
    },
}
