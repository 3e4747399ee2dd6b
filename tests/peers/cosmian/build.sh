#!/usr/bin/env bash
# Builds Cosmian's KMS client (`ckms`; crates.io package `ckms`, the binary over the library
# `cosmian_kms_cli`, which has no binary of its own since 5.x) ONCE into a cache
# outside the checkout, reused by every later run and every checkout:
#   ${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}/cosmian-cli/bin/ckms
# A debug build (`cargo install --debug`): an interop client needs no optimisation, and it
# costs ~5 CPU-minutes (about 3 minutes on 2 idle cores) where the release profile's LTO
# costs over 30. Its build target dir stays in the cache until it succeeds, so an
# interrupted build resumes. tests/peers/cosmian/setup.sh runs it when the cache is empty.
set -euo pipefail
version=${COSMIAN_CLI_VERSION:-5.28.0}
cache="${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}/cosmian-cli"
mkdir -p "$cache"
if [ -x "$cache/bin/ckms" ] && [ "$(cat "$cache/version" 2>/dev/null)" = "$version" ]; then
    echo "# ckms $version already in $cache" >&2
    exit 0
fi
# openssl-sys needs the system OpenSSL headers and pkg-config.
if ! pkg-config --exists openssl 2>/dev/null; then
    sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >&2
fi
CARGO_TARGET_DIR="$cache/target" nice -n 10 cargo install --locked --debug ckms \
    --version "$version" --features non-fips --root "$cache" >&2
echo "$version" > "$cache/version"
# The build directory is large; the binary is all the tests need.
rm -rf "$cache/target"
echo "# ckms $version built into $cache" >&2
