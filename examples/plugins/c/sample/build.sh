#!/usr/bin/env bash
# Builds the C sampler into a WebAssembly component, after running its unit tests natively.
#   examples/plugins/c/sample/build.sh [OUTPUT.wasm]
# Installs clang, lld and wasi-libc from Debian's packages when they are missing (as root, or
# with sudo); the bindings and the component come from the repository's weft-c-component tool.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="${1:-$here/sample.wasm}"
"$root/examples/plugins/c/install-toolchain.sh"

echo "--- unit tests (native)"
tests="$(mktemp -d)"
cc -O1 -Wall -Wextra -Werror -o "$tests/test_sampler" "$here/test_sampler.c" "$here/sampler.c" -lm
"$tests/test_sampler"
rm -rf "$tests"

echo "--- component"
cd "$root"
cargo run --quiet --locked -p weft-wasm-build --features c --bin weft-c-component -- \
  processor "$here" "$out"
