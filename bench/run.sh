#!/usr/bin/env bash
# End-to-end benchmark: load generator -> collector -> counting sink, for Weft in named
# scenarios and for Rotel on the same load, then one markdown table of medians and the ratios
# the performance targets ask for. See docs/performance.md.
#
#   bench/run.sh                    5 runs of 20 s per scenario
#   bench/run.sh --quick            3 runs of 5 s per scenario
#   bench/run.sh --runs 3 --duration 10 --only "weft-chain-grpc rotel-grpc" --no-rotel
#   options: --concurrency N (4)  --spans N (512 per request)  --attributes N (10 per span)
#            --out DIR (keep configs, logs and one JSON line per run there)
#            --baseline BINARY (another weft build, e.g. main's, made in a target directory
#              of its own: adds base-none-grpc, base-chain-grpc and base-tail-grpc, run
#              alternately with Weft's own in the same run)
#
# Everything listens on 127.0.0.1: the collector on 14317 (gRPC) and 14318 (HTTP), the sink on
# 24317. Weft and Rotel both export OTLP/gRPC with gzip. Needs cargo and python3; Rotel is
# installed with pip when missing (its binary needs the Debian package libpython3.11).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=5 DURATION=20 CONCURRENCY=4 SPANS=512 ATTRIBUTES=10 WARMUP_REQUESTS=40 ROTEL=1 OUT="" ONLY="" BASELINE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) RUNS=3 DURATION=5 ;;
    --runs) RUNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --spans) SPANS=$2; shift ;;
    --attributes) ATTRIBUTES=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-rotel) ROTEL=0 ;;
    --baseline) BASELINE=$(realpath "$2"); shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

IN_GRPC=127.0.0.1:14317 IN_HTTP=127.0.0.1:14318 SINK_GRPC=127.0.0.1:24317
# Two more addresses of the same sink: the load-balancing scenario's other backends.
SINK_GRPC2=127.0.0.1:24318 SINK_GRPC3=127.0.0.1:24319
WORK=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/weft-bench.XXXXXX")}
mkdir -p "$WORK"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' EXIT

echo "--- building weft (release) and the pass-through and hostile fixture plugins" >&2
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --locked -p weft -p weft-bench
cargo build --quiet --locked --target wasm32-wasip2 --profile wasm -p weft-fixture-passthrough \
  -p weft-fixture-hostile --target-dir "$TARGET_DIR/wasm-build"
WEFT=$TARGET_DIR/release/weft
BENCH=$TARGET_DIR/release/weft-bench
PASSTHROUGH=$TARGET_DIR/wasm-build/wasm32-wasip2/wasm/weft_fixture_passthrough.wasm
HOSTILE=$TARGET_DIR/wasm-build/wasm32-wasip2/wasm/weft_fixture_hostile.wasm

# The current Rotel release, built for this kind of machine, when the repository sits beside
# it (see ../shared/peers); otherwise PyPI's older `rotel` package.
PEER_ROTEL=$(cd "$ROOT/.." && pwd)/shared/peers/rotel-0.2.5/rotel
find_rotel() {
  if [ -x "$PEER_ROTEL" ]; then echo "$PEER_ROTEL"; return; fi
  python3 -c 'import os, rotel; p = os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"); print(p if os.access(p, os.X_OK) else "")' 2>/dev/null || true
}
ROTEL_AGENT=""
if [ "$ROTEL" = 1 ]; then
  echo "--- Rotel" >&2
  agent=$(find_rotel)
  if [ -z "$agent" ]; then
    python3 -m pip install --quiet --disable-pip-version-check rotel >&2 || true
    agent=$(find_rotel)
  fi
  if [ -n "$agent" ] && ! "$agent" --version >/dev/null 2>&1 && ! dpkg -s libpython3.11 >/dev/null 2>&1; then
    # rotel-agent links libpython3.11.
    if [ "$(id -u)" = 0 ]; then
      { apt-get update -q && apt-get install -y -q libpython3.11; } >&2 || true
    elif command -v sudo >/dev/null 2>&1; then
      { sudo apt-get update -q && sudo apt-get install -y -q libpython3.11; } >&2 || true
    fi
  fi
  if [ -n "$agent" ] && "$agent" --version >/dev/null 2>&1; then
    ROTEL_AGENT=$agent
    "$agent" --version >&2
  else
    echo "Rotel is unavailable (pip install rotel, or its libpython3.11, failed): Weft rows only." >&2
  fi
fi

ALL="weft-none-grpc weft-none-http weft-tls-grpc weft-pass-grpc weft-pass-http weft-chain-grpc weft-chain-http weft-durable-grpc weft-durable5-grpc weft-lb-grpc weft-tail-grpc weft-bomb-grpc"
[ -n "$BASELINE" ] && ALL="$ALL base-none-grpc base-chain-grpc base-tail-grpc"
[ -n "$ROTEL_AGENT" ] && ALL="$ALL rotel-grpc rotel-http rotel-pynoop-grpc rotel-pyredact-grpc"
SCENARIOS=${ONLY:-$ALL}

# The TLS scenario's certificates (a throw-away CA, a server certificate for 127.0.0.1).
CERTS=$WORK/certs
case " $SCENARIOS " in
  *-tls-*) bash "$ROOT/examples/tls/make-certs.sh" "$CERTS" >&2 ;;
esac

# Writes the Weft config for a processor set (none, tls, pass, chain, durable, durable5, tail,
# bomb) and prints its path; `tls` is no processors with the gRPC receiver over TLS; `durable`
# is the chain with the persistent queue (group commit, in a fresh directory each run),
# `durable5` the same with an fsync every 5 ms; `lb` is no processors and a load-balancing
# exporter routing by trace id to three backends (three addresses of the sink).
weft_config() {
  local file=$WORK/weft-$1.toml
  cat >"$file" <<EOF
[receivers.otlp.grpc]
endpoint = "$IN_GRPC"
EOF
  if [ "$1" = tls ]; then cat >>"$file" <<EOF
[receivers.otlp.grpc.tls]
cert_file = "$CERTS/server.pem"
key_file = "$CERTS/server-key.pem"
EOF
  fi
  cat >>"$file" <<EOF
[receivers.otlp.http]
endpoint = "$IN_HTTP"
[pipeline]
cache_dir = "$WORK/component-cache"
[reload]
watch = false
[admin]
enabled = false
EOF
  case $1 in
    pass) cat >>"$file" <<EOF
[[processors]]
name = "passthrough"
plugin = "$PASSTHROUGH"
EOF
      ;;
    chain) cat bench/chain.toml >>"$file" ;;
    durable | durable5)
      rm -rf "$WORK/data"
      cat >>"$file" <<EOF
[pipeline.persistence]
dir = "$WORK/data"
fsync_interval_ms = $([ "$1" = durable5 ] && echo 5 || echo 0)
EOF
      cat bench/chain.toml >>"$file"
      ;;
    tail) # The redactor, then a tail-sampling stage that keeps every trace 200 ms after its
      # first span: every span is buffered, joined into policy calls and exported.
      cat >>"$file" <<EOF
[[processors]]
name = "redact"
plugin = "builtin:pii-redact"
on_error = "drop"
[[processors]]
name = "tail"
plugin = "builtin:tail-policy"
[processors.tail_sampling]
decision_wait_ms = 200
max_traces = 500000
max_buffered_mb = 1024
[processors.config]
rules = [{ name = "all", ratio = 1.0 }]
EOF
      ;;
    bomb) # The chain, then a plugin that allocates until its 64 MiB cap and traps on every
      # tenth batch an instance gets; never quarantined, so every bomb goes off.
      cat bench/chain.toml >>"$file"
      cat >>"$file" <<EOF
[[processors]]
name = "bomb"
plugin = "$HOSTILE"
on_error = "pass"
quarantine_after = 0
config = { attack = "alloc", every = 10 }
EOF
      ;;
  esac
  if [ "$1" = lb ]; then
    cat >>"$file" <<EOF
[exporters.tier]
type = "loadbalancing"
[exporters.tier.resolver]
static = ["$SINK_GRPC", "$SINK_GRPC2", "$SINK_GRPC3"]
[exporters.tier.otlp]
compression = "gzip"
EOF
  else
    cat >>"$file" <<EOF
[exporters.sink]
type = "otlp"
endpoint = "http://$SINK_GRPC"
compression = "gzip"
EOF
  fi
  echo "$file"
}

wait_port() { # ADDR SECONDS
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

json_number() { # KEY FILE
  grep -o "\"$1\":[0-9.e+-]*" "$2" | head -1 | cut -d: -f2
}

sink_spans() { json_number spans "$WORK/sink.json" 2>/dev/null || echo 0; }

# Waits until the sink holds SPANS spans or SECONDS pass; prints the sink's count.
wait_sink() {
  local deadline=$((SECONDS + $2)) got
  while :; do
    got=$(sink_spans)
    if [ "${got:-0}" -ge "$1" ] || [ $SECONDS -ge $deadline ]; then
      echo "${got:-0}"
      return
    fi
    sleep 0.02
  done
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

stop() { # PID
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

run_one() { # SCENARIO RUN
  local scenario=$1 run=$2 protocol=${1##*-} collector endpoint
  rm -f "$WORK/sink.json"
  "$BENCH" sink --grpc "$SINK_GRPC" --also-grpc "$SINK_GRPC2" --also-grpc "$SINK_GRPC3" \
    --report-file "$WORK/sink.json" \
    --report-interval-ms 20 >/dev/null 2>"$WORK/sink.log" &
  local sink=$!
  PIDS+=("$sink")
  wait_port "$SINK_GRPC" 30 || { echo "the sink did not start" >&2; return 1; }
  case $scenario in
    weft-* | base-*)
      local processors=${scenario#*-} binary=$WEFT
      [ "${scenario%%-*}" = base ] && binary=$BASELINE
      "$binary" run --log-level warn --config "$(weft_config "${processors%-*}")" \
        >"$WORK/$scenario.log" 2>&1 &
      ;;
    rotel-*)
      local python=()
      case $scenario in
        rotel-pynoop-*) python=(--otlp-with-trace-processor "$ROOT/bench/rotel/noop.py") ;;
        rotel-pyredact-*) python=(--otlp-with-trace-processor "$ROOT/bench/rotel/redact.py") ;;
      esac
      "$ROTEL_AGENT" start --otlp-grpc-endpoint "$IN_GRPC" --otlp-http-endpoint "$IN_HTTP" \
        --exporter otlp --otlp-exporter-endpoint "http://$SINK_GRPC" \
        --otlp-exporter-compression gzip "${python[@]}" \
        --pid-file "$WORK/rotel.pid" --log-file "$WORK/rotel.log" >"$WORK/$scenario.log" 2>&1 &
      ;;
  esac
  collector=$!
  PIDS+=("$collector")
  if [ "$protocol" = grpc ]; then endpoint=$IN_GRPC; else endpoint=$IN_HTTP; fi
  wait_port "$endpoint" 60 || { echo "$scenario did not start; see $WORK/$scenario.log" >&2; return 1; }
  local load=("$BENCH" load --json --endpoint "$endpoint" --protocol "$protocol"
    --spans-per-request "$SPANS" --attributes-per-span "$ATTRIBUTES" --concurrency "$CONCURRENCY")
  case $scenario in *-tls-*) load+=(--tls-ca "$CERTS/ca.pem") ;; esac
  # Warm up (connections, first instances, allocator), and let it drain.
  "${load[@]}" --requests "$WARMUP_REQUESTS" >"$WORK/warmup.json" || true
  local warm
  warm=$(json_number spans_sent "$WORK/warmup.json")
  wait_sink "$warm" 60 >/dev/null
  local cpu0 t0 t1 cpu1 received sent
  cpu0=$(cpu_ticks "$collector")
  t0=$(date +%s.%N)
  "${load[@]}" --requests 1000000000 --duration-secs "$DURATION" >"$WORK/load.json" || true
  sent=$(json_number spans_sent "$WORK/load.json")
  received=$(wait_sink $((warm + sent)) $((30 + 3 * DURATION)))
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks "$collector")
  local rss
  rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$collector/status")
  stop "$collector"
  stop "$sink"
  printf '{"scenario":"%s","run":%d,"sent":%s,"received":%s,"secs":%s,"cpu_secs":%s,"rss_kib":%s,"p99_ms":%s,"errors":%s}\n' \
    "$scenario" "$run" "$sent" "$((received - warm))" "$(awk "BEGIN {print $t1 - $t0}")" \
    "$(awk "BEGIN {print ($cpu1 - $cpu0) / $CLK_TCK}")" "$rss" \
    "$(json_number latency_p99_ms "$WORK/load.json")" "$(json_number errors "$WORK/load.json")" \
    | tee -a "$RESULTS" >&2
}

echo "--- $RUNS run(s) of ${DURATION}s per scenario, $SPANS spans x $ATTRIBUTES attributes per request, concurrency $CONCURRENCY; work dir $WORK" >&2
for run in $(seq "$RUNS"); do
  for scenario in $SCENARIOS; do
    run_one "$scenario" "$run"
  done
done

python3 "$ROOT/bench/report.py" "$RESULTS"
