#!/usr/bin/env bash
# One million services on one node: a first start, a result for every host and service
# (two bulk `process-check-result`s), the store and snapshot sizes, two clean restarts and
# one after `kill -9`, each with the "Store verified" and "Listening" figures and the RSS,
# and each stop's snapshot (and compaction, when the store file was mostly free space).
#
#   load-tests/million.sh BINARY WORK_DIR PORT [HOSTS]
#
# WORK_DIR is emptied; it gets the configuration (HOSTS hosts, default 100 000, ten
# passive services each) and the data directory. Needs curl.
set -euo pipefail
. "$(dirname "$0")/serve.sh"
BIN=$1; WORK=$2; PORT=$3; HOSTS=${4:-100000}
URL="https://127.0.0.1:$PORT"
rm -rf "$WORK"; mkdir -p "$WORK/etc" "$WORK/data"
cat > "$WORK/etc/icinga2.conf" <<EOF
object ApiUser "root" { password = "secret"; permissions = [ "*" ] }
for (i in range($HOSTS)) {
  object Host "h" + i { check_command = "dummy"; enable_active_checks = false }
}
apply Service for (n in range(10)) {
  check_command = "dummy"
  enable_active_checks = false
  assign where true
}
EOF
LOG=$WORK/log
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null || true' EXIT

start() {
  serve "$BIN" "$WORK/etc" "$WORK/data" "$PORT" "$LOG"
  PID=$SERVER_PID
  local verified listening
  verified=$(grep -o 'Store verified.*' "$LOG" | grep -o ' ms=[0-9]*' || true)
  listening=$(grep -o 'store_ms=[0-9]* load_ms=[0-9]* startup_ms=[0-9]*' "$LOG")
  echo "$1: verified$verified $listening rss=$(ps -o rss= -p "$PID") KB"
}

stop() {
  kill "$PID"; wait "$PID" || true; PID=
  echo "  stop: $(grep -o 'State snapshot written.*' "$LOG" || echo 'no snapshot')"
  grep -o 'Store compacted.*' "$LOG" | sed 's/^/  /' || true
}

post() {
  curl -sk -u root:secret -H 'Accept: application/json' -X POST --max-time 900 \
    -o /dev/null -w '%{http_code}' "$URL/v1/actions/process-check-result" -d "$1"
}

start first
for type in Host Service; do
  began=$(date +%s.%N)
  code=$(post "{\"type\":\"$type\",\"filter\":\"true\",\"exit_status\":0,\"plugin_output\":\"OK - all fine here\",\"performance_data\":[\"load=1;2;3\"]}")
  echo "  bulk $type: $code in $(echo "$(date +%s.%N) - $began" | bc) s"
done
echo "  rss after the results: $(ps -o rss= -p "$PID") KB"
stop
ls -l "$WORK/data/state.redb" "$WORK/data/state.snapshot" | awk '{print "  " $5 " bytes " $9}'
for i in 1 2; do start "clean restart $i"; stop; done
start "before kill -9"
post '{"type":"Service","service":"h1!1","exit_status":2,"plugin_output":"CRITICAL"}' > /dev/null
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=
start "after kill -9"
stop
