#!/usr/bin/env bash
# Validates the load generator against wrk (issue 7): the same server, the same settings, closed
# loop, wrk -t1 -c$CONNS vs `reviewsd-bench load --connections $CONNS --threads 1`, alternating
# rounds (who goes first alternates too), then both medians and their ratio. The issue requires
# reviewsd-bench within 10% of wrk.
#
#   bench/validate_loadgen.sh BIN_BENCH [ROUNDS]
#
# The server is nginx `return 200` of a 1.5 KB JSON body (lib.sh's nginx_start), or, with
# REVIEWSD=path/to/reviewsd, `reviewsd serve` answering /bench/fixed (no database needed), or,
# with REVIEWSD and DB=CONNINFO as well, `reviewsd serve --cache-mb 0` answering
# /reviews/meta?product_id=ID for ids uniform over the last 10% of products (wrk with
# product_mix.lua uniform, reviewsd-bench with --path-template and --ids): a server bound by
# its database, far below what either client can drive, so both must measure the same rate.
# Env: DUR (per run, default 5s), CONNS (64), THREADS (server workers, default 1: the other core
# is the client's), PORT (18093), PIN (default 1: the server on CPU 0, the client on CPU 1, with
# taskset; PIN=0 lets the scheduler place them).
#
# Two questions, two settings. With PIN=1 the server has a core of its own and is the bottleneck
# for both clients: a client that measures correctly must then report the same requests/s as
# wrk (the issue's "within 10%"). With PIN=0 the three processes share both cores and the
# faster client measures more; the CPU per response column says by how much each client costs.
set -euo pipefail
BENCH=$(readlink -f "$1")
ROUNDS=${2:-5}
DUR=${DUR:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-18093}
PIN=${PIN:-1}
# nginx_start, run_wrk, median
source "$(dirname "$0")/lib.sh"
bench_temp

URL=http://127.0.0.1:$PORT/bench/fixed
WRK_ARGS=() WRK_TAIL=() BENCH_ARGS=()
if [ -n "${REVIEWSD:-}" ] && [ -n "${DB:-}" ]; then
  MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
  LO=$((MAXP - MAXP / 10))
  TEMPLATE='/reviews/meta?product_id=%d'
  "$REVIEWSD" serve --listen "127.0.0.1:$PORT" --threads "$THREADS" --cache-mb 0 --db "$DB" \
    2>"$TMP/reviewsd.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  URL=http://127.0.0.1:$PORT
  WRK_ARGS=(-s "$(dirname "$0")/product_mix.lua")
  WRK_TAIL=(-- "$TEMPLATE" uniform "$LO" "$MAXP")
  BENCH_ARGS=(--path-template "$TEMPLATE" --ids "$LO:$MAXP")
  SERVER="reviewsd serve --threads $THREADS --cache-mb 0, GET $TEMPLATE, ids uniform in [$LO, $MAXP]"
elif [ -n "${REVIEWSD:-}" ]; then
  "$REVIEWSD" serve --listen "127.0.0.1:$PORT" --threads "$THREADS" 2>"$TMP/reviewsd.log" &
  PIDS+=($!)
  for _ in $(seq 50); do curl -sf "$URL" >/dev/null && break; sleep 0.1; done
  SERVER="reviewsd serve --threads $THREADS, /bench/fixed ($(curl -s "$URL" | wc -c) bytes)"
else
  python3 -c 'import json; print(json.dumps({"product": "1", "page": 0, "count": 5, "results": [{"review_id": i, "body": "x" * 200} for i in range(6)]}, separators=(",", ":")), end="")' > "$TMP/body.json"
  nginx_start "$THREADS" "$PORT" "$TMP/body.json"
  SERVER="nginx return 200, worker_processes $THREADS, $(wc -c < "$TMP/body.json") bytes"
fi

if [ "$PIN" = 1 ]; then
  # The server's processes (nginx's master and workers) and all their threads on CPU 0; this
  # shell on CPU 1, so that every client started from here inherits it.
  for p in "${PIDS[@]}" $(for p in "${PIDS[@]}"; do pgrep -P "$p" || true; done); do
    taskset -a -p -c 0 "$p" >/dev/null
  done
  taskset -p -c 1 $$ >/dev/null
  SERVER="$SERVER, pinned to CPU 0, clients to CPU 1"
fi

# Each prints "req/s p99_ms cpu_us": the client's own CPU time (user + system, bash's `time`)
# per response, the figure that explains a difference in throughput when the client is the
# bottleneck (the server is the same for both).
cpu_per_request() {  # "USER SYS" REQUESTS
  awk -v t="$1" -v n="$2" 'BEGIN { split(t, a, " "); printf "%.2f", (n > 0 ? (a[1] + a[2]) * 1e6 / n : 0) }'
}
wrk_round() {
  local cpu line
  cpu=$( { TIMEFORMAT='%U %S'; time run_wrk "${WRK_ARGS[@]}" "$URL" "${WRK_TAIL[@]}" > "$TMP/wrk.line"; } 2>&1 )
  line=$(cat "$TMP/wrk.line")
  echo "$line $(cpu_per_request "$cpu" "$(awk '/requests in/ {print $1}' "$TMP/wrk.out")")"
}
bench_round() {
  local cpu
  cpu=$( { TIMEFORMAT='%U %S'; time "$BENCH" load --url "$URL" "${BENCH_ARGS[@]}" --connections "$CONNS" \
           --threads 1 --duration "${DUR%s}" --json --quiet > "$TMP/bench.out" 2> "$TMP/bench.err"; } 2>&1 )
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
errors = sum(d["errors"].values())
if errors: print(f"reviewsd-bench: {errors} errors", file=sys.stderr)
print(d["rps"], round(d["latency_us"]["p99"] / 1000, 2), end=" ")' "$TMP/bench.out"
  # Responses of the whole process: measured ones (no warmup here) are all of them.
  cpu_per_request "$cpu" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' "$TMP/bench.out")"
  echo
}

echo "server: $SERVER; machine: $(nproc) cores; $DUR per run, $ROUNDS alternating rounds"
echo "commands: wrk -t1 -c$CONNS -d$DUR --latency ${WRK_ARGS[*]} $URL ${WRK_TAIL[*]}"
echo "          reviewsd-bench load --url $URL ${BENCH_ARGS[*]} --connections $CONNS --threads 1 --duration ${DUR%s}"
# One short warm-up of each, unmeasured.
DUR=1s run_wrk "${WRK_ARGS[@]}" "$URL" "${WRK_TAIL[@]}" >/dev/null
"$BENCH" load --url "$URL" "${BENCH_ARGS[@]}" --connections "$CONNS" --duration 1 --quiet >/dev/null
: > "$TMP/w"; : > "$TMP/b"
for i in $(seq "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then
    wrk_round >> "$TMP/w"
    bench_round >> "$TMP/b"
  else
    bench_round >> "$TMP/b"
    wrk_round >> "$TMP/w"
  fi
  echo "round $i: wrk $(tail -1 "$TMP/w")  reviewsd-bench $(tail -1 "$TMP/b")   (req/s p99_ms cpu_us/req)"
done
W=$(cut -d' ' -f1 "$TMP/w" | median); B=$(cut -d' ' -f1 "$TMP/b" | median)
WP=$(cut -d' ' -f2 "$TMP/w" | median); BP=$(cut -d' ' -f2 "$TMP/b" | median)
WC=$(cut -d' ' -f3 "$TMP/w" | median); BC=$(cut -d' ' -f3 "$TMP/b" | median)
echo "median: wrk $W req/s (p99 $WP ms), reviewsd-bench $B req/s (p99 $BP ms), ratio $(python3 -c "print(f'{$B/$W:.3f}')") (reviewsd-bench / wrk)"
echo "client CPU per response: wrk $WC us, reviewsd-bench $BC us"
