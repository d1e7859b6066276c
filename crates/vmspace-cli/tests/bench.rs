//! `vmspace bench --quick --json` runs to the end and reports every operation the
//! benchmark promises, with positive medians on both sides. Times are not asserted.

use std::process::Command;

use serde_json::Value;

/// The operations the benchmark must report (side by side, engine and kernel).
const REQUIRED_OPS: &[&str] = &[
    "mmap_munmap_1p",
    "mmap_munmap_1p_merge",
    "mprotect_split_merge",
    "mprotect_split_merge_touched",
    "mprotect_merge_split",
    "mremap_toggle_1p_2p",
    "mremap_move_4p",
    "mremap_move_4p_far",
    "mremap_move_64m_aligned",
    "mremap_move_64m_unaligned",
    "mremap_move_1g_sparse",
    "mremap_dontunmap_64m",
    "vmas_build_10k",
    "mmap_munmap_1p_10k",
    "mmap_munmap_1p_10k_merge",
    "mprotect_merge_split_10k",
    "vmas_build",
    "vmas_teardown",
    "mmap_munmap_1p_65k",
    "mprotect_merge_split_65k",
    "vmas_build_hole",
    "vmas_teardown_hole",
    "realloc_mremap",
    "realloc_mremap_resize",
    "realloc_copy",
    "realloc_copy_resize",
];

/// The other figures: memory, fuzzing rates, scaling.
const REQUIRED_OTHER: &[&str] = &[
    "mem_bytes_per_vma",
    "mem_peak_rss_65k",
    "mem_1tib_touched_once",
    "fuzz_engine_only",
    "fuzz_differ",
];

fn positive(v: &Value, key: &str, line: &str) -> f64 {
    let x = v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in: {line}"));
    assert!(x > 0.0 && x.is_finite(), "`{key}` = {x} in: {line}");
    x
}

#[test]
fn quick_json_reports_every_operation() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmspace"))
        .args(["bench", "--quick", "--json"])
        .output()
        .expect("run vmspace bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "vmspace bench --quick --json failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let mut ops = Vec::new();
    let mut others = Vec::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
        assert!(v.is_object(), "not a JSON object: {line}");
        let op = v["op"]
            .as_str()
            .unwrap_or_else(|| panic!("no `op` in: {line}"))
            .to_string();
        match v["kind"].as_str() {
            Some("op") => {
                let e = positive(&v, "engine_ns", line);
                let k = positive(&v, "kernel_ns", line);
                let r = positive(&v, "ratio", line);
                assert!(
                    (r - k / e).abs() <= 0.01 * r.max(1.0),
                    "ratio {r} is not kernel/engine ({k}/{e}): {line}"
                );
                for key in [
                    "engine_min_ns",
                    "engine_max_ns",
                    "kernel_min_ns",
                    "kernel_max_ns",
                ] {
                    positive(&v, key, line);
                }
                assert!(
                    v["engine_min_ns"].as_f64() <= Some(e)
                        && Some(e) <= v["engine_max_ns"].as_f64(),
                    "engine median outside min-max: {line}"
                );
                ops.push(op);
            }
            Some("memory") => {
                match op.as_str() {
                    "mem_bytes_per_vma" => {
                        positive(&v, "engine_bytes_per_vma", line);
                    }
                    "mem_peak_rss_65k" => {
                        positive(&v, "engine_peak_rss_kb", line);
                    }
                    "mem_1tib_touched_once" => {
                        positive(&v, "engine_tables", line);
                    }
                    _ => {}
                }
                others.push(op);
            }
            Some("throughput") => {
                positive(&v, "ops_per_sec", line);
                assert_eq!(v["disagreements"].as_u64().unwrap_or(0), 0, "{line}");
                others.push(op);
            }
            Some("machine" | "scale" | "run") => others.push(op),
            k => panic!("unknown kind {k:?}: {line}"),
        }
    }
    for want in REQUIRED_OPS {
        assert!(
            ops.iter().any(|o| o == want),
            "operation {want} missing from:\n{stdout}"
        );
    }
    for want in REQUIRED_OTHER {
        assert!(
            others.iter().any(|o| o == want),
            "figure {want} missing from:\n{stdout}"
        );
    }
}
