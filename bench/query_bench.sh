#!/usr/bin/env bash
# Query-engine benchmark: one pool of 100,000 simulated resources; a filtered,
# sorted page of 100 next to the unfiltered page of 100 and a single GET.
# Latency with 1 connection (the cost of one request), throughput with 16.
# Writes bench/QUERY_RESULTS.md (raw wrk output in bench/out/query/).
#
#   bench/query_bench.sh [duration_seconds=10] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
rounds="${2:-3}"
O2GW_SETUP_BENCH=1 bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target o2gw >/dev/null

out=bench/out/query
rm -rf "$out" && mkdir -p "$out"
port=18191
cat > "$out/sim.yaml" <<YAML
server: {listen: 127.0.0.1:$port, access_log: false}
ocloud: {name: bench}
query: {default_page_size: 100, max_page_size: 1000}
adapters:
  - {name: sim, type: simulator, config: {pools: 1, resources_per_pool: 100000, sites: 1}}
YAML
./build/release/o2gw --config "$out/sim.yaml" 2>"$out/o2gw.log" >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done

base="http://127.0.0.1:$port/o2ims-infrastructureInventory/v2"
pool=$(curl -sf "$base/resourcePools" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["resourcePoolId"])')
list="$base/resourcePools/$pool/resources"
resource=$(curl -sf "$list?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["resourceId"])')
# About a third of the servers match; sorted by a numeric extension, descending.
filter='(gt,extensions/telemetry/cpuUtilizationPercent,40);(cont,description,server)'
enc=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$filter")
filtered="$list?filter=$enc&sort=-description&limit=100"
unfiltered="$list?limit=100"
single="$list/$resource"
# The first filtered query after a change builds the attribute columns: report it apart.
cold_s=$(curl -sf -o /dev/null -w '%{time_total}' "$filtered")
curl -sf "$filtered" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==100, len(d)'

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for name in filtered unfiltered single; do
    url="${!name}"
    wrk -t1 -c1 -d"${duration}s" --latency "$url" > "$out/wrk-$name-c1-$r.txt"
    wrk -t2 -c16 -d"${duration}s" --latency "$url" > "$out/wrk-$name-c16-$r.txt"
    sleep 1
  done
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
python3 bench/summarize_query.py "$out" "$duration" "$rounds" "$rss_kb" "$filter" "$cold_s" > bench/QUERY_RESULTS.md
cat bench/QUERY_RESULTS.md
