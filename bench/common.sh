# Shared by bench/soak.sh and bench/outage.sh (sourced, from the repository root): the fixed
# addresses, the work directory, killing what was started on exit, the release build, and
# small helpers.

IN_GRPC=127.0.0.1:14317 SINK_GRPC=127.0.0.1:24317 ADMIN=127.0.0.1:18888
WORK=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/weft-$(basename "$0" .sh).XXXXXX")}
mkdir -p "$WORK"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' EXIT

cargo build --release --locked -p weft -p weft-bench >&2
WEFT=${CARGO_TARGET_DIR:-$PWD/target}/release/weft
BENCH=${CARGO_TARGET_DIR:-$PWD/target}/release/weft-bench

# Waits (a minute at most) until something listens on ADDR; exits the script if nothing does.
wait_port() {
  local deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "nothing listens on $1" >&2; exit 1; }
    sleep 0.1
  done
}

# The number under KEY in the JSON report FILE.
json_number() { grep -o "\"$1\":[0-9.e+-]*" "$2" 2>/dev/null | head -1 | cut -d: -f2; }
