#!/usr/bin/env bash
# How much CPU PostgreSQL spends beside a cached reviewsd: the misses of a warm cache (TTL
# expiry) run queries on the same machine, which the server's own CPU figure leaves out.
#
#   bench/db_cpu_share.sh BIN CONNINFO PGDATA [ROUNDS]
#
# BIN a Release reviewsd, CONNINFO a loaded database served by a LOCAL cluster whose data
# directory is PGDATA (its postmaster.pid names the processes to count). Starts `reviewsd serve`
# (default cache), warms it for WARM seconds, then ROUNDS (default 7) back-to-back runs of DUR
# seconds (default 10) of `reviewsd-bench load --scenario SCENARIO` (default hot, as
# cache_vs_nginx.sh: ids up to the largest product id, 64 connections). Per run: responses, cache
# misses, reviewsd's and PostgreSQL's (postmaster and all its children) user + system CPU per
# response from /proc, and PostgreSQL's CPU per miss. Rounds past the TTL (60 s by default;
# entries expire over its last 20%) show the refill of everything the warm-up stored.
# Env: DUR, WARM (5), SCENARIO, PORT (18095), BENCH_BIN (reviewsd-bench beside BIN).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,16p' "$0"; exit 2; }
BIN=$(readlink -f "$1")
DB=$2
PGDATA=$3
ROUNDS=${4:-7}
DUR=${DUR:-10}
WARM=${WARM:-5}
SCENARIO=${SCENARIO:-hot}
PORT=${PORT:-18095}
MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
# start_reviewsd, cpu_ticks, pg_cluster_pids, find_bench_bin
source "$(dirname "$0")/lib.sh"
bench_temp
find_bench_bin "$BIN"
PM=$(pg_cluster_pids "$PGDATA" | cut -d' ' -f1)

start_reviewsd "$PORT" serve

misses() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk '$1=="reviewsd_cache_misses_total" {print $2}'; }
load() {  # SECONDS -> responses
  "$BENCH_BIN" load --url "http://127.0.0.1:$PORT" --scenario "$SCENARIO" --products "$MAXP" \
    --connections 64 --duration "$1" --quiet --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}

echo "reviewsd: $("$BIN" --version 2>&1 | head -1), serve --threads $(nproc), default cache; scenario $SCENARIO, products up to $MAXP, 64 connections; PostgreSQL pid $PM"
load "$WARM" >/dev/null
for i in $(seq "$ROUNDS"); do
  pg=$(pg_cluster_pids "$PGDATA")
  s0=$(cpu_ticks "$SPID"); g0=$(cpu_ticks "$pg"); m0=$(misses)
  n=$(load "$DUR")
  s1=$(cpu_ticks "$SPID"); g1=$(cpu_ticks "$pg"); m1=$(misses)
  awk -v i="$i" -v n="$n" -v m=$((m1 - m0)) -v s=$(((s1 - s0) * TICK_US)) -v g=$(((g1 - g0) * TICK_US)) 'BEGIN {
    printf "round %d: %d responses, %d misses; reviewsd %.2f us/resp, postgres %.2f us/resp", i, n, m, s / n, g / n
    if (m >= 100) printf ", postgres %.0f us per miss", g / m
    printf "\n" }'
done
