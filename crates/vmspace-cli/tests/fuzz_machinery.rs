//! The fuzzing machinery checked without a kernel: the engine against an engine that
//! deliberately differs must produce a disagreement, a shrunk reproducer, and the same
//! result for the same seed; against an identical engine, none.

use vmspace::{Backend, Config, Errno, Mm, Op, Outcome, Seed};
use vmspace_check::fuzz::{FuzzOptions, Spawner, fuzz, repro_script};
use vmspace_check::generate::{Weights, is_layout_address};

struct Engines {
    kernel: Config,
}

impl Spawner for Engines {
    fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String> {
        let seed = vmspace_check::default_seed();
        let engine_cfg = Config {
            mmap_base: seed.mmap_base,
            ..Config::default()
        };
        let kernel_cfg = Config {
            mmap_base: seed.mmap_base,
            ..self.kernel.clone()
        };
        let k = Mm::from_seed(&seed, kernel_cfg).map_err(|e| e.to_string())?;
        Ok((Box::new(k), seed, engine_cfg))
    }
}

fn opts(seed: u64, ops: u64, dir: &std::path::Path) -> FuzzOptions {
    FuzzOptions {
        seed,
        ops,
        run_len: 2000,
        weights: Weights::default(),
        out_dir: dir.to_path_buf(),
        shrink_time: std::time::Duration::from_secs(30),
        trace: false,
    }
}

#[test]
fn identical_engines_agree() {
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-same");
    let r = fuzz(
        &mut Engines {
            kernel: Config::default(),
        },
        &opts(3, 5000, &dir),
        |_| {},
    )
    .unwrap();
    assert_eq!((r.ops, r.disagreements), (5000, 0));
}

#[test]
fn a_different_engine_is_caught_shrunk_and_reproducible() {
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-diff");
    let _ = std::fs::remove_dir_all(&dir);
    // The "kernel" lacks the 6.15+ VmLck accounting of MREMAP_DONTUNMAP.
    let kernel = Config {
        dontunmap_locked_vm_quirk: false,
        ..Config::default()
    };
    let mut found = None;
    for seed in 1..=20 {
        let r = fuzz(
            &mut Engines {
                kernel: kernel.clone(),
            },
            &opts(seed, 20_000, &dir),
            |_| {},
        )
        .unwrap();
        if r.disagreements == 1 {
            found = Some((seed, r));
            break;
        }
    }
    let (seed, r) = found
        .expect("twenty seeds of 20,000 operations never exercised DONTUNMAP of a locked mapping");
    let d = r.divergence.as_ref().unwrap();
    assert_eq!(d.kind, "counters", "{d}");
    assert!(d.detail.contains("VmLck"), "{d}");
    let text = std::fs::read_to_string(r.repro.as_ref().unwrap()).unwrap();
    let script = vmspace_script::parse_script("repro", &text).unwrap();
    assert!(
        script
            .stmts
            .iter()
            .any(|s| s.source.contains("MREMAP_DONTUNMAP")),
        "{text}"
    );
    assert_eq!(layout_literals(&text), Vec::<u64>::new(), "{text}");
    assert!(
        r.repro_ops <= 12,
        "shrunk to {} operations:\n{text}",
        r.repro_ops
    );
    // Same seed, same finding.
    let again = fuzz(&mut Engines { kernel }, &opts(seed, 20_000, &dir), |_| {}).unwrap();
    assert_eq!(again.ops, r.ops);
}

/// A "kernel" that differs (no DONTUNMAP VmLck quirk) for its first `flaky` processes
/// only, then behaves as the engine; `spawned` counts the processes started, and
/// `fail_after` makes spawns beyond that many fail (a kernel side that went away).
struct Flaky {
    flaky: u64,
    spawned: std::rc::Rc<std::cell::Cell<u64>>,
    fail_after: u64,
}

impl Spawner for Flaky {
    fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String> {
        let n = self.spawned.get();
        self.spawned.set(n + 1);
        if n >= self.fail_after {
            return Err("the kernel side is gone".to_string());
        }
        let kernel = Config {
            dontunmap_locked_vm_quirk: n >= self.flaky,
            ..Config::default()
        };
        Engines { kernel }.spawn()
    }
}

/// A seed whose campaign finds the DONTUNMAP disagreement, and the processes it
/// starts up to the finding.
fn a_finding_seed() -> (u64, u64) {
    let kernel = Config {
        dontunmap_locked_vm_quirk: false,
        ..Config::default()
    };
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-find");
    for seed in 1..=20 {
        let r = fuzz(
            &mut Engines {
                kernel: kernel.clone(),
            },
            &opts(seed, 20_000, &dir),
            |_| {},
        )
        .unwrap();
        if r.disagreements == 1 {
            return (seed, r.ops / 2000 + 1);
        }
    }
    panic!("no seed found the disagreement");
}

#[test]
fn a_disagreement_that_does_not_happen_again_is_a_flake_not_a_finding() {
    let (seed, runs) = a_finding_seed();
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-flake");
    let _ = std::fs::remove_dir_all(&dir);
    let spawned = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut kernel = Flaky {
        flaky: runs,
        spawned,
        fail_after: u64::MAX,
    };
    let r = fuzz(&mut kernel, &opts(seed, 20_000, &dir), |_| {}).unwrap();
    assert_eq!((r.disagreements, r.flakes), (0, 1));
    assert!(r.repro.is_none());
    assert!(r.first_flake.is_some());
    // No reproducer is left behind, and the campaign went on to the end.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    assert_eq!(r.ops, 20_000);
}

#[test]
fn a_finding_is_on_disk_before_shrinking_ends() {
    let (seed, runs) = a_finding_seed();
    // The kernel side goes away as shrinking starts: the campaign fails, but the
    // finding, unshrunk, is already written.
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-early");
    let _ = std::fs::remove_dir_all(&dir);
    let spawned = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut kernel = Flaky {
        flaky: u64::MAX,
        spawned,
        fail_after: runs,
    };
    let e = fuzz(&mut kernel, &opts(seed, 20_000, &dir), |_| {}).unwrap_err();
    assert!(e.contains("gone"), "{e}");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(text.contains("not shrunk yet"), "{text}");
    assert!(text.contains("MREMAP_DONTUNMAP"), "{text}");

    // Stopped (SIGINT) while shrinking: the finding is kept, shrunk as far as it got
    // and checked, and the report says why the campaign stopped.
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-stop");
    let _ = std::fs::remove_dir_all(&dir);
    let spawned = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut kernel = Flaky {
        flaky: u64::MAX,
        spawned: spawned.clone(),
        fail_after: u64::MAX,
    };
    let stop = move || (spawned.get() > runs + 3).then_some(2);
    let r = vmspace_check::fuzz::fuzz_until(&mut kernel, &opts(seed, 20_000, &dir), |_| {}, &stop)
        .unwrap();
    assert_eq!((r.disagreements, r.interrupted), (1, Some(2)));
    let text = std::fs::read_to_string(r.repro.as_ref().unwrap()).unwrap();
    assert!(!text.contains("not shrunk yet"), "{text}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn reproducers_never_replace_a_file() {
    let (seed, _) = a_finding_seed();
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-names");
    let _ = std::fs::remove_dir_all(&dir);
    let kernel = Config {
        dontunmap_locked_vm_quirk: false,
        ..Config::default()
    };
    let a = fuzz(
        &mut Engines {
            kernel: kernel.clone(),
        },
        &opts(seed, 20_000, &dir),
        |_| {},
    )
    .unwrap()
    .repro
    .unwrap();
    let b = fuzz(&mut Engines { kernel }, &opts(seed, 20_000, &dir), |_| {})
        .unwrap()
        .repro
        .unwrap();
    assert_ne!(a, b);
    assert!(a.exists() && b.exists());
    assert!(
        b.display().to_string().ends_with("-2.vms"),
        "{}",
        b.display()
    );
}

/// The numbers in a reproducer's statements (not its comments) that lie where the
/// agent's own layout is.
fn layout_literals(text: &str) -> Vec<u64> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        for (i, _) in line.match_indices("0x") {
            let hex: String = line[i + 2..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            if let Ok(v) = u64::from_str_radix(&hex, 16)
                && is_layout_address(v)
            {
                found.push(v);
            }
        }
    }
    found
}

/// The old reproducer of droppable-under-mcl-future-onfault.vms held
/// `mremap(0x7ffff7fb7000, ...)`: an address 2 pages below an unhinted mapping in the
/// hole under the agent's signal stack. Addresses near a binding (before or after its
/// range) are written relative to it, and a result the kernel chose gets a binding of
/// its own, even next to another one. (The MREMAP_FIXED destination is near no binding
/// here and stays a number; in a fuzz run such an address lies in the window the probe
/// bound, and the shrinker keeps every call a later address is named by.)
#[test]
fn a_reproducer_names_addresses_near_results_by_their_bindings() {
    const P: u64 = 4096;
    let v = 0x7fff_f7fb_9000;
    let moved = 0x7fff_f7b3_5000;
    let ops = [
        Op::Mmap {
            addr: 0,
            len: 2 * P,
            prot: 3,
            flags: 0x22,
            fd: u64::MAX,
            offset: 0,
        },
        Op::Mremap {
            old_addr: v - 2 * P,
            old_len: P - 1,
            new_len: 5 * P - 1,
            flags: 3,
            new_addr: moved,
        },
        Op::Munmap {
            addr: v + 3 * P,
            len: P,
        },
        Op::Mremap {
            old_addr: v,
            old_len: 2 * P,
            new_len: 8 * P,
            flags: 1,
            new_addr: 0,
        },
        Op::Mremap {
            old_addr: moved,
            old_len: 8 * P,
            new_len: 8 * P,
            flags: 3,
            new_addr: moved - 0x5000,
        },
    ];
    let outcomes = [
        Outcome::Value(v),
        Outcome::Error(Errno::EFAULT),
        Outcome::Value(0),
        Outcome::Value(moved),
        Outcome::Value(moved - 0x5000),
    ];
    let text = repro_script("test", &ops, &outcomes, 0x5555_5594_4000);
    let want = "# test\n\
        $m1 = mmap(NULL, 2p, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
        mremap($m1 - 0x2000, 4095, 20479, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7ffff7b35000) = -1 EFAULT (Bad address)\n\
        munmap($m1 + 0x3000, 1p) = 0\n\
        $m2 = mremap($m1, 2p, 8p, MREMAP_MAYMOVE)\n\
        mremap($m2, 8p, 8p, MREMAP_MAYMOVE|MREMAP_FIXED, $m2 - 0x5000) = $m2 - 0x5000\n";
    assert_eq!(text, want);
}

/// A "kernel" that records a digest of the operations it was given, when dropped.
struct Recording {
    mm: Mm,
    digest: u64,
    log: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
}

impl Backend for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn apply(&mut self, op: &Op) -> Result<Outcome, vmspace::BackendError> {
        for b in format!("{op:?}").bytes() {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Ok(self.mm.apply(op))
    }
    fn maps(&mut self) -> Result<String, vmspace::BackendError> {
        Ok(self.mm.maps_text())
    }
    fn maps_window(&mut self, r: &[(u64, u64)]) -> Result<Option<String>, vmspace::BackendError> {
        Ok(Some(self.mm.maps_window(r)))
    }
    fn pages(&mut self, s: u64, n: u64) -> Result<Vec<vmspace::PageState>, vmspace::BackendError> {
        Ok(self.mm.page_states(s, n))
    }
    fn counters(&mut self) -> Result<vmspace::Counters, vmspace::BackendError> {
        Ok(self.mm.counters())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.log.lock().unwrap().push(self.digest);
    }
}

/// `fuzz_parallel` with `jobs` threads of engines (`kernel` for the "kernel" side);
/// `spawned[k]` counts the processes thread k started, `log` gets a digest of each
/// process's operations.
fn parallel(
    kernel: &Config,
    seed: u64,
    ops: u64,
    jobs: usize,
    dir: &std::path::Path,
    spawned: &[std::sync::atomic::AtomicU64],
    log: &std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
) -> vmspace_check::fuzz::FuzzReport {
    struct Counted<'a>(
        Config,
        &'a std::sync::atomic::AtomicU64,
        std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    );
    impl Spawner for Counted<'_> {
        fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (_, seed, cfg) = Engines {
                kernel: self.0.clone(),
            }
            .spawn()?;
            let kcfg = Config {
                mmap_base: seed.mmap_base,
                ..self.0.clone()
            };
            let mm = Mm::from_seed(&seed, kcfg).map_err(|e| e.to_string())?;
            let k = Recording {
                mm,
                digest: 0xcbf2_9ce4_8422_2325,
                log: self.2.clone(),
            };
            Ok((Box::new(k), seed, cfg))
        }
    }
    let factory = |k: usize| -> Result<Box<dyn Spawner + '_>, String> {
        Ok(Box::new(Counted(kernel.clone(), &spawned[k], log.clone())))
    };
    let mut last = 0;
    let r = vmspace_check::fuzz::fuzz_parallel(
        &factory,
        &opts(seed, ops, dir),
        jobs,
        |n| {
            assert!(n >= last, "progress went back from {last} to {n}");
            last = n;
        },
        &|| None,
    )
    .unwrap();
    assert!(last <= r.ops);
    r
}

#[test]
fn threads_share_the_runs_of_one_campaign() {
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-parallel");
    let counter = || std::sync::atomic::AtomicU64::new(0);
    let spawned: Vec<_> = (0..3).map(|_| counter()).collect();
    let three = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // 5 runs of 2,000 operations over 3 threads: runs 0 and 3, 1 and 4, 2.
    let r = parallel(&Config::default(), 3, 10_000, 3, &dir, &spawned, &three);
    assert_eq!((r.ops, r.disagreements, r.unsupported), (10_000, 0, 0));
    let counts: Vec<u64> = spawned
        .iter()
        .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    assert_eq!(counts, [2, 2, 1]);
    // One thread makes the same five runs: the same operations.
    let one = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r1 = parallel(&Config::default(), 3, 10_000, 1, &dir, &[counter()], &one);
    assert_eq!(r1.ops, 10_000);
    let (mut a, mut b) = (three.lock().unwrap().clone(), one.lock().unwrap().clone());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
}

#[test]
fn a_thread_that_finds_a_disagreement_stops_them_all() {
    let (seed, _) = a_finding_seed();
    let dir = std::env::temp_dir().join("vmspace-fuzz-machinery-parallel-find");
    let _ = std::fs::remove_dir_all(&dir);
    let kernel = Config {
        dontunmap_locked_vm_quirk: false,
        ..Config::default()
    };
    let spawned: Vec<_> = (0..2)
        .map(|_| std::sync::atomic::AtomicU64::new(0))
        .collect();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = parallel(&kernel, seed, 20_000, 2, &dir, &spawned, &log);
    assert_eq!(r.disagreements, 1);
    let repro = r.repro.expect("a reproducer");
    let text = std::fs::read_to_string(&repro).unwrap();
    assert!(text.contains("MREMAP_DONTUNMAP"), "{text}");
    // The campaign ended at the finding, not at its last operation.
    assert!(r.ops < 20_000, "{} operations", r.ops);
}
