#!/usr/bin/env bash
# Issue 5's mixed load against a loaded data set: 90% GET, 5% PUT helpful, 1% report, 4% POST.
#
#   bench/mixed_load.sh BIN CONNINFO [ROUNDS]
#
# Starts `reviewsd serve --threads 2`, runs wrk -t1 -c64 for $DUR (default 20s) per round with
# bench/mixed.lua, and prints requests/s, writes/s (10% of requests), p50/p99 over all requests,
# non-2xx count, and the rows the writes added (reviews, helpfulness), checked in the database.
# The data set is modified (reviews added, helped, reported): use a throwaway copy.
set -euo pipefail
BIN=$(readlink -f "$1")
DB=$2
ROUNDS=${3:-3}
DUR=${DUR:-20s}
PORT=${PORT:-18082}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
MAXR=$(psql "$DB" -Atc "SELECT max(id) FROM reviews")
LO=$(( MAXP - MAXP / 10 )); HI=$MAXP
"$BIN" serve --listen "127.0.0.1:$PORT" --threads 2 --db "$DB" 2>"$TMP/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
wrk -t1 -c64 -d3s -s "$HERE/product_mix.lua" "http://127.0.0.1:$PORT" -- '/reviews/meta?product_id=%d' uniform "$LO" "$HI" >/dev/null

for i in $(seq "$ROUNDS"); do
  before=$(psql "$DB" -Atc "SELECT count(*) || ' ' || sum(helpfulness) FROM reviews")
  out=$(wrk -t1 -c64 -d"$DUR" --latency -s "$HERE/mixed.lua" "http://127.0.0.1:$PORT" -- "$LO" "$HI" "$MAXR")
  after=$(psql "$DB" -Atc "SELECT count(*) || ' ' || sum(helpfulness) FROM reviews")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  errs=$(echo "$out" | awk '/Socket errors/ {print}')
  echo "round $i: $rps req/s, writes ~$(awk -v r="$rps" 'BEGIN {printf "%.0f", r * 0.10}')/s, p50 $p50, p99 $p99, non-2xx ${bad:-0} ${errs}"
  echo "         reviews+helpfulness before: $before  after: $after"
done
