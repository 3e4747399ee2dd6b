#!/usr/bin/env bash
# Group commit benchmark (issue 19): durable KMIP Creates and Gets at 1, 4 and 16 connections,
# an OLD and a NEW `tresor` binary alternated in one run, beside this machine's floors
# (a 16-page write + fsync, a TCP round trip: bench/kmip/floor.sh) measured in the same run.
#
#   bench/kmip/group.sh OLD_TRESOR NEW_TRESOR        # e.g. a pre-group-commit release build
#   ROUNDS=3 CREATE_N=400 GET_N=4000 bench/kmip/group.sh ...
#
# The load generator is crates/tresor-kmip/examples/kmip_load/main.rs (release, this checkout).
# Prints every sample, a markdown table of medians, and the commit-group sizes the NEW server
# reported when it shut down (`commit groups:` line).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
OLD=$1; NEW=$2
ROUNDS=${ROUNDS:-3}; CREATE_N=${CREATE_N:-400}; GET_N=${GET_N:-4000}
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-group.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=peers_lib.sh
source "$root/bench/kmip/peers_lib.sh"
log() { printf '# %s\n' "$*" >&2; }

(cd "$root" && cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs)
load="$root/target/release/examples/kmip_load"
"$root/target/release/examples/kmip_certs" "$work/certs" >/dev/null
samples="$work/samples.txt"; : >"$samples"

log "floors (fsync, TCP round trip)"
"$root/bench/kmip/floor.sh" 20000 >"$work/floor.txt" 2>&1 || true
sed 's/^/# /' "$work/floor.txt" >&2

one() { # LABEL BIN
    local c
    tresor_serve "$work" "$1" "$2"
    for c in 1 4 16; do
        if [ "$c" = 1 ]; then b="create:$CREATE_N"; else b="concurrent-create:$c:$((CREATE_N / c * 2))"; fi
        "$load" --server "127.0.0.1:$port" --certs "$work/certs" --label "$1" "$b" |
            awk -v l="$1" -v c="$c" '$1 == "RESULT" { print "CREATE_" c "_PER_S", l, $6; print "CREATE_" c "_P50_US", l, $7; print "CREATE_" c "_P99_US", l, $8 }' >>"$samples"
    done
    "$load" --server "127.0.0.1:$port" --certs "$work/certs" --label "$1" \
        get:"$GET_N" concurrent:16:$((GET_N / 4)) |
        awk -v l="$1" '$1 == "RESULT" && $3 ~ /^get:/ { print "GET_1_PER_S", l, $6 }
                       $1 == "RESULT" && $3 ~ /^get-16-connections/ { print "GET_16_PER_S", l, $6 }' >>"$samples"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    grep -h "commit groups" "$work/serve-$1.log" | sed "s/^/# $1 /" >&2 || true
}
for r in $(seq 1 "$ROUNDS"); do
    log "round $r"
    if [ $((r % 2)) = 1 ]; then one old "$OLD"; one new "$NEW"; else one new "$NEW"; one old "$OLD"; fi
done
cat "$samples" >&2
python3 - "$samples" "$work/floor.txt" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, label, v = line.split()
    rows.setdefault(k, {}).setdefault(label, []).append(float(v))
print("| measure | old (median; samples) | new (median; samples) | new / old |")
print("|---|---|---|---|")
for k in sorted(rows, key=lambda k: (k.split("_")[0], int(k.split("_")[1]), k)):
    o, n = rows[k].get("old", [0]), rows[k].get("new", [0])
    mo, mn = statistics.median(o), statistics.median(n)
    fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
    ratio = f"{mn / mo:.2f}×" if mo else "-"
    print(f"| {k} | {mo:,.0f} ({fmt(o)}) | {mn:,.0f} ({fmt(n)}) | {ratio} |")
floor = open(sys.argv[2]).read()
print()
print("Floors in the same run:")
for l in floor.splitlines():
    if l.strip():
        print("    " + l)
PY
