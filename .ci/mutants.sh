#!/usr/bin/env bash
# Mutation testing of the engine (issue 18; see TESTING.md). Every viable mutant of the
# engine's files must be killed by `cargo test --workspace` or listed, each with its
# reason, in .cargo/mutants.toml.
#
#   .ci/mutants.sh diff [BASE]  the mutants of the engine lines changed since BASE
#                               (default: the commit named in .ci/mutants-base, the last
#                               one whose mutants were all checked); .ci/run runs this
#   .ci/mutants.sh shard K/N    shard K of N (1-based) of the full run over the engine's
#                               files, e.g. as one job of a CI matrix
#   .ci/mutants.sh file PATH... every mutant of these engine files (a per-file census)
#
# Two stages, because the suite has two speeds: every mutant first faces the engine's
# own tests (`cargo test -p vmspace`, seconds each); the few they miss then face the
# whole suite (`cargo test --workspace`: the corpus under `diff` against the live
# kernel, the differ's and fuzz machinery's tests, ...), which is what kills or spares
# them. Results under target/mutants/<run>/: stage1/ and stage2/ (cargo-mutants'
# outputs) and survivors.txt. Exit status: 0 every mutant caught (or unviable, or timed
# out, which also fails the tests); 1 a mutant survived both stages (named on stderr);
# 2 bad usage or a tool failure.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# The files of issue 18: the system calls, the mm, faults, page tables, the VMA set and
# the address-space search.
FILES=(crates/vmspace/src/syscall/*.rs crates/vmspace/src/mm.rs crates/vmspace/src/fault.rs
    crates/vmspace/src/pagetable.rs crates/vmspace/src/vmaset.rs crates/vmspace/src/area.rs)
FILE_ARGS=()
for f in "${FILES[@]}"; do FILE_ARGS+=(-f "$f"); done

JOBS=${MUTANTS_JOBS:-2}
mode=${1:-}
case "$mode" in
diff)
    base=${2:-$(tr -d '[:space:]' <.ci/mutants-base)}
    if ! git cat-file -e "$base^{commit}" 2>/dev/null &&
        [ "$(git rev-parse --is-shallow-repository)" = true ]; then
        git fetch -q --unshallow 2>/dev/null || true
    fi
    if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
        echo "mutants: base commit $base is not in this clone; the in-diff check needs the" >&2
        echo "history from it to HEAD (a full clone, or git fetch --unshallow)" >&2
        exit 2
    fi
    run=diff
    out=target/mutants/$run
    rm -rf "$out"
    mkdir -p "$out"
    git diff "$base" HEAD -- "${FILES[@]}" >"$out/changes.diff"
    changed=$(grep -c '^+[^+]' "$out/changes.diff" || true)
    if [ ! -s "$out/changes.diff" ]; then
        : >"$out/survivors.txt"
        echo "mutants: no engine file changed since ${base:0:12}: nothing to mutate"
        exit 0
    fi
    echo "mutants: $changed engine lines added or changed since ${base:0:12}"
    SELECT=(--in-diff "$out/changes.diff")
    ;;
shard)
    [[ ${2:-} =~ ^([0-9]+)/([0-9]+)$ ]] || usage
    k=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
    ((k >= 1 && k <= n)) || usage
    run=shard-$k-of-$n
    out=target/mutants/$run
    rm -rf "$out"
    mkdir -p "$out"
    # cargo-mutants numbers shards from 0.
    SELECT=(--shard "$((k - 1))/$n" --sharding round-robin)
    ;;
file)
    shift
    (($# > 0)) || usage
    for f in "$@"; do
        [ -f "$f" ] || { echo "mutants: no such file: $f" >&2; exit 2; }
    done
    FILE_ARGS=()
    for f in "$@"; do FILE_ARGS+=(-f "$f"); done
    run=file-$(basename "$1" .rs)$( (($# > 1)) && echo "-and-$(($# - 1))-more")
    out=target/mutants/$run
    rm -rf "$out"
    mkdir -p "$out"
    SELECT=()
    ;;
*)
    usage
    ;;
esac

stage() { # stage NAME EXTRA-ARGS... : run cargo-mutants; its exit status is not the verdict
    local name=$1
    shift
    local rc=0
    cargo mutants --no-shuffle --baseline skip -j "$JOBS" "${FILE_ARGS[@]}" "$@" \
        -o "$out/$name" >"$out/$name.log" 2>&1 || rc=$?
    # 0 all caught, 2 some missed, 3 some timed out: anything else is a failure of the
    # run itself (4: the tree does not build or pass unmutated).
    if [ "$rc" != 0 ] && [ "$rc" != 2 ] && [ "$rc" != 3 ]; then
        tail -20 "$out/$name.log" >&2
        echo "mutants: cargo mutants failed (exit $rc) in $name; see $out/$name.log" >&2
        exit 2
    fi
    tail -1 "$out/$name.log"
}

# The lines of a file (0 if it is missing or empty; grep -c exits 1 on no match).
count() { if [ -s "$1" ]; then grep -c . "$1"; else echo 0; fi; }

echo "== mutants stage 1 ($run): the engine's own tests"
stage stage1 "${SELECT[@]}" --timeout 120 --test-package vmspace
missed1=$out/stage1/mutants.out/missed.txt
n1=$(count "$missed1")
if [ "$n1" = 0 ]; then
    : >"$out/survivors.txt"
    echo "mutants ($run): every mutant caught by the engine's tests"
    exit 0
fi

echo "== mutants stage 2 ($run): the $n1 missed by the engine's tests, against the whole suite"
# Exact names, as regular expressions.
re=$(sed 's/[][\\.*^$()+?{}|]/\\&/g' "$missed1" | paste -sd'|')
stage stage2 "${SELECT[@]}" --re "^($re)\$" --timeout 600 --test-workspace true
missed2=$out/stage2/mutants.out/missed.txt
cp "$missed2" "$out/survivors.txt" 2>/dev/null || : >"$out/survivors.txt"
n2=$(count "$out/survivors.txt")
if [ "$n2" != 0 ]; then
    echo "mutants ($run): $n2 mutant(s) survive the whole suite; kill each with a test, or" >&2
    echo "list it in .cargo/mutants.toml with the reason it is equivalent:" >&2
    sed 's/^/  /' "$out/survivors.txt" >&2
    exit 1
fi
echo "mutants ($run): the whole suite caught the $n1 the engine's tests missed"
