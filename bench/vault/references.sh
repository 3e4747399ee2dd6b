#!/usr/bin/env bash
# Moved: bench/references/run.sh (same variables).
exec "$(cd "$(dirname "$0")/.." && pwd)/references/run.sh" "$@"
