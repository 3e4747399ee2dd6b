#!/usr/bin/env bash
# Issue 7 benchmark: tresor's S3 store vs s3keyring 0.3.0 vs the raw floor, one moto server,
# one run. Prints a Markdown table for BENCHMARKS.md.
#   bench/s3/run.sh [N]      (N operations per API row, default 200; CLI rows via hyperfine)
# Needs tests/peers/moto/setup.sh (moto, s3keyring venvs); starts its own moto.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
n="${1:-200}"
eval "$(bash tests/peers/moto/setup.sh)"
eval "$(bash tests/peers/moto/start.sh)"
trap 'kill "$TRESOR_MOTO_PID" 2>/dev/null || true' EXIT
[ -n "${TRESOR_S3KEYRING:-}" ] || { echo "s3keyring 0.3.0 is not installed (tests/peers/moto/setup.sh)" >&2; exit 1; }
export AWS_ENDPOINT_URL="$TRESOR_TEST_S3_ENDPOINT" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
if [ -z "${TRESOR_BENCH_NO_BUILD:-}" ]; then   # set it to reuse the release binaries as built
    cargo build -q --release -p tresor-cli --features s3
    cargo build -q --release -p tresor-s3 --features kms --example s3_bench
fi
tdir="${CARGO_TARGET_DIR:-$root/target}"   # honoured, as by cargo build above
case "$tdir" in /*) ;; *) tdir="$root/$tdir" ;; esac
tresor="$tdir/release/tresor"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
work="$(mktemp -d)"
home="$work/home"; mkdir -p "$home"
bucket="bench-s3-$$"
curl -sf -X PUT "$AWS_ENDPOINT_URL/$bucket" >/dev/null
key=$("$TRESOR_MOTO_PY" -c "import boto3;print(boto3.client('kms').create_key()['KeyMetadata']['KeyId'])")
HOME="$home" S3KEYRING_BUCKET="$bucket" S3KEYRING_KMS_KEY_ID="$key" S3KEYRING_NAMESPACE=default \
    "$TRESOR_S3KEYRING" configure --no-ask >/dev/null

results="$work/results"
"$tdir/release/examples/s3_bench" "$bucket" "$key" "$n" >"$results"
HOME="$home" "$TRESOR_S3KEYRING_PY" bench/s3/peers.py "$bucket" "$n" >>"$results"

# CLI: one secret written by each tool.
HOME="$home" "$tresor" s3 set github bob hunter2
HOME="$home" "$TRESOR_S3KEYRING" set github bob hunter2 >/dev/null
export HOME="$home" TRESOR_STORE="s3://$bucket/.tresor" TRESOR_KMS_KEY_ID="$key"
[ "$("$tresor" s3 get github bob)" = hunter2 ]
[ "$("$tresor" get github:default:bob)" = hunter2 ]
[ "$("$TRESOR_S3KEYRING" get github bob)" = hunter2 ]
hyperfine -N -w 3 -r 30 --export-json "$work/cli.json" \
    -n "tresor s3 get" "$tresor s3 get github bob" \
    -n "tresor get (s3 store)" "$tresor get github:default:bob" \
    -n "tresor s3 get --key-cache 10m" "$tresor s3 get github bob --key-cache 10m" \
    -n "s3keyring get" "$TRESOR_S3KEYRING get github bob" >&2
"$TRESOR_MOTO_PY" - "$results" "$work/cli.json" <<'PY'
import json, sys
rows = {l.split()[0]: (float(l.split()[1]), float(l.split()[2])) for l in open(sys.argv[1]) if l.strip()}
cli = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
ms = lambda us: f"{us/1000:.2f} ms"
print("| operation (API, one process) | median | p90 | vs floor |")
print("|---|---|---|---|")
floor_get, floor_put = rows["raw_get_same_object"][0], rows["raw_put_small"][0]
for name, floor in [("raw_get_same_object", None), ("raw_get_small", None), ("tresor_get", floor_get),
                    ("boto3_get", None), ("s3keyring_get", rows["boto3_get"][0]),
                    ("raw_put_small", None), ("tresor_set", floor_put), ("tresor_create", floor_put),
                    ("boto3_put", None), ("s3keyring_set", rows["boto3_put"][0])]:
    m, p = rows[name]
    print(f"| {name} | {ms(m)} | {ms(p)} | {'' if floor is None else f'{m/floor:.2f}x'} |")
print()
print("| CLI (fresh process) | mean | min |")
print("|---|---|---|")
for k, r in cli.items():
    print(f"| {k} | {r['mean']*1000:.1f} ms | {r['min']*1000:.1f} ms |")
s3k = cli["s3keyring get"]["mean"]
for k in ("tresor s3 get", "tresor get (s3 store)", "tresor s3 get --key-cache 10m"):
    print(f"\n{k}: {s3k / cli[k]['mean']:.1f}x faster than s3keyring get", end="")
print()
PY
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$work"
