#!/usr/bin/env bash
# Fault campaign, soak (issue 17): mixed KMIP load on one `tresor kmip serve` for a while,
# sampling the server's RSS and open file descriptors; prints first-10 % vs last-10 % of the
# samples and the number of failed load rounds.
#
#   bench/faults/soak.sh [SECONDS]     default 3600
#
# Env: TRESOR_BIN  tresor binary (default target/release/tresor)
#      LOAD_BIN    kmip_load example (default target/release/examples/kmip_load;
#                  cargo build --release -p tresor-kmip --example kmip_load)
#      SAMPLE      seconds between samples (default 5)
#      MIX         `mixed` (default) or `read` (no Creates: the store does not grow, which
#                  separates memory that follows the object count from a leak)
# One round of load: 2,000 Creates, 4 connections × 2,000 Gets, 2,000 Locates over 10,000
# seeded keys (kmip_load benches); rounds repeat until SECONDS pass. Runs niced. Exits 1 if a
# round failed. The store is SQLite in a temp folder, removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-3600}
bin=${TRESOR_BIN:-$root/target/release/tresor}
load=${LOAD_BIN:-$root/target/release/examples/kmip_load}
sample=${SAMPLE:-5}
for f in "$bin" "$load"; do
    [ -x "$f" ] || { echo "missing $f: build it in release first (see the header)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/tresor-soak.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export HOME=$work/home NO_COLOR=1
mkdir -p "$HOME"
"$bin" kmip certs init "$work/certs" >/dev/null
"$bin" init >/dev/null 2>&1
nice -n 5 "$bin" kmip serve --listen 127.0.0.1:0 --cert "$work/certs/server.crt" \
    --key "$work/certs/server.key" --ca "$work/certs/ca.crt" --max-batch-items 128 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/server.log" | head -1)
[ -n "$port" ] || { echo "server did not start: $(cat "$work/server.log")" >&2; exit 1; }
L() { nice -n 5 "$load" --server "127.0.0.1:$port" --certs "$work/certs" --label soak "$@"; }
L seed:0:10000 >/dev/null
echo "soak: server pid $server_pid on port $port for $secs s (samples every $sample s)"

( while kill -0 "$server_pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$server_pid/fd" 2>/dev/null | wc -l)
    echo "$(date +%s) $rss $fds"
    sleep "$sample"
  done >"$work/samples" ) &
sampler=$!

end=$(( $(date +%s) + secs )); rounds=0; failed=0; ops=0
while [ "$(date +%s)" -lt "$end" ]; do
    if [ "${MIX:-mixed}" = read ]; then set -- concurrent:4:2000 locate:2000:10000; n=10000
    else set -- create:2000 concurrent:4:2000 locate:2000:10000; n=12000; fi
    if out=$(L "$@" 2>&1); then
        rounds=$((rounds + 1))
        ops=$((ops + n))
    else
        failed=$((failed + 1))
        echo "round failed: $out" | tail -3 >&2
    fi
done
kill "$sampler" 2>/dev/null || true
alive=yes; kill -0 "$server_pid" 2>/dev/null || alive=no
python3 - "$work/samples" "$rounds" "$failed" "$ops" "$alive" "$secs" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 3]
rounds, failed, ops, alive, secs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
n = max(1, len(rows) // 10)
first, last = rows[:n], rows[-n:]
avg = lambda xs, i: sum(r[i] for r in xs) / len(xs)
print(f"samples {len(rows)}; rounds {rounds}, failed {failed}; {ops} requests in {secs} s; server alive: {alive}")
print(f"RSS KiB   first 10 %: {avg(first,1):.0f}  last 10 %: {avg(last,1):.0f}  max: {max(r[1] for r in rows)}")
print(f"open fds  first 10 %: {avg(first,2):.1f}  last 10 %: {avg(last,2):.1f}  max: {max(r[2] for r in rows)}")
print(f"RESULT soak secs={secs} requests={ops} failed_rounds={failed} rss_first_kib={avg(first,1):.0f} rss_last_kib={avg(last,1):.0f} fds_first={avg(first,2):.1f} fds_last={avg(last,2):.1f}")
PY
[ "$failed" = 0 ] && [ "$alive" = yes ]
