#!/usr/bin/env bash
# Builds the Python hello processor into a WebAssembly component.
#   examples/plugins/python/hello/build.sh [OUTPUT.wasm]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../componentize.sh" processor "$here" "${1:-$here/hello.wasm}"
