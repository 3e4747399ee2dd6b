#!/usr/bin/env bash
# Cosmian's KMS client (`ckms`, crates.io `ckms` 5.28.0 over the `cosmian_kms_cli` library),
# kept in a cache OUTSIDE the checkout and reused by every run and checkout. When the cache
# is empty it is built there first (tests/peers/cosmian/build.sh: a debug build, ~3 minutes
# on 2 idle cores, bounded here by TRESOR_CKMS_BUILD_TIMEOUT seconds, default 1200).
# Prints `export TRESOR_CKMS=...`; if the build fails, a loud NOT TESTED notice with the
# reason on stderr instead (the ckms test then says NOT TESTED too).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}/cosmian-cli"
if [ ! -x "$cache/bin/ckms" ]; then
    echo "# ckms is not in $cache: building it once (debug build, a few minutes)" >&2
    log="$(mktemp /tmp/ckms-build.XXXXXX.log)"
    if ! timeout "${TRESOR_CKMS_BUILD_TIMEOUT:-1200}" bash "$here/build.sh" >"$log" 2>&1; then
        tail -n 20 "$log" >&2 || true
        cat >&2 <<MSG
########################################################################
# NOT TESTED: building Cosmian's client (ckms) failed or timed out (log above: $log).
# Retry with: bash tests/peers/cosmian/build.sh
########################################################################
MSG
        exit 0
    fi
    rm -f "$log"
fi
echo "# ckms $(cat "$cache/version" 2>/dev/null || echo '?') from $cache" >&2
echo "export TRESOR_CKMS=$cache/bin/ckms"
