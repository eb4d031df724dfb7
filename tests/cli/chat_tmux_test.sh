#!/usr/bin/env bash
# Drives `switchboard chat` in tmux as a person would: alice of Meta World logs in, picks dave of
# Shop from the numbered contacts, writes, sees her message marked sent and delivered, and reads
# dave's reply. The exchange and both platforms come from `switchboard demo` on free ports; dave is
# played by the chat's script modes (--listen --json and --send-to).
#
# Usage: chat_tmux_test.sh /path/to/switchboard. Exits 0 on success, 77 (skipped) without tmux.
# Waits block on output (tail -F | grep -m1), each bounded by a guard that only a failure reaches.
set -euo pipefail

bin=${1:?usage: chat_tmux_test.sh SWITCHBOARD_BINARY}
guard=60
command -v tmux >/dev/null || { echo "tmux is not installed: skipped"; exit 77; }

work=$(mktemp -d)
session="sbchat$$"
demo_pid=""
listen_pid=""
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [[ -n $listen_pid ]] && kill "$listen_pid" 2>/dev/null || true
  if [[ -n $demo_pid ]]; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 40 "$f" >&2 || true; done
  exit 1
}

# Blocks until a line of FILE matches the extended regex, or fails after the guard.
wait_for() {
  local file=$1 regex=$2
  timeout "$guard" grep -m1 -q -E -- "$regex" <(tail --pid=$$ -n +1 -F "$file" 2>/dev/null) ||
    fail "no line matching '$regex' in $file"
}

# --- The exchange and two platforms ---
"$bin" demo --data "$work/demo" --base-port 0 --log-level warn >"$work/demo.log" 2>&1 &
demo_pid=$!
wait_for "$work/demo.log" "demo is running"
info=$(cat "$work/demo/demo.json")
urls=($(grep -o '"url":"[^"]*"' <<<"$info" | cut -d'"' -f4))
ids=($(grep -o '"platform_id":"[^"]*"' <<<"$info" | cut -d'"' -f4))
meta_url=${urls[0]} shop_url=${urls[1]} meta_id=${ids[0]} shop_id=${ids[1]}
[[ -n $meta_url && -n $shop_url ]] || fail "demo.json names no platforms: $info"

# --- dave listens, as JSON lines ---
"$bin" chat --platform "$shop_url" --account dave --password dave-pass --listen --json \
  >"$work/dave.log" 2>&1 &
listen_pid=$!
wait_for "$work/dave.log" '"event":"connected"'

# --- alice logs in, in tmux ---
pane="$work/alice.log"
: >"$pane"
# The pane stays open after the chat ends, so that the tmux server is still there to wait on.
tmux new-session -d -s "$session" -x 160 -y 50 \
  "read go; '$bin' chat --platform '$meta_url' --account alice --password alice-pass; tmux wait-for -S '$session-done'; read keep_open"
tmux pipe-pane -t "$session" -o "cat >> '$pane'"
tmux send-keys -t "$session" Enter
wait_for "$pane" "Connected as alice on Meta World \($meta_id\)"
wait_for "$pane" "^Shop \($shop_id\)"

# Pick dave, on the other platform, by his number in the list.
number=$(grep -a -E '^  [0-9]+  dave' "$pane" | head -n1 | awk '{print $1}')
[[ -n $number ]] || fail "dave is not in alice's contact list"
tmux send-keys -t "$session" "/to $number" Enter
wait_for "$pane" "Writing to dave on Shop \($shop_id\)"

tmux send-keys -t "$session" "hello dave" Enter
wait_for "$pane" "\[sent\] to dave@$shop_id: hello dave"
wait_for "$work/dave.log" '"event":"message".*"platform_name":"Meta World".*"account":"alice".*"text":"hello dave"'
wait_for "$pane" "\[delivered\] to dave@$shop_id: hello dave"

# dave answers with the one-shot mode, which exits 0 once the exchange accepted it.
"$bin" chat --platform "$shop_url" --account dave --password dave-pass \
  --send-to "alice@$meta_id" --text "hi alice" >"$work/send.log" 2>&1 ||
  fail "--send-to did not exit 0"
grep -q '^accepted ' "$work/send.log" || fail "--send-to printed no acceptance"
wait_for "$pane" "^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] Shop \($shop_id\) dave: hi alice"

# alice's screen shows the conversation.
screen=$(tmux capture-pane -p -t "$session")
grep -q "hello dave" <<<"$screen" || fail "the screen lacks alice's message: $screen"
grep -q "Shop ($shop_id) dave: hi alice" <<<"$screen" || fail "the screen lacks dave's reply: $screen"

# A send to an account that does not exist is refused with its code, and a non-zero exit.
status=0
"$bin" chat --platform "$shop_url" --account dave --password dave-pass \
  --send-to "nobody@$meta_id" --text "anyone?" >"$work/rejected.log" 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "a rejected send exited $status, not 2"
grep -q "rejected recipient_not_registered" "$work/rejected.log" || fail "no rejection code printed"

# /quit ends the chat.
tmux send-keys -t "$session" "/quit" Enter
timeout "$guard" tmux wait-for "$session-done" || fail "the chat did not quit"
echo "PASS"
