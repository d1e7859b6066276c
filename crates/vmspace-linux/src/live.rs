//! [`LiveBackend`]: the parent's side of the agent.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use linux_raw_sys::general as g;
use vmspace::addr::{PAGE_SIZE, TASK_SIZE};
use vmspace::flags::RLIM_INFINITY;
use vmspace::{
    Backend, BackendError, Config, Counters, Errno, Fault, FaultCode, MapsLine, Op, Outcome,
    PageState, Rlimits, Seed, SeedVma, Signal,
};

use crate::agent::is_protected_fd;
use crate::error::LiveError;
use crate::procfs::{self, ProcParseError};
use crate::proto::{BUF_SIZE, RESP_BYTES, Request, Response};
use crate::sys;

/// How to start the agent: a program that calls [`crate::agent_main`] when given
/// `args`. The `vmspace` binary passes itself (`std::env::current_exe()`) with the
/// hidden argument `__agent`; this crate's tests use its `vmspace-agent` binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (not including `argv[0]`).
    pub args: Vec<OsString>,
}

impl AgentCommand {
    /// The running executable, re-executed with the single argument `arg` (the
    /// `vmspace` binary uses `"__agent"`).
    ///
    /// # Errors
    /// If the path of the running executable cannot be found.
    pub fn current_exe(arg: &str) -> io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: vec![OsString::from(arg)],
        })
    }
}

/// The most bytes one `load` may return (larger loads that do not fault are refused
/// as unsupported rather than exhausting the parent's memory).
const MAX_LOAD: u64 = 1 << 30;
/// The most pages one `pages()` call may ask for.
const MAX_PAGES: u64 = 1 << 26;
/// How long to wait for an agent to be reaped after SIGKILL or after it closed its pipe.
const REAP_WAIT: Duration = Duration::from_secs(5);
/// The x86-64 stack guard gap in bytes (`stack_guard_gap`, 256 pages by default).
const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// The live Linux kernel as a [`Backend`]: an agent process, started with address
/// randomisation off, makes each operation's system call or memory access for real,
/// and this side observes it through `/proc/<pid>`.
///
/// Every exchange with the agent is bounded by the timeout. An agent that stops
/// answering (stopped, hung) or dies (killed, crashed) is killed if needed, reaped, and
/// reported as a [`LiveError`] naming the operation; the backend is then unusable.
/// Dropping the backend kills and reaps the agent.
///
/// A write to an agent that has just died never kills the parent with SIGPIPE, whatever
/// the signal's disposition: SIGPIPE is blocked in the writing thread for the write,
/// and the signal the broken pipe raised is discarded; the write's EPIPE is reported
/// as the agent's death, with its wait status. Reads of `/proc/<pid>` files are not
/// bounded by the timeout (they do not wait for the agent).
///
/// The agent runs with the resource limits the engine assumes where the engine does
/// not model a limit: `RLIMIT_FSIZE` unlimited and `RLIMIT_NOFILE` 2^20 (see
/// [`LiveBackend::spawn`]); the limits the engine models (`RLIMIT_AS`, `RLIMIT_DATA`,
/// `RLIMIT_MEMLOCK`, `RLIMIT_STACK`) are inherited and reported by
/// [`LiveBackend::rlimits`].
#[derive(Debug)]
pub struct LiveBackend {
    child: Child,
    reaped: bool,
    pid: u32,
    req: PipeWriter,
    resp: PipeReader,
    stderr: Option<ChildStderr>,
    pagemap: Option<File>,
    /// Open `/proc/<pid>/...` files, read again from offset 0 each time.
    proc_files: std::cell::RefCell<Vec<(&'static str, File)>>,
    /// A reusable read buffer.
    proc_buf: std::cell::RefCell<Vec<u8>>,
    /// The buffer pagemap is read through.
    pagemap_buf: Vec<u8>,
    /// The buffer a request and its payload are written from.
    send_buf: Vec<u8>,
    timeout: Duration,
    seed: Seed,
    rlimits: Rlimits,
    gone: Option<String>,
    /// Whether the kernel answers `PROCMAP_QUERY` (until it says it does not).
    procmap_query: bool,
}

/// Why an exchange with the agent stopped short.
enum Stall {
    TimedOut,
    Closed,
    Io(io::Error),
}

impl LiveBackend {
    /// Start an agent and read its starting layout.
    ///
    /// `timeout` bounds the start-up handshake and, until changed with
    /// [`set_timeout`](Self::set_timeout), every later exchange.
    ///
    /// The agent's `RLIMIT_FSIZE` is set to unlimited and its `RLIMIT_NOFILE` to 2^20
    /// (`fs.nr_open`'s default), the values the engine assumes: whatever the shell set
    /// must not make `ftruncate` fail with EFBIG or `memfd_create` with EMFILE on the
    /// kernel side only.
    ///
    /// # Errors
    /// If the program cannot be started, does not greet within the timeout, dies, or
    /// its layout is not the deterministic top-down layout (see [`LiveError::Layout`]),
    /// or its unmodelled limits cannot be set (see [`LiveError::Limits`]).
    /// The agent is killed and reaped in every error case.
    pub fn spawn(cmd: &AgentCommand, timeout: Duration) -> Result<Self, LiveError> {
        let (req_r, req_w) = io::pipe().map_err(LiveError::Pipe)?;
        let (resp_r, resp_w) = io::pipe().map_err(LiveError::Pipe)?;
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .stdin(req_r)
            .stdout(resp_w)
            .stderr(Stdio::piped())
            // A process group of its own: a Ctrl-C meant for the parent (which may
            // catch it to report what it found) does not kill the agent.
            .process_group(0);
        let spawned = command.spawn();
        // The Command holds the agent's ends of the pipes: drop it so that the agent's
        // death shows as end-of-file here.
        drop(command);
        let mut child = spawned.map_err(|source| LiveError::Spawn {
            program: cmd.program.clone(),
            source,
        })?;
        let stderr = child.stderr.take();
        let pid = child.id();
        let mut me = LiveBackend {
            child,
            reaped: false,
            pid,
            req: req_w,
            resp: resp_r,
            stderr,
            pagemap: None,
            proc_files: Default::default(),
            proc_buf: Default::default(),
            pagemap_buf: Vec::new(),
            send_buf: Vec::new(),
            timeout,
            seed: Seed::default(),
            rlimits: Rlimits::default(),
            gone: None,
            procmap_query: true,
        };
        let nonblock = sys::set_nonblocking(me.req.as_fd())
            .and_then(|()| sys::set_nonblocking(me.resp.as_fd()))
            .and_then(|()| match &me.stderr {
                Some(e) => sys::set_nonblocking(e.as_fd()),
                None => Ok(()),
            });
        if let Err(source) = nonblock {
            return Err(me.fail(Stall::Io(source), "start-up"));
        }
        let deadline = Instant::now() + timeout;
        let mut frame = [0u8; RESP_BYTES];
        if let Err(stall) = me.recv(&mut frame, deadline) {
            return Err(me.fail(stall, "start-up"));
        }
        let hello = match Response::decode(&frame) {
            Some(h @ Response::Hello { .. }) => h,
            other => {
                return Err(me.protocol("start-up", format!("expected a greeting, got {other:?}")));
            }
        };
        if let Err(e) = me.observe_start(hello) {
            // What was read of an agent that died meanwhile is empty or partial: the
            // failure is its death.
            return Err(match me.confirm_alive() {
                Err(died @ LiveError::Died { .. }) => died,
                _ => e,
            });
        }
        Ok(me)
    }

    /// After the greeting: read the starting layout and the limits, and set the
    /// unmodelled limits.
    fn observe_start(&mut self, hello: Response) -> Result<(), LiveError> {
        // Opened only now: pagemap binds to the address space current at open time,
        // and the agent may have re-executed itself before greeting.
        let path = self.proc_path("pagemap");
        self.pagemap = Some(File::open(&path).map_err(|source| LiveError::Proc { path, source })?);
        self.seed = self.read_seed(hello)?;
        self.set_unmodelled_limits()?;
        let limits = self.read_proc("limits")?;
        self.rlimits = procfs::parse_limits(&limits).map_err(|source| LiveError::Parse {
            path: self.proc_path("limits"),
            source,
        })?;
        Ok(())
    }

    /// The agent's starting layout, read at spawn.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// Run the agent and the calling thread on the same CPU. A request then wakes the
    /// agent without a cross-CPU hand-off, which makes a round trip several times
    /// faster; it changes the calling thread's CPU affinity for good.
    pub fn pin_to_current_cpu(&self) -> Result<(), LiveError> {
        let io = |source| LiveError::Proc {
            path: self.proc_path("status"),
            source,
        };
        let cpu = sys::current_cpu().map_err(io)?;
        sys::pin_to_cpu(self.pid, cpu).map_err(io)?;
        sys::pin_to_cpu(0, cpu).map_err(io)
    }

    /// Start an agent on another thread, which runs on `cpus` (the CPUs the caller had
    /// before [`pin_to_current_cpu`](Self::pin_to_current_cpu) narrowed them), so that
    /// its start-up overlaps the caller's work instead of waiting for the caller's CPU.
    /// [`Prefetched::take`] waits for it.
    pub fn spawn_in_background(
        cmd: &AgentCommand,
        timeout: Duration,
        cpus: &CpuAffinity,
    ) -> Prefetched {
        let (cmd, cpus) = (cmd.clone(), cpus.clone());
        Prefetched(std::thread::spawn(move || {
            // Best effort: if the mask cannot be set, the agent starts on this CPU.
            let _ = sys::set_thread_affinity(&cpus.0);
            Self::spawn(&cmd, timeout)
        }))
    }

    /// The agent's resource limits at spawn (inherited from the parent), for the
    /// engine's [`vmspace::Config::rlimits`].
    pub fn rlimits(&self) -> Rlimits {
        self.rlimits
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Bound every later exchange with the agent by `timeout`.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The agent's `/proc/<pid>/smaps` text.
    ///
    /// # Errors
    /// If the agent is gone or the file cannot be read.
    pub fn smaps(&mut self) -> Result<String, LiveError> {
        self.check_alive()?;
        self.read_proc("smaps")
    }

    /// Perform one operation (the typed-error form of [`Backend::apply`]).
    ///
    /// # Errors
    /// Only failures of the harness; a failing system call or a faulting access is an
    /// [`Outcome`].
    pub fn run(&mut self, op: &Op) -> Result<Outcome, LiveError> {
        self.check_alive()?;
        let nr = |n: u32| u64::from(n);
        match op {
            &Op::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset,
            } => self.syscall(op, nr(g::__NR_mmap), [addr, len, prot, flags, fd, offset]),
            &Op::Munmap { addr, len } => {
                self.syscall(op, nr(g::__NR_munmap), [addr, len, 0, 0, 0, 0])
            }
            &Op::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => self.syscall(
                op,
                nr(g::__NR_mremap),
                [old_addr, old_len, new_len, flags, new_addr, 0],
            ),
            &Op::Mprotect { addr, len, prot } => {
                self.syscall(op, nr(g::__NR_mprotect), [addr, len, prot, 0, 0, 0])
            }
            &Op::Mlock { addr, len } => {
                self.syscall(op, nr(g::__NR_mlock), [addr, len, 0, 0, 0, 0])
            }
            &Op::Mlock2 { addr, len, flags } => {
                self.syscall(op, nr(g::__NR_mlock2), [addr, len, flags, 0, 0, 0])
            }
            &Op::Munlock { addr, len } => {
                self.syscall(op, nr(g::__NR_munlock), [addr, len, 0, 0, 0, 0])
            }
            &Op::Mlockall { flags } => {
                self.syscall(op, nr(g::__NR_mlockall), [flags, 0, 0, 0, 0, 0])
            }
            Op::Munlockall => self.syscall(op, nr(g::__NR_munlockall), [0; 6]),
            &Op::Madvise { addr, len, advice } => {
                self.syscall(op, nr(g::__NR_madvise), [addr, len, advice, 0, 0, 0])
            }
            &Op::Brk { addr } => self.syscall(op, nr(g::__NR_brk), [addr, 0, 0, 0, 0, 0]),
            Op::MemfdCreate { name, flags } => {
                // The kernel reads the name up to its NUL. Names longer than the buffer
                // are cut at BUF_SIZE - 1 bytes, which is still far beyond the kernel's
                // 249-byte limit, so its answer (EINVAL) is the same.
                let mut payload = name[..name.len().min(BUF_SIZE - 1)].to_vec();
                payload.push(0);
                self.syscall_buf(
                    op,
                    nr(g::__NR_memfd_create),
                    [0, *flags, 0, 0, 0, 0],
                    0,
                    &payload,
                )
            }
            &Op::Ftruncate { fd, length } => {
                self.syscall(op, nr(g::__NR_ftruncate), [fd, length, 0, 0, 0, 0])
            }
            Op::Pwrite64 { fd, data, offset } => self.pwrite64(op, *fd, data, *offset),
            &Op::Close { fd } => {
                if is_protected_fd(fd) {
                    return Ok(Outcome::Unsupported(format!(
                        "close({fd}): descriptor {} is one the harness needs (0, 1, 2 or a \
                         protocol pipe)",
                        fd as u32
                    )));
                }
                self.syscall(op, nr(g::__NR_close), [fd, 0, 0, 0, 0, 0])
            }
            &Op::Setrlimit { resource, cur, max } => {
                let mut payload = Vec::with_capacity(16);
                payload.extend_from_slice(&cur.to_ne_bytes());
                payload.extend_from_slice(&max.to_ne_bytes());
                self.syscall_buf(
                    op,
                    nr(g::__NR_prlimit64),
                    [0, resource, 0, 0, 0, 0],
                    2,
                    &payload,
                )
            }
            &Op::Setuid { uid } => self.syscall(op, nr(g::__NR_setuid), [uid, 0, 0, 0, 0, 0]),
            &Op::Load { addr, len } => self.load(op, addr, len),
            Op::Store { addr, data } => self.store(op, *addr, data),
            &Op::Fill { addr, len, byte } => {
                let req = Request::Fill { addr, len, byte };
                let resp = self.exchange(op, &req, &[], None)?;
                self.access_outcome(op, resp)
            }
        }
    }

    fn syscall(&mut self, op: &Op, nr: u64, args: [u64; 6]) -> Result<Outcome, LiveError> {
        let req = Request::Syscall {
            nr,
            args,
            buf_arg: None,
            payload_len: 0,
        };
        let resp = self.exchange(op, &req, &[], None)?;
        self.syscall_outcome(op, nr, resp)
    }

    fn syscall_buf(
        &mut self,
        op: &Op,
        nr: u64,
        args: [u64; 6],
        buf_arg: u8,
        payload: &[u8],
    ) -> Result<Outcome, LiveError> {
        let req = Request::Syscall {
            nr,
            args,
            buf_arg: Some(buf_arg),
            payload_len: payload.len() as u64,
        };
        let resp = self.exchange(op, &req, payload, None)?;
        self.syscall_outcome(op, nr, resp)
    }

    fn syscall_outcome(&mut self, op: &Op, nr: u64, resp: Response) -> Result<Outcome, LiveError> {
        match resp {
            Response::Ret(r) => Ok(raw_outcome(nr, r)),
            Response::Refused(why) => Ok(Outcome::Unsupported(why.reason().to_string())),
            other => Err(self.protocol(&describe(op), format!("unexpected response {other:?}"))),
        }
    }

    /// `pwrite64` of more than the agent's buffer is made in buffer-sized pieces at
    /// increasing offsets, stopping at the first short or failed piece; a failure after
    /// progress returns the bytes written so far, as the kernel's own write loop does.
    fn pwrite64(
        &mut self,
        op: &Op,
        fd: u64,
        data: &[u8],
        offset: u64,
    ) -> Result<Outcome, LiveError> {
        let nr = u64::from(g::__NR_pwrite64);
        if data.len() <= BUF_SIZE {
            return self.syscall_buf(op, nr, [fd, 0, data.len() as u64, offset, 0, 0], 1, data);
        }
        let mut total = 0u64;
        for chunk in data.chunks(BUF_SIZE) {
            let args = [fd, 0, chunk.len() as u64, offset.wrapping_add(total), 0, 0];
            match self.syscall_buf(op, nr, args, 1, chunk)? {
                Outcome::Value(n) => {
                    total += n;
                    if n < chunk.len() as u64 {
                        break;
                    }
                }
                other if total == 0 => return Ok(other),
                _ => break,
            }
        }
        Ok(Outcome::Value(total))
    }

    fn load(&mut self, op: &Op, addr: u64, len: u64) -> Result<Outcome, LiveError> {
        let mut out = Vec::new();
        let mut done = 0u64;
        while done < len {
            if done >= MAX_LOAD {
                return Ok(Outcome::Unsupported(format!(
                    "load of more than {MAX_LOAD} bytes that does not fault"
                )));
            }
            let n = (len - done).min(BUF_SIZE as u64);
            let req = Request::Load {
                addr: addr.wrapping_add(done),
                len: n,
            };
            let resp = self.exchange(op, &req, &[], Some(&mut out))?;
            match resp {
                Response::Bytes { .. } => done += n,
                other => return self.access_outcome(op, other),
            }
        }
        Ok(Outcome::Bytes(out))
    }

    fn store(&mut self, op: &Op, addr: u64, data: &[u8]) -> Result<Outcome, LiveError> {
        for (i, chunk) in data.chunks(BUF_SIZE).enumerate() {
            let req = Request::Store {
                addr: addr.wrapping_add((i * BUF_SIZE) as u64),
                payload_len: chunk.len() as u64,
            };
            let resp = self.exchange(op, &req, chunk, None)?;
            if resp != Response::Done {
                return self.access_outcome(op, resp);
            }
        }
        Ok(Outcome::Done)
    }

    fn access_outcome(&mut self, op: &Op, resp: Response) -> Result<Outcome, LiveError> {
        match resp {
            Response::Done => Ok(Outcome::Done),
            Response::Fault { signo, code, addr } => Ok(fault_outcome(signo, code, addr)),
            Response::Damaged { addr } => {
                self.kill_and_reap();
                let err = LiveError::Damaged {
                    op: describe(op),
                    addr,
                };
                self.gone = Some(err.to_string());
                Err(err)
            }
            Response::Refused(why) => Ok(Outcome::Unsupported(why.reason().to_string())),
            other => Err(self.protocol(&describe(op), format!("unexpected response {other:?}"))),
        }
    }

    /// One request/response round trip, bounded by the timeout. A `Bytes` response's
    /// payload is appended to `out`.
    fn exchange(
        &mut self,
        op: &Op,
        req: &Request,
        payload: &[u8],
        out: Option<&mut Vec<u8>>,
    ) -> Result<Response, LiveError> {
        let deadline = Instant::now() + self.timeout;
        let mut frame = [0u8; RESP_BYTES];
        // The request and its payload in one write: two would wake the agent twice (it
        // reads the request, then sleeps again until the payload comes).
        let mut msg = std::mem::take(&mut self.send_buf);
        msg.clear();
        msg.extend_from_slice(&req.encode());
        msg.extend_from_slice(payload);
        let sent = self
            .send(&msg, deadline)
            .and_then(|()| self.recv(&mut frame, deadline));
        self.send_buf = msg;
        if let Err(stall) = sent {
            return Err(self.fail(stall, &describe(op)));
        }
        let Some(resp) = Response::decode(&frame) else {
            return Err(self.protocol(&describe(op), format!("malformed response {frame:02x?}")));
        };
        if let Response::Bytes { len } = resp {
            let asked = match *req {
                Request::Load { len, .. } => Some(len),
                _ => None,
            };
            let Some(out) = out.filter(|_| asked == Some(len)) else {
                return Err(
                    self.protocol(&describe(op), format!("{len} bytes in answer to {req:?}"))
                );
            };
            let start = out.len();
            out.resize(start + len as usize, 0);
            if let Err(stall) = self.recv(&mut out[start..], deadline) {
                return Err(self.fail(stall, &describe(op)));
            }
        }
        Ok(resp)
    }

    /// Write `buf` to the agent. SIGPIPE is blocked for the duration, so a reader that
    /// is gone shows as EPIPE (then [`Stall::Closed`]) and never kills this process.
    fn send(&mut self, buf: &[u8], deadline: Instant) -> Result<(), Stall> {
        let was_blocked = sys::begin_sigpipe_block();
        let r = self.send_unguarded(buf, deadline);
        sys::end_sigpipe_block(was_blocked, matches!(r, Err(Stall::Closed)));
        r
    }

    fn send_unguarded(&mut self, mut buf: &[u8], deadline: Instant) -> Result<(), Stall> {
        while !buf.is_empty() {
            match self.req.write(buf) {
                Ok(0) => return Err(Stall::Closed),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_for(self.req.as_fd(), libc::POLLOUT, deadline)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(Stall::Closed),
                Err(e) => return Err(Stall::Io(e)),
            }
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> Result<(), Stall> {
        let mut done = 0;
        // The agent runs on this CPU, after this thread sleeps: a read before that
        // would only say EAGAIN, so wait first.
        wait_for(self.resp.as_fd(), libc::POLLIN, deadline)?;
        while done < buf.len() {
            match self.resp.read(&mut buf[done..]) {
                Ok(0) => return Err(Stall::Closed),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_for(self.resp.as_fd(), libc::POLLIN, deadline)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stall::Io(e)),
            }
        }
        Ok(())
    }

    /// Turn a stalled exchange into an error: kill and reap the agent as needed, and
    /// remember that it is gone.
    fn fail(&mut self, stall: Stall, op: &str) -> LiveError {
        let op = op.to_string();
        let err = match stall {
            Stall::TimedOut => {
                let state = self.sched_state();
                self.kill_and_reap();
                LiveError::Timeout {
                    op,
                    timeout: self.timeout,
                    state,
                }
            }
            Stall::Closed => {
                // The agent closed its pipes, so it is exiting or has been killed: give
                // it a moment to finish, then make sure.
                let status = self.wait_bounded(REAP_WAIT);
                if status.is_none() {
                    self.kill_and_reap();
                }
                LiveError::Died {
                    op,
                    status: status.map_or_else(
                        || "it closed its pipe but did not exit, so it was killed".to_string(),
                        describe_status,
                    ),
                    stderr: self.stderr_text(),
                }
            }
            Stall::Io(source) => {
                self.kill_and_reap();
                LiveError::Io { op, source }
            }
        };
        self.gone = Some(err.to_string());
        err
    }

    fn protocol(&mut self, op: &str, detail: String) -> LiveError {
        self.kill_and_reap();
        let err = LiveError::Protocol {
            op: op.to_string(),
            detail,
        };
        self.gone = Some(err.to_string());
        err
    }

    /// Confirm that the agent is alive and answering, with one round trip that does
    /// nothing (a fill of zero bytes touches no memory). What was read from `/proc`
    /// before a confirmation that succeeds was read from a live process (a dead one
    /// does not come back), hence complete: the files of a process that is dying or
    /// dead read as empty (`maps`), all absent (`pagemap`) or zero (`statm`).
    ///
    /// # Errors
    /// [`LiveError::Died`] with the agent's wait status if it is dead, or the other
    /// failures of an exchange.
    pub fn confirm_alive(&mut self) -> Result<(), LiveError> {
        const DURING: &str = "the check that it was alive while its state was read";
        self.check_alive()?;
        let deadline = Instant::now() + self.timeout;
        let req = Request::Fill {
            addr: 0,
            len: 0,
            byte: 0,
        };
        let mut frame = [0u8; RESP_BYTES];
        let sent = self
            .send(&req.encode(), deadline)
            .and_then(|()| self.recv(&mut frame, deadline));
        if let Err(stall) = sent {
            return Err(self.fail(stall, DURING));
        }
        match Response::decode(&frame) {
            Some(Response::Done) => Ok(()),
            other => Err(self.protocol(DURING, format!("unexpected response {other:?}"))),
        }
    }

    /// A failure to read the agent's `/proc` files, explained: if the agent is dead,
    /// its death (with the wait status); otherwise the failure itself.
    fn explain(&mut self, e: LiveError) -> LiveError {
        match e {
            LiveError::Proc { .. } | LiveError::Parse { .. } => match self.confirm_alive() {
                Err(died @ LiveError::Died { .. }) => died,
                _ => e,
            },
            e => e,
        }
    }

    /// Give the agent the limits the engine assumes where it does not model them.
    fn set_unmodelled_limits(&mut self) -> Result<(), LiveError> {
        // fs.nr_open's default, the engine's largest descriptor + 1.
        const NOFILE: u64 = 1 << 20;
        let set = |resource: u32, value: u64| sys::set_rlimit_of(self.pid, resource, value, value);
        // On failure the caller drops the backend, which kills and reaps the agent.
        set(g::RLIMIT_FSIZE, RLIM_INFINITY).map_err(|source| LiveError::Limits {
            what: "RLIMIT_FSIZE unlimited".to_string(),
            source,
        })?;
        if set(g::RLIMIT_NOFILE, NOFILE).is_err() {
            // Without the privilege to raise the hard limit, the highest the agent may
            // have: descriptors at and above it are not modelled (DESIGN.md).
            let hard = sys::getrlimit(g::RLIMIT_NOFILE).map_or(NOFILE, |(_, max)| max);
            set(g::RLIMIT_NOFILE, hard.min(NOFILE)).map_err(|source| LiveError::Limits {
                what: format!("RLIMIT_NOFILE {}", hard.min(NOFILE)),
                source,
            })?;
        }
        Ok(())
    }

    fn check_alive(&self) -> Result<(), LiveError> {
        match &self.gone {
            Some(why) => Err(LiveError::Gone(why.clone())),
            None => Ok(()),
        }
    }

    /// Wait up to `limit` for the agent to exit, reaping it.
    fn wait_bounded(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.reaped {
            return None;
        }
        let end = Instant::now() + limit;
        let mut nap = Duration::from_micros(50);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Some(status);
                }
                Ok(None) if Instant::now() < end => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(10));
                }
                _ => return None,
            }
        }
    }

    /// SIGKILL the agent (which also ends a stopped one) and reap it, waiting a bounded
    /// time so the parent never hangs.
    fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        let _ = self.child.kill();
        let _ = self.wait_bounded(REAP_WAIT);
    }

    /// The agent's scheduler state from `/proc/<pid>/stat` (`T (stopped)`, ...).
    fn sched_state(&self) -> String {
        let Ok(stat) = std::fs::read_to_string(self.proc_path("stat")) else {
            return "not readable in /proc".to_string();
        };
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_ascii_whitespace().next())
            .unwrap_or("?");
        let what = match state {
            "R" => "running",
            "S" => "sleeping",
            "D" => "in uninterruptible sleep",
            "T" => "stopped",
            "t" => "stopped by a tracer",
            "Z" => "a zombie",
            _ => "in an unusual state",
        };
        format!("{state} ({what})")
    }

    /// Whatever the agent wrote to stderr (read without blocking), ready for display.
    fn stderr_text(&mut self) -> String {
        let Some(err) = self.stderr.as_mut() else {
            return String::new();
        };
        let mut text = Vec::new();
        let mut chunk = [0u8; 4096];
        while text.len() < 64 << 10 {
            match err.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&text);
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!("; its stderr said: {text}")
        }
    }

    fn proc_path(&self, file: &str) -> String {
        format!("/proc/{}/{file}", self.pid)
    }

    /// The text of `/proc/<pid>/<file>`. The file stays open between calls (it is read
    /// again from offset 0 each time), which saves an open and a close per read, and
    /// the read that would return 0 is skipped where the text is known to be complete
    /// ([`procfs::read_is_complete`]).
    fn read_proc(&self, file: &'static str) -> Result<String, LiveError> {
        const CHUNK: usize = 16384;
        let path = self.proc_path(file);
        let err = |source| LiveError::Proc {
            path: path.clone(),
            source,
        };
        let mut cache = self.proc_files.borrow_mut();
        if !cache.iter().any(|(n, _)| *n == file) {
            cache.push((file, File::open(&path).map_err(err)?));
        }
        let f = &cache
            .iter()
            .find(|(n, _)| *n == file)
            .expect("inserted above")
            .1;
        // The buffer keeps its length between calls (it only grows), so that it is not
        // cleared for every read.
        let mut buf = std::mem::take(&mut *self.proc_buf.borrow_mut());
        let mut off = 0;
        let result = loop {
            if buf.len() < off + CHUNK {
                buf.resize(off + CHUNK, 0);
            }
            match f.read_at(&mut buf[off..off + CHUNK], off as u64) {
                Ok(n) => {
                    off += n;
                    if n == 0 || procfs::read_is_complete(file, &buf[..off], n, CHUNK) {
                        break Ok(());
                    }
                }
                Err(e) => break Err(err(e)),
            }
        };
        let text = result.map(|()| match std::str::from_utf8(&buf[..off]) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(&buf[..off]).into_owned(),
        });
        *self.proc_buf.borrow_mut() = buf;
        text
    }

    /// The maps lines of the VMAs that intersect any of `ranges` (sorted, disjoint
    /// `[start, end)` below the top of user space), each once, in address order, as
    /// `/proc/<pid>/maps` prints them: one `PROCMAP_QUERY` ioctl per VMA (Linux 6.11+)
    /// instead of a read of the whole text. `Ok(None)` when the kernel lacks the ioctl.
    ///
    /// # Linux
    /// `procfs_procmap_ioctl` and `do_procmap_query` answer for the VMA covering an
    /// address or the next one; the name is what `show_map_vma` prints, except that
    /// `seq_file_path` escapes a newline as `\012` and the ioctl does not.
    pub fn maps_window(&mut self, ranges: &[(u64, u64)]) -> Result<Option<String>, LiveError> {
        self.check_alive()?;
        if !self.procmap_query {
            return Ok(None);
        }
        let path = self.proc_path("maps");
        let mut files = self.proc_files.borrow_mut();
        if !files.iter().any(|(n, _)| *n == "maps") {
            let f = File::open(&path).map_err(|source| LiveError::Proc {
                path: path.clone(),
                source,
            })?;
            files.push(("maps", f));
        }
        let f = &files
            .iter()
            .find(|(n, _)| *n == "maps")
            .expect("inserted above")
            .1;
        let mut name = [0u8; 4096];
        let mut out = String::new();
        let mut done = 0u64;
        for &(lo, hi) in ranges {
            let mut at = lo.max(done);
            while at < hi {
                let v = match crate::sys::procmap_query(f.as_fd(), at, &mut name) {
                    Ok(Some(v)) => v,
                    Ok(None) => break,
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EINVAL)) => {
                        drop(files);
                        self.procmap_query = false;
                        return Ok(None);
                    }
                    Err(source) => return Err(LiveError::Proc { path, source }),
                };
                if v.start >= hi || v.end <= at {
                    break;
                }
                let raw = &name[..v.name_len];
                let text = if raw.is_empty() {
                    None
                } else {
                    let mut esc = Vec::with_capacity(raw.len());
                    for &b in raw {
                        if b == b'\n' {
                            esc.extend_from_slice(b"\\012");
                        } else {
                            esc.push(b);
                        }
                    }
                    Some(String::from_utf8_lossy(&esc).into_owned())
                };
                vmspace::MapsLine {
                    start: v.start,
                    end: v.end,
                    read: v.flags & 1 != 0,
                    write: v.flags & 2 != 0,
                    exec: v.flags & 4 != 0,
                    shared: v.flags & 8 != 0,
                    offset: v.offset,
                    dev_major: v.dev_major,
                    dev_minor: v.dev_minor,
                    inode: v.inode,
                    name: text,
                }
                .write_to(&mut out);
                out.push('\n');
                at = v.end;
                done = v.end;
            }
        }
        Ok(Some(out))
    }

    /// Call `f` with the raw pagemap entry of each of `npages` pages from `start`, in
    /// order (entries the kernel does not return, above the top of user space, are
    /// empty). The file is read in chunks through one buffer kept between calls, so
    /// that a comparison after every call allocates nothing here.
    fn visit_pagemap(
        &mut self,
        start: u64,
        npages: u64,
        mut f: impl FnMut(procfs::PagemapEntry),
    ) -> Result<(), LiveError> {
        const CHUNK_PAGES: u64 = 8192;
        self.check_alive()?;
        if npages > MAX_PAGES {
            return Err(LiveError::Proc {
                path: self.proc_path("pagemap"),
                source: io::Error::other(format!(
                    "{npages} pages asked for at once; the limit is {MAX_PAGES}"
                )),
            });
        }
        let path = self.proc_path("pagemap");
        let Some(file) = self.pagemap.as_ref() else {
            return Err(LiveError::Proc {
                path,
                source: io::Error::other("not open"),
            });
        };
        let first = start / PAGE_SIZE;
        let raw = &mut self.pagemap_buf;
        raw.resize((CHUNK_PAGES * 8) as usize, 0);
        let mut done = 0u64;
        while done < npages {
            let vpn = first + done;
            let want = (npages - done).min(CHUNK_PAGES) as usize;
            // Pages at or above 2^64 / 8 cannot be addressed in the file at all.
            let Some(offset) = vpn.checked_mul(8) else {
                break;
            };
            let got = match file.read_at(&mut raw[..want * 8], offset) {
                Ok(n) => n / 8,
                Err(source) => return Err(LiveError::Proc { path, source }),
            };
            procfs::decode_pagemap(&raw[..got * 8]).for_each(&mut f);
            done += got as u64;
            if got < want {
                // The kernel returns nothing beyond the top of user space.
                break;
            }
        }
        for _ in done..npages {
            f(procfs::PagemapEntry(0));
        }
        Ok(())
    }

    fn read_pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, LiveError> {
        let mut out = Vec::with_capacity(npages.min(MAX_PAGES) as usize);
        self.visit_pagemap(start, npages, |e| out.push(e.page_state()))?;
        Ok(out)
    }

    /// `VmSize` and `VmData + VmStk` in kB from `/proc/<pid>/statm` (size and data
    /// fields, in pages).
    fn read_statm(&mut self) -> Result<(u64, u64), LiveError> {
        self.check_alive()?;
        let statm = self.read_proc("statm")?;
        let f: Vec<u64> = statm
            .split_ascii_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 6 {
            return Err(LiveError::Parse {
                path: self.proc_path("statm"),
                source: procfs::ProcParseError {
                    what: format!("expected 7 fields, got {statm:?}"),
                },
            });
        }
        Ok((f[0] * 4, f[5] * 4))
    }

    fn read_status_counters(&mut self) -> Result<Counters, LiveError> {
        self.check_alive()?;
        let status = self.read_proc("status")?;
        let s = procfs::parse_status(&status).map_err(|source| LiveError::Parse {
            path: self.proc_path("status"),
            source,
        })?;
        Ok(Counters {
            vm_size_kb: s.vm_size_kb,
            vm_lck_kb: s.vm_lck_kb,
            vm_data_kb: s.vm_data_kb,
            vm_stk_kb: s.vm_stk_kb,
            map_count: 0,
        })
    }

    fn read_counters(&mut self) -> Result<Counters, LiveError> {
        self.check_alive()?;
        let status = self.read_proc("status")?;
        let s = procfs::parse_status(&status).map_err(|source| LiveError::Parse {
            path: self.proc_path("status"),
            source,
        })?;
        let maps = self.read_proc("maps")?;
        Ok(Counters {
            vm_size_kb: s.vm_size_kb,
            vm_lck_kb: s.vm_lck_kb,
            vm_data_kb: s.vm_data_kb,
            vm_stk_kb: s.vm_stk_kb,
            map_count: procfs::map_count(&maps),
        })
    }

    fn read_seed(&mut self, hello: Response) -> Result<Seed, LiveError> {
        let Response::Hello {
            brk,
            stack_cur,
            stack_max: _,
            personality,
        } = hello
        else {
            return Err(self.protocol("start-up", format!("expected a greeting, got {hello:?}")));
        };
        let parse_err = |path: String, what: String| LiveError::Parse {
            path,
            source: ProcParseError { what },
        };
        let maps = self.read_proc("maps")?;
        let mut lines = Vec::new();
        for l in maps.lines() {
            let line = MapsLine::parse(l)
                .map_err(|e| parse_err(self.proc_path("maps"), format!("{e}: {l:?}")))?;
            lines.push(line);
        }
        let smaps =
            procfs::parse_smaps(&self.read_proc("smaps")?).map_err(|source| LiveError::Parse {
                path: self.proc_path("smaps"),
                source,
            })?;
        let mut vmas = Vec::with_capacity(lines.len());
        for line in lines {
            let vm_flags = smaps
                .iter()
                .find(|s| s.line.start == line.start && s.line.end == line.end)
                .map(|s| s.vm_flags);
            // Whether the VMA has an anon_vma: it has an anonymous page of its own
            // (present, not a file or shmem page, mapped exclusively; the shared zero
            // page a read fault maps does not count). The gate page is not in the page
            // tables pagemap walks.
            let faulted = if line.start >= TASK_SIZE {
                false
            } else {
                let n = (line.end - line.start) / PAGE_SIZE;
                let mut any = false;
                self.visit_pagemap(line.start, n, |e| {
                    any |= e.present() && !e.file_or_shared_anon() && e.exclusive();
                })?;
                any
            };
            vmas.push(SeedVma {
                line,
                vm_flags,
                faulted,
            });
        }

        if personality & libc::ADDR_NO_RANDOMIZE as u64 == 0 {
            return Err(LiveError::Layout {
                detail: format!(
                    "the agent runs without ADDR_NO_RANDOMIZE (personality {personality:#x}); \
                     its addresses are random"
                ),
            });
        }
        if stack_cur == RLIM_INFINITY {
            return Err(LiveError::Layout {
                detail: "RLIMIT_STACK is unlimited, which selects the legacy bottom-up layout; \
                         start the parent with a finite stack limit (e.g. `ulimit -s 8192`)"
                    .to_string(),
            });
        }
        let mmap_base = Config::mmap_base_for_stack_limit(TASK_SIZE, stack_cur, STACK_GUARD_GAP);
        let top = loader_top(vmas.iter().map(|v| &v.line));
        if top != Some(mmap_base) {
            return Err(LiveError::Layout {
                detail: format!(
                    "mmap_base computed from RLIMIT_STACK {stack_cur:#x} is {mmap_base:#x}, but the \
                     highest mapping below [stack] ends at {} (is vm.legacy_va_layout set?)",
                    top.map_or_else(|| "nothing".to_string(), |t| format!("{t:#x}"))
                ),
            });
        }

        let stat = self.read_proc("stat")?;
        let start_brk = procfs::stat_field(&stat, procfs::STAT_START_BRK)
            .ok_or_else(|| parse_err(self.proc_path("stat"), "no start_brk field".to_string()))?;
        let status = self.read_proc("status")?;
        let locked_kb = procfs::status_kb(&status, "VmLck")
            .ok_or_else(|| parse_err(self.proc_path("status"), "no VmLck line".to_string()))?;
        let fd_dir = self.proc_path("fd");
        let mut open_fds = Vec::new();
        let entries = std::fs::read_dir(&fd_dir).map_err(|source| LiveError::Proc {
            path: fd_dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| LiveError::Proc {
                path: fd_dir.clone(),
                source,
            })?;
            if let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
                open_fds.push(fd);
            }
        }
        open_fds.sort_unstable();
        let start_stack = procfs::stat_field(&stat, 28).unwrap_or(0);
        let data_segment = match (procfs::stat_field(&stat, 45), procfs::stat_field(&stat, 46)) {
            (Some(s), Some(e)) => e.saturating_sub(s),
            _ => 0,
        };
        Ok(Seed {
            vmas,
            mmap_base,
            start_brk,
            brk,
            start_stack,
            data_segment,
            open_fds,
            locked_pages: locked_kb * 1024 / PAGE_SIZE,
        })
    }
}

impl Drop for LiveBackend {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

impl Backend for LiveBackend {
    fn name(&self) -> &'static str {
        "kernel"
    }

    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        self.run(op).map_err(backend_error)
    }

    fn maps(&mut self) -> Result<String, BackendError> {
        let r = self.check_alive().and_then(|()| self.read_proc("maps"));
        r.map_err(|e| backend_error(self.explain(e)))
    }

    fn maps_window(&mut self, ranges: &[(u64, u64)]) -> Result<Option<String>, BackendError> {
        let r = LiveBackend::maps_window(self, ranges);
        r.map_err(|e| backend_error(self.explain(e)))
    }

    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        let r = self.read_pages(start, npages);
        r.map_err(|e| backend_error(self.explain(e)))
    }

    fn counters(&mut self) -> Result<Counters, BackendError> {
        let r = self.read_counters();
        r.map_err(|e| backend_error(self.explain(e)))
    }

    fn status_counters(&mut self) -> Result<Counters, BackendError> {
        let r = self.read_status_counters();
        r.map_err(|e| backend_error(self.explain(e)))
    }

    fn size_counters(&mut self) -> Result<(u64, u64), BackendError> {
        let r = self.read_statm();
        r.map_err(|e| backend_error(self.explain(e)))
    }

    fn confirm(&mut self) -> Result<(), BackendError> {
        self.confirm_alive().map_err(backend_error)
    }
}

/// A set of CPUs a thread may run on.
#[derive(Clone)]
pub struct CpuAffinity(libc::cpu_set_t);

impl CpuAffinity {
    /// The calling thread's CPUs.
    ///
    /// # Errors
    /// If `sched_getaffinity` fails.
    pub fn of_current_thread() -> io::Result<Self> {
        sys::thread_affinity().map(Self)
    }

    /// The CPUs of the set, in increasing order.
    pub fn cpus(&self) -> Vec<usize> {
        sys::cpus_in(&self.0)
    }

    /// Restrict the calling thread to `cpu` (one of [`cpus`](Self::cpus)).
    ///
    /// # Errors
    /// If `sched_setaffinity` fails (a CPU outside the process's set).
    pub fn pin_current_thread_to(cpu: usize) -> io::Result<()> {
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return Err(io::Error::other(format!("CPU {cpu} is beyond the CPU set")));
        }
        sys::pin_to_cpu(0, cpu)
    }
}

impl std::fmt::Debug for CpuAffinity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CpuAffinity").finish_non_exhaustive()
    }
}

/// An agent being started by [`LiveBackend::spawn_in_background`].
#[derive(Debug)]
pub struct Prefetched(std::thread::JoinHandle<Result<LiveBackend, LiveError>>);

impl Prefetched {
    /// Wait for the agent.
    ///
    /// # Errors
    /// As [`LiveBackend::spawn`]; a panic of the starting thread is reported as an
    /// error too.
    pub fn take(self) -> Result<LiveBackend, LiveError> {
        self.0.join().unwrap_or_else(|_| {
            Err(LiveError::Io {
                op: "start-up".to_string(),
                source: io::Error::other("the thread starting the agent panicked"),
            })
        })
    }
}

fn backend_error(e: LiveError) -> BackendError {
    match &e {
        LiveError::Died { status, .. } => BackendError::agent_died(e.to_string(), status.clone()),
        _ => BackendError::new(e.to_string()),
    }
}

fn wait_for(fd: std::os::fd::BorrowedFd<'_>, events: i16, deadline: Instant) -> Result<(), Stall> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Stall::TimedOut);
    }
    match sys::poll_one(fd, events, left) {
        Ok(_) => Ok(()),
        Err(e) => Err(Stall::Io(e)),
    }
}

/// The end of the highest VMA below `[stack]`: where the loader's top-down placements
/// (the dynamic linker, then the vDSO) started, i.e. `mmap_base`.
pub(crate) fn loader_top<'a>(lines: impl Iterator<Item = &'a MapsLine>) -> Option<u64> {
    let lines: Vec<&MapsLine> = lines.collect();
    let stack = lines
        .iter()
        .position(|l| l.name.as_deref() == Some("[stack]"))?;
    lines[..stack].last().map(|l| l.end)
}

/// A system call's raw result as an outcome: `brk` returns the break and never fails;
/// otherwise `-4095..=-1` is an errno.
fn raw_outcome(nr: u64, r: i64) -> Outcome {
    if nr != u64::from(g::__NR_brk)
        && (-4095..=-1).contains(&r)
        && let Some(e) = Errno::from_raw(-r)
    {
        return Outcome::Error(e);
    }
    Outcome::Value(r as u64)
}

fn fault_outcome(signo: u64, code: u64, addr: u64) -> Outcome {
    let segv = u64::from(g::SIGSEGV);
    let bus = u64::from(g::SIGBUS);
    let (signal, code) = match (signo, code) {
        (s, c) if s == segv && c == u64::from(g::SEGV_MAPERR) => (Signal::Segv, FaultCode::MapErr),
        (s, c) if s == segv && c == u64::from(g::SEGV_ACCERR) => (Signal::Segv, FaultCode::AccErr),
        // A non-canonical address raises #GP, which Linux reports as SI_KERNEL with
        // si_addr 0.
        (s, c) if s == segv && c == u64::from(g::SI_KERNEL) => {
            return Outcome::Fault(Fault {
                signal: Signal::Segv,
                code: FaultCode::SiKernel,
                addr: 0,
            });
        }
        (s, c) if s == bus && c == u64::from(g::BUS_ADRERR) => (Signal::Bus, FaultCode::AdrErr),
        _ => {
            return Outcome::Unsupported(format!(
                "access raised signal {} with si_code {} at {addr:#x}",
                signal_name(signo as i32),
                code as i64
            ));
        }
    };
    Outcome::Fault(Fault { signal, code, addr })
}

fn describe_status(s: ExitStatus) -> String {
    if let Some(sig) = s.signal() {
        let core = if s.core_dumped() {
            " (core dumped)"
        } else {
            ""
        };
        format!("killed by {}{core}", signal_name(sig))
    } else if let Some(code) = s.code() {
        let why = match code {
            70 => " (it could not start)",
            71 => " (it received a malformed request)",
            _ => "",
        };
        format!("exited with status {code}{why}")
    } else {
        format!("ended with {s}")
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// A short description of an operation for error messages (no bulk data).
fn describe(op: &Op) -> String {
    let mut s = String::from(op.name());
    let _ = match op {
        Op::Mmap {
            addr,
            len,
            prot,
            flags,
            fd,
            offset,
        } => write!(
            s,
            "({addr:#x}, {len:#x}, {prot:#x}, {flags:#x}, {}, {offset:#x})",
            *fd as i64
        ),
        Op::Munmap { addr, len } | Op::Mlock { addr, len } | Op::Munlock { addr, len } => {
            write!(s, "({addr:#x}, {len:#x})")
        }
        Op::Mremap {
            old_addr,
            old_len,
            new_len,
            flags,
            new_addr,
        } => write!(
            s,
            "({old_addr:#x}, {old_len:#x}, {new_len:#x}, {flags:#x}, {new_addr:#x})"
        ),
        Op::Mprotect { addr, len, prot } => write!(s, "({addr:#x}, {len:#x}, {prot:#x})"),
        Op::Mlock2 { addr, len, flags } => write!(s, "({addr:#x}, {len:#x}, {flags:#x})"),
        Op::Mlockall { flags } => write!(s, "({flags:#x})"),
        Op::Munlockall => write!(s, "()"),
        Op::Madvise { addr, len, advice } => write!(s, "({addr:#x}, {len:#x}, {advice})"),
        Op::Brk { addr } => write!(s, "({addr:#x})"),
        Op::MemfdCreate { name, flags } => {
            let short = String::from_utf8_lossy(&name[..name.len().min(40)]);
            let more = if name.len() > 40 { "..." } else { "" };
            write!(s, "({short:?}{more}, {flags:#x})")
        }
        Op::Ftruncate { fd, length } => write!(s, "({}, {length:#x})", *fd as i64),
        Op::Pwrite64 { fd, data, offset } => {
            write!(s, "({}, <{} bytes>, {offset:#x})", *fd as i64, data.len())
        }
        Op::Close { fd } => write!(s, "({})", *fd as i64),
        Op::Setrlimit { resource, cur, max } => write!(s, "({resource}, {cur:#x}, {max:#x})"),
        Op::Setuid { uid } => write!(s, "({uid})"),
        Op::Load { addr, len } => write!(s, "({addr:#x}, {len})"),
        Op::Store { addr, data } => write!(s, "({addr:#x}, <{} bytes>)", data.len()),
        Op::Fill { addr, len, byte } => write!(s, "({addr:#x}, {len}, {byte})"),
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_results() {
        let mmap = u64::from(g::__NR_mmap);
        let brk = u64::from(g::__NR_brk);
        assert_eq!(raw_outcome(mmap, -22), Outcome::Error(Errno::EINVAL));
        assert_eq!(
            raw_outcome(mmap, -4095),
            Outcome::Error(Errno::from_raw(4095).unwrap())
        );
        assert_eq!(
            raw_outcome(mmap, 0x7fff_f7ff_0000),
            Outcome::Value(0x7fff_f7ff_0000)
        );
        assert_eq!(raw_outcome(mmap, 0), Outcome::Value(0));
        assert_eq!(raw_outcome(brk, -12), Outcome::Value(-12i64 as u64));
    }

    #[test]
    fn faults() {
        let f = |s, c, a| fault_outcome(s, c, a);
        assert_eq!(
            f(11, 1, 0x1000),
            Outcome::Fault(Fault {
                signal: Signal::Segv,
                code: FaultCode::MapErr,
                addr: 0x1000
            })
        );
        assert_eq!(
            f(11, 2, 8),
            Outcome::Fault(Fault {
                signal: Signal::Segv,
                code: FaultCode::AccErr,
                addr: 8
            })
        );
        assert_eq!(
            f(7, 2, 9),
            Outcome::Fault(Fault {
                signal: Signal::Bus,
                code: FaultCode::AdrErr,
                addr: 9
            })
        );
        assert!(matches!(f(7, 4, 9), Outcome::Unsupported(_)));
    }

    #[test]
    fn descriptions_stay_short() {
        let op = Op::Store {
            addr: 0x1000,
            data: vec![0; 1 << 20],
        };
        assert_eq!(describe(&op), "store(0x1000, <1048576 bytes>)");
        let op = Op::Mmap {
            addr: 0,
            len: 4096,
            prot: 3,
            flags: 0x22,
            fd: u64::MAX,
            offset: 0,
        };
        assert_eq!(describe(&op), "mmap(0x0, 0x1000, 0x3, 0x22, -1, 0x0)");
    }

    #[test]
    fn loader_top_is_below_the_stack() {
        let maps = [
            "555555554000-555555556000 r--p 00000000 fe:00 1 /a",
            "7ffff7fc5000-7ffff7fc9000 r--p 00000000 00:00 0 [vvar]",
            "7ffff7ffd000-7ffff7fff000 rw-p 00000000 fe:00 2 /ld.so",
            "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
        ]
        .map(|l| MapsLine::parse(l).unwrap());
        assert_eq!(loader_top(maps.iter()), Some(0x7fff_f7ff_f000));
        assert_eq!(loader_top(maps[..1].iter()), None);
    }
}
