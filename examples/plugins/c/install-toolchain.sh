#!/usr/bin/env bash
# Installs what C plugins need from Debian's packages when it is missing: clang and lld for
# the wasm32-wasi target, wasi-libc, and clang's wasm32 runtime (builtins).
set -euo pipefail
missing=()
command -v clang >/dev/null || missing+=(clang)
command -v wasm-ld >/dev/null || missing+=(lld)
[ -f /usr/lib/wasm32-wasi/libc.a ] || [ -n "${WASI_SYSROOT:-}" ] || missing+=(wasi-libc)
if command -v clang >/dev/null; then
  major="$(clang -dumpversion | cut -d. -f1)"
  ls /usr/lib/llvm-"$major"/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 \
    || [ -n "${WASI_SYSROOT:-}" ] || missing+=("libclang-rt-$major-dev-wasm32")
else
  missing+=(libclang-rt-14-dev-wasm32)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (apt-get)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get install -y -q "${missing[@]}" >/dev/null || {
  $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null
}
