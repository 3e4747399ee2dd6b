#!/usr/bin/env bash
# Create (or reuse) the PyKMIP peer venv used by tresor-kmip's interop tests and
# benchmark, under target/peers/pykmip (git-ignored), and print the variable that
# enables them:
#   export TRESOR_PYKMIP_PY=<root>/target/peers/pykmip/bin/python
# PyKMIP 0.11.0 does not work with cryptography >= 51, hence the pin.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="$root/target/peers/pykmip"
mkdir -p "$root/target/peers"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
k = m.version("pykmip"); c = m.version("cryptography")
sys.exit(0 if k == "0.11.0" and int(c.split(".")[0]) < 51 else 1)
PY
then
    "$venv/bin/pip" install -q "pykmip==0.11.0" "cryptography<51" >&2
fi
"$venv/bin/python" -c 'import kmip, cryptography; print("# pykmip", kmip.__version__, "cryptography", cryptography.__version__)' >&2
test -x "$venv/bin/pykmip-server"
echo "export TRESOR_PYKMIP_PY=$venv/bin/python"
