#!/usr/bin/env bash
# The cost of operations features on KMIP Get throughput over one connection (issue 17):
# the same server binary, alternately started with logging off and no metrics ("off"), and
# with info-level logging (JSON access lines, one per request) and the metrics listener ("on").
# Rounds alternate off/on so that a change of machine load hits both alike.
#
#   nice -n 5 bench/kmip/ops_overhead.sh            # ROUNDS=5 GET_N=5000
#
# env: ROUNDS, GET_N, TRESOR_BIN (default target/release/tresor), LOAD (default
# target/release/examples/kmip_load). Prints one RESULT line per run and the medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS=${ROUNDS:-5}; GET_N=${GET_N:-5000}
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
    if [ "$mode" = on ]; then
        export TRESOR_LOG=info
        extra=(--log-format json --metrics-listen 127.0.0.1:0)
    else
        export TRESOR_LOG=off
    fi
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
    "$load" --server "127.0.0.1:$port" --certs "$work/certs" --label "$mode" "get:$GET_N" | grep '^RESULT'
    kill -TERM "$pid"; wait "$pid" || true; pid=""
    if [ "$mode" = on ]; then
        local lines; lines=$(grep -c '"target":"tresor::kmip::access"' "$log" || true)
        echo "# on: $lines access lines written" >&2
    fi
}
results="$work/results"
for r in $(seq 1 "$ROUNDS"); do
    run off "$r" | tee -a "$results"
    run on "$r" | tee -a "$results"
done
# RESULT label bench n secs ops_per_s p50_us p99_us
awk '{ops[$2]=ops[$2]" "$6; p50[$2]=p50[$2]" "$7}
     END { for (m in ops) { n=split(ops[m],a," "); asort(a); split(p50[m],b," "); asort(b);
           printf "MEDIAN %s ops_per_s=%s p50_us=%s (n=%d)\n", m, a[int((n+1)/2)], b[int((n+1)/2)], n } }' "$results"
