#!/usr/bin/env bash
# Builds Cosmian KMS's server (`cosmian_kms`, crates.io package `cosmian_kms_server`, non-FIPS)
# ONCE into a cache outside the checkout, for the KMIP benchmark's peer rows (bench/kmip):
#   ${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}/cosmian-kms/bin/cosmian_kms
# `cargo install --features non-fips` cannot resolve the feature (it names a dev-dependency),
# so the source is fetched with `cargo info` into the cargo registry, copied into the cache
# and built there with its own Cargo.lock (`--locked`). Its code is never copied into this
# repository. About 25 minutes on 2 idle cores; run it niced, in the background.
set -euo pipefail
version=${COSMIAN_KMS_VERSION:-5.28.0}
cache="${TRESOR_PEERS_CACHE:-$HOME/.cache/tresor-peers}/cosmian-kms"
mkdir -p "$cache/bin"
if [ -x "$cache/bin/cosmian_kms" ] && [ "$(cat "$cache/version" 2>/dev/null)" = "$version" ]; then
    echo "# cosmian_kms $version already in $cache" >&2
    exit 0
fi
if ! pkg-config --exists openssl 2>/dev/null; then
    sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >&2
fi
(cd "$cache" && cargo info "cosmian_kms_server@$version" >/dev/null)
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"cosmian_kms_server-$version" | head -1)
[ -d "$src" ] || { echo "error: cosmian_kms_server $version source not found in the cargo registry" >&2; exit 1; }
rm -rf "$cache/src" && cp -r "$src" "$cache/src"
(cd "$cache/src" && CARGO_TARGET_DIR="$cache/target" nice -n 19 \
    cargo build --release --locked --features non-fips --bin cosmian_kms >&2)
cp "$cache/target/release/cosmian_kms" "$cache/bin/cosmian_kms.tmp"
mv "$cache/bin/cosmian_kms.tmp" "$cache/bin/cosmian_kms"
echo "$version" > "$cache/version"
rm -rf "$cache/target" "$cache/src"
echo "# cosmian_kms $version built into $cache" >&2
