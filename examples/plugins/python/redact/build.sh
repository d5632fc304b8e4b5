#!/usr/bin/env bash
# Builds the Python redaction processor into a WebAssembly component.
#   examples/plugins/python/redact/build.sh [OUTPUT.wasm]
# Installs componentize-py from PyPI (into the python3 on PATH) if it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="${1:-$here/redact.wasm}"
version="0.25.1"
tool="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/componentize-py"
if ! "$tool" --version 2>/dev/null | grep -q "$version"; then
  python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$version"
fi
cd "$here"
"$tool" -d "$root/wit" -w processor componentize app -o "$out"
