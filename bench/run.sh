#!/usr/bin/env bash
# Runs the benchmark matrix: the exchange (durable, and with durability off) beside NATS core,
# JetStream, Mosquitto (QoS 0 and 1), Redis (PUBLISH, and XADD with appendfsync always) and the
# null relay, all on loopback; then writes docs/benchmarks.md and docs/benchmarks/*.svg.
#   bench/run.sh            # the default matrix, about 8 minutes once built
#   bench/run.sh --quick    # about a minute: one size, one rate, few idle terminals
# Environment: BUILD_DIR (default build/bench), OUT_DIR (default a temporary folder; kept),
# SYSTEMS (labels to run, space-separated; default all), APPEND=1 (add to OUT_DIR's results),
# DOC and SVG_DIR (where the report goes; default docs/benchmarks.md and docs/benchmarks/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
[[ ${1:-} == --quick ]] && QUICK=1
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/sb-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/results.jsonl
DOC=${DOC:-$ROOT/docs/benchmarks.md}
SVG_DIR=${SVG_DIR:-$ROOT/docs/benchmarks}
[[ ${APPEND:-0} == 1 ]] || : >"$RESULTS"
SYSTEMS=${SYSTEMS:-relay nats mqtt-qos0 redis-pubsub exchange-nodurable exchange-durable jetstream-file mqtt-qos1 redis-aof-always}

# Ports on loopback, well away from the usual ones.
NATS_PORT=14222
MQTT_PORT=11883
REDIS_PORT=16379
RELAY_PORT=17077

if ((QUICK)); then
  DURATION=2 WARMUP=0.5 DRAIN=1
  SIZES=(100) RATES=(10000) IDLE_TERMINALS=500 RATE_TERMINALS=100
else
  DURATION=5 WARMUP=1 DRAIN=3
  SIZES=(100 1024) RATES=(1000 5000 10000 20000 40000) IDLE_TERMINALS=15000 RATE_TERMINALS=100
fi

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- packages and build ---------------------------------------------------------------------
install_missing() {
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
  command -v redis-server >/dev/null || missing+=(redis-server)
  ((${#missing[@]} == 0)) && return
  log "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

build() {
  if [[ -n ${SB:-} && -n ${BENCH:-} ]]; then return; fi
  [[ -f $BUILD_DIR/build.ninja ]] ||
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$BUILD_DIR" switchboard switchboard-bench >/dev/null
  SB=$BUILD_DIR/src/switchboard
  BENCH=$BUILD_DIR/bench/switchboard-bench
}

# --- servers --------------------------------------------------------------------------------
SERVER_PID=0
SERVER_PORT=0

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  log "nothing listens on port $1"
  return 1
}

start_exchange() {  # durable: true or false
  local dir=$OUT_DIR/exchange-$1
  rm -rf "$dir" && mkdir -p "$dir"
  cat >"$dir/config.toml" <<TOML
listen = "127.0.0.1:0"
data = "$dir/data"
log_level = "warn"

# Benchmarks measure the message path, not the guards: every limit is off (0 means none).
[limits]
account_rate = 0
platform_rate = 0
connection_frame_rate = 0
api_rate = 0
max_connections = 0
max_connections_per_address = 0
max_send_queue_bytes = 0

[store]
durable = $1

[delivery]
account_queue_quota = 10000000
TOML
  export SWITCHBOARD_OPERATOR_TOKEN=bench-operator-token-$$
  "$SB" serve --config "$dir/config.toml" --port-file "$dir/port" >"$dir/log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do [[ -s $dir/port ]] && break; sleep 0.05; done
  SERVER_PORT=$(cat "$dir/port")
  wait_port "$SERVER_PORT"
}

start_nats() {
  local dir=$OUT_DIR/nats
  rm -rf "$dir" && mkdir -p "$dir"
  nats-server -a 127.0.0.1 -p $NATS_PORT -js -sd "$dir/js" >"$dir/log" 2>&1 &
  SERVER_PID=$! SERVER_PORT=$NATS_PORT
  wait_port $NATS_PORT
}

start_mosquitto() {
  local dir=$OUT_DIR/mosquitto
  rm -rf "$dir" && mkdir -p "$dir"
  cat >"$dir/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
log_dest none
CONF
  "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$dir/mosquitto.conf" >"$dir/log" 2>&1 &
  SERVER_PID=$! SERVER_PORT=$MQTT_PORT
  wait_port $MQTT_PORT
}

start_redis() {  # aof: yes or no
  local dir=$OUT_DIR/redis-$1
  rm -rf "$dir" && mkdir -p "$dir"
  local durability=(--appendonly no)
  [[ $1 == yes ]] && durability=(--appendonly yes --appendfsync always)
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --protected-mode no --save '' \
    --maxclients 16000 --dir "$dir" --daemonize no "${durability[@]}" >"$dir/log" 2>&1 &
  SERVER_PID=$! SERVER_PORT=$REDIS_PORT
  wait_port $REDIS_PORT
}

start_relay() {
  "$BENCH" relay --port $RELAY_PORT >"$OUT_DIR/relay.log" 2>&1 &
  SERVER_PID=$! SERVER_PORT=$RELAY_PORT
  wait_port $RELAY_PORT
}

stop_server() {
  [[ $SERVER_PID -gt 0 ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=0
}
trap stop_server EXIT

# --- runs -----------------------------------------------------------------------------------
RUN_NO=0
bench() {  # label, then switchboard-bench run options
  local label=$1
  shift
  RUN_NO=$((RUN_NO + 1))
  local line
  if line=$("$BENCH" run --port "$SERVER_PORT" --server-pid "$SERVER_PID" --tag "r$RUN_NO" \
    --label "$label" --duration $DURATION --warmup $WARMUP --drain $DRAIN "$@" 2>>"$OUT_DIR/bench.err"); then
    echo "$line" >>"$RESULTS"
    log "$label $*: $(echo "$line" | cut -c1-160)"
  else
    log "$label $*: FAILED (see $OUT_DIR/bench.err)"
  fi
}

# Everything one system is put through: peak throughput, latency against rate, idle memory.
measure() {  # label, peer options...
  local label=$1
  shift
  for size in "${SIZES[@]}"; do
    bench "$label" "$@" --terminals 2 --rate 0 --window 64 --size "$size"
  done
  for rate in "${RATES[@]}"; do
    bench "$label" "$@" --terminals $RATE_TERMINALS --rate "$rate" --size 100
  done
}

measure_idle() {  # label, peer options...
  local label=$1
  shift
  bench "$label" "$@" --terminals $IDLE_TERMINALS --idle
}

with_server() {  # start function and its argument, then a command and its label
  [[ " $SYSTEMS " == *" $4 "* ]] || return 0
  "$1" ${2:+"$2"}
  shift 2
  "$@"
  stop_server
}

main() {
  install_missing
  build
  ulimit -n "$(ulimit -Hn)"
  local started=$SECONDS
  uptime >"$OUT_DIR/uptime-before"

  local acked=(--window-on-ack)
  with_server start_relay "" measure relay --peer relay
  with_server start_nats "" measure nats --peer nats
  with_server start_mosquitto "" measure mqtt-qos0 --peer mqtt --qos 0
  with_server start_redis no measure redis-pubsub --peer redis
  with_server start_exchange false measure exchange-nodurable --peer exchange
  with_server start_exchange true measure exchange-durable --peer exchange "${acked[@]}"
  with_server start_nats "" measure jetstream-file --peer jetstream "${acked[@]}"
  with_server start_mosquitto "" measure mqtt-qos1 --peer mqtt --qos 1 "${acked[@]}"
  with_server start_redis yes measure redis-aof-always --peer redis-stream "${acked[@]}"

  with_server start_relay "" measure_idle relay --peer relay
  with_server start_nats "" measure_idle nats --peer nats
  with_server start_mosquitto "" measure_idle mqtt-qos0 --peer mqtt --qos 0
  with_server start_redis no measure_idle redis-pubsub --peer redis
  with_server start_exchange false measure_idle exchange-nodurable --peer exchange

  uptime >"$OUT_DIR/uptime-after"
  log "matrix done in $((SECONDS - started)) s; results in $RESULTS"
  python3 "$ROOT/bench/report.py" --results "$RESULTS" --out-dir "$OUT_DIR" \
    --quick "$QUICK" --doc "$DOC" --svg-dir "$SVG_DIR"
}

main
