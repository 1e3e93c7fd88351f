#!/usr/bin/env bash
# Builds o2gw (release preset) and starts it. With no arguments it serves the
# example inventory on 0.0.0.0:8080. Extra arguments are passed to o2gw.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target o2gw
exec ./build/release/o2gw "$@"
