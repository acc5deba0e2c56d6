#!/usr/bin/env bash
# Uncached random reads, reviewsd vs pgbench -M prepared running the same SQL (issue 4).
#
#   bench/read_vs_pgbench.sh BIN CONNINFO [ROUNDS] [CONNS_PER_THREAD]
#
# BIN is a Release reviewsd, CONNINFO a loaded database (scale 1 for the published figures).
# For each route (meta, reviews) and each round, alternately:
#   - reviewsd serve --threads 2 --db-conns-per-thread K, driven by wrk -t1 -c64 for $DUR with
#     product ids uniform over the last 10% of products (bench/product_mix.lua uniform);
#   - pgbench -M prepared -c 2K -j1 for $DUR with the same SQL (`reviewsd sql`) and the same
#     id distribution: the same number of database connections, and generic plans as the
#     server's pool uses (PGOPTIONS; db/README.md, "Generic plans").
# Prints each run and the medians and ratio. Env: DUR (default 10s), PORT (default 18081),
# EXTRA (extra serve flags, e.g. --no-pipeline).
set -euo pipefail
BIN=$(readlink -f "$1")
DB=$2
ROUNDS=${3:-3}
K=${4:-1}
DUR=${DUR:-10s}
PORT=${PORT:-18081}
HERE=$(cd "$(dirname "$0")" && pwd)
PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)
TMP=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
LO=$(( MAXP - MAXP / 10 )); HI=$MAXP
DBCONNS=$(( 2 * K ))
echo "products up to $MAXP; ids uniform in [$LO, $HI]; $DBCONNS database connections; $DUR per run"

# pgbench scripts with the server's own SQL ($1 product id, $2 count, $3 zero-based page).
pg_script() {  # NAME
  { echo "\\set pid random($LO, $HI)"; echo "\\set count 5"; echo "\\set page 0";
    # pgbench would read ":MI" inside the date format literal as a variable: spell it with
    # replace() for pgbench (same work for the database).
    "$BIN" sql --name "$1" | sed -e 's/\$1/:pid/g; s/\$2/:count/g; s/\$3/:page/g' -e 's/$/;/' \
      -e "s/'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'/replace('YYYY-MM-DD\"T\"HH24#MI#SS.MS\"Z\"', '#', ':')/"; } > "$TMP/$1.sql"
}
pg_script meta
pg_script reviews_relevant

# --cache-mb 0: this measures the database path (every request a query), as pgbench does;
# bench/cache_vs_nginx.sh measures the cache.
"$BIN" serve --listen "127.0.0.1:$PORT" --threads 2 --db "$DB" --db-conns-per-thread "$K" --cache-mb 0 ${EXTRA:-} 2>"$TMP/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$TMP/serve.log"; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for route in ${ONLY:-meta reviews}; do
  case $route in
    meta) path='/reviews/meta?product_id=%d'; stmt=meta ;;
    reviews) path='/reviews?product_id=%d'; stmt=reviews_relevant ;;
  esac
  : > "$TMP/r.$route"; : > "$TMP/p.$route"; : > "$TMP/l.$route"
  # Warm the buffer cache once for both (the same pages).
  wrk -t1 -c64 -d3s -s "$HERE/product_mix.lua" "http://127.0.0.1:$PORT" -- "$path" uniform "$LO" "$HI" >/dev/null
  for i in $(seq "$ROUNDS"); do
    out=$(wrk -t1 -c64 -d"$DUR" --latency -s "$HERE/product_mix.lua" "http://127.0.0.1:$PORT" -- "$path" uniform "$LO" "$HI")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    bad=$(echo "$out" | awk '/^non-200 responses:/ {print $3}')
    tps=$(PGOPTIONS="-c plan_cache_mode=force_generic_plan" "$PGBENCH" -n -M prepared -c "$DBCONNS" -j 1 -T "${DUR%s}" -f "$TMP/$stmt.sql" "$DB" 2>/dev/null |
          awk '/^tps/ {print $3}')
    echo "$route round $i: reviewsd $rps req/s (p99 $p99, non-2xx $bad)   pgbench $tps tps"
    echo "$rps" >> "$TMP/r.$route"; echo "$tps" >> "$TMP/p.$route"
  done
  r=$(median < "$TMP/r.$route"); p=$(median < "$TMP/p.$route")
  echo "$route: median reviewsd $r req/s, median pgbench $p tps, ratio $(awk -v a="$r" -v b="$p" 'BEGIN {printf "%.2f", a/b}')x"
done
