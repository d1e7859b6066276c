//! Every `unsafe` operation of the crate: raw system calls, the fault-recovering access
//! routine, the signal handler and a few descriptor helpers.
//!
//! The agent's address space is the experiment: a script may map, unmap and protect
//! any of it. The agent therefore never hands script-named addresses to Rust code as
//! references; they reach the CPU only through the assembly routines below, whose
//! faults the signal handler turns into results, and the kernel only as raw register
//! values.
#![allow(unsafe_code)]

use core::arch::global_asm;
use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::proto::{REQ_FD, RESP_FD};

// The access routines. Each moves one byte per iteration, so the first faulting byte is
// exactly the one the kernel reports in `si_addr`, and every byte before it has been
// accessed (what a byte-wise C loop in a real program does). They use only caller-saved
// registers, push nothing and return 0 in rax; when the signal handler sees a fault
// with rip in [vmspace_access_copy, vmspace_access_end) it moves rip to
// vmspace_access_fixup, which returns 1 to the caller with the stack untouched.
// Numeric labels avoid 0 and 1, which Intel syntax would read as binary numbers.
global_asm!(
    ".pushsection .text.vmspace_access,\"ax\",@progbits",
    ".p2align 4",
    ".globl vmspace_access_copy",
    ".hidden vmspace_access_copy",
    ".type vmspace_access_copy,@function",
    // vmspace_access_copy(dst: rdi, src: rsi, len: rdx) -> rax
    "vmspace_access_copy:",
    "    xor eax, eax",
    "    test rdx, rdx",
    "    jz 3f",
    "2:",
    "    movzx ecx, byte ptr [rsi]",
    "    mov byte ptr [rdi], cl",
    "    add rsi, 1",
    "    add rdi, 1",
    "    sub rdx, 1",
    "    jnz 2b",
    "3:",
    "    ret",
    ".size vmspace_access_copy, .-vmspace_access_copy",
    ".globl vmspace_access_fill",
    ".hidden vmspace_access_fill",
    ".type vmspace_access_fill,@function",
    // vmspace_access_fill(dst: rdi, byte: sil, len: rdx) -> rax
    "vmspace_access_fill:",
    "    xor eax, eax",
    "    test rdx, rdx",
    "    jz 5f",
    "4:",
    "    mov byte ptr [rdi], sil",
    "    add rdi, 1",
    "    sub rdx, 1",
    "    jnz 4b",
    "5:",
    "    ret",
    ".size vmspace_access_fill, .-vmspace_access_fill",
    ".globl vmspace_access_end",
    ".hidden vmspace_access_end",
    "vmspace_access_end:",
    ".globl vmspace_access_fixup",
    ".hidden vmspace_access_fixup",
    ".type vmspace_access_fixup,@function",
    "vmspace_access_fixup:",
    "    mov eax, 1",
    "    ret",
    ".size vmspace_access_fixup, .-vmspace_access_fixup",
    ".popsection",
);

unsafe extern "C" {
    fn vmspace_access_copy(dst: u64, src: u64, len: u64) -> u64;
    fn vmspace_access_fill(dst: u64, byte: u64, len: u64) -> u64;
    fn vmspace_access_end();
    fn vmspace_access_fixup();
}

// What the signal handler saw at the last recovered fault. Written only by the handler
// (which runs synchronously on the agent's only thread, inside an access routine) and
// read after the routine returned 1.
static FAULT_SIGNO: AtomicU64 = AtomicU64::new(0);
static FAULT_CODE: AtomicU64 = AtomicU64::new(0);
static FAULT_ADDR: AtomicU64 = AtomicU64::new(0);
static FAULT_RSI: AtomicU64 = AtomicU64::new(0);
static FAULT_RDI: AtomicU64 = AtomicU64::new(0);

/// A fault taken inside an access routine.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FaultRecord {
    /// `si_signo`.
    pub(crate) signo: u64,
    /// `si_code` (as the kernel's `int`, sign-extended).
    pub(crate) code: u64,
    /// `si_addr`.
    pub(crate) si_addr: u64,
    /// The source pointer of the faulting iteration.
    pub(crate) src: u64,
    /// The destination pointer of the faulting iteration.
    pub(crate) dst: u64,
}

fn take_fault() -> FaultRecord {
    FaultRecord {
        signo: FAULT_SIGNO.load(Ordering::SeqCst),
        code: FAULT_CODE.load(Ordering::SeqCst),
        si_addr: FAULT_ADDR.load(Ordering::SeqCst),
        src: FAULT_RSI.load(Ordering::SeqCst),
        dst: FAULT_RDI.load(Ordering::SeqCst),
    }
}

/// The SIGSEGV/SIGBUS handler. A fault inside an access routine is recorded and
/// resumed at the fixup; any other fault is a crash of the agent itself: the default
/// action is restored and the faulting instruction re-runs and kills the process.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: for an SA_SIGINFO handler the kernel passes a pointer to the ucontext on
    // the signal frame; we only project to its gregs array through the raw pointer
    // (no reference to the whole, differently sized, libc struct is formed).
    let gregs = unsafe { (&raw mut (*uc).uc_mcontext.gregs).cast::<i64>() };
    // SAFETY: REG_RIP (16), REG_RSI and REG_RDI are indices inside the 23-entry gregs.
    let (rip, rsi, rdi) = unsafe {
        (
            gregs.add(libc::REG_RIP as usize).read() as u64,
            gregs.add(libc::REG_RSI as usize).read() as u64,
            gregs.add(libc::REG_RDI as usize).read() as u64,
        )
    };
    let begin = vmspace_access_copy as *const () as u64;
    let end = vmspace_access_end as *const () as u64;
    if (begin..end).contains(&rip) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; si_code
        // and (for SIGSEGV/SIGBUS) si_addr are always filled in.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as u64) };
        FAULT_SIGNO.store(sig as u64, Ordering::SeqCst);
        FAULT_CODE.store(code as i64 as u64, Ordering::SeqCst);
        FAULT_ADDR.store(addr, Ordering::SeqCst);
        FAULT_RSI.store(rsi, Ordering::SeqCst);
        FAULT_RDI.store(rdi, Ordering::SeqCst);
        let fixup = vmspace_access_fixup as *const () as i64;
        // SAFETY: as above; sigreturn resumes at the fixup with every other register
        // as it was, and the fixup only returns 1 from the routine.
        unsafe { gregs.add(libc::REG_RIP as usize).write(fixup) };
    } else {
        // SAFETY: signal() is async-signal-safe; restoring the default action makes
        // the re-executed faulting instruction terminate the agent with this signal,
        // which the parent reports.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Copy `dst.len()` bytes from the agent's address `src` into `dst`, as CPU loads.
pub(crate) fn load_into(dst: &mut [u8], src: u64) -> Result<(), FaultRecord> {
    // SAFETY: the routine writes at most dst.len() bytes into dst, which we borrow
    // mutably; reads of `src` go through the fault-recovering routine and never form a
    // Rust reference, so an unmapped or protected `src` yields a FaultRecord.
    let r = unsafe { vmspace_access_copy(dst.as_mut_ptr() as u64, src, dst.len() as u64) };
    if r == 0 { Ok(()) } else { Err(take_fault()) }
}

/// Copy `src` to the agent's address `dst`, as CPU stores.
pub(crate) fn store_from(dst: u64, src: &[u8]) -> Result<(), FaultRecord> {
    // SAFETY: the routine reads src.len() bytes of `src`, which we borrow; `dst` is a
    // script-named address that the agent holds no Rust reference to (if the script
    // points it at the agent's own memory, that is the experiment), and faults on it
    // are recovered.
    let r = unsafe { vmspace_access_copy(dst, src.as_ptr() as u64, src.len() as u64) };
    if r == 0 { Ok(()) } else { Err(take_fault()) }
}

/// Write `len` copies of `byte` at the agent's address `dst`, as CPU stores.
pub(crate) fn fill(dst: u64, len: u64, byte: u8) -> Result<(), FaultRecord> {
    // SAFETY: as for store_from: a script-named address, faults recovered.
    let r = unsafe { vmspace_access_fill(dst, u64::from(byte), len) };
    if r == 0 { Ok(()) } else { Err(take_fault()) }
}

/// Write `byte` over all of `buf` (used to fault the agent's buffers in up front; the
/// assembly routine cannot be elided the way a store of zeros into calloc'd memory can).
pub(crate) fn fill_slice(buf: &mut [u8], byte: u8) {
    // SAFETY: writes exactly buf.len() bytes into a buffer we borrow mutably; it is
    // mapped and writable, so no fault occurs.
    unsafe { vmspace_access_fill(buf.as_mut_ptr() as u64, u64::from(byte), buf.len() as u64) };
}

/// Install `altstack` as the alternate signal stack and [`on_fault`] as the SIGSEGV and
/// SIGBUS handler.
pub(crate) fn install_fault_handlers(altstack: &'static mut [u8]) -> io::Result<()> {
    let ss = libc::stack_t {
        ss_sp: altstack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: altstack.len(),
    };
    // SAFETY: `ss` describes a 'static buffer that nothing else uses, so the kernel may
    // build signal frames in it for the rest of the process's life.
    if unsafe { libc::sigaltstack(&ss, core::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigaction is plain data; all-zero is a valid (empty) value.
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = on_fault as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: sa_mask is a valid sigset_t inside `sa`.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: `sa` is fully initialised and names a handler that only touches
        // atomics and the interrupted context.
        if unsafe { libc::sigaction(sig, &sa, core::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Set `sig` to be ignored.
pub(crate) fn ignore_signal(sig: libc::c_int) {
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety effect.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// Give `sig` its default disposition.
pub(crate) fn default_signal(sig: libc::c_int) {
    // SAFETY: setting a signal's disposition to SIG_DFL has no memory-safety effect.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

/// The calling process's personality word.
pub(crate) fn personality() -> io::Result<u32> {
    // SAFETY: personality(0xffffffff) only queries.
    let p = unsafe { libc::personality(0xffff_ffff) };
    if p == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(p as u32)
    }
}

/// Set the personality word (takes effect for the address-space layout at the next
/// `execve`).
pub(crate) fn set_personality(p: u32) -> io::Result<()> {
    // SAFETY: changing the personality has no memory-safety effect on this image.
    if unsafe { libc::personality(libc::c_ulong::from(p)) } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Move the protocol pipes from fds 0 and 1 to [`REQ_FD`] and [`RESP_FD`], put
/// `/dev/null` on 0 and 1, and close every other descriptor except 2.
pub(crate) fn setup_protocol_fds() -> io::Result<()> {
    // SAFETY: dup3/open/close/close_range operate on this process's descriptor table
    // only; no Rust object owns fds 0, 1 or the protocol numbers.
    unsafe {
        check(libc::dup3(0, REQ_FD, 0))?;
        check(libc::dup3(1, RESP_FD, 0))?;
        let null = check(libc::open(c"/dev/null".as_ptr(), libc::O_RDWR))?;
        check(libc::dup3(null, 0, 0))?;
        check(libc::dup3(null, 1, 0))?;
        close_range(3, (REQ_FD - 1) as u32)?;
        close_range((RESP_FD + 1) as u32, u32::MAX)?;
    }
    Ok(())
}

/// Make `new` a copy of `old` (not close-on-exec, so it survives `execve`).
pub(crate) fn dup_to(old: i32, new: i32) -> io::Result<()> {
    // SAFETY: dup3 only changes this process's descriptor table; no Rust object owns
    // `new`.
    check(unsafe { libc::dup3(old, new, 0) }).map(|_| ())
}

/// Are `a` and `b` both open and the same open file (same device and inode)?
pub(crate) fn same_open_file(a: i32, b: i32) -> bool {
    let stat = |fd: i32| {
        // SAFETY: stat is plain data; all-zero is a valid value.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: the kernel writes one `struct stat` into `st`.
        let r = unsafe { libc::fstat(fd, &mut st) };
        (r == 0).then_some((st.st_dev, st.st_ino))
    };
    matches!((stat(a), stat(b)), (Some(x), Some(y)) if x == y)
}

/// Set the calling thread's name (`comm`, at most 15 bytes are kept).
pub(crate) fn set_comm(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string from a buffer we borrow.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

fn close_range(first: u32, last: u32) -> io::Result<()> {
    let nr = libc::c_long::from(linux_raw_sys::general::__NR_close_range);
    // SAFETY: close_range only closes descriptors; see setup_protocol_fds.
    let r = unsafe { libc::syscall(nr, first, last, 0u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `read(fd, buf)`: the raw result (bytes read, or `-errno`).
pub(crate) fn read_fd(fd: i32, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes into a buffer we borrow mutably.
    let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 { -(errno() as isize) } else { r }
}

/// `write(fd, buf)`: the raw result (bytes written, or `-errno`).
pub(crate) fn write_fd(fd: i32, buf: &[u8]) -> isize {
    // SAFETY: the kernel reads at most buf.len() bytes from a buffer we borrow.
    let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if r < 0 { -(errno() as isize) } else { r }
}

/// `writev(fd, [a, b])`: the raw result (bytes written, or `-errno`).
pub(crate) fn write_fd2(fd: i32, a: &[u8], b: &[u8]) -> isize {
    let iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut c_void,
            iov_len: b.len(),
        },
    ];
    // SAFETY: both iovecs describe buffers we borrow for the duration of the call, and
    // writev only reads from them.
    let r = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
    if r < 0 { -(errno() as isize) } else { r }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `getrlimit(resource)` as `(cur, max)`.
pub(crate) fn getrlimit(resource: u32) -> io::Result<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: the kernel writes one `struct rlimit` into `r`.
    check(unsafe { libc::getrlimit(resource, &mut r) })?;
    Ok((r.rlim_cur, r.rlim_max))
}

/// One system call from the supported list, with exactly these register values;
/// returns the kernel's raw result (`-errno` on failure).
///
/// This is the agent's reason to exist: the calls change its own address space as the
/// script says. The agent keeps Rust references only to its own code, stack, heap and
/// buffers; a script that unmaps or protects those crashes the agent (the parent
/// reports that), just as a debugger writing through `/proc/pid/mem` could. The
/// caller checks `nr` against the supported list; no supported call writes to user
/// memory other than a buffer the caller passes (prlimit64's old-limit pointer is
/// whatever the script gives, which the harness always passes as 0).
pub(crate) fn raw_syscall(nr: u64, a: [u64; 6]) -> i64 {
    // SAFETY: see above. glibc's syscall() passes the six values unchanged in
    // rdi, rsi, rdx, r10, r8, r9 and maps a raw result in [-4095, -1] to -1 + errno.
    let r = unsafe { libc::syscall(nr as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 { -i64::from(errno()) } else { r }
}

/// Terminate the process now, without running exit handlers.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

// ---- parent side ------------------------------------------------------------------

/// Put a descriptor into non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl F_GETFL/F_SETFL on a descriptor we borrow changes only its flags.
    unsafe {
        let flags = check(libc::fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
        check(libc::fcntl(
            fd.as_raw_fd(),
            libc::F_SETFL,
            flags | libc::O_NONBLOCK,
        ))?;
    }
    Ok(())
}

/// Wait up to `timeout` for `events` on `fd`; returns the events that occurred (0 if
/// the time ran out). Retries on EINTR.
pub(crate) fn poll_one(fd: BorrowedFd<'_>, events: i16, timeout: Duration) -> io::Result<i16> {
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // Round up so that a sub-millisecond remainder still waits rather than spins.
    let ms = if ms == 0 && !timeout.is_zero() { 1 } else { ms };
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, borrowed for the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r >= 0 {
            return Ok(if r == 0 { 0 } else { p.revents });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

// ---- signals and limits of the parent ---------------------------------------------

/// Block SIGPIPE in the calling thread; returns whether it was blocked already.
///
/// A write to a pipe whose reader is gone then fails with EPIPE and leaves a SIGPIPE
/// pending for this thread instead of killing the process (whatever the signal's
/// disposition); [`end_sigpipe_block`] discards that signal and restores the mask.
pub(crate) fn begin_sigpipe_block() -> bool {
    // SAFETY: sigset_t is plain data that sigemptyset/sigaddset initialise, and
    // pthread_sigmask only reads `set` and writes `old`, both valid for the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        libc::sigismember(&old, libc::SIGPIPE) == 1
    }
}

/// Undo [`begin_sigpipe_block`]: if `broke` (a write failed with EPIPE), take the
/// SIGPIPE that write left pending; unblock SIGPIPE unless it `was_blocked` before.
pub(crate) fn end_sigpipe_block(was_blocked: bool, broke: bool) {
    // SAFETY: as in begin_sigpipe_block; sigtimedwait with a zero timeout only
    // dequeues a pending SIGPIPE (it is blocked here) and writes nothing when given
    // null for the info pointer.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        if broke && !was_blocked {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
            }
        }
        if !was_blocked {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// The signal that asked the process to stop (SIGINT or SIGTERM), 0 if none.
static STOP_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_stop(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
}

/// Catch SIGINT and SIGTERM: the first one is recorded for [`stop_requested`]; the
/// handler then resets itself, so that a second one ends the process as usual.
pub(crate) fn catch_stop_signals() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sa` is fully initialised (zeroed, then the handler, an empty mask
        // and the flags); on_stop is async-signal-safe (one atomic store); sigaction
        // reads `sa` and writes nothing back (null old action).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART | libc::SA_RESETHAND;
            check(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    Ok(())
}

/// The SIGINT or SIGTERM caught since [`catch_stop_signals`], if any.
pub(crate) fn stop_requested() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Set resource limit `resource` of process `pid` to `(cur, max)`.
pub(crate) fn set_rlimit_of(pid: u32, resource: u32, cur: u64, max: u64) -> io::Result<()> {
    let new = libc::rlimit64 {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: prlimit64 reads one `struct rlimit64` from `new` and, with a null old
    // pointer, writes nothing.
    check(unsafe {
        libc::prlimit64(
            pid as libc::pid_t,
            resource as libc::__rlimit_resource_t,
            &new,
            std::ptr::null_mut(),
        )
    })?;
    Ok(())
}

/// The CPU the calling thread is running on.
pub(crate) fn current_cpu() -> io::Result<usize> {
    // SAFETY: sched_getcpu takes no arguments and only reads per-thread state.
    let c = unsafe { libc::sched_getcpu() };
    if c < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(c as usize)
    }
}

/// Restrict thread or process `pid` (0: the calling thread) to one CPU.
pub(crate) fn pin_to_cpu(pid: u32, cpu: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; CPU_SET only writes inside it
    // (it checks `cpu` against the set's size).
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; the call only reads it.
    let r = unsafe {
        libc::sched_setaffinity(
            pid as libc::pid_t,
            std::mem::size_of::<libc::cpu_set_t>(),
            &set,
        )
    };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The calling thread's CPU affinity mask.
pub(crate) fn thread_affinity() -> io::Result<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(set)
    }
}

/// The CPUs in `set`, in increasing order.
pub(crate) fn cpus_in(set: &libc::cpu_set_t) -> Vec<usize> {
    let n = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET only reads inside the set (it checks `cpu` against its size).
    (0..n)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
        .collect()
}

/// Set the calling thread's CPU affinity mask.
pub(crate) fn set_thread_affinity(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` is a valid cpu_set_t of the size passed; the call only reads it.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

// ---- in-process kernel benchmark (`crate::kbench`) --------------------------------
//
// `vmspace bench` times the kernel's address-space calls in its own process, as raw
// system calls in a tight loop. The calls below act only on ranges that a
// `kbench::Kernel` owns: its arena (a reservation placed with MAP_FIXED_NOREPLACE far
// below the mmap area, where the kernel never places a mapping it chooses itself
// while 100 TiB above are free, and which nothing else in the process maps into), or
// mappings the kernel created for it. `kbench` checks every range before calling; no
// Rust reference points into any of them.

/// One raw system call through glibc's `syscall()` (as kbench.c makes them): the
/// kernel's result, `-errno` on failure.
///
/// # Safety
/// The call must not change memory that Rust code references (unmap, remap or protect
/// it, or have the kernel write into it) beyond what the caller owns.
#[inline(always)]
unsafe fn syscall6(nr: u32, a: [u64; 6]) -> i64 {
    // SAFETY: syscall() passes the six values unchanged in rdi, rsi, rdx, r10, r8, r9;
    // what the call does to memory is the caller's obligation (see above).
    let r = unsafe { libc::syscall(libc::c_long::from(nr), a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 { -i64::from(errno()) } else { r }
}

/// `mmap(addr, len, prot, flags, -1, 0)` for `kbench`: the raw result.
///
/// `kbench` passes either no address and no MAP_FIXED (the kernel picks a free
/// range), or MAP_FIXED_NOREPLACE (fails rather than replace anything), or MAP_FIXED
/// over a range it owns.
#[inline(always)]
pub(crate) fn kb_mmap(addr: u64, len: u64, prot: u64, flags: u64) -> i64 {
    // SAFETY: an anonymous mapping replaces at most the range `kbench` owns (see the
    // section comment); nothing else in the process is touched.
    unsafe {
        syscall6(
            linux_raw_sys::general::__NR_mmap,
            [addr, len, prot, flags, u64::MAX, 0],
        )
    }
}

/// `munmap(addr, len)` for `kbench` (a range it owns): the raw result.
#[inline(always)]
pub(crate) fn kb_munmap(addr: u64, len: u64) -> i64 {
    // SAFETY: unmaps only a range `kbench` owns, which no Rust reference points into.
    unsafe { syscall6(linux_raw_sys::general::__NR_munmap, [addr, len, 0, 0, 0, 0]) }
}

/// `mprotect(addr, len, prot)` for `kbench` (a range it owns): the raw result.
#[inline(always)]
pub(crate) fn kb_mprotect(addr: u64, len: u64, prot: u64) -> i64 {
    // SAFETY: changes the protection of a range `kbench` owns only.
    unsafe {
        syscall6(
            linux_raw_sys::general::__NR_mprotect,
            [addr, len, prot, 0, 0, 0],
        )
    }
}

/// `mremap(old, old_len, new_len, flags, new)` for `kbench` (the old range, and the
/// new one when MREMAP_FIXED is given, owned by it): the raw result.
#[inline(always)]
pub(crate) fn kb_mremap(old: u64, old_len: u64, new_len: u64, flags: u64, new: u64) -> i64 {
    // SAFETY: moves or resizes a mapping `kbench` owns; a fixed destination is a range
    // it owns too, and an in-place growth or a move without MREMAP_FIXED only takes
    // free address space.
    unsafe {
        syscall6(
            linux_raw_sys::general::__NR_mremap,
            [old, old_len, new_len, flags, new, 0],
        )
    }
}

/// `getppid()`: the cost of entering and leaving the kernel.
#[inline(always)]
pub(crate) fn kb_getppid() -> i64 {
    // SAFETY: getppid has no arguments and touches no user memory.
    unsafe { syscall6(linux_raw_sys::general::__NR_getppid, [0; 6]) }
}

/// `mincore(addr, len, vec)`: one byte per page of `[addr, addr + len)` into `vec`;
/// the raw result (`-EINVAL` if `vec` is too short).
pub(crate) fn kb_mincore(addr: u64, len: u64, vec: &mut [u8]) -> i64 {
    if (vec.len() as u64) < len.div_ceil(4096) {
        return -i64::from(libc::EINVAL);
    }
    // SAFETY: mincore writes at most len/4096 (rounded up) bytes into `vec`, which we
    // borrow mutably and have checked is large enough; it changes no mapping.
    unsafe {
        syscall6(
            linux_raw_sys::general::__NR_mincore,
            [addr, len, vec.as_mut_ptr() as u64, 0, 0, 0],
        )
    }
}

/// Write the byte 1 at the first byte of every page of `[addr, addr + len)`, which
/// `kbench` owns and has mapped writable (this is the page-fault workload).
#[inline(always)]
pub(crate) fn kb_touch(addr: u64, len: u64) {
    let mut a = addr;
    while a < addr + len {
        // SAFETY: the page belongs to a mapping `kbench` made and owns (see above); no
        // Rust reference points into it, so a volatile store races with nothing.
        unsafe { (a as *mut u8).write_volatile(1) };
        a += 4096;
    }
}

/// `memcpy(dst, src, len)` between two non-overlapping readable/writable ranges that
/// `kbench` owns.
#[inline(always)]
pub(crate) fn kb_copy(dst: u64, src: u64, len: u64) {
    // SAFETY: both ranges belong to mappings `kbench` made and owns, are mapped
    // (read-)writable, and do not overlap (checked by the caller); no Rust reference
    // points into either.
    unsafe { core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len as usize) };
}

/// CPU time the calling thread has used (user + system), in ns:
/// `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the kernel writes one `struct timespec` into `ts`, which we borrow.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Bytes the C allocator has handed out and not yet taken back (`mallinfo2`:
/// `uordblks + hblkhd`), for memory-per-object measurements.
pub(crate) fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    let mi = unsafe { libc::mallinfo2() };
    (mi.uordblks + mi.hblkhd) as u64
}

/// One VMA as `PROCMAP_QUERY` describes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueriedVma {
    pub start: u64,
    pub end: u64,
    /// `PROCMAP_QUERY_VMA_*` bits: readable 1, writable 2, executable 4, shared 8.
    pub flags: u64,
    pub offset: u64,
    pub inode: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Bytes of the name written to the caller's buffer, without the NUL (0: no name).
    pub name_len: usize,
}

/// `ioctl(maps_fd, PROCMAP_QUERY, ...)` (Linux 6.11+) for the VMA covering `addr`, or
/// the next one above it: `Ok(None)` when there is none (ENOENT). The name (NUL
/// terminated by the kernel) goes into `name`; a name that does not fit is an error
/// (ENAMETOOLONG), as is a kernel without the ioctl (ENOTTY).
pub(crate) fn procmap_query(
    maps: BorrowedFd<'_>,
    addr: u64,
    name: &mut [u8],
) -> io::Result<Option<QueriedVma>> {
    use linux_raw_sys::general::{
        PROCFS_IOCTL_MAGIC, procmap_query, procmap_query_flags::PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
    };
    // _IOWR(PROCFS_IOCTL_MAGIC, 17, struct procmap_query)
    const SIZE: u64 = core::mem::size_of::<procmap_query>() as u64;
    const REQUEST: u64 = (3 << 30) | (SIZE << 16) | ((PROCFS_IOCTL_MAGIC as u64) << 8) | 17;
    let mut q = procmap_query {
        size: SIZE,
        query_flags: PROCMAP_QUERY_COVERING_OR_NEXT_VMA as u64,
        query_addr: addr,
        vma_start: 0,
        vma_end: 0,
        vma_flags: 0,
        vma_page_size: 0,
        vma_offset: 0,
        inode: 0,
        dev_major: 0,
        dev_minor: 0,
        vma_name_size: u32::try_from(name.len()).unwrap_or(u32::MAX),
        build_id_size: 0,
        vma_name_addr: name.as_mut_ptr() as u64,
        build_id_addr: 0,
    };
    // SAFETY: the kernel reads and writes one `struct procmap_query` that we own, and
    // writes at most `vma_name_size` bytes to `name`, which we borrow mutably for the
    // call; no build id is asked for (size 0).
    let r = unsafe { libc::ioctl(maps.as_raw_fd(), REQUEST as libc::c_ulong, &mut q) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(None),
            _ => Err(e),
        };
    }
    Ok(Some(QueriedVma {
        start: q.vma_start,
        end: q.vma_end,
        flags: q.vma_flags,
        offset: q.vma_offset,
        inode: q.inode,
        dev_major: q.dev_major,
        dev_minor: q.dev_minor,
        name_len: (q.vma_name_size as usize).saturating_sub(1).min(name.len()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_routines_move_bytes() {
        let src = *b"hello, world";
        let mut dst = [0u8; 12];
        load_into(&mut dst, src.as_ptr() as u64).unwrap();
        assert_eq!(&dst, b"hello, world");
        let mut out = [0u8; 5];
        store_from(out.as_mut_ptr() as u64, b"abcde").unwrap();
        assert_eq!(&out, b"abcde");
        fill(out.as_mut_ptr() as u64, 3, b'z').unwrap();
        assert_eq!(&out, b"zzzde");
        fill_slice(&mut out, 7);
        assert_eq!(out, [7; 5]);
        load_into(&mut [], 0).unwrap();
    }
}
