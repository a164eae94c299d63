#!/usr/bin/env bash
# Compares the starts of two or more builds on one configuration and data directory,
# interleaved (A B A B …) so that a machine whose speed drifts treats them alike. Each
# start begins from a fresh copy of DATA, and is read from /proc when it listens: wall
# time to listening (`startup_ms`), CPU (user + system), anonymous RSS, peak RSS, page
# faults, and the huge pages the kernel handed out meanwhile; then it is killed.
#
#   load-tests/start-ab.sh ROUNDS CONFIG_DIR DATA_DIR PORT BINARY...
#
# DATA_DIR is only read (e.g. the data directory `million.sh` leaves after a clean stop).
# Prints one line per start and each binary's means.
set -euo pipefail
. "$(dirname "$0")/serve.sh"
ROUNDS=$1; CONFIG=$2; DATA=$3; PORT=$4; shift 4
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
thp() { awk '/^thp_fault_alloc /{print $2}' /proc/vmstat; }
for _ in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    # The previous start's memory goes back to the kernel first.
    sleep 5
    rm -rf "$WORK/data"; cp -a "$DATA" "$WORK/data"; sync
    before=$(thp)
    serve "$bin" "$CONFIG" "$WORK/data" "$PORT" "$WORK/log"
    pid=$SERVER_PID
    after=$(thp)
    read -r minflt utime stime <<< "$(awk '{print $10, $14, $15}' "/proc/$pid/stat")"
    anon=$(awk '/^RssAnon/{print $2}' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    tick=$(getconf CLK_TCK)
    echo "$bin startup_ms=$(grep -o 'startup_ms=[0-9]*' "$WORK/log" | cut -d= -f2)" \
      "cpu_ms=$(( (utime + stime) * 1000 / tick ))" "anon_kb=$anon" "hwm_kb=$hwm" \
      "minflt=$minflt" "huge_pages=$((after - before))"
  done
done | tee "$WORK/runs"
echo "means:"
awk '{n[$1]++; for (i = 2; i <= NF; i++) { split($i, kv, "="); sum[$1 " " kv[1]] += kv[2] } }
  END { for (b in n) { line = b; split("startup_ms cpu_ms anon_kb hwm_kb minflt huge_pages", keys, " ");
    for (k = 1; k <= 6; k++) line = line sprintf(" %s=%.0f", keys[k], sum[b " " keys[k]] / n[b]); print line } }' \
  "$WORK/runs"
