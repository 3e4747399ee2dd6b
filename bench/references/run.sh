#!/usr/bin/env bash
# Reference resolution benchmark (issue 18; not a test). A vault with 100 secrets, then:
#   - `tresor run` with 100 environment variables holding tresor:// references (one command)
#   - `tresor inject` of a file holding the same 100 references
#   - `tresor get` x 100 (what an op-style "one read per reference" costs: 100 processes)
# For each: store reads (TRESOR_DEBUG_STORE_READS: one per local read call, one per KMIP
# request message) and wall time (median of RUNS). Local SQLite vault, and the same against a
# `tresor kmip serve` over mutual TLS (--server). Niced; debug or release binary via BIN.
#
# The server runs with its default limits (64 batch items): `run` and `inject` send one
# vendor Read Names item for all references.
#
#   bench/references/run.sh                   # builds release
#   BIN=target/debug/tresor RUNS=5 bench/references/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
N=${N:-100}
RUNS=${RUNS:-11}
if [ -z "${BIN:-}" ]; then
    nice -n 10 cargo build --release -q -p tresor-cli --bin tresor
    BIN="${CARGO_TARGET_DIR:-$root/target}/release/tresor"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-refbench.XXXXXX")"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export HOME="$work/home" NO_COLOR=1
mkdir -p "$HOME"
unset TRESOR_SERVER TRESOR_CLIENT_CERT TRESOR_CLIENT_KEY TRESOR_CLIENT_CA TRESOR_VAULT TRESOR_STORE
t() { nice -n 10 "$BIN" "$@"; }

median_ms() { # prints the median wall time in ms of running "$@" RUNS times
    python3 - "$RUNS" "$@" <<'PY'
import subprocess, sys, time, statistics
runs, cmd = int(sys.argv[1]), sys.argv[2:]
ts = []
for _ in range(runs):
    s = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    ts.append(time.perf_counter() - s)
print("%.1f" % (statistics.median(ts) * 1000))
PY
}

reads() { TRESOR_DEBUG_STORE_READS=1 "$@" 2>&1 >/dev/null | sed -n 's/^tresor: store reads: //p' | awk '{s+=$1} END {print s+0}'; }

for i in $(seq -w 0 $((N - 1))); do echo "K$i=value-$i-$RANDOM$RANDOM"; done > "$work/secrets.env"
refs_env=()
: > "$work/config.tpl"
for i in $(seq -w 0 $((N - 1))); do
    refs_env+=("REF_$i=tresor://bench/dev/K$i")
    echo "k$i: tresor://bench/dev/K$i" >> "$work/config.tpl"
done
cat > "$work/get100.sh" <<SH
#!/bin/sh
for i in \$(seq -w 0 $((N - 1))); do nice -n 10 "$BIN" get "bench:dev:K\$i" >/dev/null || exit 1; done
SH
chmod +x "$work/get100.sh"

row() { # mode
    local mode=$1
    local r_run r_inj r_get m_run m_inj m_get
    r_run=$(reads env "${refs_env[@]}" nice -n 10 "$BIN" run --no-mask -- true)
    r_inj=$(reads nice -n 10 "$BIN" inject -i "$work/config.tpl" -o "$work/config")
    r_get=0
    for i in $(seq -w 0 $((N - 1))); do
        r_get=$((r_get + $(reads nice -n 10 "$BIN" get "bench:dev:K$i")))
    done
    m_run=$(median_ms env "${refs_env[@]}" nice -n 10 "$BIN" run --no-mask -- true)
    m_inj=$(median_ms nice -n 10 "$BIN" inject -i "$work/config.tpl" -o "$work/config")
    m_get=$(median_ms "$work/get100.sh")
    printf '| %s | `tresor run` (%d env references) | %s | %s |\n' "$mode" "$N" "$r_run" "$m_run"
    printf '| %s | `tresor inject` (%d references) | %s | %s |\n' "$mode" "$N" "$r_inj" "$m_inj"
    printf '| %s | `tresor get` x %d | %s | %s |\n' "$mode" "$N" "$r_get" "$m_get"
}

echo "binary: $BIN ($("$BIN" --version 2>/dev/null || echo unknown)), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
echo "| store | command | store reads | wall time, median of $RUNS (ms) |"
echo "|---|---|---:|---:|"
t init --user bench >/dev/null 2>&1
t importenv "$work/secrets.env" --app bench --env dev >/dev/null 2>&1
row "local SQLite"

# The same vault names on a KMIP server (mutual TLS, 127.0.0.1).
t kmip certs init "$work/certs" >/dev/null 2>&1
t --vault "$work/server" kmip apps allow '*' '*' >/dev/null 2>&1
t --vault "$work/server" kmip serve --listen 127.0.0.1:0 --cert "$work/certs/server.crt" \
    --key "$work/certs/server.key" --ca "$work/certs/ca.crt" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/server.log" && break; sleep 0.1; done
export TRESOR_SERVER
TRESOR_SERVER=$(sed -n 's/^listening on //p' "$work/server.log" | head -n1)
export TRESOR_CLIENT_CERT="$work/certs/client.crt" TRESOR_CLIENT_KEY="$work/certs/client.key" TRESOR_CLIENT_CA="$work/certs/ca.crt"
t importenv "$work/secrets.env" --app bench --env dev >/dev/null 2>&1
row "KMIP server (--server)"
