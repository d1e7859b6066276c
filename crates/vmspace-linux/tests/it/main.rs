//! Integration tests of the live backend. They run the agent for real on the host
//! kernel (as root, so that frame numbers are visible); every expected value was
//! measured on the reference machine (Linux 6.18.44, x86-64), the kernel being the
//! truth and the harness the thing under test.

mod access;
mod maps_window;
mod pages;
mod robustness;
mod seed;
mod syscalls;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use vmspace::{Backend, Fault, FaultCode, Op, Outcome, Signal};
use vmspace_linux::{AgentCommand, LiveBackend};

pub(crate) const PAGE: u64 = 4096;
pub(crate) const PROT_NONE: u64 = 0;
pub(crate) const PROT_READ: u64 = 1;
pub(crate) const PROT_WRITE: u64 = 2;
pub(crate) const PROT_RW: u64 = PROT_READ | PROT_WRITE;
pub(crate) const MAP_SHARED: u64 = 0x01;
pub(crate) const MAP_PRIVATE: u64 = 0x02;
pub(crate) const MAP_ANONYMOUS: u64 = 0x20;

pub(crate) fn agent() -> AgentCommand {
    AgentCommand {
        program: env!("CARGO_BIN_EXE_vmspace-agent").into(),
        args: vec![],
    }
}

pub(crate) fn spawn() -> LiveBackend {
    LiveBackend::spawn(&agent(), Duration::from_secs(20)).expect("spawn the agent")
}

#[track_caller]
pub(crate) fn apply(b: &mut LiveBackend, op: Op) -> Outcome {
    b.apply(&op)
        .unwrap_or_else(|e| panic!("{op:?} failed in the harness: {e}"))
}

#[track_caller]
pub(crate) fn value(b: &mut LiveBackend, op: Op) -> u64 {
    match apply(b, op.clone()) {
        Outcome::Value(v) => v,
        other => panic!("{op:?} gave {other:?}"),
    }
}

pub(crate) fn mmap_op(len: u64, prot: u64, flags: u64, fd: u64) -> Op {
    Op::Mmap {
        addr: 0,
        len,
        prot,
        flags,
        fd,
        offset: 0,
    }
}

#[track_caller]
pub(crate) fn mmap_anon(b: &mut LiveBackend, len: u64, prot: u64) -> u64 {
    value(b, mmap_op(len, prot, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX))
}

pub(crate) fn segv(code: FaultCode, addr: u64) -> Outcome {
    Outcome::Fault(Fault {
        signal: Signal::Segv,
        code,
        addr,
    })
}

pub(crate) fn proc_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The scheduler state letter of a process (`S`, `T`, `Z`), if it exists.
pub(crate) fn sched_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Send a signal from outside (the kill(1) program) and wait until the agent's state
/// shows it took effect.
pub(crate) fn signal_from_outside(pid: u32, sig: &str, until_state: char) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("run kill(1)");
    assert!(st.success());
    let end = Instant::now() + Duration::from_secs(5);
    while sched_state(pid) != Some(until_state) {
        assert!(
            Instant::now() < end,
            "agent never reached state {until_state}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
