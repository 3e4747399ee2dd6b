#!/usr/bin/env bash
# Fault campaign, SIGKILL (issue 17): the full form of tests/faults_kill.rs.
#
#   bench/faults/kill.sh [TRIALS]        default 1000
#
# Env: TRESOR_BIN   the tresor binary under test (default target/release/tresor; build it
#                   first with `cargo build --release -p tresor-cli`)
#      MAX_MS       latest kill instant after the load starts (default 400)
#      FRESH_EVERY  a new store every N trials, so the audit check stays linear (default 200)
#      TRESOR_FAULTS_SEED  replay a printed seed
# Prints the test's summary and a RESULT line; exits non-zero on the first lost write.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
trials=${1:-1000}
bin=${TRESOR_BIN:-$root/target/release/tresor}
[ -x "$bin" ] || { echo "no tresor binary at $bin: build it (cargo build --release -p tresor-cli) or set TRESOR_BIN" >&2; exit 2; }
cd "$root"
export CARGO_INCREMENTAL=0
TRESOR_FAULTS_BIN=$bin TRESOR_FAULT_KILL_TRIALS=$trials TRESOR_FAULT_KILL_MAX_MS=${MAX_MS:-400} \
TRESOR_FAULT_KILL_FRESH_EVERY=${FRESH_EVERY:-200} \
    nice -n 5 cargo test --workspace --all-features --test faults_kill -- --nocapture 2>&1 |
    grep -E '^(seed|RESULT|test |[0-9]+ kills)|panicked|assert' 
