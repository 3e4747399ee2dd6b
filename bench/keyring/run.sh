#!/usr/bin/env bash
# Per-op latency: tresor-keyring vs raw linux-keyutils vs python-linux-keyutils
# 0.2.1, N ops each (default 10,000), all in the same run, printed as a table.
# Usage: bench/keyring/run.sh [N]
set -euo pipefail
N="${1:-10000}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="$ROOT/target/peers/keyring-bench"
cd "$ROOT"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q "python-linux-keyutils==0.2.1"

cargo build -q --release -p tresor-keyring --example keyring_bench
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
"$ROOT/target/release/examples/keyring_bench" "$N" >>"$OUT"
"$VENV/bin/python" "$ROOT/bench/keyring/bench_python.py" "$N" >>"$OUT"

echo "keyring per-op latency, $N ops each ($(uname -r), $(nproc) cores)"
awk -F'\t' '
  { v[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  function us(x) { return x == "" ? "-" : sprintf("%.2f", x / 1000) }
  END {
    printf "%-28s %9s %9s %16s %15s\n", "implementation", "set (us)", "get (us)", "get cached (us)", "invalidate (us)"
    for (i = 1; i <= n; i++) {
      m = order[i]
      c = (m, "get_cached") in v ? v[m, "get_cached"] : v[m, "get by cached id"]
      printf "%-28s %9s %9s %16s %15s\n", m, us(v[m,"set"]), us(v[m,"get"]), us(c), us(v[m,"invalidate"])
    }
    t = "tresor-keyring"; r = "raw linux-keyutils"; p = "python-linux-keyutils 0.2.1"
    printf "\nget (exact: search, direct-link check, read) vs raw search+read: %.2fx\n", v[t,"get"] / v[r,"get"]
    printf "get_cached vs raw read of a cached id:                          %.2fx (target <= 1.5x)\n", v[t,"get_cached"] / v[r,"get by cached id"]
    printf "python get / tresor get_cached:                                 %.2fx (target >= 2x)\n", v[p,"get"] / v[t,"get_cached"]
    printf "python get / tresor get:                                        %.2fx\n", v[p,"get"] / v[t,"get"]
  }' "$OUT"
