#!/usr/bin/env bash
# The cost of operations features on KMIP Get throughput over one connection (issue 17):
# the same server binary, alternately started with logging off and no metrics ("off"), and
# with info-level logging (JSON access lines, one per request) and the metrics listener ("on").
# Rounds alternate off/on so that a change of machine load hits both alike.
#
#   nice -n 5 bench/kmip/ops_overhead.sh            # ROUNDS=5 GET_N=5000 MODES="off on"
#   MODES="off log metrics on" bench/kmip/ops_overhead.sh   # each cost on its own
#
# env: ROUNDS, GET_N, TRESOR_BIN (default target/release/tresor), LOAD (default
# target/release/examples/kmip_load). Prints one RESULT line per run (with the server's CPU
# time per request from /proc/PID/stat) and the medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS=${ROUNDS:-5}; GET_N=${GET_N:-5000}   # MODES: see below
bin=${TRESOR_BIN:-$root/target/release/tresor}
load=${LOAD:-$root/target/release/examples/kmip_load}
[ -x "$bin" ] && [ -x "$load" ] || {
    echo "build first: cargo build --release -p tresor-cli && cargo build --release -p tresor-kmip --example kmip_load" >&2; exit 2; }
work="$(mktemp -d /tmp/kmip-ops.XXXXXX)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export HOME="$work/home"; mkdir -p "$HOME"
"$bin" kmip certs init "$work/certs" >/dev/null 2>&1
run() { # MODE ROUND
    local mode=$1 r=$2 log="$work/server.$1.$2.log" extra=()
    case "$mode" in
        on) export TRESOR_LOG=info; extra=(--log-format json --metrics-listen 127.0.0.1:0) ;;
        log) export TRESOR_LOG=info; extra=(--log-format json) ;;
        metrics) export TRESOR_LOG=off; extra=(--metrics-listen 127.0.0.1:0) ;;
        *) export TRESOR_LOG=off ;;
    esac
    "$bin" --vault "$work/vault" kmip serve --listen 127.0.0.1:0 --no-audit-log \
        --cert "$work/certs/server.crt" --key "$work/certs/server.key" --ca "$work/certs/ca.crt" \
        "${extra[@]}" 2>"$log" &
    pid=$!
    local port=""
    for _ in $(seq 1 600); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log")
        [ -n "$port" ] && break; sleep 0.1
    done
    [ -n "$port" ] || { cat "$log" >&2; exit 1; }
    local t0 t1 res
    t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    res=$("$load" --server "127.0.0.1:$port" --certs "$work/certs" --label "$mode" "get:$GET_N" | grep '^RESULT')
    t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    # Server CPU (user+system, all threads, including the log writer) per request, in µs:
    # unlike the rate, hardly moved by other processes on the machine.
    echo "$res $(awk -v a="$t0" -v b="$t1" -v n="$GET_N" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.1f", (b-a)*1e6/hz/(n+1)}')"
    kill -TERM "$pid"; wait "$pid" || true; pid=""
    if [ "$mode" = on ] || [ "$mode" = log ]; then
        local lines; lines=$(grep -c '"target":"tresor::kmip::access"' "$log" || true)
        echo "# $mode: $lines access lines written" >&2
    fi
}
results="$work/results"
MODES=${MODES:-off on}
for r in $(seq 1 "$ROUNDS"); do
    for m in $MODES; do run "$m" "$r" | tee -a "$results"; done
done
# RESULT label bench n secs ops_per_s p50_us p99_us server_cpu_us_per_request
for m in $MODES; do
    cpu=$(awk -v m="$m" '$2==m {print $9}' "$results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    ops=$(awk -v m="$m" '$2==m {print $6}' "$results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    p50=$(awk -v m="$m" '$2==m {print $7}' "$results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "MEDIAN $m ops_per_s=$ops p50_us=$p50 server_cpu_us=$cpu (rounds=$ROUNDS)"
done
