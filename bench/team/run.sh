#!/usr/bin/env bash
# Team scale benchmark (issue 8): KMIP Create and Get per second, tresor on SQLite and on
# PostgreSQL, one and two `tresor kmip serve` processes, 1 and 4 connections; pykmip-server
# (PyKMIP 0.11, its SQLite store, ECDSA certificates) beside them. Every server is driven by the
# same load generator (crates/tresor-kmip/examples/kmip_load/main.rs, tresor_kmip::client, KMIP 1.4;
# with two servers its connections are spread round-robin over both).
#
#   bench/team/run.sh            # prints a Markdown table, writes bench/team/RESULTS.md
#
# Sizes (env): CREATE_N (Creates on 1 connection), GET_N (Gets on 1 connection),
# CONC_N (per connection, 4 connections), ROUNDS (runs of each; the median is reported).
# Needs PostgreSQL server binaries (scripts/pg.sh) and the PyKMIP venv
# (tests/peers/pykmip/setup.sh; TRESOR_PYKMIP_PY overrides the python).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/team/RESULTS.md"
CREATE_N=${CREATE_N:-500}; GET_N=${GET_N:-2000}; CONC_N=${CONC_N:-1000}; ROUNDS=${ROUNDS:-3}
py="${TRESOR_PYKMIP_PY:-$root/target/peers/pykmip/bin/python}"
[ -x "$py" ] || { echo "PyKMIP venv missing: run tests/peers/pykmip/setup.sh" >&2; exit 2; }

cd "$root"
source "$root/bench/kmip/peers_lib.sh"
cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs
cargo build --release -q -p tresor-cli
tresor="$root/target/release/tresor"
load="$root/target/release/examples/kmip_load"
work="$(mktemp -d /tmp/team-bench.XXXXXX)"
pids=()
pgdir=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$pgdir" ] && bash "$root/scripts/pg.sh" stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
eval "$(bash "$root/scripts/pg.sh" start)"
pgdir="$TRESOR_PG_DIR"
"$root/target/release/examples/kmip_certs" "$work/certs" >/dev/null
results="$work/results.txt"; : >"$results"
export HOME="$work/home"; mkdir -p "$HOME"

# start_tresor VAULT [--store URL]: starts a server; its port is left in $tport.
start_tresor() {
    local vault=$1; shift
    local line tpid
    read -r tpid _ line < <("$py" bench/kmip/startup.py --log "$work/tresor-$RANDOM.log" \
        --stderr-line "listening on" -- "$tresor" --vault "$vault" "$@" kmip serve \
        --listen 127.0.0.1:0 --cert "$work/certs/server.crt" --key "$work/certs/server.key" \
        --ca "$work/certs/ca.crt")
    pids+=("$tpid")
    tport="${line##*:}"
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pids=(); sleep 0.5; }

# cpu_run LABEL PORT... : one more Get run on 4 connections, with the CPU each process used
# (bench/team/cpu.py: the tresor servers, PostgreSQL's backends, the load generator, the rest
# of the machine).
cpu_run() {
    local label=$1; shift
    local args=() spids=()
    for s in "$@"; do args+=(--server "127.0.0.1:$s"); done
    for p in "${pids[@]}"; do spids+=(--server-pid "$p"); done
    local pm=0
    [ -n "${TRESOR_PG_DIR:-}" ] && [ "$label" != "${label#tresor-postgres}" ] && pm=$(head -1 "$TRESOR_PG_DIR/data/postmaster.pid")
    "$py" bench/team/cpu.py --label "$label" "${spids[@]}" --postmaster-pid "$pm" -- \
        "$load" "${args[@]}" --certs "$work/certs" --label "cpu-$label" concurrent:4:"$CONC_N" \
        | tee -a "$results" | grep '^CPU'
}

# bench LABEL SERVER... : ROUNDS runs of every bench against these servers.
bench() {
    local label=$1; shift
    local args=()
    for s in "$@"; do args+=(--server "127.0.0.1:$s"); done
    for _ in $(seq "$ROUNDS"); do
        "$load" "${args[@]}" --certs "$work/certs" --label "$label" \
            create:"$CREATE_N" get:"$GET_N" concurrent-create:4:"$CONC_N" concurrent:4:"$CONC_N" \
            | tee -a "$results"
    done
}

new_db() { # NAME: a fresh database on the throw-away server, printed as a URL
    "$TRESOR_PG_BIN/psql" -q "$TRESOR_TEST_PG_URL" -c "CREATE DATABASE $1" >/dev/null
    echo "${TRESOR_TEST_PG_URL%/*}/$1"
}

# ---- tresor on SQLite: one server, then two processes on the same file (WAL) -------------
"$tresor" --vault "$work/sq" init --user bench >/dev/null
start_tresor "$work/sq"; p1=$tport
bench tresor-sqlite-1 "$p1"
cpu_run tresor-sqlite-1 "$p1"
start_tresor "$work/sq"; p2=$tport
bench tresor-sqlite-2 "$p1" "$p2"
stop_all

# ---- tresor on PostgreSQL: one server, then two (vault folder copied: two machines) ------
url=$(new_db tresor_team_bench)
"$tresor" --vault "$work/pga" --store "$url" init --user bench >/dev/null
cp -a "$work/pga" "$work/pgb"
start_tresor "$work/pga" --store "$url"; p1=$tport
bench tresor-postgres-1 "$p1"
cpu_run tresor-postgres-1 "$p1"
start_tresor "$work/pgb" --store "$url"; p2=$tport
bench tresor-postgres-2 "$p1" "$p2"
cpu_run tresor-postgres-2 "$p1" "$p2"
stop_all

# ---- PyKMIP (its own SQLite store) ---------------------------------------------------------
pyport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
read -r pypid _ < <(pykmip_start "$py" "$work" "$pyport")
pids+=("$pypid")
bench pykmip-1 "$pyport"
stop_all

# ---- report --------------------------------------------------------------------------------
export WHEN="$(date -u +%Y-%m-%dT%H:%MZ)" CREATE_N GET_N CONC_N ROUNDS
export CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs)"
"$py" - "$results" "$out" <<'PY'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 8 or p[0] != "RESULT":
        continue
    label, bench, rate, p50 = p[1], p[2], float(p[5]), int(p[6])
    rows.setdefault(label, {}).setdefault(bench, []).append((rate, p50))
cols = [
    ("create:", "Create, 1 conn"),
    ("create-4-connections", "Create, 4 conns"),
    ("get:", "Get, 1 conn"),
    ("get-4-connections", "Get, 4 conns"),
]
def cell(label, key):
    for b, v in rows.get(label, {}).items():
        if b == key or (key.endswith(":") and b.startswith(key)):
            r = statistics.median(x[0] for x in v)
            p = statistics.median(x[1] for x in v)
            return r, f"{r:,.0f}/s (p50 {p} µs)"
    return None, "—"
order = ["tresor-sqlite-1", "tresor-sqlite-2", "tresor-postgres-1", "tresor-postgres-2", "pykmip-1"]
names = {
    "tresor-sqlite-1": "tresor, SQLite, 1 server",
    "tresor-sqlite-2": "tresor, SQLite (one file, WAL), 2 servers",
    "tresor-postgres-1": "tresor, PostgreSQL, 1 server",
    "tresor-postgres-2": "tresor, PostgreSQL, 2 servers",
    "pykmip-1": "PyKMIP 0.11 server (SQLite), 1 server",
}
out = [
    f"Run {os.environ['WHEN']} on {os.environ['CPU']}; median of {os.environ['ROUNDS']} runs; "
    f"Create N={os.environ['CREATE_N']} (1 conn), Get N={os.environ['GET_N']} (1 conn), "
    f"{os.environ['CONC_N']} per connection with 4 connections.",
    "",
    "| server | " + " | ".join(c[1] for c in cols) + " |",
    "|---|" + "---|" * len(cols),
]
for label in order:
    if label in rows:
        out.append(f"| {names[label]} | " + " | ".join(cell(label, c[0])[1] for c in cols) + " |")
g1, _ = cell("tresor-postgres-1", "get-4-connections")
g2, _ = cell("tresor-postgres-2", "get-4-connections")
if g1 and g2:
    out += ["", f"Two PostgreSQL servers / one, Get on 4 connections: **{g2 / g1:.2f}×** (target ≥ 1.6×)."]
cpu = [l.split() for l in open(sys.argv[1]) if l.startswith("CPU ")]
if cpu:
    out += [
        "",
        "CPU during one more Get run on 4 connections (% of one core; the machine has "
        f"{cpu[0][8]} cores; `bench/team/cpu.py`):",
        "",
        "| server | Get/s | tresor server(s) | PostgreSQL | load generator | machine busy | other |",
        "|---|---|---|---|---|---|---|",
    ]
    rate = {}
    for l in open(sys.argv[1]):
        p = l.split()
        if len(p) >= 8 and p[0] == "RESULT" and p[2] == "get-4-connections":
            rate[p[1]] = p[5]
    for c in cpu:
        label = c[1]
        out.append(
            f"| {names.get(label, label)} | {float(rate.get('cpu-' + label, 0)):,.0f}/s | {c[3]}% | "
            f"{c[4]}% | {c[5]}% | {c[6]}% | {c[7]}% |"
        )
text = "\n".join(out) + "\n"
open(sys.argv[2], "w").write(text)
print(text)
PY
cp "$results" "$root/bench/team/raw-results.txt"
