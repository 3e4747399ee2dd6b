#!/usr/bin/env bash
# Get benchmark (issue 19, the read path under concurrency): KMIP Gets of one AES-256 key at
# 1, 4 and 16 connections, an OLD and a NEW `tresor` binary, each driven by an OLD and a NEW
# load generator (crates/tresor-kmip/examples/kmip_load/main.rs), all four pairs alternated in one
# run (the order turns each round). Per sample: the rate, p50, and the CPU time per Get of the
# server (utime+stime of its process from /proc/PID/stat) and of the load generator
# (getrusage of the child), both from bench/capacity/cpu_ops.py. Prints every sample and a
# markdown table of medians. A faster load generator helps both servers: the table keeps the
# four pairs apart so that what the server gained and what the client gained are not mixed.
#
#   bench/kmip/get.sh OLD_TRESOR NEW_TRESOR
#   OLD_LOAD=/old/kmip_load NEW_LOAD=/new/kmip_load ROUNDS=5 N=16000 bench/kmip/get.sh OLD NEW
#
# Env: OLD_LOAD / NEW_LOAD (kmip_load binaries; default: this checkout's release build for
# both), CERTS (kmip_certs; default this checkout's), ROUNDS (default 5), N (Gets per sample,
# split across the connections; default 16000), CONNS (default "1 4 16").
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
OLD=$1; NEW=$2
ROUNDS=${ROUNDS:-5}; N=${N:-16000}; CONNS=${CONNS:-"1 4 16"}
if [ -z "${OLD_LOAD:-}" ] || [ -z "${NEW_LOAD:-}" ] || [ -z "${CERTS:-}" ]; then
    (cd "$root" && cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs)
fi
dir="${CARGO_TARGET_DIR:-$root/target}/release/examples"
OLD_LOAD=${OLD_LOAD:-$dir/kmip_load}; NEW_LOAD=${NEW_LOAD:-$dir/kmip_load}
CERTS=${CERTS:-$dir/kmip_certs}
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-get.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=peers_lib.sh
source "$root/bench/kmip/peers_lib.sh"
log() { printf '# %s\n' "$*" >&2; }
"$CERTS" "$work/certs" >/dev/null
samples="$work/samples.txt"; : >"$samples"
log "$(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs); uptime: $(uptime)"

one() { # SERVER_LABEL SERVER_BIN LOAD_LABEL LOAD_BIN
    local label="$1+$3" c b o
    tresor_serve "$work" "$1" "$2"
    for c in $CONNS; do
        if [ "$c" = 1 ]; then b="get:$N"; else b="concurrent:$c:$((N / c))"; fi
        if ! o=$(python3 "$root/bench/capacity/cpu_ops.py" --label "$label" --op "get-$c" \
            --server-pid "$pid" -- "$4" --server "127.0.0.1:$port" --certs "$work/certs" \
            --label "$label" "$b" 2>&1); then
            # Shown, counted, and left out of the medians: nothing is invented.
            log "FAILED $label get-$c: $(echo "$o" | tail -2 | tr '\n' ' ')"
            echo "FAILED_$c $label 1" >>"$samples"
            continue
        fi
        # CAP label op n wall_s ops_per_s server_us pg_us loadgen_us loadavg1
        echo "$o" | awk -v l="$label" -v c="$c" '
            $1 == "RESULT" { print "GET_" c "_PER_S", l, $6; print "GET_" c "_P50_US", l, $7 }
            $1 == "CAP" { print "GET_" c "_SERVER_CPU_US", l, $7; print "GET_" c "_CLIENT_CPU_US", l, $9
                          print "GET_" c "_LOADAVG", l, $10 }' >>"$samples"
    done
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
pairs=("old old" "new old" "old new" "new new")
for r in $(seq 1 "$ROUNDS"); do
    log "round $r ($(cut -d' ' -f1-3 /proc/loadavg))"
    for k in 0 1 2 3; do
        # Turn the order each round: no pair always runs first or last.
        read -r s l <<<"${pairs[$(((k + r) % 4))]}"
        sbin=$OLD; [ "$s" = new ] && sbin=$NEW
        lbin=$OLD_LOAD; [ "$l" = new ] && lbin=$NEW_LOAD
        one "$s" "$sbin" "$l" "$lbin"
    done
done
cat "$samples" >&2
log "end $(date -u +%FT%TZ); uptime: $(uptime)"
python3 - "$samples" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, label, v = line.split()
    rows.setdefault(k, {}).setdefault(label, []).append(float(v))
order = ["old+old", "new+old", "old+new", "new+new"]
print("server+kmip_load: old/new tresor, old/new load generator; median (samples)")
print()
print("| measure | " + " | ".join(order) + " |")
print("|---|" + "---|" * len(order))
def key(k):
    _, c, *rest = k.split("_") + [""]
    if k.startswith("FAILED"):
        return (int(c), 9)
    return (int(c), ["PER", "P50", "SERVER", "CLIENT", "LOADAVG"].index(rest[0]))
for k in sorted(rows, key=key):
    cells = []
    for l in order:
        xs = rows[k].get(l, [])
        if not xs:
            cells.append("-")
            continue
        f = (lambda x: f"{x:.2f}") if "LOADAVG" in k else (lambda x: f"{x:,.1f}" if x < 100 else f"{x:,.0f}")
        cells.append(f"{f(statistics.median(xs))} ({', '.join(f(x) for x in xs)})")
    print(f"| {k} | " + " | ".join(cells) + " |")
PY
