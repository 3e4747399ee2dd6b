#!/usr/bin/env bash
# Runs one fuzz target to a number of executions and prints a row for the table in
# fuzz/README.md. Build first (`cargo +nightly fuzz build -s none`; for the targets whose
# inputs go through X25519/Ed25519, see README: `--no-trace-compares --target-dir
# fuzz/target-nocmp`).
#
#   fuzz/run.sh TARGET [RUNS] [BIN_DIR]      # RUNS default 10000000
set -euo pipefail
cd "$(dirname "$0")"
t=$1; runs=${2:-10000000}
bin_dir=${3:-target/x86_64-unknown-linux-gnu/release}
mkdir -p "corpus/$t" artifacts
log="artifacts/$t-$(date -u +%Y%m%dT%H%M%S).log"
start=$(date -u +%H:%M:%S); t0=$(date +%s)
set +e
"$bin_dir/$t" "corpus/$t" "seeds/$t" -runs="$runs" -timeout=30 -rss_limit_mb=4096 \
    -artifact_prefix="artifacts/$t-" -print_final_stats=1 >"$log" 2>&1
status=$?
set -e
secs=$(( $(date +%s) - t0 ))
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo "?")
result="no crash (coverage $cov edges; log $log)"
[ "$status" = 0 ] || result="**exit $status**: see $log and artifacts/$t-*"
printf '| `%s` | %s | %s | %s s | %s | %s |\n' "$t" "$start" "$execs" "$secs" "$rate" "$result"
exit "$status"
