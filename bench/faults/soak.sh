#!/usr/bin/env bash
# Fault campaign, soak (issue 17): mixed KMIP load on one `tresor kmip serve` for a while, at
# a bounded request rate, sampling the server's memory and open file descriptors; prints
# first-10 % vs last-10 % of the samples, the request count and the failed rounds.
#
#   bench/faults/soak.sh [SECONDS]     default 3600
#
# Env: TRESOR_BIN  tresor binary (default target/release/tresor)
#      LOAD_BIN    kmip_load example (default target/release/examples/kmip_load;
#                  cargo build --release -p tresor-kmip --example kmip_load)
#      RATE        requests per second, at most (default 300; 0 = as fast as it goes). The
#                  point is flatness over time, not throughput, on a shared machine.
#      SAMPLE      seconds between samples (default 5)
#      MIX         mixed (default): per round 100 × (Create, Destroy) + 2 connections × 200
#                  Gets + 100 Locates by name over the seeded keys (700 requests, plus 1
#                  setup Create);
#                  grow: 2,000 Creates + 4 × 2,000 Gets + 2,000 Locates (the store grows by
#                  2,000 live keys a round: the original mix);
#                  read: 2 × 200 Gets + 100 Locates (the store does not grow)
#      OUT         keep the samples file here (default: removed with the temp folder)
#      WARMUP      seconds at the start also left out of a second first-vs-last comparison
#                  (default 300: SQLite's page caches fill to their bound, see
#                  tresor_store::sqlite_memory); the plain comparison is always printed too
# Memory is sampled from /proc/PID/status as VmRSS = RssAnon (the process's own heap: the
# part a leak would grow) + RssFile (file-backed pages, mostly SQLite's memory map of the
# database: they follow the database file's size up to a bound, are shared with the kernel's
# page cache and reclaimable; see tresor_store::sqlite_memory). Runs niced. Exits 1 if a
# round failed or the server died. The store is SQLite in a temp folder, removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-3600}
bin=${TRESOR_BIN:-$root/target/release/tresor}
load=${LOAD_BIN:-$root/target/release/examples/kmip_load}
sample=${SAMPLE:-5}
rate=${RATE:-300}
mix=${MIX:-mixed}
for f in "$bin" "$load"; do
    [ -x "$f" ] || { echo "missing $f: build it in release first (see the header)" >&2; exit 2; }
done
case "$mix" in mixed|grow|read) ;; *) echo "MIX must be mixed, grow or read" >&2; exit 2;; esac
work=$(mktemp -d /tmp/tresor-soak.XXXXXX)
server_pid=""
sampler=""
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    wait 2>/dev/null
    [ -n "${OUT:-}" ] && cp "$work/samples" "$OUT" 2>/dev/null
    rm -rf "$work"
}
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
db=$(find "$HOME" -name tresor.db | head -1)
echo "soak: server pid $server_pid on port $port for $secs s, MIX=$mix, RATE=$rate req/s (samples every $sample s)"

# time, VmRSS, RssAnon, RssFile (KiB), open fds, threads, database + WAL size (KiB)
( while kill -0 "$server_pid" 2>/dev/null; do
    st=$(awk '/^VmRSS|^RssAnon|^RssFile|^Threads/{printf "%s ", $2}' "/proc/$server_pid/status" 2>/dev/null || true)
    fds=$(ls "/proc/$server_pid/fd" 2>/dev/null | wc -l)
    dbk=$(du -kc "$db" "$db-wal" 2>/dev/null | tail -1 | cut -f1)
    set -- $st
    [ $# = 4 ] && echo "$(date +%s) $1 $2 $3 $fds $4 $dbk"
    sleep "$sample"
  done >"$work/samples" ) &
sampler=$!

start=$(date +%s); end=$(( start + secs )); rounds=0; failed=0; ops=0
while [ "$(date +%s)" -lt "$end" ]; do
    case "$mix" in
        read)  set -- concurrent:2:200 locate:100:10000; n=501 ;;
        grow)  set -- create:2000 concurrent:4:2000 locate:2000:10000; n=12001 ;;
        mixed) set -- churn:100 concurrent:2:200 locate:100:10000; n=701 ;;
    esac
    t0=$(date +%s.%N)
    if out=$(L "$@" 2>&1); then
        rounds=$((rounds + 1))
        ops=$((ops + n))
    else
        failed=$((failed + 1))
        echo "round failed: $out" | tail -3 >&2
    fi
    if [ "$rate" != 0 ]; then
        # Sleep off what is left of this round's share of time at RATE requests per second.
        python3 -c "import time,sys; r=$n/$rate-(time.time()-$t0); time.sleep(r) if r>0 else None"
    fi
done
elapsed=$(( $(date +%s) - start ))
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
alive=yes; kill -0 "$server_pid" 2>/dev/null || alive=no
errors=$(grep -ciE 'panick|error' "$work/server.log" || true)
python3 - "$work/samples" "$rounds" "$failed" "$ops" "$alive" "$elapsed" "$mix" "$rate" "$errors" "${WARMUP:-300}" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 7]
rounds, failed, ops, alive, secs, mix, rate, errors = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9]
warm = int(sys.argv[10])
n = max(1, len(rows) // 10)
first, last = rows[:n], rows[-n:]
avg = lambda xs, i: sum(r[i] for r in xs) / len(xs)
after = [r for r in rows if r[0] - rows[0][0] >= warm] if rows else []
if warm > 0 and len(after) >= 10:
    m = len(after) // 10
    print(f"after {warm} s of warm-up: VmRSS first 10 %: {avg(after[:m],1):.0f}  last 10 %: {avg(after[-m:],1):.0f} KiB; "
          f"RssAnon {avg(after[:m],2):.0f} -> {avg(after[-m:],2):.0f}; fds {avg(after[:m],4):.1f} -> {avg(after[-m:],4):.1f}")
print(f"samples {len(rows)}; rounds {rounds}, failed {failed}; {ops} requests in {secs} s ({ops/max(1,int(secs)):.0f}/s, MIX={mix}, RATE={rate}); server alive: {alive}; server log lines with error/panic: {errors}")
for name, i, unit in (("VmRSS KiB", 1, ""), ("RssAnon KiB", 2, ""), ("RssFile KiB", 3, ""), ("open fds", 4, ""), ("threads", 5, ""), ("db+wal KiB", 6, "")):
    print(f"{name:12} first 10 %: {avg(first,i):10.1f}  last 10 %: {avg(last,i):10.1f}  min: {min(r[i] for r in rows)}  max: {max(r[i] for r in rows)}")
print(f"RESULT soak secs={secs} mix={mix} rate={rate} requests={ops} failed_rounds={failed} "
      f"rss_first_kib={avg(first,1):.0f} rss_last_kib={avg(last,1):.0f} "
      f"anon_first_kib={avg(first,2):.0f} anon_last_kib={avg(last,2):.0f} "
      f"file_first_kib={avg(first,3):.0f} file_last_kib={avg(last,3):.0f} "
      f"fds_first={avg(first,4):.1f} fds_last={avg(last,4):.1f} db_first_kib={avg(first,6):.0f} db_last_kib={avg(last,6):.0f}")
PY
[ "$failed" = 0 ] && [ "$alive" = yes ]
