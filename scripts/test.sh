#!/usr/bin/env bash
# Builds o2gw and runs every test. Usage: scripts/test.sh [preset]
# (dev by default; asan-ubsan and tsan are the sanitizer presets).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"
O2GW_REQUIRE_TOOLS=1 bash scripts/setup.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
