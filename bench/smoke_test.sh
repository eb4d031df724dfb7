#!/usr/bin/env bash
# A few seconds of load through a real exchange (durability off, 10 terminals): checks only that
# messages flowed and that the report is well-formed, never how fast.
#   smoke_test.sh SWITCHBOARD_BIN SWITCHBOARD_BENCH_BIN
set -euo pipefail
SB=$1
BENCH=$2
DIR=$(mktemp -d)
PID=0
cleanup() {
  [[ $PID -gt 0 ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT

cat >"$DIR/config.toml" <<TOML
listen = "127.0.0.1:0"
data = "$DIR/data"
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
durable = false
TOML
export SWITCHBOARD_OPERATOR_TOKEN=smoke-operator-token
"$SB" serve --config "$DIR/config.toml" --port-file "$DIR/port" >"$DIR/log" 2>&1 &
PID=$!
for _ in $(seq 200); do [[ -s $DIR/port ]] && break; sleep 0.05; done
[[ -s $DIR/port ]] || { echo "exchange did not start"; cat "$DIR/log"; exit 1; }

REPORT=$("$BENCH" run --peer exchange --port "$(cat "$DIR/port")" --server-pid $PID \
  --terminals 10 --rate 200 --warmup 0.5 --duration 2 --drain 2 --label smoke --addresses 2)
echo "$REPORT"

fail() { echo "smoke: $1"; cat "$DIR/log"; exit 1; }
[[ $REPORT == \{*\} ]] || fail "the report is not one JSON object"
for key in '"peer":"exchange"' '"terminals":10' '"delivery":{"count":' '"p99_us":' \
  '"throughput_msgs":' '"server_cpu_us_per_msg":'; do
  [[ $REPORT == *"$key"* ]] || fail "the report lacks $key"
done
delivered=$(sed -E 's/.*"delivered":([0-9]+).*/\1/' <<<"$REPORT")
acked=$(sed -E 's/.*"acked":([0-9]+).*/\1/' <<<"$REPORT")
((delivered > 0)) || fail "no message was delivered"
((acked > 0)) || fail "no message was accepted"
echo "smoke: $delivered delivered, $acked accepted"
