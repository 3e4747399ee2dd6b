#!/usr/bin/env bash
# tresor vault benchmark (not a test). Builds release, makes a vault with N secrets and
# measures, in one run, tresor against seeqret 1.0.5 (installed into target/peers/ if missing):
#   - CLI `get` wall time, median (hyperfine if present, else a 200-run loop)
#   - the same for `seeqret get`
#   - API gets/s: tresor `Vault::get("app:env:KEY")` (no cache, from SQLite; criterion bench
#     crates/tresor-vault/benches/get.rs) vs seeqret's Python `seeqret.get(...).value`
#   - `list` of a filter matching 10 of 100,000 secrets (API and CLI)
#   - `add` and `importenv` rates (CLI; API add from criterion)
# and prints a markdown table with the targets.
#
#   bench/vault/run.sh            # N=100000
#   N=20000 bench/vault/run.sh    # smaller, quicker
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
N=${N:-100000}
APPS=$((N / 1000))
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log() { printf '# %s\n' "$*" >&2; }

command -v hyperfine >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq hyperfine >/dev/null 2>&1 || true; }
eval "$(bash tests/peers/setup.sh 2>/dev/null)"
py="${TRESOR_SEEQRET_PY:?seeqret venv missing}"

log "building release"
cargo build --release -q -p tresor-cli
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/release/tresor"

# --- median wall time of a command, in ms --------------------------------------------------
median_ms() { # runs command...
    local runs=$1; shift
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/hf.json" "$(printf '%q ' "$@")" >/dev/null 2>&1
        python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/hf.json"
    else
        python3 - "$runs" "$@" <<'PY'
import subprocess, sys, time, statistics
runs, cmd = int(sys.argv[1]), sys.argv[2:]
t = []
for _ in range(runs):
    s = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True); t.append(time.perf_counter() - s)
print("%.2f" % (statistics.median(t) * 1000))
PY
    fi
}

# --- tresor vault with N secrets, made through the CLI (importenv rate) ---------------------
real_home="$HOME"
export HOME="$work/home" TRESOR_VAULT="$work/vault"
mkdir -p "$HOME"
"$bin" init --user bench >/dev/null
for a in $(seq 0 $((APPS - 1))); do
    python3 -c "import sys; a=sys.argv[1]; print(''.join(f'KEY_{k:03}=value-{a}-{k}-0123456789abcdef\n' for k in range(1000)), end='')" "$a" > "$work/app$a.env"
done
log "importenv: $N secrets ($APPS files of 1000)"
t0=$(date +%s.%N)
for a in $(seq 0 $((APPS - 1))); do
    "$bin" importenv "$work/app$a.env" --app "app$a" --env prod >/dev/null 2>&1
done
t1=$(date +%s.%N)
importenv_rate=$(python3 -c "print('%.0f' % ($N / ($t1 - $t0)))")

log "add: 200 CLI adds"
t0=$(date +%s.%N)
for i in $(seq 1 200); do "$bin" add key "K$i" "v$i" --app adds --env e 2>/dev/null; done
t1=$(date +%s.%N)
add_rate=$(python3 -c "print('%.0f' % (200 / ($t1 - $t0)))")

test "$("$bin" get app42:prod:KEY_500)" = "value-42-500-0123456789abcdef"
log "CLI get (tresor)"
tresor_get=$(median_ms 200 "$bin" get app42:prod:KEY_500)
log "CLI list 10 of $N (tresor)"
tresor_list=$(median_ms 50 "$bin" list 'app7:prod:KEY_00*')
test "$("$bin" list 'app7:prod:KEY_00*' --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 10

# --- seeqret vault with the same N secrets ----------------------------------------------
log "seeqret vault with $N secrets"
"$py" "$root/tests/peers/seeqret/make_fixture.py" "$work/sq" --to-pubkey "$("$bin" public-key --seeqret)" >/dev/null
export SEEQRET="$work/sq/seeqret" TESTING=TRUE
(cd "$work/sq" && HOME="$work/sq/home" "$py" - "$APPS" <<'PY'
import sqlite3, sys
from seeqret.models.secret import Secret
apps = int(sys.argv[1])
rows = []
for a in range(apps):
    for k in range(1000):
        s = Secret(f"app{a}", "prod", f"KEY_{k:03}", plaintext_value=f"value-{a}-{k}-0123456789abcdef")
        rows.append((s.app, s.env, s.key, s._value, s.type))
import os
cn = sqlite3.connect(os.path.join(os.environ["SEEQRET"], "seeqrets.db"))
cn.executemany("insert into secrets (app, env, key, value, type) values (?, ?, ?, ?, ?)", rows)
cn.commit()
PY
)
sq="$(dirname "$py")/seeqret"
test "$(HOME="$work/sq/home" "$sq" get app42:prod:KEY_500)" = "value-42-500-0123456789abcdef"
log "CLI get (seeqret)"
seeqret_get=$(HOME="$work/sq/home" median_ms 20 "$sq" get app42:prod:KEY_500)
log "API get (seeqret)"
seeqret_api=$(HOME="$work/sq/home" "$py" - <<'PY'
import time, seeqret
assert seeqret.get("KEY_500", "app42", "prod").value == "value-42-500-0123456789abcdef"
n, t = 0, time.perf_counter()
while time.perf_counter() - t < 5:
    seeqret.get("KEY_500", "app42", "prod").value; n += 1
print("%.0f" % (n / (time.perf_counter() - t)))
PY
)
seeqret_list=$(HOME="$work/sq/home" median_ms 10 "$sq" list -f 'app7:prod:KEY_00*')

# --- API (criterion) -------------------------------------------------------------------------
log "API benches (criterion; builds a 100k vault in-process)"
HOME="$real_home" cargo bench -q -p tresor-vault --bench get > "$work/criterion.log" 2>&1 || { cat "$work/criterion.log" >&2; exit 1; }
est() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "$target/criterion/$1/new/estimates.json"; }
api_get_ns=$(est vault_get_exact)
api_list_ns=$(est vault_list_10_of_100k)
api_add_ns=$(est vault_add)
api_import=$(grep -o 'import_pairs: .*' "$work/criterion.log" | head -1)

python3 - "$tresor_get" "$seeqret_get" "$api_get_ns" "$seeqret_api" "$api_list_ns" "$tresor_list" "$seeqret_list" "$api_add_ns" "$add_rate" "$importenv_rate" "$N" "$api_import" <<'PY'
import sys
(tg, sg, agns, sapi, alns, tl, sl, aans, addr, impr, n, imp) = sys.argv[1:]
tg, sg, agns, sapi, alns, tl, sl, aans = map(float, (tg, sg, agns, sapi, alns, tl, sl, aans))
ok = lambda c: "✅" if c else "❌"
api_get = 1e9 / agns
print(f"| measure ({int(n):,} secrets) | tresor | seeqret 1.0.5 | target | met |")
print("|---|---|---|---|---|")
print(f"| CLI `get` median wall time | {tg:.2f} ms | {sg:.1f} ms | < 5 ms and ≥ 50× seeqret ({sg/tg:.0f}×) | {ok(tg < 5 and sg/tg >= 50)} |")
print(f"| API `get` (no cache, SQLite) | {api_get:,.0f} /s ({agns/1000:.1f} µs) | {float(sapi):,.0f} /s (`seeqret.get().value`) | ≥ 100,000 /s | {ok(api_get >= 100000)} |")
print(f"| API `list` 10 of 100,000 | {alns/1e6:.2f} ms | – | < 20 ms | {ok(alns/1e6 < 20)} |")
print(f"| CLI `list` 10 of {int(n):,} | {tl:.1f} ms | {sl:.1f} ms | – | |")
print(f"| API `add` (one transaction, fsync) | {1e9/aans:,.0f} /s ({aans/1e6:.2f} ms) | – | – | |")
print(f"| CLI `add` (one process each) | {float(addr):,.0f} /s | – | – | |")
print(f"| CLI `importenv` (1,000 keys per file) | {float(impr):,.0f} secrets/s | – | – | |")
print(f"\nAPI {imp}")
PY
