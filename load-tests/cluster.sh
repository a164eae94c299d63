#!/usr/bin/env bash
# Starts an Auspex cluster for benchmarks: a `nats-server -js` of its own and NODES
# `auspex serve --cluster` nodes (the release binary), all on loopback, all in DIR. The
# objects match the other benchmarks: HOSTS hosts `bench-host-N` with SERVICES passive
# services `0`, `1`, …; API user root/bench. With ACTIVE > 0, host `bench-active` gets
# ACTIVE services checked every INTERVAL seconds by Debian's `check_dummy` plugin (a
# real process per check), shared among the nodes.
#
#   load-tests/cluster.sh [DIR] [NODES] [HOSTS] [SERVICES] [ACTIVE] [INTERVAL]
#
# Defaults: /tmp/auspex-cluster 3 1000 10 0 10. Node i listens on 127.0.0.1:1570i, NATS on
# 127.0.0.1:14222. Prints the nodes' URLs once every node sees the others; stop everything
# with `kill $(cat DIR/pids)`.
set -euo pipefail

DIR=${1:-/tmp/auspex-cluster}
NODES=${2:-3}
HOSTS=${3:-1000}
SERVICES=${4:-10}
ACTIVE=${5:-0}
INTERVAL=${6:-10}
BIN=${AUSPEX_BIN:-target/release/auspex}
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)

[ -x "$BIN" ] || { echo "build first: cargo build --release"; exit 1; }
[ -x "$NATS" ] || { echo "nats-server is required: apt-get install nats-server"; exit 1; }

if [ -f "$DIR/pids" ]; then kill $(cat "$DIR/pids") 2>/dev/null || true; sleep 1; fi
rm -rf "$DIR"
mkdir -p "$DIR/etc" "$DIR/jetstream"
cat > "$DIR/etc/bench.conf" <<CONF
object ApiUser "root" { password = "bench"; permissions = [ "*" ] }
for (i in range($HOSTS)) {
  object Host "bench-host-" + i { check_command = "dummy"; enable_active_checks = false }
}
apply Service for (n in range($SERVICES)) {
  check_command = "dummy"
  enable_active_checks = false
  max_check_attempts = 1
  assign where match("bench-host-*", host.name)
}
object CheckCommand "bench-plugin" {
  command = [ "/usr/lib/nagios/plugins/check_dummy", "0", "bench" ]
}
object Host "bench-active" { check_command = "dummy"; enable_active_checks = false }
apply Service "a" for (n in range($ACTIVE)) {
  check_command = "bench-plugin"
  check_interval = $INTERVAL
  retry_interval = $INTERVAL
  assign where host.name == "bench-active"
}
CONF

"$NATS" -js -a 127.0.0.1 -p 14222 -sd "$DIR/jetstream" > "$DIR/nats.log" 2>&1 &
echo $! > "$DIR/pids"
for _ in $(seq 50); do grep -q "Server is ready" "$DIR/nats.log" && break; sleep 0.1; done

for i in $(seq "$NODES"); do
  "$BIN" serve --config "$DIR/etc" --data-dir "$DIR/node$i" --node-name "node$i" \
    --listen "127.0.0.1:1570$i" --cluster nats://127.0.0.1:14222 --log-level warn \
    > "$DIR/node$i.log" 2>&1 &
  echo $! >> "$DIR/pids"
done
for i in $(seq "$NODES"); do
  for _ in $(seq 300); do
    seen=$(curl -sk -u root:bench "https://127.0.0.1:1570$i/v1/status/Cluster" 2>/dev/null \
      | python3 -c 'import json,sys; c=json.load(sys.stdin)["results"][0]["status"]["cluster"]; print(len(c["nodes"]) if c["leader"] else 0)' 2>/dev/null || echo 0)
    [ "$seen" = "$NODES" ] && break
    sleep 0.2
  done
  echo "https://127.0.0.1:1570$i"
done
