#!/usr/bin/env bash
# Builds the tresor wheel and runs the Python suites (called by scripts/test.sh; also
# runnable alone after `eval "$(tests/peers/python/setup.sh)"`).
#
#   1. maturin (TRESOR_MATURIN) builds the abi3 wheel (with S3 stores, as every wheel:
#      pyproject.toml; the keyring backend's S3 storage runs on moto) with cargo's dev profile into
#      target/wheels/py/, in the workspace's target dir (dependencies are built with
#      opt-level 2 in that profile, and already compiled ones are reused);
#   2. a fresh venv target/py-test-venv gets the wheel and pytest;
#   3. the drop-in suites (tests/dropin) run against the originals from PyPI
#      (TRESOR_PY_ORIGINALS_PY, TRESOR_PY_IMPL=original: they must pass there) and then
#      against the wheel (TRESOR_PY_IMPL=tresor), with tresor's own suites (tests/core):
#      python_linux_keyutils and keys_management (dual-run, the originals' bugs marked
#      `original_bug`); tests/core/test_kmip.py runs one KMIP session script with PyKMIP's
#      client (TRESOR_PYKMIP_PY) and with tresor.kmip against `tresor kmip serve`
#      (target/debug/tresor, built by the cargo run before) and `pykmip-server`;
#      tests/core/test_fresh_install.py installs the wheel alone into a fresh venv and
#      imports python_linux_keyutils, keys_management and tresor.
#
# Each pytest run ends with its usual closing line (`=== N passed, ... in Ns ===`);
# scripts/test.sh adds them to its totals. Exit status: non-zero if any run failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
: "${TRESOR_MATURIN:?run tests/peers/python/setup.sh first (it prints TRESOR_MATURIN)}"
: "${TRESOR_PY_ORIGINALS_PY:?run tests/peers/python/setup.sh first (it prints TRESOR_PY_ORIGINALS_PY)}"

start=$(date +%s)
wheels="$root/target/wheels/py"
rm -rf "$wheels"
echo "==> maturin build (dev profile) of crates/tresor-py"
"$TRESOR_MATURIN" build --quiet -m "$here/Cargo.toml" --profile dev -i python3 -o "$wheels" 2>&1 \
    | grep -Ev '^\s*(Compiling|Fresh|Checking)\b' || true
wheel=$(ls "$wheels"/tresor-*.whl)
built=$(date +%s)

venv="$root/target/py-test-venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check pytest "keyring==25.7.0" "$wheel"
installed=$(date +%s)

status=0
cd "$here/tests"
echo "==> pytest: drop-in suites against the originals from PyPI"
TRESOR_PY_IMPL=original "$TRESOR_PY_ORIGINALS_PY" -m pytest -q -p no:cacheprovider \
    --import-mode=importlib dropin || status=1
echo "==> pytest: drop-in suites and tresor's suites against the wheel"
TRESOR_PY_IMPL=tresor TRESOR_WHEEL="$wheel" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    --import-mode=importlib dropin core || status=1
done_at=$(date +%s)
echo "python door: wheel built in $((built - start)) s, venv $((installed - built)) s, pytest $((done_at - installed)) s"
exit "$status"
