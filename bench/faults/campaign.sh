#!/usr/bin/env bash
# The whole fault campaign (issue 17), full form; results go to RELIABILITY.md by hand.
#
#   bench/faults/campaign.sh [REPEAT]    default 10
#
# Runs, on TRESOR_BIN (default target/release/tresor):
#   kill.sh 1000                         SIGKILL trials (TRIALS to change)
#   tests faults_disk, faults_s3, faults_pg, each REPEAT times (disk full on a tmpfs, S3
#   faults through bench/faults/s3_fault_proxy.py, PostgreSQL terminate/restart/stall)
# soak.sh is separate (an hour). Needs what scripts/test.sh provides: `source` the lines it
# prints for moto (TRESOR_TEST_S3_ENDPOINT) first; PostgreSQL clusters are the tests' own.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
repeat=${1:-10}
bin=${TRESOR_BIN:-$root/target/release/tresor}
[ -x "$bin" ] || { echo "no tresor binary at $bin (cargo build --release -p tresor-cli, or TRESOR_BIN)" >&2; exit 2; }
cd "$root"
export CARGO_INCREMENTAL=0 TRESOR_FAULTS_BIN=$bin
TRESOR_BIN=$bin "$root/bench/faults/kill.sh" "${TRIALS:-1000}"
for t in faults_disk faults_s3 faults_pg; do
    pass=0
    for i in $(seq "$repeat"); do
        if nice -n 5 cargo test --workspace --all-features --test "$t" -- --nocapture >"/tmp/tresor-$t.log" 2>&1; then
            pass=$((pass + 1))
        else
            echo "$t run $i FAILED: see /tmp/tresor-$t.log" >&2
            grep -E 'panicked|assert' "/tmp/tresor-$t.log" | head -5 >&2
        fi
        grep -E '^RESULT|on a full disk|503 ×|stall|terminate|down' "/tmp/tresor-$t.log" | sed "s/^/$t[$i] /" || true
    done
    echo "RESULT campaign test=$t runs=$repeat passed=$pass"
done
