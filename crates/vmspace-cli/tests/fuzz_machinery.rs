//! The fuzzing machinery checked without a kernel: the engine against an engine that
//! deliberately differs must produce a disagreement, a shrunk reproducer, and the same
//! result for the same seed; against an identical engine, none.

use vmspace::{Backend, Config, Mm, Seed};
use vmspace_cli::fuzz::{FuzzOptions, Spawner, fuzz};
use vmspace_cli::generate::Weights;

struct Engines {
    kernel: Config,
}

impl Spawner for Engines {
    fn spawn(&mut self) -> Result<(Box<dyn Backend>, Seed, Config), String> {
        let seed = vmspace_cli::default_seed();
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
    assert!(
        r.repro_ops <= 12,
        "shrunk to {} operations:\n{text}",
        r.repro_ops
    );
    // Same seed, same finding.
    let again = fuzz(&mut Engines { kernel }, &opts(seed, 20_000, &dir), |_| {}).unwrap();
    assert_eq!(again.ops, r.ops);
}
