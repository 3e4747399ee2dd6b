#!/usr/bin/env bash
# Install the peers tresor-vault's interop tests use, under target/peers/
# (git-ignored), and print the environment variables that enable them.
#   target/peers/seeqret   python venv: seeqret==1.0.5 and python-dotenv
#   target/peers/dotenvx   node_modules: dotenv@16 and @dotenvx/dotenvx@1
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
peers="$root/target/peers"
mkdir -p "$peers"
if [ ! -x "$peers/seeqret/bin/python" ]; then
    python3 -m venv "$peers/seeqret"
fi
"$peers/seeqret/bin/pip" install -q seeqret==1.0.5 python-dotenv
if command -v npm >/dev/null; then
    mkdir -p "$peers/dotenvx"
    (cd "$peers/dotenvx" && { [ -f package.json ] || npm init -y >/dev/null; } \
        && npm install -q --no-audit --no-fund dotenv@16 @dotenvx/dotenvx@1 >/dev/null)
    echo "export TRESOR_NODE_DOTENV_DIR=$peers/dotenvx"
else
    echo "# npm not found: node dotenv/dotenvx checks will be skipped" >&2
fi
echo "export TRESOR_SEEQRET_PY=$peers/seeqret/bin/python"
