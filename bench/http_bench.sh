#!/usr/bin/env bash
# HTTP benchmark: o2gw (release build, simulator inventory) against nginx serving
# the same response bytes from files, in the same run, with wrk at 64 keep-alive
# connections. Also measures RSS at 100,000 resources and time-to-ready on the
# embedded default. Writes bench/RESULTS.md (and raw output to bench/out/).
#
#   bench/http_bench.sh [duration_seconds=10] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
rounds="${2:-3}"
O2GW_SETUP_BENCH=1 bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target o2gw >/dev/null

out=bench/out
rm -rf "$out" && mkdir -p "$out/www"
o2gw_port=18181
nginx_port=18182
bin=./build/release/o2gw
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_ready() {  # port
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "o2gw did not become ready" >&2; return 1
}

cat > "$out/sim10k.yaml" <<YAML
server: {listen: 127.0.0.1:$o2gw_port, access_log: false}
ocloud: {name: bench}
adapters:
  - {name: sim, type: simulator, config: {pools: 10, resources_per_pool: 1000, sites: 2}}
YAML
"$bin" --config "$out/sim10k.yaml" 2>"$out/o2gw.log" >/dev/null &
pids+=($!)
wait_ready $o2gw_port

base="http://127.0.0.1:$o2gw_port/o2ims-infrastructureInventory/v2"
pool=$(curl -sf "$base/resourcePools" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["resourcePoolId"])')
resource=$(curl -sf "$base/resourcePools/$pool/resources" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["resourceId"])')
single_path="/o2ims-infrastructureInventory/v2/resourcePools/$pool/resources/$resource"
list_path="/o2ims-infrastructureInventory/v2/resourcePools/$pool/resources"
curl -sf "http://127.0.0.1:$o2gw_port$single_path" -o "$out/www/single.json"
curl -sf "http://127.0.0.1:$o2gw_port$list_path" -o "$out/www/list.json"

cat > "$out/nginx.conf" <<NGINX
worker_processes 2;
pid $PWD/$out/nginx.pid;
error_log $PWD/$out/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 127.0.0.1:$nginx_port;
    root $PWD/$out/www;
  }
}
NGINX
nginx -c "$PWD/$out/nginx.conf" -p "$PWD/$out" &
pids+=($!)
sleep 0.5
cmp <(curl -sf "http://127.0.0.1:$nginx_port/single.json") "$out/www/single.json"

run_wrk() {  # name url
  wrk -t2 -c64 -d"${duration}s" --latency "$2" > "$out/wrk-$1-$3.txt"
}
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  run_wrk o2gw-single "http://127.0.0.1:$o2gw_port$single_path" "$r"
  run_wrk nginx-single "http://127.0.0.1:$nginx_port/single.json" "$r"
  run_wrk o2gw-list "http://127.0.0.1:$o2gw_port$list_path" "$r"
  run_wrk nginx-list "http://127.0.0.1:$nginx_port/list.json" "$r"
done
kill "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
pids=()

# RSS with 100,000 simulated resources.
cat > "$out/sim100k.yaml" <<YAML
server: {listen: 127.0.0.1:$o2gw_port, access_log: false}
ocloud: {name: bench}
adapters:
  - {name: sim, type: simulator, config: {pools: 100, resources_per_pool: 1000, sites: 4}}
YAML
"$bin" --config "$out/sim100k.yaml" 2>"$out/o2gw-100k.log" >/dev/null &
pid=$!
pids+=($pid)
wait_ready $o2gw_port
curl -sf "$base/resourcePools" >/dev/null
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
ready_100k=$(sed -n 's/.*ready in \([0-9]*\) ms.*/\1/p' "$out/o2gw-100k.log")
kill "$pid"; wait "$pid" 2>/dev/null || true
pids=()

# Time to ready on the embedded default (no flags, from the repo root).
ready_ms=()
for _ in 1 2 3 4 5; do
  O2GW_SERVER__LISTEN=127.0.0.1:$o2gw_port "$bin" 2>"$out/o2gw-default.log" >/dev/null &
  pid=$!
  wait_ready $o2gw_port
  ready_ms+=("$(sed -n 's/.*ready in \([0-9]*\) ms.*/\1/p' "$out/o2gw-default.log")")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

python3 bench/summarize.py "$out" "$duration" "$rounds" "$rss_kb" "$ready_100k" "${ready_ms[*]}" > bench/RESULTS.md
cat bench/RESULTS.md
