#!/usr/bin/env bash
# Start time of `tresor kmip serve --ephemeral`: from exec to the port accepting TCP
# connections (bench/kmip/startup.py), N runs (default 20), each server stopped with SIGTERM
# and checked to leave nothing behind. Prints min/median/max in ms.
#
#   bench/kmip/ephemeral_startup.sh            # target/release/tresor (built if missing)
#   TRESOR_BIN=target/debug/tresor N=10 bench/kmip/ephemeral_startup.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N=${N:-20}
bin=${TRESOR_BIN:-$root/target/release/tresor}
[ -x "$bin" ] || (cd "$root" && nice -n 10 cargo build --release -q -p tresor-cli)
py=$(command -v python3)
work=$(mktemp -d /tmp/kmip-eph-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
times=()
for i in $(seq "$N"); do
    port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    read -r pid ms < <(HOME="$work" nice -n 5 "$py" "$root/bench/kmip/startup.py" --log "$work/log" \
        --port "$port" -- "$bin" kmip serve --ephemeral --listen "127.0.0.1:$port")
    times+=("$ms")
    dir=$(sed -n 's/.*store and key in memory (\([^)]*\)).*/\1/p' "$work/log" | head -1)
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
    if [ -n "$dir" ] && [ -e "$dir" ]; then echo "left behind: $dir" >&2; exit 1; fi
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$N" -v bin="$bin" '
    {a[NR]=$1} END {printf "kmip serve --ephemeral (%s): ready in min %.1f ms, median %.1f ms, max %.1f ms over %d runs\n", bin, a[1], a[int((NR+1)/2)], a[NR], n}'
