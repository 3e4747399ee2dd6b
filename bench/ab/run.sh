#!/usr/bin/env bash
# Old-vs-new benchmark, alternated in one run (not a test): the four figures the trust-model
# issue asks to stay within 10 % after the metadata MAC checks.
#   - vault API get: criterion `vault_get_exact` (crates/tresor-vault/benches/get.rs, 100k vault)
#   - CLI `tresor get` median wall time (hyperfine, a vault of N secrets made by that binary;
#     both binaries interleaved in blocks of 20 runs within each round)
#   - KMIP Get and Create (durable), one connection (crates/tresor-kmip/examples/kmip_load/main.rs,
#     the load generator of the NEW checkout for both servers)
#
#   bench/ab/run.sh OLD_CHECKOUT NEW_CHECKOUT     # e.g. a `git worktree add /tmp/old 0ada303`
#   ROUNDS=3 N=20000 GET_N=20000 CREATE_N=2000 bench/ab/run.sh ...
#
# Each checkout is built in release in its own target/ (cargo, incremental if already built).
# Rounds alternate the order (old,new / new,old / ...). Prints every sample and a markdown
# table of medians with new/old ratios.
set -euo pipefail
OLD=$(cd "$1" && pwd); NEW=$(cd "$2" && pwd)
ROUNDS=${ROUNDS:-3}; N=${N:-20000}; GET_N=${GET_N:-20000}; CREATE_N=${CREATE_N:-2000}
work="$(mktemp -d "${TMPDIR:-/tmp}/tresor-ab.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
log() { printf '# %s\n' "$*" >&2; }
command -v hyperfine >/dev/null || { echo "hyperfine missing (apt-get install hyperfine)" >&2; exit 2; }

build() { # CHECKOUT -> prints "TRESOR_BIN GET_BENCH_BIN"
    (cd "$1" && cargo build --release -q -p tresor-cli >&2 &&
        bench=$(cargo bench --no-run -q -p tresor-vault --bench get --message-format=json 2>/dev/null |
            python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "get" and m.get("executable"):
        print(m["executable"])' | tail -1) &&
        echo "$1/target/release/tresor $bench")
}
log "building $OLD and $NEW (release)"
read -r old_bin old_bench < <(build "$OLD")
read -r new_bin new_bench < <(build "$NEW")
(cd "$NEW" && cargo build --release -q -p tresor-kmip --example kmip_load --example kmip_certs)
load="$NEW/target/release/examples/kmip_load"
"$NEW/target/release/examples/kmip_certs" "$work/certs" >/dev/null
samples="$work/samples.txt"; : >"$samples"

# A vault of N secrets per binary (importenv of N/1000 files), its own HOME.
make_vault() { # LABEL BIN
    local d="$work/$1" a
    mkdir -p "$d/home"
    HOME="$d/home" TRESOR_VAULT="$d/vault" "$2" init --user bench >/dev/null 2>&1
    for a in $(seq 0 $((N / 1000 - 1))); do
        python3 -c "import sys; a=sys.argv[1]; print(''.join(f'KEY_{k:03}=value-{a}-{k}-0123456789abcdef\n' for k in range(1000)), end='')" "$a" >"$d/app.env"
        HOME="$d/home" TRESOR_VAULT="$d/vault" "$2" importenv "$d/app.env" --app "app$a" --env prod >/dev/null 2>&1
    done
    test "$(HOME="$d/home" TRESOR_VAULT="$d/vault" "$2" get app7:prod:KEY_500)" = "value-7-500-0123456789abcdef"
}
log "vaults of $N secrets"
make_vault old "$old_bin"; make_vault new "$new_bin"

api_get() { # LABEL BENCH_BIN: criterion median of vault_get_exact, ns
    local out
    out=$(cd "$work" && "$2" --bench vault_get_exact --warm-up-time 2 --measurement-time 5 --noplot 2>/dev/null)
    python3 -c '
import re, sys
m = re.search(r"vault_get_exact\s+time:\s+\[\S+ \S+ (\S+) (\S+)", sys.stdin.read())
v, u = float(m.group(1)), m.group(2)
print(v * {"ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6}[u])' <<<"$out" | sed "s/^/API_GET_NS $1 /" >>"$samples"
}
cli_get() { # the two binaries' `tresor get`, interleaved: 10 blocks of 20 runs each, old and new
    # alternated block by block (a host that slows down for a second slows both), every run's
    # time pooled per binary; the round's sample is each binary's median.
    local l b d
    : >"$work/cli_old.txt"; : >"$work/cli_new.txt"
    for _ in $(seq 1 10); do
        for l in old new; do
            if [ "$l" = old ]; then b=$old_bin; else b=$new_bin; fi
            d="$work/$l"
            HOME="$d/home" TRESOR_VAULT="$d/vault" hyperfine -N --warmup 3 --runs 20 \
                --export-json "$work/hf.json" "$b get app7:prod:KEY_500" >/dev/null 2>&1
            python3 -c 'import json,sys; print("\n".join("%.6f" % t for t in json.load(open(sys.argv[1]))["results"][0]["times"]))' \
                "$work/hf.json" >>"$work/cli_$l.txt"
        done
    done
    for l in old new; do
        python3 -c 'import statistics,sys; print("%.3f" % (statistics.median(float(x) for x in open(sys.argv[1])) * 1000))' \
            "$work/cli_$l.txt" | sed "s/^/CLI_GET_MS $l /" >>"$samples"
    done
}
kmip() { # LABEL BIN
    local store="$work/kmip-$1-$RANDOM" line port pid
    "$2" kmip serve --listen 127.0.0.1:0 --cert "$work/certs/server.crt" \
        --key "$work/certs/server.key" --ca "$work/certs/ca.crt" --store "$store" \
        2>"$work/serve.log" &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1 200); do grep -q "listening on" "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
    line=$(grep -m1 "listening on" "$work/serve.log"); port="${line##*:}"
    "$load" --server "127.0.0.1:$port" --certs "$work/certs" --label "$1" \
        create:"$CREATE_N" get:"$GET_N" | awk -v l="$1" '
            $1 == "RESULT" && $3 ~ /^create:/ { print "KMIP_CREATE_PER_S", l, $6; print "KMIP_CREATE_P50_US", l, $7 }
            $1 == "RESULT" && $3 ~ /^get:/    { print "KMIP_GET_PER_S", l, $6; print "KMIP_GET_P50_US", l, $7 }' >>"$samples"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
one() { # LABEL
    local bin bench
    if [ "$1" = old ]; then bin=$old_bin bench=$old_bench; else bin=$new_bin bench=$new_bench; fi
    log "round $r: $1"
    api_get "$1" "$bench"; kmip "$1" "$bin"
}
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then one old; one new; else one new; one old; fi
    cli_get
done
cat "$samples" >&2
python3 - "$samples" "$(cd "$OLD" && git rev-parse --short HEAD)" "$(cd "$NEW" && git rev-parse --short HEAD)" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, label, v = line.split()
    rows.setdefault(k, {}).setdefault(label, []).append(float(v))
names = {
    "API_GET_NS": ("vault API get (criterion, ns/op)", False),
    "CLI_GET_MS": ("CLI `tresor get` median wall (ms)", False),
    "KMIP_GET_PER_S": ("KMIP Get, 1 connection (/s)", True),
    "KMIP_GET_P50_US": ("KMIP Get p50 (µs)", False),
    "KMIP_CREATE_PER_S": ("KMIP Create durable, 1 connection (/s)", True),
    "KMIP_CREATE_P50_US": ("KMIP Create p50 (µs)", False),
}
print(f"| measure | old {sys.argv[2]} (median; samples) | new {sys.argv[3]} (median; samples) | new vs old | within 10 % |")
print("|---|---|---|---|---|")
for k, (name, higher_better) in names.items():
    if k not in rows: continue
    o, n = rows[k]["old"], rows[k]["new"]
    mo, mn = statistics.median(o), statistics.median(n)
    change = (mn - mo) / mo * (1 if higher_better else -1)  # >0: new is better
    fmt = lambda xs: ", ".join(f"{x:,.3g}" if x < 100 else f"{x:,.0f}" for x in xs)
    print(f"| {name} | {mo:,.3g} ({fmt(o)}) | {mn:,.3g} ({fmt(n)}) | {'+' if change >= 0 else ''}{change*100:.1f} % | {'yes' if change >= -0.10 else 'NO'} |")
PY
