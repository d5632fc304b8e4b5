#!/usr/bin/env bash
# A backend outage under a steady load, with the persistent queue: Weft (the bench chain,
# persistence on) receives a steady offered rate; after a minute the sink is stopped for
# --minutes, then started again, and the load goes on for one more minute. Prints what was
# acknowledged, what the sink received (both of its lives), the largest backlog on disk, and
# how long the backlog took to drain. See docs/durability.md.
#
#   bench/outage.sh                    10 minutes down, 5,000 spans/s offered
#   bench/outage.sh --minutes 2 --rate 20000 --out DIR
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=10 RATE=5000 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

source bench/common.sh

rm -rf "$WORK/data"
cat >"$WORK/weft.toml" <<CONFIG
[receivers.otlp.grpc]
endpoint = "$IN_GRPC"
[pipeline]
cache_dir = "$WORK/component-cache"
[pipeline.persistence]
dir = "$WORK/data"
max_disk_mb = 8192
[reload]
watch = false
[admin]
endpoint = "$ADMIN"
CONFIG
cat bench/chain.toml >>"$WORK/weft.toml"
cat >>"$WORK/weft.toml" <<CONFIG
[exporters.sink]
type = "otlp"
endpoint = "http://$SINK_GRPC"
compression = "gzip"
CONFIG

metric() { curl -s "http://$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
start_sink() { # REPORT
  "$BENCH" sink --grpc "$SINK_GRPC" --report-file "$1" --report-interval-ms 200 >/dev/null 2>&1 &
  SINK=$!
  PIDS+=("$SINK")
  wait_port "$SINK_GRPC"
}

start_sink "$WORK/sink-1.json"
"$WEFT" run --log-level warn --config "$WORK/weft.toml" >"$WORK/weft.log" 2>&1 &
PIDS+=("$!")
wait_port "$IN_GRPC"
LOAD_SECS=$((MINUTES * 60 + 120))
"$BENCH" load --json --endpoint "$IN_GRPC" --rate "$RATE" --concurrency 4 \
  --requests 1000000000 --duration-secs "$LOAD_SECS" >"$WORK/load.json" &
LOAD=$!
PIDS+=("$LOAD")

sleep 60
echo "--- sink down for $MINUTES minute(s)" >&2
kill -TERM "$SINK"; wait "$SINK" || true
PEAK=0
for _ in $(seq $((MINUTES * 6))); do
  sleep 10
  disk=$(metric weft_persistence_disk_bytes); disk=${disk:-0}
  [ "${disk%.*}" -gt "$PEAK" ] && PEAK=${disk%.*}
  echo "  backlog on disk: $((disk / 1048576)) MiB" >&2
done
echo "--- sink back" >&2
start_sink "$WORK/sink-2.json"
BACK=$SECONDS
DRAINED=""
while kill -0 "$LOAD" 2>/dev/null || [ -z "$DRAINED" ]; do
  sleep 1
  oldest=$(metric 'weft_persistence_oldest_unsent_seconds{exporter="sink"}')
  if [ -z "$DRAINED" ] && awk -v a="${oldest:-99}" 'BEGIN {exit !(a < 2)}'; then
    DRAINED=$((SECONDS - BACK))
  fi
  [ $((SECONDS - BACK)) -lt $((MINUTES * 120 + 300)) ] || break
done
wait "$LOAD" || true
ACKED=$(json_number spans_sent "$WORK/load.json")
deadline=$((SECONDS + 600))
while :; do
  got=$(( $(json_number spans "$WORK/sink-1.json") + $(json_number spans "$WORK/sink-2.json") ))
  [ "$got" -ge "$ACKED" ] || [ $SECONDS -ge $deadline ] || { sleep 1; continue; }
  break
done
sleep 2
got=$(( $(json_number spans "$WORK/sink-1.json") + $(json_number spans "$WORK/sink-2.json") ))
echo "| outage | offered | acknowledged | received | lost | duplicates | largest backlog on disk | backlog drained after |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
echo "| $MINUTES min | $RATE spans/s | $ACKED | $got | $((ACKED > got ? ACKED - got : 0)) | $((got > ACKED ? got - ACKED : 0)) | $((PEAK / 1048576)) MiB | ${DRAINED:-?} s |"
