#!/usr/bin/env bash
# Builds a Python Weft plugin into a WebAssembly component with componentize-py.
#   examples/plugins/python/componentize.sh WORLD PLUGIN_DIR OUTPUT.wasm
# WORLD is `processor` (span processors) or `trace-sampler` (tail-sampling policies); the
# plugin's code is PLUGIN_DIR/app.py. Installs componentize-py from PyPI (into the python3 on
# PATH) if it is missing.
set -euo pipefail
world="$1"
dir="$(cd "$2" && pwd)"
out="$3"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
version="0.25.1"
tool="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/componentize-py"
if ! "$tool" --version 2>/dev/null | grep -q "$version"; then
  python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$version"
fi
cd "$dir"
"$tool" -d "$root/wit" -w "$world" componentize app -p . -p "$root/sdk/python" -o "$out"
