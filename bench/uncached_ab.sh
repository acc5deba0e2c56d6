#!/usr/bin/env bash
# A/B of two reviewsd builds on the database path: both serve with --cache-mb 0 (every request
# a query) on one database; alternating rounds of `reviewsd-bench load --scenario random --route
# ROUTE` (ids uniform over the last 10% of products, 64 connections). Per run: requests/s, and
# user + system CPU per request of that server and of PostgreSQL (a LOCAL cluster: postmaster
# and children, from PGDATA/postmaster.pid). For changes to the statements or to how the pool
# talks to PostgreSQL; bench/cache_vs_nginx.sh BIN_B= is the same for cache hits.
#
#   bench/uncached_ab.sh BIN_A BIN_B CONNINFO PGDATA [ROUNDS]
#
# Env: DUR (seconds per run, 8), ROUTE (reviews | meta, reviews), PORT (first of two, 18097),
#      BENCH_BIN (reviewsd-bench beside BIN_A).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,12p' "$0"; exit 2; }
A=$(readlink -f "$1")
B=$(readlink -f "$2")
DB=$3
PGDATA=$4
ROUNDS=${5:-5}
DUR=${DUR:-8}
ROUTE=${ROUTE:-reviews}
PORT=${PORT:-18097}
MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
# start_reviewsd, cpu_ticks, pg_cluster_pids, find_bench_bin
source "$(dirname "$0")/lib.sh"
bench_temp
find_bench_bin "$A"
PM=$(pg_cluster_pids "$PGDATA" | cut -d' ' -f1)

load() {  # PORT SECONDS -> "requests non2xx"
  "$BENCH_BIN" load --url "http://127.0.0.1:$1" --scenario random --route "$ROUTE" \
    --products "$MAXP" --connections 64 --duration "$2" --quiet --json 2>/dev/null |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["requests"], d["requests"] - d["statuses"].get("200", 0))'
}
run() {  # PORT PID -> "req/s server_us pg_us non2xx"
  local pg s0 g0 s1 g1 n bad
  pg=$(pg_cluster_pids "$PGDATA")
  s0=$(cpu_ticks "$2"); g0=$(cpu_ticks "$pg")
  read -r n bad <<< "$(load "$1" "$DUR")"
  s1=$(cpu_ticks "$2"); g1=$(cpu_ticks "$pg")
  awk -v n="$n" -v d="$DUR" -v s=$(((s1 - s0) * TICK_US)) -v g=$(((g1 - g0) * TICK_US)) -v b="$bad" \
    'BEGIN {printf "%.0f %.1f %.1f %d", n / d, s / n, g / n, b}'
}

echo "A: $A"; echo "B: $B"
echo "route $ROUTE, ids uniform in [$((MAXP - MAXP / 10)), $MAXP], --cache-mb 0, 64 connections, ${DUR} s runs, $ROUNDS alternating rounds; PostgreSQL pid $PM"
BIN=$A start_reviewsd "$PORT" A --cache-mb 0; APID=$SPID
BIN=$B start_reviewsd "$((PORT + 1))" B --cache-mb 0; BPID=$SPID
load "$PORT" 3 >/dev/null; load "$((PORT + 1))" 3 >/dev/null  # warm both (the same pages)
for i in $(seq "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then a=($(run "$PORT" "$APID")); b=($(run "$((PORT + 1))" "$BPID"))
  else b=($(run "$((PORT + 1))" "$BPID")); a=($(run "$PORT" "$APID")); fi
  echo "round $i: A ${a[0]} req/s, reviewsd ${a[1]} us/req, postgres ${a[2]} us/req (non-2xx ${a[3]})   B ${b[0]} req/s, reviewsd ${b[1]} us/req, postgres ${b[2]} us/req (non-2xx ${b[3]})"
done
