#!/usr/bin/env bash
# The cost of creating and deleting single objects on a large site: starts BINARY on
# CONFIG_DIR with a fresh copy of DATA_DIR (e.g. what `million.sh` leaves), waits out the
# first minute (the scheduler spreads the checks due at the start over it), then creates
# six services on HOST and deletes three of them, one request every three seconds. Prints
# each request's time and the server's CPU time over all of them (everything each change
# sets off: the change, its commit, the scheduler looking for new checks).
#
#   load-tests/object-changes.sh BINARY CONFIG_DIR DATA_DIR PORT [HOST] [PASSWORD]
#
# The configuration needs an ApiUser root (PASSWORD, default secret) and a CheckCommand
# "dummy" (Icinga's template library or the built-in one).
set -euo pipefail
BIN=$1; CONFIG=$2; DATA=$3; PORT=$4; HOST=${5:-h5}; PASSWORD=${6:-secret}
. "$(dirname "$0")/serve.sh"
PID=
WORK=$(mktemp -d); trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -a "$DATA" "$WORK/data"
serve "$BIN" "$CONFIG" "$WORK/data" "$PORT" "$WORK/log"
PID=$SERVER_PID
sleep 70
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
before=$(cpu)
url="https://127.0.0.1:$PORT/v1/objects/services"
for i in 1 2 3 4 5 6; do
  curl -sk -u "root:$PASSWORD" -H 'Accept: application/json' -X PUT "$url/$HOST!new$i" \
    -d '{"attrs":{"check_command":"dummy","enable_active_checks":false}}' \
    -o /dev/null -w "PUT    %{http_code} %{time_total} s\n"
  sleep 3
done
for i in 1 2 3; do
  curl -sk -u "root:$PASSWORD" -H 'Accept: application/json' -X DELETE "$url/$HOST!new$i" \
    -o /dev/null -w "DELETE %{http_code} %{time_total} s\n"
  sleep 3
done
echo "CPU over the 9 requests: $(( ($(cpu) - before) * 1000 / $(getconf CLK_TCK) )) ms"
