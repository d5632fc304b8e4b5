#!/usr/bin/env bash
# What CI can prove of the deployment without pulling base images or running a cluster:
#   1. the `dist` binary (what the Containerfile ships) builds; its size is reported;
#   2. the Kubernetes manifests render (kustomize) and validate against a pinned Kubernetes
#      version's schema (kubernetes-validate, strict: unknown fields are errors);
#   3. the binary starts on each tier's config from the manifests and reports ready, with
#      the pod's addresses moved to 127.0.0.1 and its paths to a scratch directory; then it
#      stops cleanly on SIGTERM.
# Needs kubectl (kustomize) and the PyPI package kubernetes-validate.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBERNETES_VERSION=1.32.0

echo "--- dist binary"
cargo build --profile dist --locked -p weft
binary=${CARGO_TARGET_DIR:-target}/dist/weft
echo "target/dist/weft: $(($(stat -c %s "$binary") / 1048576)) MiB ($(stat -c %s "$binary") bytes, stripped)"

work=$(mktemp -d)
trap 'kill -KILL "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "--- manifests: kustomize, then kubernetes-validate --strict for Kubernetes $KUBERNETES_VERSION"
kubectl kustomize deploy/kubernetes >"$work/rendered.yaml"
python3 -m kubernetes_validate --kubernetes-version "$KUBERNETES_VERSION" --strict --quiet "$work/rendered.yaml"
grep -c '^kind:' "$work/rendered.yaml" | xargs echo "objects rendered and valid:"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for tier in gateway sampler; do
  echo "--- $tier: starts on deploy/kubernetes/$tier.toml"
  admin=$(free_port)
  mkdir -p "$work/$tier/plugins" "$work/$tier/cache" "$work/$tier/lib"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/$tier/admin-token"
  sed -e "s|0\.0\.0\.0:4317|127.0.0.1:0|; s|0\.0\.0\.0:4318|127.0.0.1:0|" \
    -e "s|0\.0\.0\.0:8888|127.0.0.1:$admin|" \
    -e "s|/var/run/secrets/weft/admin-token|$work/$tier/admin-token|" \
    -e "s|/etc/weft/plugins|$work/$tier/plugins|; s|/var/cache/weft|$work/$tier/cache|" \
    -e "s|/var/lib/weft|$work/$tier/lib|" \
    "deploy/kubernetes/$tier.toml" >"$work/$tier/weft.toml"
  WEFT_BACKEND_ENDPOINT=http://127.0.0.1:9 "$binary" run --config "$work/$tier/weft.toml" \
    >"$work/$tier/log" 2>&1 &
  pid=$!
  ready=""
  for _ in $(seq 600); do
    if curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null; then ready=yes; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "$tier did not become ready:" >&2
    cat "$work/$tier/log" >&2
    exit 1
  fi
  kill -TERM "$pid"
  if ! wait "$pid"; then
    echo "$tier did not stop cleanly:" >&2
    cat "$work/$tier/log" >&2
    exit 1
  fi
  echo "$tier: ready, then stopped cleanly"
done
