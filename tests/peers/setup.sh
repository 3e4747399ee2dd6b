#!/usr/bin/env bash
# Installs (once) the peer implementations tresor's interop tests and benchmarks drive, under
# target/peers/ (git-ignored), and prints the environment variables that enable them. It is
# idempotent: what is present and at the right version is reused, so a second run is quick
# and needs no network.
#
#   eval "$(tests/peers/setup.sh)"      # or: source target/peers/env.sh afterwards
#
#   target/peers/seeqret    python venv: seeqret==1.0.5, python-dotenv  -> TRESOR_SEEQRET_PY
#   target/peers/dotenvx    node_modules: dotenv@16, @dotenvx/dotenvx@1  -> TRESOR_NODE_DOTENV_DIR
#   target/peers/pykmip     python venv: PyKMIP 0.11                      -> TRESOR_PYKMIP_PY
#   ...                     and whatever every other tests/peers/*/setup.sh installs
#
# Progress goes to stderr; stdout is only `export` lines (also written to target/peers/env.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
peers="$root/target/peers"
mkdir -p "$peers"
exports=()

# seeqret 1.0.5 (+ python-dotenv). tests/peers/seeqret/setup.sh does the full install
# (and the node dotenv peers); only run it when something is missing.
seeqret_py="$peers/seeqret/bin/python"
seeqret_ok() {
    [ -x "$seeqret_py" ] && "$seeqret_py" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
import dotenv  # noqa: F401
sys.exit(0 if m.version("seeqret") == "1.0.5" else 1)
PY
}
if ! seeqret_ok; then
    echo "# installing seeqret 1.0.5 into $peers/seeqret" >&2
    bash "$root/tests/peers/seeqret/setup.sh" >/dev/null
fi
seeqret_ok || { echo "error: seeqret 1.0.5 is not importable from $seeqret_py" >&2; exit 1; }
test -x "$peers/seeqret/bin/seeqret"
exports+=("export TRESOR_SEEQRET_PY=$seeqret_py")

if [ -d "$peers/dotenvx/node_modules/dotenv" ] && [ -d "$peers/dotenvx/node_modules/@dotenvx/dotenvx" ]; then
    exports+=("export TRESOR_NODE_DOTENV_DIR=$peers/dotenvx")
else
    echo "# node dotenv peers not installed (needs npm; tests/peers/seeqret/setup.sh): skipped" >&2
fi

# Every other peer folder with its own (idempotent) setup.sh: PyKMIP, moto, ... A peer that
# fails to install is reported and left out; its tests say so (and fail under CI=true).
for script in "$root"/tests/peers/*/setup.sh; do
    case "$script" in */seeqret/setup.sh) continue ;; esac
    name="$(basename "$(dirname "$script")")"
    if out="$(bash "$script")"; then
        while IFS= read -r line; do
            case "$line" in export\ *) exports+=("$line") ;; esac
        done <<<"$out"
    else
        echo "# warning: peer '$name' did not install ($script failed)" >&2
    fi
done

printf '%s\n' "${exports[@]}" > "$peers/env.sh"
printf '%s\n' "${exports[@]}"
