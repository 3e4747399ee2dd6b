#!/usr/bin/env bash
# Runs every tresor test, installing what the tests need first:
#   - Debian packages: keyutils (keyctl, kernel keyring interop), sqlite3 (audit tamper tests),
#     strace (kills `tresor unlock` at each keyring system call)
#   - Python peers in target/peers/ (seeqret, PyKMIP, ...), via tests/peers/setup.sh
#   - a throw-away PostgreSQL server (scripts/pg.sh), stopped at the end
# Reuses whatever is already installed. Works as root (CI) or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A one-off build gains nothing from incremental state (1.4 GB of target/ on a clean clone).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
    local missing=()
    for spec in "$@"; do
        local cmd=${spec%%:*} pkg=${spec##*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    step "installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

apt_install keyctl:keyutils sqlite3:sqlite3 strace:strace
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || apt_install pg_ctlcluster:postgresql

step "PostgreSQL (throw-away server on 127.0.0.1)"
eval "$(scripts/pg.sh start)"
# Servers started for the tests (PostgreSQL; peers' start.sh add their pids to TRESOR_PEER_PIDS).
TRESOR_PEER_PIDS=""
cleanup() {
    scripts/pg.sh stop "$TRESOR_PG_DIR"
    for pid in $TRESOR_PEER_PIDS; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
echo "TRESOR_TEST_PG_URL=$TRESOR_TEST_PG_URL"

step "peers (target/peers): each tests/peers/*/setup.sh installs its own and prints its exports"
command -v python3 >/dev/null || apt_install python3:python3
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq python3-venv
fi
for setup in tests/peers/*/setup.sh; do
    echo "-- $setup"
    exports=$(bash "$setup")
    eval "$exports"
    printf '%s\n' "$exports" | { grep '^export' || true; } | sed 's/^/   /'
done
# A start.sh starts a server in the background (its output to a log file, never to this
# script's stdout) and prints its exports, including `export TRESOR_PEER_PIDS="$TRESOR_PEER_PIDS <pid>"`.
for start in tests/peers/*/start.sh; do
    [ -e "$start" ] || continue
    echo "-- $start"
    exports=$(bash "$start")
    eval "$exports"
    printf '%s\n' "$exports" | { grep '^export' || true; } | sed 's/^/   /'
done

step "gates: cargo fmt --check, cargo clippy --all-targets -D warnings, cargo doc -D warnings"
gate_status=0
set +e
cargo fmt --all --check >/dev/null 2>&1 || { echo "cargo fmt --check: the code is not formatted (run cargo fmt --all)"; gate_status=1; }
cargo clippy --workspace --all-features --all-targets --quiet -- -D warnings 2>&1 | tail -40
[ "${PIPESTATUS[0]}" = 0 ] || { echo "cargo clippy: warnings (see above)"; gate_status=1; }
RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --workspace --all-features --quiet 2>&1 | tail -40
[ "${PIPESTATUS[0]}" = 0 ] || { echo "cargo doc: warnings (see above; broken or private intra-doc links)"; gate_status=1; }
set -e

step "cargo test --workspace --all-features"
df -h . | tail -1 | awk '{print "disk: " $4 " free before the build"}'
set +e
# Server logs and registered secrets of this run only (tests/common/test_logs.rs).
rm -rf target/test-logs
# (no `|| true` here: with pipefail it would run and reset PIPESTATUS to 0)
cargo test --workspace --all-features --no-fail-fast 2>&1 | tee target/test-output.log | grep -E '^(test result|running|error|warning: unused)|FAILED|panicked'
status=${PIPESTATUS[0]}
# Last: no secret in any `tresor kmip serve` log the suite left (tests/log_secrets.rs).
cargo test --workspace --all-features --test log_secrets -- --ignored --nocapture 2>&1 | tee -a target/test-output.log | grep -E '^(test result|error)|FAILED|panicked|checked [0-9]+ server logs'
[ "${PIPESTATUS[0]}" = 0 ] || status=1
set -e

step "Python door: tresor wheel (maturin) + pytest (crates/tresor-py/test.sh)"
set +e
crates/tresor-py/test.sh 2>&1 | tee target/py-test-output.log
py_status=${PIPESTATUS[0]}
set -e
[ "$py_status" = 0 ] || echo "Python tests failed (exit $py_status): see target/py-test-output.log"

# One closing line for CI, summed over every test binary.
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' target/test-output.log | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' target/test-output.log | awk '{s+=$2} END {print s+0}')
ignored=$(grep -Eo '; [0-9]+ ignored' target/test-output.log | awk '{s+=$2} END {print s+0}')
# pytest's closing lines ("21 passed, 4 xfailed in 0.6s"): passed, failed (+ errors), skipped (+ xfailed).
pytest_count() {
    { grep -E '^=* ?[0-9]+ [a-z]+.* in [0-9.]+s' target/py-test-output.log || true; } |
        { grep -Eo "[0-9]+ ($1)\b" || true; } | awk '{s+=$1} END {print s+0}'
}
passed=$((passed + $(pytest_count passed)))
failed=$((failed + $(pytest_count 'failed|errors?')))
ignored=$((ignored + $(pytest_count 'skipped|xfailed')))
if [ "$status" != 0 ]; then
    echo
    echo "cargo test failed (exit $status); the failures:"
    grep -E -A30 '^failures:$' target/test-output.log | head -200 || true
    grep -E '^error' target/test-output.log | head -50 || true
fi
echo
echo "tests: $passed passed, $failed failed, $ignored skipped"
echo "target/: $(du -sh target 2>/dev/null | cut -f1), disk: $(df -h . | tail -1 | awk '{print $4}') free"
[ "$status" != 0 ] || status=$py_status
[ "$status" != 0 ] || status=$gate_status
[ "$gate_status" = 0 ] || echo "gates failed: fmt, clippy or doc (see the gates step)"
exit "$status"
