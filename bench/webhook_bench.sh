#!/usr/bin/env bash
# Webhook delivery benchmark: o2gw (release build) with 1,000 simulated resources,
# 1,000 include-mode subscriptions (each change matches 5 of them) and the simulator
# modifying 1,000 resources/s, delivering signed notifications to nginx answering
# 204 on loopback. Measures deliveries/s, change-to-delivery latency (from the
# o2gw_notification_delivery_seconds histogram), backlog, RSS and CPU. Variants:
# webhooks.max_in_flight 256 and 512 at 1,000 changes/s, then, with the better of
# the two, a reduced churn (500/s: a sustainable point and the latency at half the
# load) and a capacity probe at 2,000 changes/s. Writes bench/WEBHOOK_RESULTS.md
# (raw output to bench/out-webhook/).
#
#   bench/webhook_bench.sh [seconds=30] [rounds=3]
#
# WEBHOOK_BENCH_VARIANTS="name:churn:max_in_flight,..." replaces the variants;
# WEBHOOK_BENCH_REDUCED_CHURN (default 500) sets the reduced churn.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
rounds="${2:-3}"
O2GW_SETUP_BENCH=1 bash scripts/setup.sh
rev_before=$(git rev-parse --short HEAD)
cmake --preset release >/dev/null
nice cmake --build --preset release --target o2gw >/dev/null

out=bench/out-webhook
rm -rf "$out" && mkdir -p "$out"
# What was built (others may commit while the bench runs): the commit, then changed files.
{ git rev-parse --short HEAD; git status --porcelain --untracked-files=no -- src include adapters CMakeLists.txt \
    | awk '{print $NF}'
  [[ "$(git rev-parse --short HEAD)" == "$rev_before" ]] || echo "moved: HEAD was $rev_before when the build began"
} > "$out/build-rev.txt"
o2gw_port=18191
nginx_port=18192
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# The receiver. The requests of subscriptions 0-9 (1 % of the traffic) are logged with
# their arrival time and headers: a receiver-side latency sample (the notification id
# is a UUIDv7 whose timestamp is the enqueue time) and a check that what arrives is
# signed. Everything else is not logged.
cat > "$out/nginx.conf" <<NGINX
worker_processes 1;
pid $PWD/$out/nginx.pid;
error_log $PWD/$out/nginx-error.log;
daemon off;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_buffer_size 64k;
  log_format sig '\$msec \$request_method \$uri \$status \$content_length '
                 'id=\$http_x_o2_notification_id sub=\$http_x_o2_subscription_id sig=\$http_x_o2_signature';
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location ~ ^/hook/[0-9]\$ { access_log $PWD/$out/sample.log sig; return 204; }
    location /hook/ { return 204; }
    location = /nginx_status { stub_status; }
  }
}
NGINX
nginx -c "$PWD/$out/nginx.conf" -p "$PWD/$out" &
pids+=($!)
for _ in $(seq 1 100); do
  [[ -s "$out/nginx.pid" ]] && curl -sf "http://127.0.0.1:$nginx_port/nginx_status" >/dev/null && break
  sleep 0.05
done
test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$nginx_port/hook/check")" = 204

python3 bench/webhook_bench.py "$out" "$seconds" "$rounds" ./build/release/o2gw "$o2gw_port" "$nginx_port" \
  "$PWD/$out/nginx.pid"
