//! The runner, over a scripted backend: it answers from a list, not from any model of
//! Linux, so every expected value here follows from the list and the script alone.

use std::collections::VecDeque;

use vmspace::{
    Backend, BackendError, Counters, Errno, Fault, FaultCode, Op, Outcome, PageState, Signal,
};
use vmspace_script::{Action, Env, RunErrorKind, Runner};

use crate::util::script;

/// Answers each `apply` with the next canned outcome and records the operations.
#[derive(Default)]
struct Canned {
    answers: VecDeque<Outcome>,
    applied: Vec<Op>,
    maps: String,
    fail_maps: bool,
}

impl Canned {
    fn new(answers: Vec<Outcome>) -> Self {
        Canned {
            answers: answers.into(),
            ..Default::default()
        }
    }
}

impl Backend for Canned {
    fn name(&self) -> &'static str {
        "canned"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, BackendError> {
        self.applied.push(op.clone());
        Ok(self.answers.pop_front().unwrap_or(Outcome::Value(0)))
    }
    fn maps(&mut self) -> Result<String, BackendError> {
        if self.fail_maps {
            return Err(BackendError::new("no maps"));
        }
        Ok(self.maps.clone())
    }
    fn pages(&mut self, _start: u64, npages: u64) -> Result<Vec<PageState>, BackendError> {
        Ok(vec![PageState::Absent; npages as usize])
    }
    fn counters(&mut self) -> Result<Counters, BackendError> {
        Ok(Counters::default())
    }
}

fn segv() -> Outcome {
    Outcome::Fault(Fault {
        signal: Signal::Segv,
        code: FaultCode::MapErr,
        addr: 0x1000,
    })
}

#[test]
fn binds_flow_into_later_statements() {
    let s = script(
        "$a = mmap(NULL, 2p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
         $b = mremap($a, 2p, 4p, MREMAP_MAYMOVE) != $a\n\
         munmap($b + 1p, 1p) = 0\n",
    );
    let mut be = Canned::new(vec![
        Outcome::Value(0x10_0000),
        Outcome::Value(0x20_0000),
        Outcome::Value(0),
    ]);
    let mut r = Runner::new(s);
    let res = r.run(&mut be);
    assert!(res.passed(), "{res:?}");
    assert_eq!(res.reports.len(), 3);
    assert_eq!(r.env().get("a"), Some(0x10_0000));
    assert_eq!(r.env().get("b"), Some(0x20_0000));
    assert_eq!(
        be.applied[1],
        Op::Mremap {
            old_addr: 0x10_0000,
            old_len: 8192,
            new_len: 16384,
            flags: 1,
            new_addr: 0
        }
    );
    assert_eq!(
        be.applied[2],
        Op::Munmap {
            addr: 0x20_1000,
            len: 4096
        }
    );
    assert_eq!(res.reports[2].op(), Some(&be.applied[2]));
    assert_eq!(res.reports[2].line, 3);
}

#[test]
fn a_failed_expectation_is_reported_and_the_run_goes_on() {
    let s = script("munmap(0x1000, 1p) = 0\nmunmap(0x1000, 1p) = -1 EINVAL\nbrk(NULL) = 0x5000\n");
    let mut be = Canned::new(vec![
        Outcome::Error(Errno::ENOMEM),
        Outcome::Error(Errno::EINVAL),
        Outcome::Value(0x6000),
    ]);
    let res = Runner::new(s).run(&mut be);
    assert!(res.error.is_none());
    assert!(!res.passed());
    let bad: Vec<String> = res
        .mismatches()
        .map(|r| r.check.clone().unwrap_err().to_string())
        .collect();
    assert_eq!(
        bad,
        [
            "expected 0, got -1 ENOMEM (Cannot allocate memory)",
            "expected 0x5000 (20480), got 24576"
        ]
    );
}

#[test]
fn a_failed_binding_stops_the_run() {
    let s = script(
        "$a = mmap(NULL, 1p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\nmunmap($a, 1p)\n",
    );
    let mut be = Canned::new(vec![Outcome::Error(Errno::ENOMEM)]);
    let mut r = Runner::new(s);
    let e = r.step(&mut be).unwrap_err();
    assert_eq!(e.index, 0);
    assert_eq!(
        e.kind,
        RunErrorKind::BindFailed {
            name: "a".into(),
            outcome: Outcome::Error(Errno::ENOMEM)
        }
    );
    assert_eq!(
        e.to_string(),
        "test.vms:1: `$a` names a success, but the call returned -1 ENOMEM (Cannot allocate memory)\n  \
         $a = mmap(NULL, 1p, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
    );
    assert!(r.is_done());
    assert_eq!(r.step(&mut be), Ok(None));
    assert_eq!(be.applied.len(), 1);
}

#[test]
fn faults_stop_the_run_unless_expected() {
    let s = script(
        "load(0x1000, 1) = SIGSEGV\nstore(0x1000, \"x\") = SIGBUS\nfill(0x1000, 1, 0)\nbrk(NULL)\n",
    );
    let mut be = Canned::new(vec![segv(), segv(), segv()]);
    let res = Runner::new(s).run(&mut be);
    assert_eq!(res.reports.len(), 2);
    res.reports[0].check.clone().unwrap();
    assert_eq!(
        res.reports[1].check.clone().unwrap_err().to_string(),
        "expected SIGBUS, got SIGSEGV"
    );
    let e = res.error.unwrap();
    assert_eq!((e.index, e.line), (2, 3));
    assert!(matches!(e.kind, RunErrorKind::UnexpectedFault(_)));
    assert_eq!(be.applied.len(), 3);
}

#[test]
fn a_run_error_shows_a_long_statement_cut_short() {
    let text = format!("store(0x1000, \"{}\")\n", "A".repeat(10_000_000));
    let mut be = Canned::new(vec![segv()]);
    let e = Runner::new(script(&text)).run(&mut be).error.unwrap();
    let shown = e.to_string();
    assert!(shown.len() < 400, "{} bytes", shown.len());
    assert!(shown.ends_with("AAAA..."), "{shown}");
    assert!(shown.contains("\n  store(0x1000, \"AAAA"), "{shown}");
}

#[test]
fn loads_compare_bytes() {
    let s = script("load(0x1000, 2) = \"hi\"\nload(0x1000, 2) = \"hi\"\n");
    let mut be = Canned::new(vec![
        Outcome::Bytes(b"hi".to_vec()),
        Outcome::Bytes(b"ho".to_vec()),
    ]);
    let res = Runner::new(s).run(&mut be);
    res.reports[0].check.clone().unwrap();
    assert_eq!(
        res.reports[1].check.clone().unwrap_err().to_string(),
        "expected \"hi\", got \"ho\""
    );
}

#[test]
fn unsupported_operations_and_backend_failures_stop_the_run() {
    let mut be = Canned::new(vec![Outcome::Unsupported("no mlock2".into())]);
    let res = Runner::new(script("mlock2(0, 1, 0)\nbrk(0)\n")).run(&mut be);
    assert_eq!(
        res.error.unwrap().kind,
        RunErrorKind::Unsupported("no mlock2".into())
    );
    let mut be = Canned {
        fail_maps: true,
        ..Default::default()
    };
    let res = Runner::new(script("maps()\n")).run(&mut be);
    assert!(matches!(res.error.unwrap().kind, RunErrorKind::Backend(_)));
}

#[test]
fn unbound_names_stop_the_run() {
    let mut be = Canned::default();
    let res = Runner::new(script("munmap($nope, 1p)\n")).run(&mut be);
    let e = res.error.unwrap();
    assert!(matches!(e.kind, RunErrorKind::Eval(_)));
    assert!(be.applied.is_empty());
    // In an expectation too, before the call is made.
    let res = Runner::new(script("munmap(0, 1p) = $nope\n")).run(&mut be);
    assert!(matches!(res.error.unwrap().kind, RunErrorKind::Eval(_)));
    assert!(be.applied.is_empty());
}

#[test]
fn maps_and_vmas() {
    let maps = "\
00010000-00012000 rw-p 00000000 00:00 0 \n\
00014000-00015000 ---p 00000000 00:00 0 \n\
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
    let mut be = Canned {
        maps: maps.into(),
        ..Default::default()
    };
    let s = script(
        "maps()\n\
         vmas(0x10000, 0x10000 + 6p) = \"[0,2)rw-p [4,5)---p\"\n\
         vmas($base, $base + 6p) = \"[0,2)rw-p\"\n\
         vmas(0x10000, 0x11000)\n",
    );
    let mut env = Env::new();
    env.set("base", 0x10000);
    let res = Runner::with_env(s, env).run(&mut be);
    assert!(res.error.is_none());
    assert_eq!(res.reports[0].action, Action::Maps);
    assert_eq!(res.reports[0].text(), Some(maps));
    assert_eq!(res.reports[0].op(), None);
    res.reports[1].check.clone().unwrap();
    assert_eq!(
        res.reports[2].check.clone().unwrap_err().to_string(),
        "expected \"[0,2)rw-p\", got \"[0,2)rw-p [4,5)---p\""
    );
    assert_eq!(res.reports[3].text(), Some("[0,1)rw-p"));
    assert!(be.applied.is_empty());
}

#[test]
fn stepping_and_unknown_results() {
    let s = script("[pid 9] munmap(0, 1) = ?\nbrk(NULL)\n");
    let mut be = Canned::new(vec![Outcome::Error(Errno::EINVAL), Outcome::Value(0x5000)]);
    let mut r = Runner::new(s);
    assert_eq!(r.next_index(), 0);
    assert_eq!(r.next_stmt().unwrap().pid, Some(9));
    let a = r.step(&mut be).unwrap().unwrap();
    assert_eq!(
        (a.index, a.outcome.clone()),
        (0, Outcome::Error(Errno::EINVAL))
    );
    a.check.unwrap();
    let b = r.step(&mut be).unwrap().unwrap();
    assert_eq!(b.index, 1);
    assert!(r.is_done());
    assert_eq!(r.step(&mut be), Ok(None));
    assert_eq!(r.script().stmts.len(), 2);
}
