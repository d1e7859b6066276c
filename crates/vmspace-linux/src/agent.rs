//! The agent: the process whose address space the live backend operates on.
//!
//! Start-up (allocation allowed): make sure the image was executed with
//! `ADDR_NO_RANDOMIZE` (set it and re-execute `/proc/self/exe` otherwise), move the
//! protocol pipes to their fixed descriptors, close everything else, allocate and fault
//! in the transfer buffer and the alternate signal stack, install the fault handler and
//! greet the parent with `brk(0)` and the stack limit.
//!
//! With `VMSPACE_AGENT_PERTURB=1` in its environment the agent starts from a layout
//! that no machine has (see [`perturbation`]): scripts and tests run under it to show
//! that they name no address the kernel chose relative to the agent's own layout.
//!
//! Then the request loop, which only makes raw `read`/`write` calls on the protocol
//! descriptors, the requested system calls, and accesses through the assembly routines
//! in [`crate::sys`]: no allocation and nothing else that could map memory, so the
//! layout changes only as the script says.

use std::os::unix::process::CommandExt;
use std::process::Command;

use linux_raw_sys::general as g;

use crate::proto::{
    ALTSTACK_SIZE, BUF_SIZE, REQ_BYTES, REQ_FD, RESP_FD, Refusal, Request, Response,
};
use crate::sys;

/// Exit status of an agent that could not start (its stderr says why).
const EXIT_STARTUP: i32 = 70;
/// Exit status of an agent that received a malformed request.
const EXIT_PROTOCOL: i32 = 71;

/// The system calls a script may make through the agent.
const SUPPORTED: [u32; 17] = [
    g::__NR_mmap,
    g::__NR_munmap,
    g::__NR_mremap,
    g::__NR_mprotect,
    g::__NR_mlock,
    g::__NR_mlock2,
    g::__NR_munlock,
    g::__NR_mlockall,
    g::__NR_munlockall,
    g::__NR_madvise,
    g::__NR_brk,
    g::__NR_memfd_create,
    g::__NR_ftruncate,
    g::__NR_pwrite64,
    g::__NR_close,
    g::__NR_prlimit64,
    g::__NR_setuid,
];

/// Would `close(fd)` close a descriptor the harness needs? The kernel reads the
/// argument as an `unsigned int`, so only the low 32 bits count.
pub(crate) fn is_protected_fd(fd: u64) -> bool {
    let fd = fd as u32;
    fd <= 2 || fd == REQ_FD as u32 || fd == RESP_FD as u32
}

/// Run the agent. Never returns: the process exits when the parent closes the request
/// pipe or asks it to, or dies on a fault outside the access routines.
///
/// The program that calls this must be started by [`crate::LiveBackend::spawn`] (its
/// stdin and stdout are the protocol pipes).
pub fn agent_main() -> ! {
    let perturbed = match start() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("vmspace agent: {msg}");
            std::process::exit(EXIT_STARTUP);
        }
    };
    serve(perturbed)
}

/// Everything before the request loop; returns whether the layout is to be perturbed.
fn start() -> Result<bool, String> {
    let perturb = perturbation()?;
    ensure_no_randomize(perturb)?;
    sys::setup_protocol_fds().map_err(|e| {
        format!(
            "could not move the protocol pipes to fds {REQ_FD}/{RESP_FD}: {e} \
             (is RLIMIT_NOFILE above {RESP_FD}?)"
        )
    })?;
    Ok(perturb)
}

/// Descriptor the first stage leaves open across its re-execution, as a copy of fd 0,
/// so that the second stage can tell that it is the second. Low, so that any
/// RLIMIT_NOFILE allows it; whatever the agent inherited there is closed in the second
/// stage anyway, with every other descriptor above 2.
const REEXEC_MARK_FD: i32 = 3;

/// The environment variable that asks for a perturbed starting layout.
pub(crate) const PERTURB_ENV: &str = "VMSPACE_AGENT_PERTURB";
/// How many pages lower `mmap_base` is in a perturbed agent: the loader, the libraries,
/// `[vdso]`/`[vvar]` and everything the runtime maps move down by this much.
pub(crate) const PERTURB_BASE_PAGES: u64 = 5;
/// The size of the extra mapping a perturbed agent makes before it greets (an unhinted
/// `PROT_READ` anonymous mapping: the kernel puts it at the top of the highest free
/// range below `mmap_base`, which on every layout seen so far is the hole between the
/// libraries and the runtime's alternate signal stack).
pub(crate) const PERTURB_EXTRA_PAGES: u64 = 1;
/// The x86-64 stack guard gap (`stack_guard_gap`), which `mmap_base` keeps below the
/// stack limit.
const STACK_GUARD_GAP: u64 = 256 << 12;
/// The smallest gap `mmap_base` keeps below the top (x86-64 `mmap_base()`: 128 MiB).
const MMAP_GAP_MIN: u64 = 128 << 20;

/// Whether `VMSPACE_AGENT_PERTURB` asks for a perturbed layout: unset, empty or `0` is
/// no, `1` is yes, anything else an error.
///
/// A perturbed agent differs from a plain one in two ways, both made before it reports
/// its layout, so that the engine is seeded with them like with any other layout:
/// its `mmap_base` is [`PERTURB_BASE_PAGES`] pages lower (the first stage raises its
/// `RLIMIT_STACK` soft limit by that much above what sets the 128 MiB minimum gap,
/// which the kernel reads when it lays out the re-executed image: `mmap_base()` in
/// arch/x86/mm/mmap.c), and it holds one more mapping of [`PERTURB_EXTRA_PAGES`] pages
/// (which narrows the highest hole, as a larger alternate signal stack would). A script
/// whose expected values name an address the kernel chose relative to the agent's own
/// layout (which depends on the CPU through `AT_MINSIGSTKSZ`, on the C library, the
/// kernel build and the stack limit) fails under it on every machine.
pub(crate) fn perturbation() -> Result<bool, String> {
    match std::env::var_os(PERTURB_ENV) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "0" => Ok(false),
        Some(v) if v == "1" => Ok(true),
        Some(v) => Err(format!(
            "{PERTURB_ENV} must be 0 or 1 (or unset), not {:?}",
            v.to_string_lossy()
        )),
    }
}

/// The `RLIMIT_STACK` soft limit that puts `mmap_base` [`PERTURB_BASE_PAGES`] pages
/// below where `cur` puts it, or, where the hard limit `max` forbids raising it (`ulimit
/// -s N` sets both), that many pages above, by lowering it; `None` for an unlimited
/// stack (the legacy layout: the parent refuses that anyway) and where neither is
/// possible.
fn perturbed_stack_limit(cur: u64, max: u64) -> Option<u64> {
    if cur == g::RLIM64_INFINITY as u64 {
        return None;
    }
    let floor = MMAP_GAP_MIN - STACK_GUARD_GAP;
    let shift = PERTURB_BASE_PAGES << 12;
    let raised = cur.max(floor) + shift;
    if raised <= max {
        Some(raised)
    } else {
        cur.checked_sub(shift).filter(|&lower| lower >= floor)
    }
}

/// Raise the `RLIMIT_STACK` soft limit for a perturbed layout (the first stage does
/// this before it re-executes; the limit then stays, and the agent reports it).
fn perturb_stack_limit() -> Result<(), String> {
    let (cur, max) =
        sys::getrlimit(g::RLIMIT_STACK).map_err(|e| format!("getrlimit(RLIMIT_STACK): {e}"))?;
    if cur == g::RLIM64_INFINITY as u64 {
        return Ok(());
    }
    let Some(new) = perturbed_stack_limit(cur, max) else {
        return Err(format!(
            "{PERTURB_ENV}=1 cannot move mmap_base: RLIMIT_STACK {cur:#x} can be neither \
             raised (hard limit {max:#x}) nor lowered past the 128 MiB minimum gap"
        ));
    };
    let lim = [new, max];
    let r = sys::raw_syscall(
        u64::from(g::__NR_prlimit64),
        [0, u64::from(g::RLIMIT_STACK), lim.as_ptr() as u64, 0, 0, 0],
    );
    if r < 0 {
        return Err(format!(
            "{PERTURB_ENV}=1: prlimit64(RLIMIT_STACK) failed: {}",
            std::io::Error::from_raw_os_error(-r as i32)
        ));
    }
    Ok(())
}

/// The perturbed agent's extra mapping (see [`perturbation`]), made after everything
/// the agent allocates and before it greets.
fn perturb_extra_mapping() -> Result<(), String> {
    let r = sys::raw_syscall(
        u64::from(g::__NR_mmap),
        [
            0,
            PERTURB_EXTRA_PAGES << 12,
            u64::from(g::PROT_READ),
            u64::from(g::MAP_PRIVATE | g::MAP_ANONYMOUS),
            u64::MAX,
            0,
        ],
    );
    if r < 0 {
        return Err(format!(
            "{PERTURB_ENV}=1: the extra mapping failed: {}",
            std::io::Error::from_raw_os_error(-r as i32)
        ));
    }
    Ok(())
}

/// If this image was not executed with `ADDR_NO_RANDOMIZE`, set it and re-execute
/// `/proc/self/exe` with the same arguments and environment (the descriptors, which
/// are not close-on-exec, carry over). A perturbed agent always re-executes, with its
/// stack limit raised first.
fn ensure_no_randomize(perturb: bool) -> Result<(), String> {
    let no_rand = libc::ADDR_NO_RANDOMIZE as u32;
    let p = sys::personality().map_err(|e| format!("personality query failed: {e}"))?;
    let second_stage = sys::same_open_file(REEXEC_MARK_FD, 0);
    if second_stage {
        if p & no_rand == 0 {
            return Err(
                "ADDR_NO_RANDOMIZE did not survive re-executing /proc/self/exe; the kernel \
                        clears it for set-user-ID programs and programs with file capabilities, \
                        so run the agent from a plain executable"
                    .to_string(),
            );
        }
        // Executing /proc/self/exe named the process "exe"; give it its name back.
        let name = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.as_encoded_bytes().to_vec()))
            .and_then(|n| std::ffi::CString::new(n).ok());
        if let Some(name) = name {
            sys::set_comm(&name);
        }
        return Ok(());
    }
    if p & no_rand != 0 && !perturb {
        return Ok(());
    }
    if perturb {
        perturb_stack_limit()?;
    }
    sys::set_personality(p | no_rand)
        .map_err(|e| format!("personality(ADDR_NO_RANDOMIZE) failed: {e}"))?;
    sys::dup_to(0, REEXEC_MARK_FD)
        .map_err(|e| format!("could not mark the re-execution on fd {REEXEC_MARK_FD}: {e}"))?;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let err = Command::new("/proc/self/exe").arg0(argv0).args(args).exec();
    Err(format!("re-executing /proc/self/exe failed: {err}"))
}

/// The request loop.
fn serve(perturb: bool) -> ! {
    let altstack: &'static mut [u8] = Vec::leak(vec![0u8; ALTSTACK_SIZE]);
    let buf: &'static mut [u8] = Vec::leak(vec![0u8; BUF_SIZE]);
    // Fault both in now, so that later operations never change their pages.
    sys::fill_slice(altstack, 0);
    sys::fill_slice(buf, 0);
    if let Err(e) = sys::install_fault_handlers(altstack) {
        eprintln!("vmspace agent: could not install the fault handler: {e}");
        std::process::exit(EXIT_STARTUP);
    }
    // A write past RLIMIT_FSIZE then fails with EFBIG instead of killing the agent.
    sys::ignore_signal(libc::SIGXFSZ);
    if perturb && let Err(e) = perturb_extra_mapping() {
        eprintln!("vmspace agent: {e}");
        std::process::exit(EXIT_STARTUP);
    }
    let brk = sys::raw_syscall(u64::from(g::__NR_brk), [0; 6]) as u64;
    let (stack_cur, stack_max) = match sys::getrlimit(g::RLIMIT_STACK) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vmspace agent: getrlimit(RLIMIT_STACK) failed: {e}");
            std::process::exit(EXIT_STARTUP);
        }
    };
    let personality = sys::personality().map(u64::from).unwrap_or(u64::MAX);
    respond(&Response::Hello {
        brk,
        stack_cur,
        stack_max,
        personality,
    });

    let buf_range = {
        let start = buf.as_ptr() as u64;
        start..start + buf.len() as u64
    };
    let mut frame = [0u8; REQ_BYTES];
    loop {
        if !read_exact(&mut frame) {
            // The parent closed the pipe: it is gone or done with us.
            sys::exit_now(0);
        }
        let Some(req) = Request::decode(&frame) else {
            sys::exit_now(EXIT_PROTOCOL);
        };
        let payload = req.payload_len();
        if payload > BUF_SIZE as u64 {
            sys::exit_now(EXIT_PROTOCOL);
        }
        let data = &mut buf[..payload as usize];
        if !read_exact(data) {
            sys::exit_now(EXIT_PROTOCOL);
        }
        let fault = |f: sys::FaultRecord, script_side: u64| {
            if buf_range.contains(&f.si_addr) {
                return Response::Damaged { addr: f.si_addr };
            }
            // A non-canonical address raises #GP, which Linux reports as SIGSEGV with
            // SI_KERNEL and si_addr 0; the routine's pointer is the address used.
            let addr = if f.code == u64::from(g::SI_KERNEL) {
                script_side
            } else {
                f.si_addr
            };
            Response::Fault {
                signo: f.signo,
                code: f.code,
                addr,
            }
        };
        let resp = match req {
            Request::Syscall {
                nr, args, buf_arg, ..
            } => syscall(nr, args, buf_arg, buf.as_ptr() as u64),
            Request::Load { addr, len } => {
                if len > BUF_SIZE as u64 {
                    Response::Refused(Refusal::TooLarge)
                } else {
                    match sys::load_into(&mut buf[..len as usize], addr) {
                        Ok(()) => Response::Bytes { len },
                        Err(f) => fault(f, f.src),
                    }
                }
            }
            Request::Store { addr, payload_len } => {
                match sys::store_from(addr, &buf[..payload_len as usize]) {
                    Ok(()) => Response::Done,
                    Err(f) => fault(f, f.dst),
                }
            }
            Request::Fill { addr, len, byte } => match sys::fill(addr, len, byte) {
                Ok(()) => Response::Done,
                Err(f) => fault(f, f.dst),
            },
            Request::Exit => sys::exit_now(0),
        };
        match resp {
            Response::Bytes { len } => respond_with(&resp, &buf[..len as usize]),
            _ => respond(&resp),
        }
    }
}

fn syscall(nr: u64, mut args: [u64; 6], buf_arg: Option<u8>, buf_addr: u64) -> Response {
    if !SUPPORTED.iter().any(|&n| u64::from(n) == nr) {
        return Response::Refused(Refusal::NotSupported);
    }
    if nr == u64::from(g::__NR_close) && is_protected_fd(args[0]) {
        return Response::Refused(Refusal::ProtectedFd);
    }
    if let Some(i) = buf_arg {
        args[usize::from(i)] = buf_addr;
    }
    Response::Ret(sys::raw_syscall(nr, args))
}

/// Read exactly `buf.len()` bytes from the request pipe; false on EOF or error.
fn read_exact(buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        let r = sys::read_fd(REQ_FD, &mut buf[done..]);
        if r == -(libc::EINTR as isize) {
            continue;
        }
        if r <= 0 {
            return false;
        }
        done += r as usize;
    }
    true
}

/// Write all of `buf` to the response pipe; exits if the parent is gone.
fn write_all(buf: &[u8]) {
    let mut done = 0;
    while done < buf.len() {
        let r = sys::write_fd(RESP_FD, &buf[done..]);
        if r == -(libc::EINTR as isize) {
            continue;
        }
        if r <= 0 {
            sys::exit_now(0);
        }
        done += r as usize;
    }
}

fn respond(r: &Response) {
    write_all(&r.encode());
}

/// The response and the bytes that follow it in one write, so that the parent wakes
/// once for both.
fn respond_with(r: &Response, data: &[u8]) {
    let head = r.encode();
    let n = loop {
        let n = sys::write_fd2(RESP_FD, &head, data);
        if n != -(libc::EINTR as isize) {
            break n;
        }
    };
    if n <= 0 {
        sys::exit_now(0);
    }
    let n = n as usize;
    if n < head.len() {
        write_all(&head[n..]);
        write_all(data);
    } else {
        write_all(&data[n - head.len()..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perturbed_stack_limit_lowers_mmap_base_by_the_shift() {
        use vmspace::Config;
        use vmspace::addr::TASK_SIZE;
        let shift = PERTURB_BASE_PAGES << 12;
        // From the usual 8 MiB, from a limit past the 128 MiB minimum gap, and from one
        // just below it.
        for cur in [8 << 20, 1 << 30, MMAP_GAP_MIN - STACK_GUARD_GAP - 4096] {
            let plain = Config::mmap_base_for_stack_limit(TASK_SIZE, cur, STACK_GUARD_GAP);
            let new = perturbed_stack_limit(cur, u64::MAX).unwrap();
            let perturbed = Config::mmap_base_for_stack_limit(TASK_SIZE, new, STACK_GUARD_GAP);
            assert_eq!(perturbed, plain - shift, "from RLIMIT_STACK {cur:#x}");
        }
        // `ulimit -s 1048576`: soft = hard, past the minimum gap: lowered, mmap_base up.
        let cur = 1 << 30;
        let plain = Config::mmap_base_for_stack_limit(TASK_SIZE, cur, STACK_GUARD_GAP);
        let new = perturbed_stack_limit(cur, cur).unwrap();
        let perturbed = Config::mmap_base_for_stack_limit(TASK_SIZE, new, STACK_GUARD_GAP);
        assert_eq!(perturbed, plain + shift);
        // 8 MiB soft = hard: neither way moves it.
        assert_eq!(perturbed_stack_limit(8 << 20, 8 << 20), None);
        assert_eq!(perturbed_stack_limit(u64::MAX, u64::MAX), None);
    }

    #[test]
    fn protected_fds_use_the_low_32_bits() {
        for fd in [0, 1, 2, 1000, 1001, 1 << 32, (1 << 32) | 1001] {
            assert!(is_protected_fd(fd), "{fd}");
        }
        for fd in [3, 999, 1002, u64::MAX] {
            assert!(!is_protected_fd(fd), "{fd}");
        }
    }
}
