#!/usr/bin/env bash
# Issue 19's table in one run: tresor, Cosmian KMS and PyKMIP side by side, each driven by the
# same load generator (crates/tresor-kmip/examples/kmip_load/main.rs, KMIP 1.4, binary TTLV over
# mutual TLS, the same ECDSA P-256 certificates): Create (AES-256), Get, Encrypt (AES-256-GCM,
# 1 KiB) and Sign (ECDSA P-256, Ed25519; 32-byte message) at 1, 4 and 16 connections, with
# rate, p50, p99 and the server's CPU time per operation (utime+stime of the server process
# from /proc/PID/stat, bench/capacity/cpu_ops.py); the fsync and TCP round-trip floors
# (bench/kmip/floor.sh) measured in the same run, the request floor of each server (Discover
# Versions: TLS, TTLV and dispatch, no store, no crypto) and tresor's commit-group sizes.
#
#   bench/kmip/peers19.sh                      # writes bench/kmip/PEERS19.md
#   N=4000 PY_N=100 bench/kmip/peers19.sh
#
# Env: TRESOR (the tresor binary; default target/release/tresor, built if missing), LOAD and
# CERTS (kmip_load / kmip_certs; built if missing), N (operations per connection-count
# measurement for tresor and Cosmian, default 4000, split across the connections), PY_N
# (the same for PyKMIP, default 200: it serves ~100-300 requests/s), TRESOR_COSMIAN_KMS
# (default: the peers cache, tests/peers/cosmian/build-server.sh), TRESOR_PYKMIP_PY (the
# PyKMIP venv's python, tests/peers/pykmip/setup.sh). A peer that is missing is left out, a
# request a peer refuses is printed as "refused" with its reason: nothing is invented.
# kmip_load runs with --peer tresor|cosmian|pykmip: the few set-up and Encrypt requests a peer
# takes only in its own form are shaped for it (kmip_load/main.rs's module documentation); tresor
# gets its standard requests.
# Each server gets a fresh store; durability differs and is measured: after its timed runs,
# each server's fsync, fdatasync and sync_file_range calls (all threads, strace -f -c) are
# counted during FSYNC_N (default 2000) Creates on one connection (needs strace; not timed).
# tresor fsyncs each commit (SQLite synchronous=FULL; group commit shares one fsync among
# concurrent Creates), Cosmian's SQLite runs synchronous=NORMAL in WAL mode, PyKMIP uses
# SQLAlchemy's SQLite defaults.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/kmip/PEERS19.md"
N=${N:-4000}; PY_N=${PY_N:-200}; FSYNC_N=${FSYNC_N:-2000}
CONNS=${CONNS:-"1 4 16"}
cache="${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}"
kms="${TRESOR_COSMIAN_KMS:-$cache/cosmian-kms/bin/cosmian_kms}"
pykmip_py="${TRESOR_PYKMIP_PY:-$root/target/peers/pykmip/bin/python}"
py=python3
cd "$root"
source "$root/bench/kmip/peers_lib.sh"
if [ -z "${TRESOR:-}" ]; then
    [ -x "$root/target/release/tresor" ] || cargo build --release -q -p tresor-cli
    TRESOR=$root/target/release/tresor
fi
if [ -z "${LOAD:-}" ] || [ -z "${CERTS:-}" ]; then
    cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs
    LOAD=${LOAD:-$root/target/release/examples/kmip_load}
    CERTS=${CERTS:-$root/target/release/examples/kmip_certs}
fi
work="$(mktemp -d /tmp/kmip-peers19.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
"$CERTS" "$work/certs" >/dev/null
export HOME="$work/home"; mkdir -p "$HOME"
raw="$work/raw.txt"; : >"$raw"
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs); uptime: $(uptime)" | tee -a "$raw"
bash "$root/bench/kmip/floor.sh" 20000 | sed 's/^/FLOOR /' | tee -a "$raw"

# bench NAME OP CONNS N: the kmip_load argument for one measurement.
bench_arg() {
    local op=$1 c=$2 n=$3 per=$(( $3 / $2 ))
    case "$op:$c" in
        create:1) echo "create:$n" ;;
        create:*) echo "concurrent-create:$c:$per" ;;
        get:1) echo "get:$n" ;;
        get:*) echo "concurrent:$c:$per" ;;
        encrypt:1) echo "encrypt:$n" ;;
        encrypt:*) echo "concurrent-encrypt:$c:$per" ;;
        sign-p256:1) echo "sign:p256:$n" ;;
        sign-p256:*) echo "concurrent-sign:p256:$c:$per" ;;
        sign-ed25519:1) echo "sign:ed25519:$n" ;;
        sign-ed25519:*) echo "concurrent-sign:ed25519:$c:$per" ;;
        floor:*) echo "concurrent-discover:$c:$per" ;;
    esac
}

# measure SERVER PID PORT N: every operation at every connection count against one server.
measure() {
    local who=$1 pid=$2 port=$3 n=$4 op c arg o
    for op in floor create get encrypt sign-p256 sign-ed25519; do
        for c in $CONNS; do
            arg=$(bench_arg "$op" "$c" "$n")
            if o=$($py bench/capacity/cpu_ops.py --label "$who" --op "$op-$c" --server-pid "$pid" \
                -- "$LOAD" --server "127.0.0.1:$port" --certs "$work/certs" --label "$who" \
                --peer "$who" "$arg" 2>&1); then
                echo "$o" | grep -E '^(RESULT|CAP)' | sed "s/^/$op $c /" | tee -a "$raw"
            else
                echo "REFUSED $who $op $c $(echo "$o" | grep -v '^RESULT' | tail -1 | cut -c1-300)" | tee -a "$raw"
            fi
        done
    done
}

# fsyncs WHO PID PORT N: the server's fsync-family system calls (all threads) during N Creates
# on one connection, printed as `FSYNC who n total fsync=.. fdatasync=..`. Not timed: strace
# slows every system call of the server.
fsyncs() {
    local who=$1 pid=$2 port=$3 n=$4 st="$work/strace-$1.txt" s
    if ! command -v strace >/dev/null; then
        echo "MISSING fsync count: no strace" | tee -a "$raw"; return
    fi
    strace -f -c -e trace=fsync,fdatasync,sync_file_range -o "$st" -p "$pid" 2>/dev/null &
    s=$!
    sleep 1
    "$LOAD" --server "127.0.0.1:$port" --certs "$work/certs" --label "$who" --peer "$who" \
        "create:$n" >/dev/null
    sleep 1 # a commit or checkpoint that follows the last answer
    kill -INT "$s"; wait "$s" 2>/dev/null || true
    # strace -c rows: % time, seconds, usecs/call, calls, [errors], syscall.
    awk -v who="$who" -v n="$n" '$NF ~ /^(fsync|fdatasync|sync_file_range)$/ {
        t += $4; d = d " " $NF "=" $4 } END { print "FSYNC " who " " n " " t+0 d }' "$st" |
        tee -a "$raw"
}

# ---- tresor ---------------------------------------------------------------------------------
dir="$work/tresor"; mkdir -p "$dir"
read -r pid ms line < <($py bench/kmip/startup.py --log "$dir/log" --stderr-line "listening on" -- \
    "$TRESOR" kmip serve --listen 127.0.0.1:0 --cert "$work/certs/server.crt" \
    --key "$work/certs/server.key" --ca "$work/certs/ca.crt" --store "$dir/store")
pids+=("$pid"); port="${line##*:}"
measure tresor "$pid" "$port" "$N"
fsyncs tresor "$pid" "$port" "$FSYNC_N"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || sleep 1
grep -h "groups" "$dir/log" | sed 's/^/GROUPS tresor /' | tee -a "$raw" || true

# ---- Cosmian KMS ----------------------------------------------------------------------------
if [ -x "$kms" ]; then
    dir="$work/cosmian"; mkdir -p "$dir"; sock=$(free_port); http=$(free_port)
    read -r pid ms < <(cosmian_start "$kms" "$dir" "$work/certs" "$sock" "$http")
    pids+=("$pid"); sleep 1
    measure cosmian "$pid" "$sock" "$N"
    fsyncs cosmian "$pid" "$sock" "$FSYNC_N"
    kill "$pid"; wait "$pid" 2>/dev/null || true
else
    echo "MISSING cosmian: no $kms (tests/peers/cosmian/build-server.sh)" | tee -a "$raw"
fi

# ---- PyKMIP ---------------------------------------------------------------------------------
if [ -x "$pykmip_py" ]; then
    pyport=$(free_port)
    read -r pid ms < <(pykmip_start "$pykmip_py" "$work" "$pyport")
    pids+=("$pid"); sleep 1
    measure pykmip "$pid" "$pyport" "$PY_N"
    fsyncs pykmip "$pid" "$pyport" "$PY_N"
    kill "$pid"; wait "$pid" 2>/dev/null || true
else
    echo "MISSING pykmip: no $pykmip_py (tests/peers/pykmip/setup.sh)" | tee -a "$raw"
fi

cp "$raw" "$root/bench/kmip/peers19-raw.txt"
CMD="N=$N PY_N=$PY_N bench/kmip/peers19.sh" $py bench/kmip/peers19_report.py "$raw" "$out"
cat "$out"
