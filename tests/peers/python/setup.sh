#!/usr/bin/env bash
# Python peers for tresor's Python door (crates/tresor-py), under target/peers/ (git-ignored),
# reused when present at the right versions:
#   target/peers/maturin       venv: maturin 1.16 (builds the tresor wheel)    -> TRESOR_MATURIN
#   target/peers/py-originals  venv: the originals tresor's drop-ins replace, and pytest:
#                              python-linux-keyutils 0.2.1, keys-management 0.1.5,
#                              keyring 25.7                                    -> TRESOR_PY_ORIGINALS_PY
# Progress to stderr; stdout is only `export` lines.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
peers="$root/target/peers"
mkdir -p "$peers"

want_maturin="1.16.0"
if ! "$peers/maturin/bin/maturin" --version 2>/dev/null | grep -qx "maturin $want_maturin"; then
    echo "# installing maturin $want_maturin into $peers/maturin" >&2
    [ -x "$peers/maturin/bin/python" ] || python3 -m venv "$peers/maturin"
    "$peers/maturin/bin/pip" install -q "maturin==$want_maturin" >&2
fi

orig="$peers/py-originals"
if ! "$orig/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = {"python-linux-keyutils": "0.2.1", "keys-management": "0.1.5", "keyring": "25.7.0"}
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) and m.version("pytest") else 1)
PY
then
    echo "# installing the Python originals into $orig" >&2
    [ -x "$orig/bin/python" ] || python3 -m venv "$orig"
    "$orig/bin/pip" install -q python-linux-keyutils==0.2.1 keys-management==0.1.5 keyring==25.7.0 pytest >&2
fi
echo "export TRESOR_MATURIN=$peers/maturin/bin/maturin"
echo "export TRESOR_PY_ORIGINALS_PY=$orig/bin/python"
