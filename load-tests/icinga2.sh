#!/usr/bin/env bash
# Starts an isolated Icinga 2 (Debian's `icinga2` package) for side-by-side benchmarks:
# its own directory, configuration, certificate and port — the system installation is not
# touched. The objects match the Auspex benchmark configuration: HOSTS hosts
# `bench-host-N`, each with SERVICES passive services `0`, `1`, …; API user root/bench.
#
#   load-tests/icinga2.sh [DIR] [PORT] [HOSTS] [SERVICES] [CPU]
#
# Defaults: /tmp/auspex-icinga2 5665 1000 10 0. Pinned to CPU with taskset. Prints the
# daemon's pid once the API answers; stop it with `kill <pid>`. With ICINGADB_REDIS_PORT
# set, its IcingaDB feature writes to the Redis on that loopback port.
set -euo pipefail

DIR=${1:-/tmp/auspex-icinga2}
PORT=${2:-5665}
HOSTS=${3:-1000}
SERVICES=${4:-10}
CPU=${5:-0}

command -v icinga2 >/dev/null || { echo "icinga2 is required: apt-get install icinga2"; exit 1; }

rm -rf "$DIR"
mkdir -p "$DIR"/{etc,lib/certs,log,cache,spool,run/icinga2}
# The icinga2 commands run as its own user (nagios on Debian).
chown -R nagios:nagios "$DIR" 2>/dev/null || true
icinga2 pki new-cert --cn localhost --key "$DIR/lib/certs/localhost.key" \
  --cert "$DIR/lib/certs/localhost.crt" >/dev/null
cp "$DIR/lib/certs/localhost.crt" "$DIR/lib/certs/ca.crt"

cat > "$DIR/etc/icinga2.conf" <<CONF
const NodeName = "localhost"
const ZoneName = "localhost"
include <itl>
object IcingaApplication "app" { }
object Endpoint NodeName { }
object Zone ZoneName { endpoints = [ NodeName ] }
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $PORT
  accept_config = false
  accept_commands = false
}
object ApiUser "root" { password = "bench"; permissions = [ "*" ] }
for (i in range($HOSTS)) {
  object Host "bench-host-" + i { check_command = "dummy"; enable_active_checks = false }
}
apply Service for (n in range($SERVICES)) {
  check_command = "dummy"
  enable_active_checks = false
  max_check_attempts = 1
  assign where true
}
CONF
if [ -n "${ICINGADB_REDIS_PORT:-}" ]; then
  echo "object IcingaDB \"icingadb\" { host = \"127.0.0.1\"; port = $ICINGADB_REDIS_PORT }" \
    >> "$DIR/etc/icinga2.conf"
fi
chown -R nagios:nagios "$DIR" 2>/dev/null || true

DEFINES=(
  -DConfiguration.ConfigDir="$DIR/etc" -DConfiguration.DataDir="$DIR/lib"
  -DConfiguration.LogDir="$DIR/log" -DConfiguration.CacheDir="$DIR/cache"
  -DConfiguration.SpoolDir="$DIR/spool" -DConfiguration.InitRunDir="$DIR/run"
)
taskset -c "$CPU" icinga2 daemon -c "$DIR/etc/icinga2.conf" "${DEFINES[@]}" \
  >"$DIR/log/stdout.log" 2>&1 &
PID=$!
for _ in $(seq 1 120); do
  if curl -sk -o /dev/null -u root:bench "https://127.0.0.1:$PORT/v1/status/IcingaApplication"; then
    echo "$PID"
    exit 0
  fi
  kill -0 "$PID" 2>/dev/null || { echo "icinga2 exited; see $DIR/log/stdout.log"; exit 1; }
  sleep 1
done
echo "icinga2 did not answer within 120 s; see $DIR/log/stdout.log"
kill "$PID"
exit 1
