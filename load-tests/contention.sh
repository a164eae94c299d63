#!/usr/bin/env bash
# `process-check-result` latency with and without a CPU-bound process competing for the
# server's core: the competitor (a busy shell loop at the same priority) is pinned to
# CORE, where the server should already be pinned; `auspex-load` runs on LOAD_CORE.
#
#   load-tests/contention.sh URL PASSWORD [CONNECTIONS] [CORE] [LOAD_CORE] [SERVICE]
#
# Defaults: 64,256 connections, core 0, load on core 1, service bench-host-7!3. Works
# against Auspex and Icinga 2 alike (load-tests/icinga2.sh starts one pinned to core 0).
set -euo pipefail
URL=$1; PASSWORD=$2; CONNS=${3:-64,256}; CORE=${4:-0}; LOAD_CORE=${5:-1}
SERVICE=${6:-bench-host-7!3}
LOAD=${LOAD:-target/release/auspex-load}
BODY="{\"type\":\"Service\",\"service\":\"$SERVICE\",\"exit_status\":0,\"plugin_output\":\"OK - fine\",\"performance_data\":[\"load=1;2;3\"]}"
run() {
  taskset -c "$LOAD_CORE" "$LOAD" --url "$URL" --password "$PASSWORD" --method POST \
    --path /v1/actions/process-check-result --connections "$CONNS" --seconds 5 --body "$BODY" \
    2>/dev/null | grep -v '^$' | grep -v ' connections: '
}
echo "# alone"
run
echo "# with a busy process on core $CORE"
taskset -c "$CORE" sh -c 'while :; do :; done' &
HOG=$!
trap 'kill $HOG 2>/dev/null || true' EXIT
run
