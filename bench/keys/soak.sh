#!/usr/bin/env bash
# Crash soak: kill the rotating child with SIGKILL many more times than the test suite does.
# Usage: bench/keys/soak.sh [TRIALS]   (default 3000)
set -euo pipefail
cd "$(dirname "$0")/../.."
TRIALS="${1:-3000}"
TRESOR_KEYS_CRASH_TRIALS="$TRIALS" cargo test -p tresor-keys --test crash -- --exact \
    sigkill_at_random_instants_never_loses_a_decrypt_key --nocapture
