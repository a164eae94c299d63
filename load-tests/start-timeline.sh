#!/usr/bin/env bash
# Which threads were on the CPU during a start, step by step: the samples of a
# `perf record -e cpu-clock` of `auspex serve` (until it listens) per STEP seconds, for
# the main thread, the rayon pool, and each named thread. With N cores and perf's default
# 1 000 Hz, a step of S seconds holds at most N × 1 000 × S samples: a step where only
# `main` has samples is a stretch the start runs on one core.
#
#   perf record -e cpu-clock -g -o start.perf -- auspex serve …   (stopped once it listens)
#   load-tests/start-timeline.sh start.perf [STEP]
#
# Threads the pool spawned inherit the name of the thread that first used the pool; the
# main thread is the one whose id is the process id.
set -euo pipefail
perf script -i "$1" -F comm,pid,tid,time 2>/dev/null | awk -v step="${2:-0.25}" '
  {
    t = $NF; sub(":", "", t); if (!start) start = t
    b = int((t - start) / step)
    split($(NF - 1), id, "/")
    kind = id[1] == id[2] ? "main" : ($1 ~ /^auspex/ ? "pool" : $1)
    n[b " " kind]++; if (b > last) last = b
  }
  END {
    for (i = 0; i <= last; i++) {
      line = sprintf("%6.2f s", i * step)
      for (k in n) { split(k, p, " "); if (p[1] == i) line = line "  " p[2] "=" n[k] }
      print line
    }
  }'
