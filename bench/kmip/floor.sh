#!/usr/bin/env bash
# The floors a one-connection KMIP benchmark cannot go below on this machine (see floor.c):
# a bare TCP round trip between two processes and a 16-page write + fsync (and + fdatasync)
# in target/.
#   bench/kmip/floor.sh [N]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n=${1:-20000}
mkdir -p "$root/target/floor"
cc -O2 -o "$root/target/floor/floor" "$root/bench/kmip/floor.c"
"$root/target/floor/floor" rtt "$n"
"$root/target/floor/floor" fsync $((n / 10)) "$root/target/floor/fsync.tmp"
"$root/target/floor/floor" fdatasync $((n / 10)) "$root/target/floor/fsync.tmp"
