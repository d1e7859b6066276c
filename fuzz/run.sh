#!/usr/bin/env bash
# Build every fuzz target and run each for a bounded time; exit non-zero on any crash.
#
#   fuzz/run.sh [seconds-per-target]     (default 30)
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz`). The toolchain is the pinned
# stable one; RUSTC_BOOTSTRAP=1 lets it accept the nightly-only flags cargo-fuzz passes
# (-Zsanitizer=address and the sanitizer-coverage options). Runs use `nice -n 10` and one
# target at a time; an input that runs for over 20 s counts as a crash (a hang). New
# corpus entries are written to a scratch copy, so a CI run leaves the committed corpus
# untouched; crash inputs land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-30}
case $secs in
    '' | *[!0-9]*) echo "usage: fuzz/run.sh [seconds-per-target]" >&2; exit 2 ;;
esac
targets=(engine_ops script_parse strace_parse maps_parse script_roundtrip)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is required: cargo install --locked cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1

echo "== building fuzz targets"
nice -n 10 cargo fuzz build

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${secs}s"
    mkdir -p "$scratch/$t"
    log="$scratch/$t.log"
    # The scratch directory comes first, so new inputs go there; the committed corpus
    # is only read.
    if nice -n 10 cargo fuzz run "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=20 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
        echo "$t: ok, ${runs:-?} runs, ${last:-no coverage line}"
    else
        echo "$t: FAILED (crash or error); the end of its log:" >&2
        tail -n 40 "$log" >&2
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${secs}s each, no crashes"
