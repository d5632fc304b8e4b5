#!/usr/bin/env bash
# Runs weft's fuzz targets for a bounded time each and fails on the first crash.
#
#   host/fuzz/run.sh                     every target, 600 s each
#   host/fuzz/run.sh 20                  every target, 20 s each (what CI runs)
#   host/fuzz/run.sh 3600 otlp_protobuf  one target for an hour
#
# Targets: otlp_protobuf, otlp_json, gunzip (the receivers' decode paths, with the
# pre-decode footprint scan) and contract_edits (any edits a plugin can return, applied to a
# batch). Installs cargo-fuzz when missing. Runs on the stable toolchain: no sanitizer (weft
# forbids unsafe code; the fuzzers look for panics, overflows and broken invariants, with debug
# assertions on). The corpus grows in host/fuzz/corpus/TARGET, seeded from host/fuzz/seeds;
# a crash is saved under host/fuzz/artifacts/TARGET with the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(otlp_protobuf otlp_json gunzip contract_edits)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz --version 0.13.2
fi
FLAGS=(--sanitizer none --debug-assertions)
cargo fuzz build "${FLAGS[@]}"

for target in "${TARGETS[@]}"; do
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  echo "--- $target: ${SECONDS_PER_TARGET}s" >&2
  log=$(mktemp)
  if ! cargo fuzz run "${FLAGS[@]}" "$target" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1; then
    tail -60 "$log" >&2
    echo "--- $target: CRASH (see above; the input is under host/fuzz/artifacts/$target)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "--- $target: no crash in ${SECONDS_PER_TARGET}s, $runs inputs, ${coverage:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) files" >&2
  rm -f "$log"
done
