#!/usr/bin/env bash
# Builds the Python checkout tail-sampling policy into a WebAssembly component.
#   examples/plugins/python/checkout-policy/build.sh [OUTPUT.wasm]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../componentize.sh" trace-sampler "$here" "${1:-$here/checkout-policy.wasm}"
