#!/usr/bin/env bash
# The CPU each thread of the server spends under `process-check-result` load: the
# server pinned to core 0, `auspex-load` to core 1, 7 s of load, thread CPU ticks
# (1/100 s) over 5 s of it.
#
#   load-tests/thread_cpu.sh BINARY CONFIG_DIR PORT CONNECTIONS [PASSWORD]
#
# CONFIG_DIR holds the benchmark objects (services `bench-host-7!3` among them).
set -euo pipefail
BIN=$1; CONFIG=$2; PORT=$3; CONNS=$4; PASSWORD=${5:-secret}
LOAD=${LOAD:-target/release/auspex-load}
DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
taskset -c 0 "$BIN" serve --config "$CONFIG" --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" > "$DIR/log" 2>&1 &
PID=$!
for _ in $(seq 300); do grep -q Listening "$DIR/log" && break; sleep 0.1; done
taskset -c 1 "$LOAD" --url "https://127.0.0.1:$PORT" --password "$PASSWORD" --method POST \
  --path /v1/actions/process-check-result --connections "$CONNS" --seconds 7 \
  --body '{"type":"Service","service":"bench-host-7!3","exit_status":0,"plugin_output":"OK - fine","performance_data":["load=1;2;3"]}' \
  > "$DIR/load" 2>&1 &
LOADER=$!
sleep 1
declare -A before
for t in /proc/$PID/task/*; do before[$t]=$(awk '{print $14+$15}' "$t/stat"); done
sleep 5
for t in /proc/$PID/task/*; do
  now=$(awk '{print $14+$15}' "$t/stat")
  echo "$(cat "$t/comm") $(( now - ${before[$t]:-0} ))"
done | sort -k2 -n -r | head -8
wait "$LOADER"
tail -1 "$DIR/load"
