#!/usr/bin/env bash
# Kubernetes IMS adapter benchmark: o2gw (release build) watching the fake API
# server (tests/support/fake_kube_apiserver.py) with 5,000 nodes. Measures time
# to ready, watch ingest (changes/s into the inventory cache, with the CPU of
# the fake and of o2gw to show which one sets the pace) and memory per node.
# Medians of the rounds go to bench/K8S_RESULTS.md, raw output to bench/out-k8s/.
#
#   bench/k8s_bench.sh [nodes=5000] [rounds=3]
#
# K8S_BENCH_BUILD_DIR (default build/release) is the release build to use; it is
# configured with the release preset and o2gw is built there first.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes="${1:-5000}"
rounds="${2:-3}"
build="${K8S_BENCH_BUILD_DIR:-build/release}"

cmake --preset release -B "$build" >/dev/null
nice cmake --build "$build" --target o2gw >/dev/null
rev="commit $(git rev-parse --short HEAD)"
if [[ -n "$(git status --porcelain --untracked-files=no -- src include adapters CMakeLists.txt)" ||
      -n "$(git status --porcelain -- adapters/ims/kubernetes src/k8s)" ]]; then
  rev="$rev plus uncommitted changes to src/, include/ or adapters/"
fi

out=bench/out-k8s
rm -rf "$out" && mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  # Start each round on a machine that is not busy with something else, within reason.
  for _ in $(seq 1 60); do
    awk '{exit !($1 < 2.0)}' /proc/loadavg && break
    sleep 1
  done
  python3 bench/k8s_bench.py --binary "$build/o2gw" --nodes "$nodes" --out "$out" --round "$round" \
    | tee -a "$out/rounds.jsonl"
done
python3 bench/k8s_bench.py --summarize "$out/rounds.jsonl" --results bench/K8S_RESULTS.md \
  --command "K8S_BENCH_BUILD_DIR=$build bench/k8s_bench.sh $nodes $rounds" --build-rev "$rev"
echo "wrote bench/K8S_RESULTS.md"
