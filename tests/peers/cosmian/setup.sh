#!/usr/bin/env bash
# Cosmian's KMS client (`ckms`, crates.io `ckms` 5.28.0 over the `cosmian_kms_cli` library),
# reused from a cache OUTSIDE the checkout; never built here, because its build (~its whole
# KMS client stack and OpenSSL bindings) would take a fresh 2-core CI machine past its time
# budget. Fill the cache once with tests/peers/cosmian/build.sh (niced, resumable).
# Prints `export TRESOR_CKMS=...` when the cache holds it, else a loud notice on stderr.
set -euo pipefail
cache="${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}/cosmian-cli"
if [ -x "$cache/bin/ckms" ]; then
    echo "# ckms $(cat "$cache/version" 2>/dev/null || echo '?') from $cache" >&2
    echo "export TRESOR_CKMS=$cache/bin/ckms"
else
    cat >&2 <<MSG
########################################################################
# NOT TESTED: Cosmian's client (ckms) is not in $cache.
# Build it once (long, niced): bash tests/peers/cosmian/build.sh
########################################################################
MSG
fi
