#!/usr/bin/env bash
# Sealed files benchmark (not a test; issue 18): seal, unseal, edit of one value and
# run --file on a 1,000-key .env file and a 1,000-key JSON file: median wall time per command
# (hyperfine if present, else a loop), one process each, niced. Also counts the lines an edit
# of one value changes (expected: 2, the value and the MAC).
#
#   bench/seal/run.sh                                     # builds release, N=1000
#   TRESOR_BIN=target/debug/tresor N=1000 RUNS=10 bench/seal/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
N=${N:-1000}
RUNS=${RUNS:-20}
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-seal-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log() { printf '# %s\n' "$*" >&2; }

if [ -z "${TRESOR_BIN:-}" ]; then
    log "building release"
    nice -n 10 cargo build --release -q -p tresor-cli
    bin="${CARGO_TARGET_DIR:-$root/target}/release/tresor"
else
    bin="$(cd "$(dirname "$TRESOR_BIN")" && pwd)/$(basename "$TRESOR_BIN")"
fi
export HOME="$work/home" XDG_RUNTIME_DIR="$work/run"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"

ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/id" >/dev/null
export TRESOR_IDENTITY="$work/id"
recipient="$(cat "$work/id.pub")"

python3 - "$N" "$work" <<'PY'
import json, sys
n, w = int(sys.argv[1]), sys.argv[2]
with open(f"{w}/plain.env", "w") as f:
    for k in range(n):
        f.write(f"# key {k}\nKEY_{k:04}=value-{k}-0123456789abcdef0123456789abcdef\n")
json.dump({f"KEY_{k:04}": f"value-{k}-0123456789abcdef0123456789abcdef" for k in range(n)},
          open(f"{w}/plain.json", "w"), indent=2)
PY

median_ms() { # runs command...
    local runs=$1; shift
    if command -v hyperfine >/dev/null; then
        nice -n 5 hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/hf.json" "$(printf '%q ' "$@")" >/dev/null 2>&1
        python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/hf.json"
    else
        nice -n 5 python3 - "$runs" "$@" <<'PY'
import subprocess, sys, time, statistics
runs, cmd = int(sys.argv[1]), sys.argv[2:]
t = []
for _ in range(runs):
    s = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True); t.append(time.perf_counter() - s)
print("%.2f" % (statistics.median(t) * 1000))
PY
    fi
}

# seal: each run seals a fresh copy (a sealed file is refused), through a small wrapper.
printf '#!/bin/sh\ncp "$1" "$2" && exec %q seal "$2" -r %q 2>/dev/null\n' "$bin" "$recipient" > "$work/seal.sh"
chmod +x "$work/seal.sh"
# edit: an editor that flips one value between two texts (so every run changes it).
printf '%s\n' '#!/bin/sh' \
    'if grep -q "value-500-" "$1"; then sed -i "s/value-500-/changed-500-/" "$1"; else sed -i "s/changed-500-/value-500-/" "$1"; fi' \
    > "$work/editor.sh"
chmod +x "$work/editor.sh"

echo "| $N keys | seal | unseal | edit (1 value) | run --file | sealed size (plain) |"
echo "|---|---|---|---|---|---|"
for fmt in env json; do
    plain="$work/plain.$fmt"
    target="$work/s.$fmt"
    seal_ms=$(median_ms "$RUNS" "$work/seal.sh" "$plain" "$target")
    cp "$plain" "$target"
    "$bin" seal "$target" -r "$recipient" 2>/dev/null
    "$bin" unseal "$target" | cmp - "$plain"
    unseal_ms=$(median_ms "$RUNS" "$bin" unseal "$target")
    edit_ms=$(EDITOR="$work/editor.sh" median_ms "$RUNS" "$bin" edit "$target")
    run_ms=$(median_ms "$RUNS" "$bin" run --file "$target" -- true)
    echo "| $fmt | $seal_ms ms | $unseal_ms ms | $edit_ms ms | $run_ms ms | $(wc -c < "$target") B ($(wc -c < "$plain") B) |"
done

cp "$work/plain.env" "$work/d.env"
"$bin" seal "$work/d.env" -r "$recipient" 2>/dev/null
cp "$work/d.env" "$work/d0.env"
EDITOR="$work/editor.sh" "$bin" edit "$work/d.env" 2>/dev/null
echo
echo "lines changed by an edit of one value of $N: $(diff "$work/d0.env" "$work/d.env" | grep -c '^>' || true)"
