#!/usr/bin/env bash
# Crypto operations over KMIP (issue 19): Encrypt (AES-256-GCM, 1 KiB, IV chosen by the
# server), Sign ECDSA P-256 and Sign Ed25519 (32-byte message) at 1, 4 and 16 connections,
# with the server's CPU time per operation; an OLD and a NEW `tresor` binary alternated in one
# run, NEW also with its key cache off (`--key-cache-entries 0`, label new-off); beside the
# TCP round-trip floor (bench/kmip/floor.sh) and single-request Encrypt p50 with client and
# server pinned to the same core and to different cores, all measured in the same run.
#
#   bench/kmip/crypto.sh OLD_TRESOR NEW_TRESOR
#   ROUNDS=3 N=4000 SIGN_N=2000 bench/kmip/crypto.sh ...
#
# The load generator is crates/tresor-kmip/examples/kmip_load/main.rs (release, this checkout; or
# LOAD=... CERTS=... to skip the build), the same for every server. Server CPU per operation
# is utime+stime of the server process from /proc/PID/stat before and after each load
# (bench/capacity/cpu_ops.py); every server keeps its defaults (SQLite store, audit stream
# on). Prints every sample, then a markdown table of medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
OLD=$1; NEW=$2
ROUNDS=${ROUNDS:-3}; N=${N:-4000}; SIGN_N=${SIGN_N:-2000}
CORE_A=${CORE_A:-0}; CORE_B=${CORE_B:-1}
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-crypto.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
log() { printf '# %s\n' "$*" >&2; }

if [ -z "${LOAD:-}" ] || [ -z "${CERTS:-}" ]; then
    (cd "$root" && cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs)
    tgt="${CARGO_TARGET_DIR:-$root/target}"
    LOAD=${LOAD:-$tgt/release/examples/kmip_load}
    CERTS=${CERTS:-$tgt/release/examples/kmip_certs}
fi
"$CERTS" "$work/certs" >/dev/null
export HOME="$work/home"; mkdir -p "$HOME"
samples="$work/samples.txt"; : >"$samples"
log "start $(date -u +%FT%TZ); uptime: $(uptime)"

log "floor (TCP round trip: unpinned, one core, two cores)"
"$root/bench/kmip/floor.sh" 20000 >"$work/floor.txt" 2>&1 || true
floor_bin="$root/target/floor/floor"
{
    printf 'same core (%s): ' "$CORE_B"; taskset -c "$CORE_B" "$floor_bin" rtt 20000
    printf 'cross core (%s, %s): ' "$CORE_A" "$CORE_B"
    FLOOR_CHILD_CPU="$CORE_B" taskset -c "$CORE_A" "$floor_bin" rtt 20000
} >>"$work/floor.txt" 2>&1 || true
sed 's/^/# /' "$work/floor.txt" >&2

# serve LABEL BIN [taskset CPU] -> sets port, pid (the server's own pid, for /proc)
serve() {
    local label=$1 bin=$2 cpu=${3:-} extra=()
    local log="$work/serve-$label-$RANDOM.log"
    [ "$label" = new-off ] && extra=(--key-cache-entries 0)
    local pin=(); [ -n "$cpu" ] && pin=(taskset -c "$cpu")
    "${pin[@]}" "$bin" kmip serve --listen 127.0.0.1:0 --cert "$work/certs/server.crt" \
        --key "$work/certs/server.key" --ca "$work/certs/ca.crt" \
        --store "$work/store-$label-$RANDOM" "${extra[@]}" 2>"$log" &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1 200); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.05; done
    local line; line=$(grep -m1 "listening on" "$log"); port="${line##*:}"
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; }

# measure LABEL NAME BENCH: one load, its rate, p50, p99 and the server's CPU per operation.
measure() {
    local label=$1 name=$2 bench=$3
    python3 "$root/bench/capacity/cpu_ops.py" --label "$label" --op "$name" --server-pid "$pid" -- \
        "$LOAD" --server "127.0.0.1:$port" --certs "$work/certs" --label "$label" "$bench" |
        awk -v l="$label" -v k="$name" '
            $1 == "RESULT" { print k "_PER_S", l, $6; print k "_P50_US", l, $7; print k "_P99_US", l, $8 }
            $1 == "CAP" { print k "_SERVER_CPU_US", l, $7 }' >>"$samples"
}

one() { # LABEL BIN
    local label=$1 bin=$2 c alg
    serve "$label" "$bin"
    measure "$label" ENCRYPT_1 "encrypt:$N"
    for alg in p256 ed25519; do
        measure "$label" "SIGN_${alg^^}_1" "sign:$alg:$SIGN_N"
    done
    for c in 4 16; do
        measure "$label" "ENCRYPT_$c" "concurrent-encrypt:$c:$((N / c * 2))"
        for alg in p256 ed25519; do
            measure "$label" "SIGN_${alg^^}_$c" "concurrent-sign:$alg:$c:$((SIGN_N / c * 2))"
        done
    done
    stop
    # Single-request Encrypt p50: client and server on one core, then on two.
    serve "$label" "$bin" "$CORE_B"
    taskset -c "$CORE_B" "$LOAD" --server "127.0.0.1:$port" --certs "$work/certs" \
        --label "$label" "encrypt:$N" |
        awk -v l="$label" '$1 == "RESULT" { print "PINNED_SAME_CORE_ENCRYPT_P50_US", l, $7 }' >>"$samples"
    stop
    serve "$label" "$bin" "$CORE_A"
    taskset -c "$CORE_B" "$LOAD" --server "127.0.0.1:$port" --certs "$work/certs" \
        --label "$label" "encrypt:$N" |
        awk -v l="$label" '$1 == "RESULT" { print "PINNED_CROSS_CORE_ENCRYPT_P50_US", l, $7 }' >>"$samples"
    stop
}
for r in $(seq 1 "$ROUNDS"); do
    log "round $r ($(uptime | sed 's/.*load/load/'))"
    if [ $((r % 2)) = 1 ]; then
        one old "$OLD"; one new "$NEW"; one new-off "$NEW"
    else
        one new-off "$NEW"; one new "$NEW"; one old "$OLD"
    fi
done
log "end $(date -u +%FT%TZ); uptime: $(uptime)"
cat "$samples" >&2
python3 - "$samples" "$work/floor.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, label, v = line.split()
    rows.setdefault(k, {}).setdefault(label, []).append(float(v))
labels = ["old", "new-off", "new"]
print("| measure | " + " | ".join(f"{l} (median; samples)" for l in labels) + " | new / old |")
print("|---|" + "---|" * len(labels) + "---|")
for k in rows:
    med = {l: statistics.median(rows[k].get(l, [0])) for l in labels}
    fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
    cells = [f"{med[l]:,.0f} ({fmt(rows[k].get(l, []))})" for l in labels]
    ratio = f"{med['new'] / med['old']:.2f}×" if med["old"] else "-"
    print(f"| {k} | " + " | ".join(cells) + f" | {ratio} |")
print()
print("Floor in the same run:")
for l in open(sys.argv[2]).read().splitlines():
    if l.strip():
        print("    " + l)
PY
