#!/usr/bin/env bash
# Run `cargo deny` with RustSec advisories, online or not.
#
# With github.com reachable, cargo-deny fetches the current advisory database into
# target/advisory-dbs (deny.toml's db-path) as usual. Without it, the database comes from
# the snapshot committed beside this script (.ci/rustsec-advisory-db.tar.gz, the
# rustsec/advisory-db repository at the commit and date below, CC0-1.0): it is unpacked
# into the directory cargo-deny would have cloned into, as a one-commit git repository
# dated as the snapshot (cargo-deny reads the database's date from git), and
# `cargo deny --offline` checks against it. The line printed says which database was used.
#
# Refresh the snapshot on a machine that can reach GitHub:
#   git clone --depth 1 https://github.com/rustsec/advisory-db /tmp/adb
#   git -C /tmp/adb archive --prefix=advisory-db/ HEAD | gzip -9n > .ci/rustsec-advisory-db.tar.gz
#   and update SNAPSHOT_COMMIT and SNAPSHOT_DATE below (git -C /tmp/adb log -1 --format='%H %cI').
set -euo pipefail
cd "$(dirname "$0")/.."

SNAPSHOT_COMMIT=bf5c0d245a92671908518d7e765914d437954ed6
SNAPSHOT_DATE=2026-08-21T08:28:40+02:00
# cargo-deny 0.20's directory for db-urls = ["https://github.com/rustsec/advisory-db"]
# (a hash of the URL; .ci/run pins the cargo-deny version this name belongs to).
DB_DIR=target/advisory-dbs/advisory-db-3157b0e258782691

checks=(advisories licenses bans sources)

# cargo-deny reads the manifest of every package in Cargo.lock, for every target (the
# Windows-only windows-sys and anstyle-wincon too), which a build on Linux never
# downloads: fetch them all first, so that `--offline` below works from a cold cargo home.
cargo fetch --locked
if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    cargo deny check "${checks[@]}"
    echo "cargo deny: advisories checked against the current RustSec database (fetched)"
    exit 0
fi

if ! git -C "$DB_DIR" rev-parse HEAD >/dev/null 2>&1; then
    rm -rf "$DB_DIR"
    mkdir -p "$(dirname "$DB_DIR")"
    tmp=$(mktemp -d)
    tar -xzf .ci/rustsec-advisory-db.tar.gz -C "$tmp"
    mv "$tmp/advisory-db" "$DB_DIR"
    rmdir "$tmp"
    git -C "$DB_DIR" init -q
    git -C "$DB_DIR" add -A
    GIT_AUTHOR_DATE=$SNAPSHOT_DATE GIT_COMMITTER_DATE=$SNAPSHOT_DATE \
        git -C "$DB_DIR" -c user.name=vmspace-ci -c user.email=ci@localhost \
        commit -q -m "rustsec/advisory-db $SNAPSHOT_COMMIT (snapshot)"
fi
used=$(git -C "$DB_DIR" log -1 --format='%cI %s')
cargo deny --offline check "${checks[@]}"
echo "cargo deny: github.com is unreachable; advisories checked against the database in $DB_DIR ($used)"
