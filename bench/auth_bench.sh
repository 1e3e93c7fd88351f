#!/usr/bin/env bash
# Authentication benchmark: what JWT authentication and TLS cost on one single
# resource GET. Four gateways run side by side on the embedded default
# inventory: plain/no-auth, plain/JWT, TLS/no-auth, TLS/JWT (plus plain/JWT with
# the verified-token cache off, to show the uncached RS256 cost). nginx serves
# the same bytes over plain HTTP and TLS as a ceiling. wrk -t2 -c50 for each
# target, interleaved round by round, medians of the rounds. The aim: JWT
# throughput >= 80% of no-auth, over plain HTTP and over TLS.
# Writes bench/AUTH_RESULTS.md (raw output in bench/out-auth/).
#
#   bench/auth_bench.sh [duration_seconds=10] [rounds=3]
#   AUTH_BENCH_BUILD_DIR=build/x bench/auth_bench.sh   # use (and build) that release build dir
#   AUTH_BENCH_CONFIGS="plain-noauth tls-noauth" bench/auth_bench.sh   # a subset of the gateways
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
rounds="${2:-3}"
connections=50

if [[ -n "${AUTH_BENCH_BUILD_DIR:-}" ]]; then
  build="$AUTH_BENCH_BUILD_DIR"
  [[ -f "$build/CMakeCache.txt" ]] || nice cmake --preset release -B "$build" >/dev/null
  nice cmake --build "$build" --target o2gw >/dev/null
else
  build=build/release
  nice cmake --preset release >/dev/null
  nice cmake --build --preset release --target o2gw >/dev/null
fi
bin="$build/o2gw"
grep -q 'CMAKE_BUILD_TYPE:STRING=RelWithDebInfo' "$build/CMakeCache.txt" || {
  echo "$build is not a release build" >&2; exit 1; }

out=bench/out-auth
rm -rf "$out" && mkdir -p "$out/www"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# ---- Keys, certificate, JWKS and token (openssl CLI; python3 only for base64url and JSON) ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$out/tls.key" -out "$out/tls.crt" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/jwt.key" 2>/dev/null
issuer="https://issuer.bench.invalid"
audience="o2gw"
python3 - "$out" "$issuer" "$audience" <<'PY'
import base64, json, re, subprocess, sys, time
out, issuer, audience = sys.argv[1:4]

def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

text = subprocess.run(["openssl", "rsa", "-in", f"{out}/jwt.key", "-noout", "-text"],
                      capture_output=True, text=True, check=True).stdout
modulus = bytes.fromhex(re.search(r"modulus:\n((?:\s+[0-9a-f:]+\n)+)", text).group(1).replace(":", "")
                        .replace(" ", "").replace("\n", ""))
modulus = modulus.lstrip(b"\x00")  # the text form carries a sign byte
exponent = int(re.search(r"publicExponent: (\d+)", text).group(1))
e_bytes = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
jwks = {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "bench-1", "n": b64url(modulus), "e": b64url(e_bytes)}]}
json.dump(jwks, open(f"{out}/jwks.json", "w"))

now = int(time.time())
header = {"alg": "RS256", "typ": "JWT", "kid": "bench-1"}
claims = {"iss": issuer, "aud": audience, "sub": "bench-smo", "roles": ["reader"], "iat": now, "nbf": now - 60,
          "exp": now + 6 * 3600}
signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
    b64url(json.dumps(claims, separators=(",", ":")).encode())
signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", f"{out}/jwt.key", "-binary"],
                           input=signing_input.encode(), capture_output=True, check=True).stdout
open(f"{out}/token.jwt", "w").write(signing_input + "." + b64url(signature))
PY
token=$(cat "$out/token.jwt")

# ---- The gateways ----
declare -A port=([plain-noauth]=18191 [plain-jwt]=18192 [tls-noauth]=18193 [tls-jwt]=18194 [nocache-plain-jwt]=18195)
nginx_port=18196
nginx_tls_port=18197
# Names never prefix one another: wrkstats globs wrk-<name>-*.txt.
# AUTH_BENCH_CONFIGS="plain-noauth tls-noauth" runs a subset (a dry run, or while a feature is missing).
read -r -a gateways <<< "${AUTH_BENCH_CONFIGS:-plain-noauth plain-jwt tls-noauth tls-jwt nocache-plain-jwt}"
for name in "${gateways[@]}"; do [[ -n "${port[$name]:-}" ]] || { echo "unknown configuration $name" >&2; exit 1; }; done

scheme_of() { [[ "$1" == tls-* ]] && echo https || echo http; }

write_config() {  # name
  local name="$1" tls="" auth="{enabled: false}"
  [[ "$name" == tls-* ]] && tls=", tls: {cert_file: $PWD/$out/tls.crt, key_file: $PWD/$out/tls.key}"
  if [[ "$name" == *-jwt* ]]; then
    local cache=10000
    [[ "$name" == nocache-* ]] && cache=0
    auth="{enabled: true, jwt: {issuer: \"$issuer\", audience: $audience, jwks_file: $PWD/$out/jwks.json,
          algorithms: [RS256], roles_claim: roles, cache_entries: $cache}}"
  fi
  cat > "$out/$name.yaml" <<YAML
server: {listen: 127.0.0.1:${port[$name]}, access_log: false$tls}
data_dir: $PWD/$out/data-$name
ocloud: {name: bench}
adapters:
  - {name: example-file, category: ims, type: file, config: {path: deploy/inventory/example-inventory.yaml}}
auth: $auth
rate_limit: {enabled: false}
audit: {enabled: true, path: $PWD/$out/audit-$name.log}
YAML
}

curl_gw() {  # name path [extra curl args...]
  local name="$1" path="$2"; shift 2
  curl -s --cacert "$out/tls.crt" "$@" "$(scheme_of "$name")://127.0.0.1:${port[$name]}$path"
}

wait_ready() {  # name pid
  for _ in $(seq 1 600); do
    if curl_gw "$1" /readyz -f -o /dev/null 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "o2gw $1 did not become ready; its log:" >&2
  tail -20 "$out/o2gw-$1.log" >&2
  return 1
}

for name in "${gateways[@]}"; do
  write_config "$name"
  mkdir -p "$out/data-$name"
  "$bin" --config "$out/$name.yaml" 2>"$out/o2gw-$name.log" >/dev/null &
  pids+=($!)
  wait_ready "$name" $!
done

# The path: the first resource of the first pool, as http_bench.sh's single GET.
base=/o2ims-infrastructureInventory/v2
probe="${gateways[0]}"
probe_get() {  # path [curl args...]: from the first gateway, with the token when it wants one
  local path="$1"; shift
  if [[ "$probe" == *-jwt* ]]; then curl_gw "$probe" "$path" -f -H "Authorization: Bearer $token" "$@"
  else curl_gw "$probe" "$path" -f "$@"; fi
}
pool=$(probe_get "$base/resourcePools" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["resourcePoolId"])')
resource=$(probe_get "$base/resourcePools/$pool/resources" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["resourceId"])')
single_path="$base/resourcePools/$pool/resources/$resource"
probe_get "$single_path" -o "$out/www/single.json"

# Every gateway must serve the same bytes, and the JWT ones must refuse a request without the token:
# a benchmark of a gateway that does not check would prove nothing.
for name in "${gateways[@]}"; do
  if [[ "$name" == *-jwt* ]]; then
    status=$(curl_gw "$name" "$single_path" -o /dev/null -w '%{http_code}')
    [[ "$status" == 401 ]] || { echo "$name: GET without a token gave $status, expected 401" >&2; exit 1; }
    curl_gw "$name" "$single_path" -f -H "Authorization: Bearer $token" -o "$out/www/check-$name.json" ||
      { echo "$name: GET with the token failed: $(curl_gw "$name" "$single_path" -H "Authorization: Bearer $token")" >&2; exit 1; }
  else
    curl_gw "$name" "$single_path" -f -o "$out/www/check-$name.json"
  fi
  cmp "$out/www/single.json" "$out/www/check-$name.json"
done

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
  ssl_protocols TLSv1.3;
  server {
    listen 127.0.0.1:$nginx_port;
    listen 127.0.0.1:$nginx_tls_port ssl;
    ssl_certificate $PWD/$out/tls.crt;
    ssl_certificate_key $PWD/$out/tls.key;
    root $PWD/$out/www;
  }
}
NGINX
nginx -c "$PWD/$out/nginx.conf" -p "$PWD/$out" &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$nginx_port/single.json" -o /dev/null && break; sleep 0.05; done
cmp <(curl -sf "http://127.0.0.1:$nginx_port/single.json") "$out/www/single.json"
cmp <(curl -sf --cacert "$out/tls.crt" "https://127.0.0.1:$nginx_tls_port/single.json") "$out/www/single.json"

run_wrk() {  # name round url [wrk args...]
  local name="$1" round="$2" url="$3"; shift 3
  wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" "$url" > "$out/wrk-$name-$round.txt"
}
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for name in "${gateways[@]}"; do
    url="$(scheme_of "$name")://127.0.0.1:${port[$name]}$single_path"
    if [[ "$name" == *-jwt* ]]; then
      run_wrk "$name" "$r" "$url" -H "Authorization: Bearer $token"
    else
      run_wrk "$name" "$r" "$url"
    fi
  done
  run_wrk nginx-plain "$r" "http://127.0.0.1:$nginx_port/single.json"
  run_wrk nginx-tls "$r" "https://127.0.0.1:$nginx_tls_port/single.json"
done

python3 - "$out" "$duration" "$rounds" "$connections" "$(uname -r)" "$(git status --porcelain | wc -l)" \
  "$(wc -c < "$out/token.jwt")" > bench/AUTH_RESULTS.md <<'PY'
import glob, os, statistics, sys
sys.path.insert(0, "bench")
from wrkstats import machine_lines, medians, parse

out, duration, rounds, connections, kernel, dirty, token_bytes = sys.argv[1:8]
names = ("plain-noauth", "plain-jwt", "tls-noauth", "tls-jwt", "nocache-plain-jwt", "nginx-plain", "nginx-tls")
m = {name: medians(out, name) for name in names if os.path.exists(os.path.join(out, f"wrk-{name}-1.txt"))}
size = os.path.getsize(os.path.join(out, "www", "single.json"))

print("# Authentication benchmark results\n")
lines = machine_lines()
if int(dirty) > 0:
    lines[0] += f" plus uncommitted changes ({dirty} paths)"
print("\n".join(lines))
print(f"- kernel: {kernel}; nproc: {os.cpu_count()}")
print(f"- command: `bench/auth_bench.sh {duration} {rounds}` (wrk -t2 -c{connections} -d{duration}s --latency, "
      f"{rounds} rounds interleaved, medians). The machine is shared and noisy, and the gateways, nginx and wrk "
      f"share its cores: read ratios, not absolute numbers.")
print("- o2gw: release preset, embedded default inventory (example-file adapter), access log off, "
      "audit log on (GETs are not audited), rate limiting off, threads = cores")
print(f"- request: GET of one resource ({size} B body), the same path in every configuration; "
      f"JWT runs send `Authorization: Bearer` with an RS256 token ({token_bytes} B, roles [reader]) "
      "verified against a JWKS file; TLS 1.3 with an RSA-2048 self-signed certificate, keep-alive connections")
print("- nginx: 2 workers serving the same bytes from a file, plain and TLS 1.3 (a ceiling, no authentication)\n")
print("| configuration | req/s (median) | vs no-auth | vs nginx | p50 ms | p99 ms | non-2xx | req/s per round |")
print("|---|---|---|---|---|---|---|---|")
rows = (("plain HTTP, no auth", "plain-noauth", "plain-noauth", "nginx-plain"),
        ("plain HTTP, JWT", "plain-jwt", "plain-noauth", "nginx-plain"),
        ("TLS, no auth", "tls-noauth", "tls-noauth", "nginx-tls"),
        ("TLS, JWT", "tls-jwt", "tls-noauth", "nginx-tls"),
        ("plain HTTP, JWT, token cache off", "nocache-plain-jwt", "plain-noauth", "nginx-plain"),
        ("nginx, plain HTTP", "nginx-plain", None, None),
        ("nginx, TLS", "nginx-tls", None, None))
for label, key, base, ceiling in rows:
    if key not in m:
        print(f"| {label} | not run | | | | | | |")
        continue
    rps, p50, p99, non2xx, _ = m[key]
    vs_base = f"{rps / m[base][0]:.2f}" if base in m else ""
    vs_ceiling = f"{rps / m[ceiling][0]:.2f}" if ceiling in m else ""
    rounds_rps = ", ".join(f"{parse(p)[0]:.0f}" for p in sorted(glob.glob(os.path.join(out, f"wrk-{key}-*.txt"))))
    print(f"| {label} | {rps:.0f} | {vs_base} | {vs_ceiling} | {p50:.2f} | {p99:.2f} | {non2xx} | {rounds_rps} |")


def ratio(transport):
    auth, none = m.get(f"{transport}-jwt"), m.get(f"{transport}-noauth")
    if not auth or not none:
        return "not measured"
    r = auth[0] / none[0]
    # The two runs of a round are back to back, so their ratio sees the same background load.
    per_round = [parse(os.path.join(out, f"wrk-{transport}-jwt-{i}.txt"))[0] /
                 parse(os.path.join(out, f"wrk-{transport}-noauth-{i}.txt"))[0] for i in range(1, auth[4] + 1)]
    return (f"{r:.2f} ({'meets' if r >= 0.8 else 'misses'} the 0.80 goal); per round "
            f"{', '.join(f'{x:.2f}' for x in per_round)}, median {statistics.median(per_round):.2f}")


print()
print(f"- JWT / no-auth over plain HTTP: {ratio('plain')}")
print(f"- JWT / no-auth over TLS: {ratio('tls')}")
print("- The JWT rows reuse one token, so after the first request the gateway finds it in its verified-token cache "
      "(the usual case: a client holds its token until it expires); the cache-off row pays an RS256 "
      "verification per request.")
PY
cat bench/AUTH_RESULTS.md
