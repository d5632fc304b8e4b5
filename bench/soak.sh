#!/usr/bin/env bash
# Memory over a steady run: Weft with the redact + enrich + sample chain under continuous load
# for N minutes, reloading a changed chain every K seconds (SIGHUP after editing the enrich
# value), sampling resident memory every 10 s. Prints the samples and whether memory stayed
# flat (within +-10% between the second quarter and the last quarter of the run) and every
# span arrived. The load runs flat out unless --rate sets a steady offered rate in spans/s.
# See docs/performance.md.
#
#   bench/soak.sh                      10 minutes, a reload every 30 s, load flat out
#   bench/soak.sh --rate 80000         the same at a steady 80,000 spans/s
#   bench/soak.sh --minutes 2 --reload-every 20 --out DIR
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=10 RELOAD_EVERY=30 OUT="" RATE=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift ;;
    --reload-every) RELOAD_EVERY=$2; shift ;;
    --out) OUT=$2; shift ;;
    --rate) RATE=(--rate "$2"); shift ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

source bench/common.sh

write_config() { # ENRICH-VALUE
  cat >"$WORK/weft.toml.new" <<EOF
[receivers.otlp.grpc]
endpoint = "$IN_GRPC"
[pipeline]
cache_dir = "$WORK/component-cache"
[reload]
watch = false
[admin]
endpoint = "$ADMIN"
EOF
  sed "s/value = \"bench\"/value = \"$1\"/" bench/chain.toml >>"$WORK/weft.toml.new"
  cat >>"$WORK/weft.toml.new" <<EOF
[exporters.sink]
type = "otlp"
endpoint = "http://$SINK_GRPC"
compression = "gzip"
EOF
  mv "$WORK/weft.toml.new" "$WORK/weft.toml"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

"$BENCH" sink --grpc "$SINK_GRPC" --report-file "$WORK/sink.json" >/dev/null 2>"$WORK/sink.log" &
SINK=$!
PIDS+=("$SINK")
write_config v0
"$WEFT" run --log-level warn --config "$WORK/weft.toml" >"$WORK/weft.log" 2>&1 &
COLLECTOR=$!
PIDS+=("$COLLECTOR")
wait_port "$SINK_GRPC"
wait_port "$IN_GRPC"

"$BENCH" load --json --endpoint "$IN_GRPC" --requests 1000000000 "${RATE[@]}" \
  --duration-secs $((MINUTES * 60)) >"$WORK/load.json" &
LOAD=$!
PIDS+=("$LOAD")

echo "--- ${MINUTES} min of load (${RATE[1]:-flat out}${RATE[1]:+ spans/s}), a chain reload every ${RELOAD_EVERY}s; work dir $WORK" >&2
: >"$WORK/rss.tsv"
started=$SECONDS reloads=0 next_reload=$RELOAD_EVERY
while kill -0 "$LOAD" 2>/dev/null; do
  sleep 10
  elapsed=$((SECONDS - started))
  if [ "$elapsed" -ge "$next_reload" ]; then
    reloads=$((reloads + 1))
    write_config "v$reloads"
    kill -HUP "$COLLECTOR"
    next_reload=$((next_reload + RELOAD_EVERY))
  fi
  kill -0 "$LOAD" 2>/dev/null || break
  printf '%s\t%s\n' "$elapsed" "$(rss_kib "$COLLECTOR")" | tee -a "$WORK/rss.tsv" >&2
done
wait "$LOAD" || true
sent=$(json_number spans_sent "$WORK/load.json")
rate=$(json_number spans_per_sec "$WORK/load.json")
late=$(json_number late_requests "$WORK/load.json")
deadline=$((SECONDS + 60))
until [ "$(json_number spans "$WORK/sink.json")" -ge "$sent" ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
received=$(json_number spans "$WORK/sink.json")
sleep 3 # let a reload triggered at the very end finish before counting
metrics=$(curl -s "http://$ADMIN/metrics")
applied=$(awk '/^weft_reloads_total\{outcome="applied"\}/ {print $2}' <<<"$metrics")
refused=$(awk '/^weft_reloads_total\{outcome="refused"\}/ {print $2}' <<<"$metrics")
kill -TERM "$COLLECTOR" "$SINK" 2>/dev/null || true

python3 - "$WORK/rss.tsv" "$sent" "$received" "$reloads" "${applied:-0}" "${refused:-0}" "$rate" "${late:-0}" <<'EOF'
import statistics, sys
path, sent, received, reloads, applied, refused, rate, late_requests = sys.argv[1], *map(float, sys.argv[2:])
samples = [tuple(map(float, line.split())) for line in open(path) if line.strip()]
rss = [kib / 1024 for _, kib in samples]
quarter = max(len(rss) // 4, 1)
early, late = statistics.median(rss[quarter:2 * quarter]), statistics.median(rss[-quarter:])
change = late / early - 1
print(f"samples: {len(rss)} every 10 s; RSS min {min(rss):.0f} MiB, max {max(rss):.0f} MiB")
print(f"median RSS, second quarter {early:.0f} MiB, last quarter {late:.0f} MiB: {change:+.1%} "
      f"({'flat' if abs(change) <= 0.10 else 'NOT flat'} by the +-10% target)")
print(f"reloads: {reloads:.0f} triggered, {applied:.0f} applied, {refused:.0f} refused")
print(f"load: {rate:.0f} spans/s acknowledged on average; {late_requests:.0f} requests left late")
print(f"spans: {sent:.0f} acknowledged, {received:.0f} received by the sink"
      f"{'' if sent == received else ' (MISMATCH)'}")
EOF
