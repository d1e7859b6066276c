//! A verdict of "disagree" means the engine and the kernel disagreed, nothing else; and
//! long runs keep their findings. The live agent is killed at random moments during
//! `diff` and `fuzz` (each kill must give a clear "agent died" error, exit 2, with the
//! wait status: never a silent death by SIGPIPE, never a disagreement, never a
//! reproducer that does not reproduce); an agent that dies between a call and the
//! reading of its state is not a disagreement; what one side does not model is its
//! own verdict (exit 3); a line that damages the agent's own memory is named; the
//! shell's limits do not leak into the agent; `fuzz` prints its summary on SIGINT and
//! checks its output directory first; `render` does not replace its own input.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vmspace::{Backend, BackendError, BackendErrorKind, Counters, Mm, Op, Outcome, PageState};
use vmspace_check::differ::{Differ, Step};
use vmspace_linux::{AgentCommand, LiveBackend};

const VMSPACE: &str = env!("CARGO_BIN_EXE_vmspace");

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn script(name: &str, text: &str) -> String {
    let path = tmp(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn vmspace(args: &[&str]) -> Output {
    Command::new(VMSPACE)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `vmspace` run by `sh` after `ulimit` settings.
fn vmspace_with_limits(ulimit: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{ulimit}; exec \"$0\" \"$@\""))
        .arg(VMSPACE)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A long script that agrees: map, write, protect, unmap, many times over.
/// A script that `diff` takes well over the longest kill delay (1.52 s) to run, even
/// in a release build: a kill must find the agent before the verdict is complete.
fn long_script() -> String {
    let mut s = String::new();
    for i in 0..20_000 {
        s += &format!(
            "$a{i} = mmap(NULL, 0x10000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
             store($a{i} + 0x1000, \"hello\")\n\
             fill($a{i} + 0x3000, 0x2000, 7)\n\
             mprotect($a{i} + 0x4000, 0x1000, PROT_READ)\n"
        );
        if i % 2 == 1 {
            s += &format!("munmap($a{i}, 0x10000)\n");
        }
    }
    s
}

/// The living children of `pid`: not the zombies of agents that were already done
/// with (killing one of those kills nothing, and the command rightly goes on).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(c.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
            }
        }
    }
    out.retain(|&c| {
        std::fs::read_to_string(format!("/proc/{c}/stat")).is_ok_and(|st| {
            st.rfind(')')
                .and_then(|i| st[i + 1..].split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        })
    });
    out
}

fn kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// A small deterministic generator (xorshift*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// When process `pid` started (clock ticks after boot), if it exists.
fn start_time(pid: u32) -> Option<u64> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22, the 20th after the `(comm)`.
    st[st.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Start `child`, wait `delay`, SIGKILL the agent it is using, and return its output,
/// or `None` if it ended before an agent could be killed. The agent in use is the
/// oldest living child: `fuzz` (run here as one run on one thread) starts the next
/// run's agent only after taking the current one. (Killing that spare one, or an agent
/// just done with, is no failure of the command's, which rightly goes on.)
fn kill_an_agent(mut child: Child, delay: Duration) -> Option<Output> {
    std::thread::sleep(delay);
    let mut killed = false;
    while !killed && child.try_wait().unwrap().is_none() {
        let kids = children(child.id());
        let Some(&oldest) = kids
            .iter()
            .min_by_key(|&&k| start_time(k).unwrap_or(u64::MAX))
        else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        kill(oldest, "-KILL");
        killed = true;
    }
    let out = child.wait_with_output().unwrap();
    killed.then_some(out)
}

#[test]
fn killed_agents_are_reported_as_dead_never_as_disagreements() {
    let long = script("kills-long.vms", &long_script());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut kills, mut tries) = (0, 0);
    while kills < 16 {
        tries += 1;
        assert!(
            tries < 64,
            "the commands kept ending before an agent was killed"
        );
        let fuzz = kills % 2 == 1;
        let out_dir = tmp(&format!("kills-out-{kills}"));
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut cmd = Command::new(VMSPACE);
        if fuzz {
            let seed = (100 + kills).to_string();
            cmd.args([
                "fuzz",
                "--seed",
                &seed,
                "--ops",
                "1000000",
                "--run-len",
                "1000000",
            ])
            .args(["--jobs", "1", "--out"])
            .arg(&out_dir);
        } else {
            cmd.args(["diff", &long]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(20 + rng.below(1500));
        let Some(out) = kill_an_agent(child, delay) else {
            continue;
        };
        kills += 1;
        let err = text(&out.stderr);
        let what = if fuzz { "fuzz" } else { "diff" };
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what} after a kill at {delay:?}: {:?}\n{err}",
            out.status
        );
        assert!(
            err.contains("agent died") && err.contains("killed by SIGKILL"),
            "{what}: {err}"
        );
        assert!(!err.contains("disagree"), "{what}: {err}");
        // Whatever was written as a finding reproduces.
        for f in std::fs::read_dir(&out_dir).into_iter().flatten().flatten() {
            let out = vmspace(&["diff", &f.path().display().to_string()]);
            assert_eq!(out.status.code(), Some(1), "{}", f.path().display());
        }
    }
}

fn agent_cmd() -> AgentCommand {
    AgentCommand {
        program: VMSPACE.into(),
        args: vec!["__agent".into()],
    }
}

/// SIGKILL the agent `pid` and wait until it is a zombie (its `/proc` files then read
/// as empty, and its pipes are closed).
fn kill_and_wait_for_zombie(pid: u32) {
    kill(pid, "-KILL");
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        if stat
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z')
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the agent did not die");
}

/// The live kernel through an agent that, once armed, is killed (and seen dead) right
/// after the next operation, before the differ reads the agent's state.
struct DiesAfterTheCall {
    live: LiveBackend,
    armed: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Backend for DiesAfterTheCall {
    fn name(&self) -> &'static str {
        "kernel"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        let r = self.live.apply(op);
        if self.armed.replace(false) {
            kill_and_wait_for_zombie(self.live.pid());
        }
        r
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        self.live.maps()
    }
    fn pages(&mut self, start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        self.live.pages(start, npages)
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        self.live.counters()
    }
    fn status_counters(&mut self) -> Result<Counters, BackendError> {
        self.live.status_counters()
    }
    fn size_counters(&mut self) -> Result<(u64, u64), BackendError> {
        self.live.size_counters()
    }
    fn confirm(&mut self) -> Result<(), BackendError> {
        self.live.confirm()
    }
}

fn populate(len: u64) -> Op {
    Op::Mmap {
        addr: 0,
        len,
        prot: 3,
        // MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE: present pages on both sides.
        flags: 0x22 | 0x8000,
        fd: u64::MAX,
        offset: 0,
    }
}

#[test]
fn an_agent_dead_before_its_state_is_read_is_not_a_disagreement() {
    let live = LiveBackend::spawn(&agent_cmd(), Duration::from_secs(10)).unwrap();
    let seed = live.seed().clone();
    let cfg = vmspace::Config {
        mmap_base: seed.mmap_base,
        rlimits: live.rlimits(),
        ..vmspace::Config::default()
    };
    let mut engine = Mm::from_seed(&seed, cfg).unwrap();
    let armed = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut kernel = DiesAfterTheCall {
        live,
        armed: armed.clone(),
    };
    let mut d = Differ::seeded(&mut engine, &mut kernel, &seed);
    let first = d.step(&populate(0x4000)).unwrap();
    assert!(matches!(first, Step::Agree(Outcome::Value(_))), "{first:?}");
    armed.set(true);
    match d.step(&populate(0x8000)) {
        Err(e) => assert_eq!(
            e.kind,
            BackendErrorKind::AgentDied {
                status: "killed by SIGKILL".to_string()
            },
            "{e}"
        ),
        Ok(other) => panic!("a dead agent gave a verdict: {other:?}"),
    }
}

/// Run in a child process (see below): with SIGPIPE's default action, a request to an
/// agent that is already dead is an error saying so, not the parent's death.
#[test]
fn a_write_to_a_dead_agent_does_not_kill_the_parent() {
    if std::env::var_os("VMSPACE_SIGPIPE_CHILD").is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_write_to_a_dead_agent_does_not_kill_the_parent",
                "--nocapture",
            ])
            .env("VMSPACE_SIGPIPE_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{:?}\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        return;
    }
    vmspace_linux::die_on_sigpipe();
    let mut live = LiveBackend::spawn(&agent_cmd(), Duration::from_secs(10)).unwrap();
    kill_and_wait_for_zombie(live.pid());
    let e = live.apply(&populate(0x1000)).unwrap_err();
    assert!(e.message.contains("the agent died"), "{e}");
    assert_eq!(
        e.kind,
        BackendErrorKind::AgentDied {
            status: "killed by SIGKILL".to_string()
        }
    );
}

#[test]
fn what_one_side_does_not_model_is_its_own_verdict() {
    let map = "$a = mmap(NULL, 0x2000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n";
    let cases = [
        // The harness's own descriptors (the kernel side refuses).
        ("close(1)\n", "kernel"),
        // A descriptor the model did not create (the engine refuses).
        ("pwrite64(1, \"x\", 1, 0)\n", "engine"),
        // Guard regions (the engine refuses).
        ("madvise($a, 0x1000, MADV_GUARD_INSTALL)\n", "engine"),
        // The agent's heap, just below its break: the engine cannot know its bytes
        // (it used to answer zeros).
        ("$b = brk(NULL)\nload($b - 0x10, 8)\n", "differ"),
    ];
    for (i, (line, side)) in cases.iter().enumerate() {
        let f = script(&format!("unsupported-{i}.vms"), &format!("{map}{line}"));
        let out = vmspace(&["diff", &f]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{line}{err}");
        assert!(
            err.contains("does not support") && err.contains(&format!("({side})")),
            "{line}{err}"
        );
        assert!(!text(&out.stdout).contains("disagree"), "{line}");
    }
}

/// The seeded agent's `[heap]` line: (start, end).
fn agent_heap() -> (u64, u64) {
    let out = vmspace(&["seed"]);
    assert!(out.status.success());
    let seed = text(&out.stdout);
    let line = seed.lines().find(|l| l.contains("[heap]")).unwrap();
    let (s, e) = line
        .split_whitespace()
        .next()
        .unwrap()
        .split_once('-')
        .unwrap();
    (
        u64::from_str_radix(s, 16).unwrap(),
        u64::from_str_radix(e, 16).unwrap(),
    )
}

#[test]
fn the_line_that_damaged_the_agent_is_named_when_it_dies() {
    // The agent's heap holds its alternate signal stack: once it is gone, the next
    // fault the agent catches kills it (two lines later).
    let (start, end) = agent_heap();
    let f = script(
        "damage.vms",
        &format!(
            "munmap({start:#x}, {:#x})\n\
             $a = mmap(NULL, 0x1000, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
             load($a, 1) = SIGSEGV\n",
            end - start
        ),
    );
    let out = vmspace(&["diff", &f]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{f}:1: warning: this call changes the agent's own memory"
        )),
        "{err}"
    );
    assert!(err.contains("agent died"), "{err}");
    assert!(
        err.contains("note: line 1 changed the agent's own memory ([heap]"),
        "{err}"
    );
}

#[test]
fn the_shells_limits_do_not_leak_into_the_agent() {
    // RLIMIT_FSIZE: the engine models no file size limit.
    let f = script(
        "fsize.vms",
        "$fd = memfd_create(\"x\", 0)\nftruncate($fd, 0x100000) = 0\n\
         pwrite64($fd, \"abc\", 3, 0x200000) = 3\n",
    );
    let out = vmspace_with_limits("ulimit -S -f 1", &["diff", &f]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // RLIMIT_NOFILE: the engine's descriptors go up to 2^20; a soft limit of 1004
    // would make the 1000th memfd (fd 1004, past the agent's 1000 and 1001) fail.
    let mut s = String::new();
    for i in 0..1000 {
        s += &format!("memfd_create(\"m{i}\", 0)\n");
    }
    let f = script("nofile.vms", &s);
    let out = vmspace_with_limits("ulimit -S -n 1004", &["diff", &f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The machine's RAM plus swap, in bytes.
fn machine_memory() -> u64 {
    let mi = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb = |key: &str| -> u64 {
        let l = mi.lines().find(|l| l.starts_with(key)).unwrap();
        l.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (kb("MemTotal:") + kb("SwapTotal:")) * 1024
}

#[test]
fn diff_caps_the_agents_address_space() {
    // Twice the machine's memory, as a reservation: past the default cap.
    let len = (2 * machine_memory()).next_multiple_of(1 << 30);
    let f = script(
        "as-cap.vms",
        &format!(
            "mmap(NULL, {len:#x}, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = -1 ENOMEM\n\
             $a = mmap(NULL, 0x40000000, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)\n"
        ),
    );
    let out = vmspace(&["diff", &f]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // A cap of its own, and none.
    let out = vmspace(&["diff", "--as-cap", "512M", &f]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(":2: `$a` names a success, but the call returned -1 ENOMEM"),
        "{}",
        text(&out.stderr)
    );
    let out = vmspace(&["diff", "--as-cap", "none", &f]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}

#[test]
fn fuzz_prints_its_summary_when_interrupted() {
    for (sig, code) in [("-INT", 130), ("-TERM", 143)] {
        let out_dir = tmp(&format!("interrupted{sig}"));
        let child = Command::new(VMSPACE)
            .args(["fuzz", "--seed", "7", "--ops", "100000000", "--out"])
            .arg(&out_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        kill(child.id(), sig);
        let out = child.wait_with_output().unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.starts_with("seed 7: "), "{stdout}");
        assert!(text(&out.stderr).contains("stopped by SIG"));
    }
}

#[test]
fn fuzz_checks_its_output_directory_first() {
    let file = tmp("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let started = Instant::now();
    let out = vmspace(&[
        "fuzz",
        "--ops",
        "1000000",
        "--out",
        &file.join("sub").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not writable"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn render_does_not_replace_its_own_input() {
    let body = "$a = mmap(NULL, 0x1000, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n";
    let f = script("render-self.vms", body);
    let out = vmspace(&["render", &f, "-o", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is the script itself"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), body);
}
