#!/usr/bin/env bash
# What the nginx references of cache_vs_nginx.sh cost nginx, apart: choosing a body per request,
# the bodies' sizes, and many bodies against one. Five nginx servers (lib.sh nginx_start), one
# process, each measured in turn for DUR seconds per round, the order rotating:
#   one          `location /` returning one constant body of the mean size (nginx-mean)
#   map-one      that body as the default of a `map` on $arg_product_id: a lookup and a
#                variable per request, still one body
#   map-sized    per id, a body of the size reviewsd sends for it, from that map (nginx-sized)
#   paths-mean   10,000 exact locations /p/ID, each with its own constant copy of the mean body
#   paths-sized  10,000 exact locations, each a constant body of reviewsd's size for its id
# Sizes from `reviewsd serve` (BIN) on CONNINFO for the 10,000 largest product ids (the hot set's
# ids); the load is those ids uniform (`reviewsd-bench load --scenario custom`, 64 connections,
# closed loop, /reviews?product_id=ID or /p/ID). Per run: requests/s and nginx's user and system
# CPU per response (its workers, from /proc); then the medians.
# paths-sized vs paths-mean: the sizes alone (same lookup, as many bodies). paths-mean vs one and
# map-one vs one: what a lookup costs; map-sized vs map-one: the sizes and the many bodies.
#
#   bench/nginx_lookup.sh BIN CONNINFO [ROUNDS]
#
# MIX=hot: the hot scenario's mix instead (`--scenario hot`: 80% of requests on every 5th id, as
# cache_vs_nginx.sh), for one, map-one and map-sized only (the load cannot send that mix to /p/).
# Env: DUR (seconds per run, 10), MIX (uniform or hot), PORT (first of 6, 18190), BENCH_BIN.
set -euo pipefail
# bench_args, product_bounds, bench_temp, nginx_start, start_reviewsd, response_sizes, median,
# find_bench_bin, TICK_US, mix_mean, pad_body
source "$(dirname "$0")/lib.sh"
bench_args 20 5 10 "$@"
MIX=${MIX:-uniform}
case $MIX in uniform | hot) ;; *) echo "MIX must be uniform or hot, not $MIX"; exit 2 ;; esac
PORT=${PORT:-18190}
bench_temp
find_bench_bin "$BIN"
product_bounds
LO=$HOT_LO

THREADS=${THREADS:-$(nproc)} start_reviewsd "$PORT" sizes
response_sizes "$PORT" "$LO" "$MAXP" > "$TMP/sizes"
kill "$SPID"; wait "$SPID" 2>/dev/null || true
PIDS=()  # reviewsd, the only process so far, is gone: the exit trap must not signal its pid
MEAN=$(mix_mean "$MIX" "$LO" "$TMP/sizes")  # MIX=hot: weighed as the hot mix requests the ids
pad_body "$MEAN" "$TMP/body"
awk -v m="$MEAN" '{print $1, m}' "$TMP/sizes" > "$TMP/sizes.mean"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes $(nproc); $(nproc) cores; ids $LO..$MAXP, mix $MIX, 64 connections, ${DUR}s per run"
echo "sizes of reviewsd's /reviews bodies: mean $MEAN bytes, $(sort -k2,2n "$TMP/sizes" | awk '{a[NR]=$2} END {printf "%d-%d", a[1], a[NR]}'); $(awk '$2 > 4000' "$TMP/sizes" | wc -l) over 4,000 bytes (cut to 4,000 for paths-sized)"
VARIANTS=(one map-one map-sized paths-mean paths-sized)
N=${#VARIANTS[@]}
[ "$MIX" = hot ] && N=3  # the first three
nginx_start "$(nproc)" $((PORT + 1)) "$TMP/body" $((PORT + 2)) "mapped:$TMP/body" \
  $((PORT + 3)) "sizes:$TMP/sizes" $((PORT + 4)) "paths:$TMP/sizes.mean" $((PORT + 5)) "paths:$TMP/sizes"

split_ticks() {  # -> "user system" clock ticks of nginx's workers so far
  local p u=0 s=0 a b
  for p in $(pgrep -P "$NPID"); do
    read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat") && u=$((u + a)) && s=$((s + b))
  done
  echo "$u $s"
}
measure() {  # INDEX -> "req/s user_us system_us" per response
  local port=$((PORT + 1 + $1)) ids=(--scenario custom --path-template '/reviews?product_id=%d'
    --ids "$LO:$MAXP") u0 s0 u1 s1
  [[ ${VARIANTS[$1]} == paths-* ]] && ids[3]='/p/%d'
  [ "$MIX" = hot ] && ids=(--scenario hot --products "$MAXP")
  read -r u0 s0 <<< "$(split_ticks)"
  "$BENCH_BIN" load --url "http://127.0.0.1:$port" "${ids[@]}" --connections 64 --duration "$DUR" \
    --quiet --json > "$TMP/load.json" 2> "$TMP/load.err" || { cat "$TMP/load.err" >&2; return 1; }
  read -r u1 s1 <<< "$(split_ticks)"
  python3 - "$TMP/load.json" $(((u1 - u0) * TICK_US)) $(((s1 - s0) * TICK_US)) <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n = d["requests"]
bad = n - d["statuses"].get("200", 0) + sum(d["errors"].values()) - d["errors"].get("status", 0)
if bad or not n: sys.exit(f"{bad} failed requests of {n}")
print(f'{d["rps"]:.0f} {int(sys.argv[2]) / n:.2f} {int(sys.argv[3]) / n:.2f}')
PY
}
for r in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((N - 1))); do
    i=$(((k + r - 1) % N))
    out=$(measure "$i") || { echo "${VARIANTS[$i]}: the load failed" >&2; exit 1; }
    read -r rps u s <<< "$out"
    echo "$rps $u $s" >> "$TMP/${VARIANTS[$i]}"
    printf 'round %d %-12s %7d req/s  user %5.2f  system %5.2f  total %5.2f µs per response\n' \
      "$r" "${VARIANTS[$i]}" "$rps" "$u" "$s" "$(awk -v a="$u" -v b="$s" 'BEGIN {print a + b}')"
  done
done
echo "medians of $ROUNDS rounds:"
for v in "${VARIANTS[@]:0:N}"; do
  printf '  %-12s %7.0f req/s  user %5.2f  system %5.2f  total %5.2f µs per response\n' "$v" \
    "$(cut -d' ' -f1 "$TMP/$v" | median)" "$(cut -d' ' -f2 "$TMP/$v" | median)" \
    "$(cut -d' ' -f3 "$TMP/$v" | median)" "$(awk '{print $2 + $3}' "$TMP/$v" | median)"
done
