#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz", clang-14) and runs each for a while.
# Usage: scripts/fuzz.sh [seconds_per_target=60] [target ...]
# O2GW_FUZZ_RUNS=N: instead of a time budget, N runs from a fixed seed (what CI
# does, so a CI run is repeatable). Corpora grow in build/fuzz/corpus/<target>;
# crashes land in build/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(fuzz_http_request fuzz_config fuzz_inventory_file fuzz_query fuzz_callback_guard fuzz_kubeconfig
  fuzz_k8s_watch fuzz_alertmanager fuzz_jwt); fi
O2GW_SETUP_FUZZ=1 O2GW_SETUP_TOOLS=0 bash scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"
mkdir -p build/fuzz/artifacts
for t in "${targets[@]}"; do
  corpus="build/fuzz/corpus/$t"
  mkdir -p "$corpus"
  # Seed with the project's own inputs, so the fuzzer starts from valid documents.
  case "$t" in
    fuzz_config) cp -n deploy/config/*.yaml "$corpus/" 2>/dev/null || true ;;
    fuzz_inventory_file) cp -n deploy/inventory/*.yaml "$corpus/" 2>/dev/null || true ;;
    fuzz_http_request)
      printf 'GET /o2ims-infrastructureInventory/v1/resourcePools?filter=(eq,name,a) HTTP/1.1\r\nHost: x\r\n\r\n' \
        > "$corpus/seed-get" ;;
    fuzz_callback_guard)
      # NUL-separated: URL, host, address, guard entry, X-O2-Signature header, body.
      seed() { local name=$1 first=$2; shift 2; { printf '%s' "$first"; printf '\0%s' "$@"; } > "$corpus/$name"; }
      seed seed-ordinary 'https://smo.example.com:8443/cb?x=1' smo.example.com 10.1.2.3 '*.smo.example' \
        "t=1800000000,kid=2026-06-01,v1=$(printf '%064d' 0)" '{"a":1}'
      seed seed-mapped 'http://[::ffff:169.254.169.254]/' metadata.google.internal ::ffff:127.0.0.1 \
        ::ffff:10.0.0.0/104 'v1=00,t=0,kid=x' ''
      seed seed-numeric 'http://0x7f.1:80/#f' localhost. fe80::1 10.0.0.0/8 't=1,t=2' '{}' ;;
    fuzz_kubeconfig)
      # NUL-separated: the kubeconfig, then a context name (also tried as a quantity).
      { printf 'apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster:\n'
        printf '    server: https://k:6443/\n    certificate-authority-data: QUJD\nusers:\n- name: u\n  user:\n'
        printf '    token: t\n    client-certificate-data: QQ==\n    client-key-data: Qg==\ncontexts:\n'
        printf -- '- name: a\n  context: {cluster: c, user: u, namespace: ns}\n'; printf '\0%s' 129Mi; } \
        > "$corpus/seed-kubeconfig" ;;
    fuzz_k8s_watch)
      # Two bytes of chunk sizes, then a watch stream.
      { printf '\x07\x03'
        printf '{"type":"ADDED","object":{"metadata":{"name":"n","resourceVersion":"1"}}}\n'
        printf '{"type":"MODIFIED","object":{"metadata":{"name":"n","resourceVersion":"2"}}}\n'
        printf '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"3"}}}\n'
        printf '{"type":"DELETED","object":{"metadata":{"namespace":"x","name":"n","resourceVersion":"4"}}}\n'
        printf '{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}'; } > "$corpus/seed-watch" ;;
    fuzz_alertmanager)
      printf '%s' '{"version":"4","groupKey":"{}:{alertname=\"NodeDown\"}","truncatedAlerts":0,"status":"firing",'\
'"receiver":"o2gw","groupLabels":{"alertname":"NodeDown"},"commonLabels":{},"commonAnnotations":{},'\
'"externalURL":"http://am:9093","alerts":[{"status":"firing","labels":{"alertname":"NodeDown",'\
'"node":"worker-1","severity":"critical"},"annotations":{"summary":"down"},"startsAt":"2026-11-27T07:00:00.123Z",'\
'"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p/graph","fingerprint":"0123456789abcdef"},'\
'{"status":"resolved","labels":{"instance":"worker-2:9100"},"startsAt":"2026-11-27T07:00:00+02:00",'\
'"endsAt":"2026-11-27T08:00:00Z"}]}' > "$corpus/seed-webhook" ;;
    fuzz_jwt)
      # NUL-separated: a compact JWS, a JWKS document, a raw signature.
      { printf '%s' 'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjIn0.eyJpc3MiOiJodHRwczovL2lkcCIsImF1ZCI6Im8yZ3ciLCJzdWIiOiJzbW8iLCJleHAiOjE5MDAwMDAwMDB9.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw'
        printf '\0%s' '{"keys":[{"kty":"EC","kid":"ec","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}' 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw'; } > "$corpus/seed-jws" ;;
  esac
  budget=(-max_total_time="$seconds")
  if [[ -n "${O2GW_FUZZ_RUNS:-}" ]]; then budget=(-runs="$O2GW_FUZZ_RUNS" -seed=1); fi
  echo "fuzz: $t (${budget[*]})" >&2
  ASAN_OPTIONS=detect_leaks=1 "build/fuzz/tests/fuzz/$t" "${budget[@]}" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="build/fuzz/artifacts/$t-" -print_final_stats=1 "$corpus" 2>&1 |
    grep -E "^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)|Done [0-9]+ runs" >&2 || true
  if ls "build/fuzz/artifacts/$t-"* >/dev/null 2>&1; then
    echo "fuzz: $t found a failing input: $(ls build/fuzz/artifacts/$t-*)" >&2
    exit 1
  fi
done
