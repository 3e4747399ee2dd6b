#!/usr/bin/env bash
# Capacity model (issue 17, item 7): CPU time per KMIP operation of `tresor kmip serve` and of
# PostgreSQL, bytes per object in each store, and a check of the scale-out on this machine.
# Writes bench/capacity/RESULTS.txt (raw lines) and prints the tables docs/CAPACITY.md uses.
#
#   bench/capacity/run.sh
#
# Env: N (operations per measurement, default 10000), CONC_N (Gets per connection in the
# scale-out check, default 5000), TRESOR / LOAD / CERTS (binaries; default the release build
# of this checkout, built if missing), SERVER_CPU / OTHER_CPU (cores for the server and for
# PostgreSQL + the load generator, default 0 and 1).
#
# Method: the tresor server runs pinned (taskset) to SERVER_CPU; a private PostgreSQL
# (scripts/pg.sh, fsync=off) and the load generator (crates/tresor-kmip/examples/kmip_load/main.rs,
# niced) run on OTHER_CPU. CPU time is /proc/PID/stat utime+stime of the server and of every
# PostgreSQL process, and getrusage of the load generator (bench/capacity/cpu_ops.py), so
# other work on the machine changes it little (the load average is printed with each line).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N=${N:-10000}; CONC_N=${CONC_N:-5000}
SERVER_CPU=${SERVER_CPU:-0}; OTHER_CPU=${OTHER_CPU:-1}
raw="$root/bench/capacity/RESULTS.txt"
cd "$root"
if [ -z "${TRESOR:-}" ] || [ -z "${LOAD:-}" ] || [ -z "${CERTS:-}" ]; then
    cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs
    cargo build --release -q -p tresor-cli
fi
TRESOR=${TRESOR:-$root/target/release/tresor}
LOAD=${LOAD:-$root/target/release/examples/kmip_load}
CERTS=${CERTS:-$root/target/release/examples/kmip_certs}
# LOAD_ENC: a kmip_load with the encrypt bench, if LOAD predates it.
LOAD_ENC=${LOAD_ENC:-$LOAD}
work="$(mktemp -d /tmp/capacity-bench.XXXXXX)"
pids=(); pgdir=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$pgdir" ] && bash "$root/scripts/pg.sh" stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
export HOME="$work/home"; mkdir -p "$HOME"
"$CERTS" "$work/certs" >/dev/null
eval "$(bash "$root/scripts/pg.sh" start)"
pgdir="$TRESOR_PG_DIR"
pm=$(head -1 "$TRESOR_PG_DIR/data/postmaster.pid")
# The postmaster and its processes (backends fork from it and inherit this) on OTHER_CPU.
for p in $pm $(pgrep -P "$pm"); do taskset -pc "$OTHER_CPU" "$p" >/dev/null; done
: >"$raw"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs) N=$N" | tee -a "$raw"

# start VAULT CPU [--store URL]: a server pinned to CPU; its pid in $spid, its port in $sport.
start() {
    local vault=$1 cpu=$2; shift 2
    local log="$work/serve-$RANDOM.log"
    taskset -c "$cpu" "$TRESOR" --vault "$vault" "$@" kmip serve --listen 127.0.0.1:0 \
        --cert "$work/certs/server.crt" --key "$work/certs/server.key" \
        --ca "$work/certs/ca.crt" --max-batch-items 128 2>"$log" &
    spid=$!; pids+=("$spid")
    for _ in $(seq 300); do grep -q "listening on" "$log" && break; sleep 0.1; done
    sport=$(grep -m1 -o 'listening on [^ ]*' "$log" | sed 's/.*://')
    [ -n "$sport" ] || { cat "$log" >&2; exit 1; }
}
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }

# measure LABEL OP PM BENCH [SERVER_PID...]: one CPU-per-op line.
measure() {
    local label=$1 op=$2 pmpid=$3 bench=$4; shift 4
    local sargs=() targs=()
    for p in "${pids[@]}"; do sargs+=(--server-pid "$p"); done
    for p in "$@"; do targs+=(--server "127.0.0.1:$p"); done
    python3 bench/capacity/cpu_ops.py --label "$label" --op "$op" "${sargs[@]}" \
        --postmaster-pid "$pmpid" -- nice -n 10 taskset -c "$OTHER_CPU" "$LOAD" "${targs[@]}" \
        --certs "$work/certs" --label "$label" "$bench" | tee -a "$raw" | grep '^CAP'
}

sqlite_bytes() { # VAULT: bytes of tresor.db after a full checkpoint (server stopped)
    python3 - "$1/tresor.db" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()
print(os.path.getsize(sys.argv[1]))
PY
}
pg_bytes() { # DB: pg_total_relation_size of every table of the database
    "$TRESOR_PG_BIN/psql" -qtA "${TRESOR_TEST_PG_URL%/*}/$1" -c \
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'"
}

ops() { # LABEL PM PORT: Create, Get, Locate, Encrypt on one connection
    local label=$1 pmpid=$2 port=$3
    measure "$label" create "$pmpid" create:"$N" "$port"
    measure "$label" get "$pmpid" get:"$N" "$port"
    nice -n 10 "$LOAD" --server "127.0.0.1:$port" --certs "$work/certs" --label seed seed:0:"$N" >/dev/null
    measure "$label" locate "$pmpid" locate:"$N":"$N" "$port"
    LOAD="$LOAD_ENC" measure "$label" encrypt "$pmpid" encrypt:"$N" "$port"
}

# ---- SQLite ---------------------------------------------------------------------------------
"$TRESOR" --vault "$work/sq" init --user bench >/dev/null
b0=$(sqlite_bytes "$work/sq")
start "$work/sq" "$SERVER_CPU"
nice -n 10 "$LOAD" --server "127.0.0.1:$sport" --certs "$work/certs" --label size create:"$N" >/dev/null
stop
b1=$(sqlite_bytes "$work/sq")
echo "BYTES sqlite $N $((b1 - b0))" | tee -a "$raw"
start "$work/sq" "$SERVER_CPU"
ops tresor-sqlite 0 "$sport"
stop

# ---- PostgreSQL -----------------------------------------------------------------------------
"$TRESOR_PG_BIN/psql" -q "$TRESOR_TEST_PG_URL" -c "CREATE DATABASE capacity" >/dev/null
url="${TRESOR_TEST_PG_URL%/*}/capacity"
"$TRESOR" --vault "$work/pga" --store "$url" init --user bench >/dev/null
cp -a "$work/pga" "$work/pgb"
start "$work/pga" "$SERVER_CPU" --store "$url"
b0=$(pg_bytes capacity)
nice -n 10 "$LOAD" --server "127.0.0.1:$sport" --certs "$work/certs" --label size create:"$N" >/dev/null
"$TRESOR_PG_BIN/psql" -q "$url" -c "VACUUM ANALYZE" >/dev/null
b1=$(pg_bytes capacity)
echo "BYTES postgres $N $((b1 - b0))" | tee -a "$raw"
ops tresor-postgres "$pm" "$sport"
stop

# ---- Scale-out check: Gets on 4 connections, PostgreSQL ------------------------------------
# One server pinned to SERVER_CPU; then two servers, one pinned to each core (PostgreSQL and
# the load generator then share OTHER_CPU with the second server).
start "$work/pga" "$SERVER_CPU" --store "$url"; p1=$sport
measure scale-1-server get4 "$pm" concurrent:4:"$CONC_N" "$p1"
start "$work/pgb" "$OTHER_CPU" --store "$url"; p2=$sport
measure scale-2-servers get4 "$pm" concurrent:4:"$CONC_N" "$p1" "$p2"
stop
# ---- S3 record size (optional: moto from tests/peers/moto, TRESOR_TEST_S3_ENDPOINT) --------
# S3_N vault secrets imported into s3://capacity-…/cap; bytes and objects per secret by kind
# (objects/ sealed records, audit/ entries, names/ index), from ListObjectsV2 sizes.
if [ -n "${TRESOR_TEST_S3_ENDPOINT:-}" ] && [ -x "${TRESOR_MOTO_PY:-}" ]; then
    S3_N=${S3_N:-1000}
    bucket="capacity-$$"
    (
        export AWS_ENDPOINT_URL=$TRESOR_TEST_S3_ENDPOINT AWS_REGION=us-east-1 \
            AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
        s3sizes() {
            "$TRESOR_MOTO_PY" - "$bucket" <<'PY'
import boto3, collections, sys
agg = collections.defaultdict(lambda: [0, 0])
for pg in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1]):
    for o in pg.get("Contents", []):
        agg[o["Key"].split("/")[1]][0] += 1
        agg[o["Key"].split("/")[1]][1] += o["Size"]
print(" ".join(f"{k}={n}:{b}" for k, (n, b) in sorted(agg.items())))
PY
        }
        export TRESOR_KMS_KEY_ID=$("$TRESOR_MOTO_PY" -c "import boto3,sys; boto3.client('s3').create_bucket(Bucket=sys.argv[1]); print(boto3.client('kms').create_key()['KeyMetadata']['KeyId'])" "$bucket")
        export TRESOR_STORE="s3://$bucket/cap"
        "$TRESOR" --vault "$work/s3v" init --user bench >/dev/null
        for i in $(seq "$S3_N"); do echo "KEY_$i=value-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done >"$work/s3.env"
        echo "S3 before $(s3sizes)" | tee -a "$raw"
        "$TRESOR" --vault "$work/s3v" -q importenv "$work/s3.env" --app cap --env s3 >/dev/null
        echo "S3 after-$S3_N $(s3sizes)" | tee -a "$raw"
    )
fi
echo "see $raw"
