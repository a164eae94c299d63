#!/usr/bin/env python3
"""How long a check result takes from `process-check-result` to Icinga DB's database.

Posts COUNT results to one service of an Icinga-compatible API (Auspex or Icinga 2),
alternating OK and CRITICAL (the service needs `max_check_attempts = 1`, so each is a
HARD state change), and after each polls the `service_state` row of the Icinga DB
database (every millisecond) until it shows the new state. Prints the latencies' median,
95th percentile and maximum in milliseconds. With --redis, also how long until the state
is in Redis (the writer's part). Loopback only; needs `pymysql` (and `redis` for --redis).

  icingadb_latency.py --url https://127.0.0.1:5665 --password secret \
      --service bench-host-0!0 --mysql 127.0.0.1:3306 --count 100
"""

import argparse
import base64
import json
import ssl
import statistics
import time
import urllib.request

import pymysql


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--user", default="root")
    ap.add_argument("--password", required=True)
    ap.add_argument("--service", required=True, help="host!service")
    ap.add_argument("--mysql", default="127.0.0.1:3306")
    ap.add_argument("--database", default="icingadb")
    ap.add_argument("--db-user", default="icingadb")
    ap.add_argument("--db-password", default="icingadb")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--redis", help="host:port of the Redis the writer writes to")
    args = ap.parse_args()
    if not any(args.url.startswith(p) for p in ("https://127.0.0.1", "https://localhost")):
        raise SystemExit("loopback only")

    host, service = args.service.split("!", 1)
    db_host, db_port = args.mysql.rsplit(":", 1)
    db = pymysql.connect(host=db_host, port=int(db_port), user=args.db_user,
                         password=args.db_password, database=args.database, autocommit=True)
    cur = db.cursor()
    cur.execute("SELECT s.id FROM service s JOIN host h ON h.id = s.host_id "
                "WHERE h.name = %s AND s.name = %s", (host, service))
    row = cur.fetchone()
    if row is None:
        raise SystemExit(f"{args.service} is not in the database")
    service_id = row[0]
    red = None
    if args.redis:
        import redis
        r_host, r_port = args.redis.rsplit(":", 1)
        red = redis.Redis(host=r_host, port=int(r_port), decode_responses=True)

    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    auth = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()

    def submit(exit_status, output):
        body = json.dumps({"type": "Service", "service": args.service,
                           "exit_status": exit_status, "plugin_output": output}).encode()
        req = urllib.request.Request(args.url + "/v1/actions/process-check-result", data=body,
                                     method="POST", headers={
                                         "Accept": "application/json",
                                         "Content-Type": "application/json",
                                         "Authorization": "Basic " + auth})
        with urllib.request.urlopen(req, context=tls) as res:
            res.read()

    latencies, in_redis = [], []
    for i in range(args.count):
        state = 2 if i % 2 == 0 else 0
        output = f"latency probe {i} {time.time()}"
        start = time.perf_counter()
        submit(state, output)
        deadline = start + 30
        while red is not None:
            raw = red.hget("icinga:service:state", service_id.hex())
            if raw is not None and json.loads(raw).get("output") == output:
                in_redis.append((time.perf_counter() - start) * 1000)
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"result {i} did not reach Redis within 30 s")
        
        while True:
            cur.execute("SELECT output FROM service_state WHERE service_id = %s", (service_id,))
            row = cur.fetchone()
            if row is not None and row[0] == output:
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"result {i} did not arrive within 30 s")
            time.sleep(0.001)
        latencies.append((time.perf_counter() - start) * 1000)

    def summary(what, values):
        values.sort()
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(f"{what}: results {len(values)}  median {statistics.median(values):.1f} ms  "
              f"p95 {p95:.1f} ms  max {values[-1]:.1f} ms")

    summary("database", latencies)
    if in_redis:
        summary("redis", in_redis)


if __name__ == "__main__":
    main()
