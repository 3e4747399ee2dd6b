#!/usr/bin/env bash
# Group commit under SIGKILL (issue 19): the full form of tests/kmip_group_commit.rs (SQLite)
# and tests/kmip_group_commit_pg.rs (PostgreSQL, which also crashes PostgreSQL in every other
# trial, alternately while tresor serves and while it is down).
#
#   bench/faults/group_kill.sh [TRIALS] [PG_TRIALS]     default 200 each
#
# Each trial: 16 KMIP connections x 500 Creates, SIGKILL of `tresor kmip serve` 100-900 ms in;
# then every acknowledged Create stored exactly once, no name twice, `tresor audit --verify`.
# Env: TRESOR_BIN   the tresor binary under test (default: the test-profile build cargo makes
#                   for the tests; a release build: cargo build --release -p tresor-cli)
#      FRESH_EVERY  a new vault (and database) every N trials, so each check stays linear in a
#                   long run (default 25)
#      TRESOR_FAULTS_SEED  replay a printed seed
# Prints the tests' seeds and RESULT lines (trials, acknowledged Creates, lost = 0, seconds);
# exits non-zero on the first lost or doubled Create or failed audit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
trials=${1:-200}
pg_trials=${2:-200}
cd "$root"
export CARGO_INCREMENTAL=0
if [ -n "${TRESOR_BIN:-}" ]; then
    [ -x "$TRESOR_BIN" ] || { echo "TRESOR_BIN=$TRESOR_BIN is not an executable" >&2; exit 2; }
    export TRESOR_FAULTS_BIN=$TRESOR_BIN
fi
start=$(date +%s)
status=0
TRESOR_GC_KILL_TRIALS=$trials TRESOR_GC_PG_KILL_TRIALS=$pg_trials \
TRESOR_GC_KILL_FRESH_EVERY=${FRESH_EVERY:-25} \
    nice -n 5 cargo test -p tresor-cli --test kmip_group_commit --test kmip_group_commit_pg \
    -- --nocapture 2>&1 |
    grep -E '^(seed|RESULT|test |SKIPPED)|panicked|assert|lost|twice' || status=$?
echo "RESULT group_kill total_secs=$(($(date +%s) - start)) (compile included)"
exit "$status"
