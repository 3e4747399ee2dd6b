#!/usr/bin/env bash
# KMIP benchmark peer row: tresor against Cosmian KMS 5.28.0 (`cosmian_kms`, non-FIPS, its
# SQLite store, binary KMIP on its socket server over mutual TLS), both driven by the same
# Rust load generator (crates/tresor-kmip/examples/kmip_load/main.rs, KMIP 1.4, AES-256 keys) with
# the same ECDSA P-256 certificates, alternated ROUNDS times in one run.
#
#   bench/kmip/cosmian.sh        # writes bench/kmip/COSMIAN.md
#
# Needs Cosmian's server in the peers cache (tests/peers/cosmian/build-server.sh, about
# 25 minutes once) or TRESOR_COSMIAN_KMS=/path/to/cosmian_kms.
# Sizes (env): ROUNDS (3), CREATE_N (1000 per connection), GET_N (4000 per connection).
# Durability differs and is printed with the figures: tresor commits each Create with
# SQLite synchronous=FULL (fsync); Cosmian's SQLite store runs synchronous=NORMAL in WAL
# mode (no fsync per commit), so its acknowledged Creates can be lost on power failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/kmip/COSMIAN.md"
ROUNDS=${ROUNDS:-3}; CREATE_N=${CREATE_N:-1000}; GET_N=${GET_N:-4000}
cache="${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}"
kms="${TRESOR_COSMIAN_KMS:-$cache/cosmian-kms/bin/cosmian_kms}"
[ -x "$kms" ] || { echo "Cosmian KMS missing: run tests/peers/cosmian/build-server.sh" >&2; exit 2; }
py=python3

cd "$root"
source "$root/bench/kmip/peers_lib.sh"
cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs
cargo build --release -q -p tresor-cli
tresor="$root/target/release/tresor"
load="$root/target/release/examples/kmip_load"
work="$(mktemp -d /tmp/kmip-cosmian.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
"$root/target/release/examples/kmip_certs" "$work/certs" >/dev/null
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
results="$work/results.txt"; : >"$results"

benches=(create:"$CREATE_N" get:"$GET_N" concurrent:4:"$GET_N" concurrent-create:4:"$CREATE_N")

run_cosmian() { # round
    local dir="$work/cosmian-$1" sock http pid ms rss
    mkdir -p "$dir"; sock=$(free_port); http=$(free_port)
    read -r pid ms < <(cosmian_start "$kms" "$dir" "$work/certs" "$sock" "$http")
    pids+=("$pid"); sleep 1; rss=$(rss_kb "$pid")
    echo "START cosmian $1 ms $ms rss-kb $rss" | tee -a "$results"
    "$load" --server "127.0.0.1:$sock" --certs "$work/certs" --label "cosmian" "${benches[@]}" \
        | tee -a "$results"
    echo "AFTER cosmian $1 rss-kb $(rss_kb "$pid")" | tee -a "$results"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_tresor() { # round
    local dir="$work/tresor-$1" pid ms line port rss
    mkdir -p "$dir"
    read -r pid ms line < <($py bench/kmip/startup.py --log "$dir/log" \
        --stderr-line "listening on" -- "$tresor" kmip serve --listen 127.0.0.1:0 \
        --cert "$work/certs/server.crt" --key "$work/certs/server.key" \
        --ca "$work/certs/ca.crt" --store "$dir/store")
    pids+=("$pid"); port="${line##*:}"; sleep 1; rss=$(rss_kb "$pid")
    echo "START tresor $1 ms $ms rss-kb $rss" | tee -a "$results"
    "$load" --server "127.0.0.1:$port" --certs "$work/certs" --label "tresor" "${benches[@]}" \
        | tee -a "$results"
    echo "AFTER tresor $1 rss-kb $(rss_kb "$pid")" | tee -a "$results"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then run_tresor "$r"; run_cosmian "$r"; else run_cosmian "$r"; run_tresor "$r"; fi
done
cp "$results" "$root/bench/kmip/cosmian-raw.txt"
WHEN="$(date -u +%Y-%m-%dT%H:%MZ)" \
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs)" \
CMD="ROUNDS=$ROUNDS CREATE_N=$CREATE_N GET_N=$GET_N bench/kmip/cosmian.sh" \
    $py bench/kmip/cosmian_report.py "$results" "$out"
cat "$out"
