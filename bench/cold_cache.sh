#!/usr/bin/env bash
# A cache filling up, against no cache: each round starts three fresh `reviewsd serve` processes
# in turn, one at a time, and loads each for DUR seconds from its first request (no warm-up):
#   on       the default cache (and the server's own malloc settings: server/README.md)
#   on-glibc the default cache, with glibc's default malloc (GLIBC_TUNABLES set, empty)
#   off      --cache-mb 0
# Load: `reviewsd-bench load --scenario random --route reviews` (ids uniform over the last 10% of
# products, 64 connections), so nearly every request of a cold cache is a miss that stores an
# entry. One unmeasured cache-off run first warms PostgreSQL's buffers; the order of the three
# rotates from round to round. Per run: requests/s, minor page faults and server CPU (user +
# system) per response from /proc, and the server's RSS at the end. Then the medians and the
# ratios to `off`.
#
#   bench/cold_cache.sh BIN CONNINFO [ROUNDS]
#
# Env: DUR (seconds per run, 5), PORT (18098), BENCH_BIN (reviewsd-bench beside BIN).
set -euo pipefail
# bench_args, product_bounds, bench_temp, start_reviewsd, cpu_ticks, median, find_bench_bin
source "$(dirname "$0")/lib.sh"
bench_args 16 3 5 "$@"
PORT=${PORT:-18098}
product_bounds
bench_temp
find_bench_bin "$BIN"

faults() { awk '{print $10}' "/proc/$1/stat"; }  # minor page faults so far
run() {  # VARIANT -> "req/s faults_per_response cpu_us_per_response rss_kB"
  local flags=() f0 c0 f1 c1 out n rps bad
  case $1 in
    on) start_reviewsd "$PORT" "$1" ;;
    on-glibc) GLIBC_TUNABLES= start_reviewsd "$PORT" "$1" ;;
    off) start_reviewsd "$PORT" "$1" --cache-mb 0 ;;
  esac
  f0=$(faults "$SPID"); c0=$(cpu_ticks "$SPID")
  out=$("$BENCH_BIN" load --url "http://127.0.0.1:$PORT" --scenario random --route reviews \
    --products "$MAXP" --connections 64 --duration "$DUR" --quiet --json 2>/dev/null |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["requests"], d["rps"], d["requests"] - d["statuses"].get("200", 0))')
  read -r n rps bad <<< "$out"
  f1=$(faults "$SPID"); c1=$(cpu_ticks "$SPID")
  [ "$bad" = 0 ] || echo "$1: $bad non-200 responses" >&2
  echo "$rps $(awk -v f=$((f1 - f0)) -v t=$(((c1 - c0) * TICK_US)) -v n="$n" -v r="$(awk '/^VmRSS/ {print $2}' "/proc/$SPID/status")" \
    'BEGIN {printf "%.3f %.1f %d", f / n, t / n, r}')"
  kill "$SPID"; wait "$SPID" 2>/dev/null || true
  PIDS=()
}

echo "reviewsd: $("$BIN" --version 2>&1 | head -1), serve --threads ${THREADS:-$(nproc)}, $(nproc) cores"
echo "load: reviewsd-bench load --scenario random --route reviews --products $MAXP --connections 64 --duration $DUR, from a fresh process; $ROUNDS rounds"
VARIANTS=(on on-glibc off)
for v in "${VARIANTS[@]}"; do : > "$TMP/$v"; done
run off > /dev/null  # not measured: PostgreSQL's buffers warm before any variant is
for i in $(seq "$ROUNDS"); do
  for k in 0 1 2; do
    v=${VARIANTS[$(((i - 1 + k) % 3))]}  # each round starts with the next variant
    run "$v" >> "$TMP/$v"
    read -r rps f c r < <(tail -1 "$TMP/$v")
    echo "round $i $v: $rps req/s, $f page faults and $c us of CPU per response, RSS $r kB"
  done
done
off=$(cut -d' ' -f1 "$TMP/off" | median); offc=$(cut -d' ' -f3 "$TMP/off" | median)
for v in "${VARIANTS[@]}"; do
  rps=$(cut -d' ' -f1 "$TMP/$v" | median); f=$(cut -d' ' -f2 "$TMP/$v" | median); c=$(cut -d' ' -f3 "$TMP/$v" | median)
  echo "median $v: $rps req/s ($(awk -v a="$rps" -v b="$off" 'BEGIN {printf "%.2f", a / b}')x off), $f page faults and $c us of CPU per response ($(awk -v a="$c" -v b="$offc" 'BEGIN {printf "%.2f", a / b}')x off)"
done
