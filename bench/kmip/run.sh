#!/usr/bin/env bash
# KMIP benchmark: the tresor KMIP server against pykmip-server (PyKMIP 0.11, ECDSA certs),
# both driven by the same Rust load generator (crates/tresor-kmip/examples/kmip_load/main.rs,
# built on tresor_kmip::client::KmipClient, KMIP 1.4, one TLS connection unless stated).
#
#   bench/kmip/run.sh            # writes bench/kmip/RESULTS.md
#
# Needs the PyKMIP venv (tests/peers/pykmip/setup.sh; TRESOR_PYKMIP_PY or the default path).
# Sizes (env): CREATE_N GET_N CONNECT_N CONC_N (Gets per connection, 4 connections),
# LOCATE_N (tresor), PY_LOCATE_N (PyKMIP: its Locate scans every object in Python),
# BIG (tresor objects for the big Locate, default 100000), PY_BIG (PyKMIP, default 10000).
# TRESOR_KMIP_CMD overrides the server command (default: target/release/tresor kmip).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/kmip/RESULTS.md"
CREATE_N=${CREATE_N:-1000}; GET_N=${GET_N:-2000}; CONNECT_N=${CONNECT_N:-200}
CONC_N=${CONC_N:-500}; LOCATE_N=${LOCATE_N:-2000}; PY_LOCATE_N=${PY_LOCATE_N:-10}
BIG=${BIG:-100000}; PY_BIG=${PY_BIG:-10000}
py="${TRESOR_PYKMIP_PY:-$root/target/peers/pykmip/bin/python}"
[ -x "$py" ] || { echo "PyKMIP venv missing: run tests/peers/pykmip/setup.sh" >&2; exit 2; }

cd "$root"
source "$root/bench/kmip/peers_lib.sh"
cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs
if [ -z "${TRESOR_KMIP_CMD:-}" ]; then
    # The tresor binary (the `tresor kmip` commands live in tresor-cli).
    cargo build --release -q -p tresor-cli
    TRESOR_KMIP_CMD="$root/target/release/tresor kmip"
fi
load="$root/target/release/examples/kmip_load"
work="$(mktemp -d /tmp/kmip-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
"$root/target/release/examples/kmip_certs" "$work/certs" >/dev/null
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
results="$work/results.txt"; : >"$results"

# ---- PyKMIP ------------------------------------------------------------------------
pyport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
read -r pypid pystart < <(pykmip_start "$py" "$work" "$pyport")
pids+=("$pypid")
sleep 1; pyrss=$(rss_kb "$pypid")
echo "pykmip-server pid $pypid ready in $pystart ms, idle RSS $pyrss kB" >&2
"$load" --server "127.0.0.1:$pyport" --certs "$work/certs" --label pykmip \
    create:"$CREATE_N" get:"$GET_N" connect-get:"$CONNECT_N" concurrent:4:"$CONC_N" \
    seed:0:1000 locate:"$PY_LOCATE_N":1000 | tee -a "$results"
"$load" --server "127.0.0.1:$pyport" --certs "$work/certs" --label pykmip \
    seed:1000:"$PY_BIG" locate:"$PY_LOCATE_N":"$PY_BIG" | tee -a "$results"
pyrss_after=$(rss_kb "$pypid")
kill "$pypid"

# ---- tresor ------------------------------------------------------------------------
read -r -a tcmd <<<"$TRESOR_KMIP_CMD"
read -r tpid tstart tline < <("$py" bench/kmip/startup.py --log "$work/tresor.log" \
    --stderr-line "listening on" -- "${tcmd[@]}" serve --listen 127.0.0.1:0 \
    --cert "$work/certs/server.crt" --key "$work/certs/server.key" --ca "$work/certs/ca.crt" \
    --store "$work/tresor-store")
pids+=("$tpid")
tport="${tline##*:}"
sleep 1; trss=$(rss_kb "$tpid")
echo "tresor pid $tpid ready in $tstart ms on port $tport, idle RSS $trss kB" >&2
echo "START tresor first-start-ms $tstart rss-kb $trss" >>"$results"
echo "START pykmip first-start-ms $pystart rss-kb $pyrss" >>"$results"
"$load" --server "127.0.0.1:$tport" --certs "$work/certs" --label tresor \
    create:"$CREATE_N" get:"$GET_N" connect-get:"$CONNECT_N" concurrent:4:"$CONC_N" \
    seed:0:1000 locate:"$LOCATE_N":1000 | tee -a "$results"
"$load" --server "127.0.0.1:$tport" --certs "$work/certs" --label tresor \
    seed:1000:"$BIG" locate:"$LOCATE_N":"$BIG" | tee -a "$results"
trss_after=$(rss_kb "$tpid")
kill -TERM "$tpid"

# ---- report ------------------------------------------------------------------------
export CREATE_N GET_N CONNECT_N CONC_N LOCATE_N PY_LOCATE_N BIG PY_BIG TRESOR_KMIP_CMD
export ROOT="$root" WHEN="$(date -u +%Y-%m-%dT%H:%MZ)"
export CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs)"
export PYSTART="$pystart" PYRSS="$pyrss" PYRSS_AFTER="$pyrss_after"
export TSTART="$tstart" TRSS="$trss" TRSS_AFTER="$trss_after"
# Keep the raw lines even if the report fails.
cp "$results" "$root/bench/kmip/raw-results.txt"
"$py" bench/kmip/report.py "$results" "$out"
cat "$out"
