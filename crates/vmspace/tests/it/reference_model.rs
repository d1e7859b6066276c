//! A proptest state machine: random operations on the engine and on a naive per-page
//! reference model, compared page by page after every step.
//!
//! The reference knows nothing of VMAs, page tables or merging: it keeps, for each
//! page of a small window, whether it is mapped, its protection, whether it is shared,
//! and the byte at its start. The engine's maps text and loads must project onto
//! exactly that.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use vmspace::{Config, MapsLine, Mm, Op, Outcome};

const P: u64 = 4096;
const BASE: u64 = 0x2000_0000_0000;
const PAGES: u64 = 24;

/// What one page of the window holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Page {
    prot: u64,
    /// Shared pages carry (object, page index): their bytes live in the object.
    shared: Option<(u32, u64)>,
    /// Private content (the first byte).
    byte: u8,
}

#[derive(Clone, Debug, Default)]
struct Model {
    pages: BTreeMap<u64, Page>,
    objects: BTreeMap<(u32, u64), u8>,
    next_obj: u32,
}

#[derive(Clone, Debug)]
enum Step {
    MapPrivate { page: u64, n: u64, prot: u64 },
    MapShared { page: u64, n: u64 },
    Unmap { page: u64, n: u64 },
    Protect { page: u64, n: u64, prot: u64 },
    Store { page: u64, byte: u8 },
    Move { page: u64, n: u64, to: u64 },
    Shrink { page: u64, n: u64, keep: u64 },
}

impl Model {
    fn byte(&self, p: &Page) -> u8 {
        match p.shared {
            Some(k) => *self.objects.get(&k).unwrap_or(&0),
            None => p.byte,
        }
    }
}

struct RefMachine;

impl ReferenceStateMachine for RefMachine {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        let page = 0..PAGES;
        let n = 1..6u64;
        let prot = prop_oneof![Just(0u64), Just(1), Just(3)];
        prop_oneof![
            3 => (page.clone(), n.clone(), prot.clone()).prop_map(|(page, n, prot)| Step::MapPrivate { page, n, prot }),
            1 => (page.clone(), n.clone()).prop_map(|(page, n)| Step::MapShared { page, n }),
            2 => (page.clone(), n.clone()).prop_map(|(page, n)| Step::Unmap { page, n }),
            3 => (page.clone(), n.clone(), prot).prop_map(|(page, n, prot)| Step::Protect { page, n, prot }),
            3 => (page.clone(), 1..255u8).prop_map(|(page, byte)| Step::Store { page, byte }),
            2 => (page.clone(), n.clone(), page.clone()).prop_map(|(page, n, to)| Step::Move { page, n, to }),
            1 => (page, n, 0..4u64).prop_map(|(page, n, keep)| Step::Shrink { page, n, keep }),
        ]
        .boxed()
    }

    fn preconditions(_: &Model, s: &Step) -> bool {
        let fits = |p: u64, n: u64| p + n <= PAGES;
        match *s {
            Step::MapPrivate { page, n, .. }
            | Step::MapShared { page, n }
            | Step::Unmap { page, n }
            | Step::Protect { page, n, .. } => fits(page, n),
            Step::Store { .. } => true,
            Step::Move { page, n, to } => {
                fits(page, n) && fits(to, n) && (to + n <= page || page + n <= to)
            }
            Step::Shrink { page, n, keep } => fits(page, n) && keep >= 1 && keep < n,
        }
    }

    fn apply(mut m: Model, s: &Step) -> Model {
        match *s {
            Step::MapPrivate { page, n, prot } => {
                for i in page..page + n {
                    m.pages.insert(
                        i,
                        Page {
                            prot,
                            shared: None,
                            byte: 0,
                        },
                    );
                }
            }
            Step::MapShared { page, n } => {
                let o = m.next_obj;
                m.next_obj += 1;
                for i in page..page + n {
                    m.pages.insert(
                        i,
                        Page {
                            prot: 3,
                            shared: Some((o, i - page)),
                            byte: 0,
                        },
                    );
                }
            }
            Step::Unmap { page, n } => {
                for i in page..page + n {
                    m.pages.remove(&i);
                }
            }
            Step::Protect { page, n, prot } => {
                // mprotect over a hole fails; pages before the hole are changed first.
                if m.pages.contains_key(&page) {
                    for i in page..page + n {
                        match m.pages.get_mut(&i) {
                            Some(p) => p.prot = prot,
                            None => break,
                        }
                    }
                }
            }
            Step::Store { page, byte } => {
                if let Some(p) = m.pages.get(&page).cloned()
                    && p.prot & 2 != 0
                {
                    match p.shared {
                        Some(k) => {
                            m.objects.insert(k, byte);
                        }
                        None => m.pages.get_mut(&page).unwrap().byte = byte,
                    }
                }
            }
            Step::Move { page, n, to } => {
                // A same-size MREMAP_FIXED move: succeeds when the first page is mapped.
                if m.pages.contains_key(&page) {
                    for i in to..to + n {
                        if m.pages.contains_key(&(page + i - to)) {
                            m.pages.remove(&i);
                        }
                    }
                    for i in 0..n {
                        if let Some(p) = m.pages.remove(&(page + i)) {
                            m.pages.insert(to + i, p);
                        }
                    }
                }
            }
            Step::Shrink { page, n, keep } => {
                // An in-place shrink: unmaps the tail, whatever it covers.
                if m.pages.contains_key(&page) {
                    for i in page + keep..page + n {
                        m.pages.remove(&i);
                    }
                }
            }
        }
        m
    }
}

struct Engine {
    mm: Mm,
}

fn op_of(s: &Step) -> Op {
    let a = |p: u64| BASE + p * P;
    match *s {
        Step::MapPrivate { page, n, prot } => Op::Mmap {
            addr: a(page),
            len: n * P,
            prot,
            flags: 0x32,
            fd: u64::MAX,
            offset: 0,
        },
        Step::MapShared { page, n } => Op::Mmap {
            addr: a(page),
            len: n * P,
            prot: 3,
            flags: 0x31,
            fd: u64::MAX,
            offset: 0,
        },
        Step::Unmap { page, n } => Op::Munmap {
            addr: a(page),
            len: n * P,
        },
        Step::Protect { page, n, prot } => Op::Mprotect {
            addr: a(page),
            len: n * P,
            prot,
        },
        Step::Store { page, byte } => Op::Store {
            addr: a(page),
            data: vec![byte],
        },
        Step::Move { page, n, to } => Op::Mremap {
            old_addr: a(page),
            old_len: n * P,
            new_len: n * P,
            flags: 3,
            new_addr: a(to),
        },
        Step::Shrink { page, n, keep } => Op::Mremap {
            old_addr: a(page),
            old_len: n * P,
            new_len: keep * P,
            flags: 0,
            new_addr: 0,
        },
    }
}

impl StateMachineTest for Engine {
    type SystemUnderTest = Engine;
    type Reference = RefMachine;

    fn init_test(_: &Model) -> Engine {
        Engine {
            mm: Mm::new(Config::default()),
        }
    }

    fn apply(mut e: Engine, m: &Model, s: Step) -> Engine {
        let _ = e.mm.apply(&op_of(&s));
        if let Err(err) = e.mm.check_invariants() {
            panic!("invariants after {s:?}: {err}");
        }
        // Per-page projection: mapped, permissions, and the first byte when readable.
        let mut mapped = BTreeMap::new();
        for line in e.mm.maps_text().lines() {
            let l = MapsLine::parse(line).unwrap();
            for i in 0..PAGES {
                let va = BASE + i * P;
                if l.start <= va && va < l.end {
                    mapped.insert(i, (l.read, l.write, l.shared));
                }
            }
        }
        for i in 0..PAGES {
            let want = m.pages.get(&i);
            let have = mapped.get(&i);
            match (want, have) {
                (None, None) => {}
                (Some(p), Some(&(r, w, sh))) => {
                    assert_eq!(
                        (r, w, sh),
                        (p.prot & 1 != 0, p.prot & 2 != 0, p.shared.is_some()),
                        "page {i} after {s:?}"
                    );
                    if p.prot != 0 {
                        let got = e.mm.apply(&Op::Load {
                            addr: BASE + i * P,
                            len: 1,
                        });
                        assert_eq!(got, Outcome::Bytes(vec![m.byte(p)]), "page {i} after {s:?}");
                    }
                }
                _ => panic!(
                    "page {i}: model {want:?}, engine {have:?} after {s:?}\n{}",
                    e.mm.maps_text()
                ),
            }
        }
        e
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, .. ProptestConfig::default() })]
    #[test]
    fn engine_agrees_with_a_naive_page_model(sequential 1..40 => Engine);
}
