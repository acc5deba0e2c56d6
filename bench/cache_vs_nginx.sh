#!/usr/bin/env bash
# Response cache (issue "Response cache"): cached reads against nginx, and the cache's cost.
#
#   bench/cache_vs_nginx.sh BIN CONNINFO [ROUNDS]      (needs wrk, nginx, curl, psql, python3)
#
# BIN is a Release reviewsd, CONNINFO a loaded database (scale 1 for the published figures).
# 1. hot (80% of requests on a fixed 20% of the 10,000 products HI-9999..HI, HI the largest
#    product id with reviews) and repeat (the 10 ids HI-9..HI): `reviewsd serve` (default cache)
#    against nginx `return 200` (same Content-Type) of a body of the same size, in two ways
#    (REF below): "mean", one body of the scenario's mean response size (each id's size, weighed
#    as the mix requests it) for every request (nginx sends one string that never leaves the CPU
#    cache); "sized", for each request a body of
#    exactly the size reviewsd sends for that product id, chosen by an nginx `map` on the id (as
#    many strings as reviewsd has responses, and the same sizes: small and large responses take
#    different paths through the kernel). wrk -t1 -c$CONNS with bench/product_mix.lua on both
#    (the client's work is the same). One warm-up run against reviewsd per scenario first, so the
#    measured rounds start with a warm cache; then ROUNDS rounds, the order alternating.
# 2. uniform (ids uniform over the last 10% of products, as read_vs_pgbench.sh): two reviewsd on
#    the same database, default cache and --cache-mb 0, one warm-up run each, ROUNDS alternating
#    rounds.
# Prints every run, the medians and the ratios, and the cache's /metrics lines after each
# scenario (hit ratio = hits / (hits + misses + coalesced) over the scenario's measured rounds).
# Also each server's CPU per response (user + system time of its processes from /proc, over the
# run, divided by wrk's response count): wrk -t1 is the bottleneck on a small machine, so
# requests/s move with whatever else runs, while the server's CPU per response says which
# server does less work for the same answers. PostgreSQL's CPU is not in it.
# CLIENT=bench drives both servers with `reviewsd-bench load` (same mixes, closed loop, one
# thread; BENCH_BIN, default the reviewsd-bench built beside BIN) instead of wrk: it spends less
# CPU per response than wrk running product_mix.lua (bench/RESULTS.md, "Validating the load
# generator"), so the client hides less of the servers' difference.
# BIN_B=ANOTHER_BIN: an A/B of two builds instead: BIN and BIN_B serve side by side on the same
# database (default cache each, one warm-up each), hot and repeat in alternating rounds with the
# same client; no nginx, no uniform. CPU per response is the figure to read: the client is the
# bottleneck. Run it once with BIN_B=BIN first: that A/A gives this host's noise floor.
# Env: DUR (wrk duration per run, 10s), WARM (warm-up run, 5s), THREADS (reviewsd --threads =
#      nginx worker_processes, default nproc), CONNS (wrk -c, 64), REF (mean, sized or both: the
#      nginx references, default both), PORT (first of 7 ports on 127.0.0.1, default 18090).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,20p' "$0"; exit 2; }
BIN=$(readlink -f "$1")
DB=$2
ROUNDS=${3:-3}
DUR=${DUR:-10s}
WARM=${WARM:-5s}
THREADS=${THREADS:-$(nproc)}
CONNS=${CONNS:-64}
PORT=${PORT:-18090}
CLIENT=${CLIENT:-wrk}
REF=${REF:-both}
case $REF in
  mean | sized) REFS=("$REF") ;;
  both) REFS=(mean sized) ;;
  *) echo "REF must be mean, sized or both, not $REF"; exit 2 ;;
esac
case $CLIENT in
  wrk) ;;
  bench) ;;  # reviewsd-bench found after lib.sh is sourced
  *) echo "CLIENT must be wrk or bench, not $CLIENT"; exit 2 ;;
esac
RPORT=$PORT NPORT_HOT=$((PORT + 1)) NPORT_REPEAT=$((PORT + 2)) UPORT_ON=$((PORT + 3)) UPORT_OFF=$((PORT + 4))
SPORT_HOT=$((PORT + 5)) SPORT_REPEAT=$((PORT + 6))
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=$HERE/product_mix.lua
TEMPLATE='/reviews?product_id=%d'
ulimit -n 65536 2>/dev/null || true
# nginx_start, run_wrk (-> "req/s p99_ms", whole output in $TMP/wrk.out), median,
# start_reviewsd, cpu_ticks, find_bench_bin, response_sizes, mix_mean, pad_body
source "$HERE/lib.sh"
bench_temp
[ "$CLIENT" = bench ] && find_bench_bin "$BIN"

stop() {  # PID: end one process this script started, and forget it
  kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
cache_config() {  # [serve flags]: the effective cache options, and where each came from
  "$BIN" serve --listen 127.0.0.1:0 --db "$DB" "$@" --check-config |
    awk '/^# / {src=substr($0, 3)} /^cache-(mb|ttl-s) =/ {printf "%s%s %s (%s)", sep, $1, $3, src; sep=", "}'
}
cache_counters() {  # PORT -> "hits misses coalesced"
  curl -sf "http://127.0.0.1:$1/metrics" | awk '
    $1=="reviewsd_cache_hits_total" {h=$2} $1=="reviewsd_cache_misses_total" {m=$2}
    $1=="reviewsd_cache_coalesced_total" {c=$2} END {print h+0, m+0, c+0}'
}
cache_report() {  # PORT LABEL "hits misses coalesced" (before the measured rounds)
  local h0 m0 c0 h m c
  read -r h0 m0 c0 <<< "$3"
  read -r h m c <<< "$(cache_counters "$1")"
  echo "$2 /metrics cache lines:"
  curl -sf "http://127.0.0.1:$1/metrics" |
    grep -E '^reviewsd_cache_(hits_total|misses_total|coalesced_total|stale_total|evictions_total|entries|bytes) ' |
    sed 's/^/  /'
  echo "$2 hit ratio over the measured rounds: $(awk -v h=$((h - h0)) -v m=$((m - m0)) -v c=$((c - c0)) \
    'BEGIN {n = h + m + c; printf "%.1f%% (%d hits, %d misses, %d coalesced)", n ? 100 * h / n : 0, h, m, c}')"
}
# run_bench URL MODE LO HI -> "req/s p99_ms", like run_wrk; its JSON is kept in $TMP/bench.json
# and the response count in $TMP/wrk.out as wrk would print it (for measure and bad).
run_bench() {
  local scenario=$2 route=()
  [ "$2" = uniform ] && scenario=random route=(--route reviews)  # ids uniform in the last 10%
  "$BENCH_BIN" load --url "$1" --scenario "$scenario" "${route[@]}" --products "$4" \
    --connections "$CONNS" --duration "${DUR%s}" --quiet --json > "$TMP/bench.json" 2>/dev/null
  python3 - "$TMP/bench.json" "$TMP/wrk.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = d["requests"] - d["statuses"].get("200", 0)
errors = sum(d["errors"].values()) - d["errors"].get("status", 0)
with open(sys.argv[2], "w") as f:
    f.write(f'{d["requests"]} requests in {d["seconds"]}s\nnon-200 responses: {bad}\n')
    if errors:
        f.write(f"  Socket errors: {errors} ({json.dumps(d['errors'])})\n")
print(f'{d["rps"]} {d["latency_us"]["p99"] / 1000:.2f}')
PY
}
# run_client URL MODE LO HI -> "req/s p99_ms" from wrk or reviewsd-bench, as CLIENT says
run_client() {
  if [ "$CLIENT" = bench ]; then run_bench "$@"; else run_wrk -s "$SCRIPT" "$1" -- "$TEMPLATE" "$2" "$3" "$4"; fi
}
bad() {  # the errors of the last run: "non-200 N[, socket errors ...]"
  local n s
  n=$(awk '/^non-200 responses:/ {print $3}' "$TMP/wrk.out")
  s=$(sed -n 's/^ *Socket errors: //p' "$TMP/wrk.out")
  echo "non-200 ${n:-?}${s:+, socket errors $s}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# measure URL "PIDS" MODE LO HI >> FILE: one wrk run, printed as "req/s p99_ms cpu_us_per_response"
measure() {
  local c0 c1 out n
  c0=$(cpu_ticks "$2")
  out=$(run_client "$1" "$3" "$4" "$5")
  c1=$(cpu_ticks "$2")
  n=$(awk '/ requests in / {print $1}' "$TMP/wrk.out")
  echo "$out $(awk -v t=$(((c1 - c0) * TICK_US)) -v n="${n:-0}" 'BEGIN {printf "%.2f", n ? t / n : 0}')"
}
warm_up() {  # PORT MODE LO HI
  DUR=$WARM run_client "http://127.0.0.1:$1" "$2" "$3" "$4" >/dev/null
  echo "$2 warm-up: $WARM against :$1, $(bad); cache now $(curl -sf "http://127.0.0.1:$1/metrics" |
    awk '$1=="reviewsd_cache_entries" {e=$2} $1=="reviewsd_cache_bytes" {b=$2} END {printf "%d entries, %d bytes", e, b}')"
}
# Alternating rounds of two servers on one scenario, then medians and ratio A/B.
#   compare MODE LO HI NAME_A URL_A "PIDS_A" NAME_B URL_B "PIDS_B"
compare() {
  local mode=$1 lo=$2 hi=$3 na=$4 ua=$5 pa=$6 nb=$7 ub=$8 pb=$9 i la lb
  : > "$TMP/a"; : > "$TMP/b"
  for i in $(seq "$ROUNDS"); do
    # Who goes first alternates too: neither side always gets the freshly idle machine.
    if [ $((i % 2)) = 1 ]; then
      measure "$ua" "$pa" "$mode" "$lo" "$hi" >> "$TMP/a"; la=$(bad)
      measure "$ub" "$pb" "$mode" "$lo" "$hi" >> "$TMP/b"; lb=$(bad)
    else
      measure "$ub" "$pb" "$mode" "$lo" "$hi" >> "$TMP/b"; lb=$(bad)
      measure "$ua" "$pa" "$mode" "$lo" "$hi" >> "$TMP/a"; la=$(bad)
    fi
    local a=($(tail -1 "$TMP/a")) b=($(tail -1 "$TMP/b"))
    echo "$mode round $i: $na ${a[0]} req/s p99 ${a[1]} ms cpu ${a[2]} us/resp ($la)   $nb ${b[0]} req/s p99 ${b[1]} ms cpu ${b[2]} us/resp ($lb)   ratio $(ratio "${a[0]}" "${b[0]}")x"
  done
  local A AP AC B BP BC
  A=$(cut -d' ' -f1 "$TMP/a" | median); AP=$(cut -d' ' -f2 "$TMP/a" | median); AC=$(cut -d' ' -f3 "$TMP/a" | median)
  B=$(cut -d' ' -f1 "$TMP/b" | median); BP=$(cut -d' ' -f2 "$TMP/b" | median); BC=$(cut -d' ' -f3 "$TMP/b" | median)
  echo "$mode median: $na $A req/s (p99 $AP ms, cpu $AC us/resp), $nb $B req/s (p99 $BP ms, cpu $BC us/resp), ratio $(ratio "$A" "$B")x, cpu per response $(ratio "$AC" "$BC")x"
}

product_bounds
HLO=$HOT_LO HHI=$MAXP
LO=$(( MAXP - MAXP / 10 )); HI=$MAXP

echo "reviewsd: $("$BIN" --version 2>&1 | head -1), serve --threads $THREADS; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes $THREADS, reuseport, access_log off, return 200"
echo "machine: $(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), wrk, reviewsd, nginx and PostgreSQL on the same machine"
echo "data: products up to $MAXP (largest product_id in reviews)"
echo "  hot: the $((HHI - HLO + 1)) ids [$HLO, $HHI]; 80% of requests on every 5th of them from $HLO, 20% on the others"
echo "  repeat: the 10 ids [$((HHI - 9)), $HHI]; uniform: ids uniform in [$LO, $HI]"
if [ "$CLIENT" = bench ]; then
  echo "command: reviewsd-bench load --url URL --scenario hot|repeat|random --route reviews --products HI --connections $CONNS --duration ${DUR%s} (1 thread, closed loop; $ROUNDS alternating rounds per scenario)"
else
  echo "command: wrk -t1 -c$CONNS -d$DUR --latency -s bench/product_mix.lua URL -- '$TEMPLATE' MODE LO HI   ($ROUNDS alternating rounds per scenario)"
fi
echo "cache on: $(cache_config); cache off: $(cache_config --cache-mb 0)"

if [ -n "${BIN_B:-}" ]; then
  BIN_B=$(readlink -f "$BIN_B")
  echo "A/B: A = $BIN, B = $BIN_B ($(cmp -s "$BIN" "$BIN_B" && echo "the same file: an A/A run" || echo "different files"))"
  start_reviewsd "$RPORT" A; APID=$SPID
  BIN=$BIN_B start_reviewsd "$NPORT_HOT" B; BPID=$SPID
  for mode in hot repeat; do
    echo
    warm_up "$RPORT" "$mode" "$HLO" "$HHI"
    warm_up "$NPORT_HOT" "$mode" "$HLO" "$HHI"
    compare "$mode" "$HLO" "$HHI" A "http://127.0.0.1:$RPORT" "$APID" \
      B "http://127.0.0.1:$NPORT_HOT" "$BPID"
  done
  exit 0
fi

start_reviewsd "$RPORT" cached; RPID=$SPID

response_sizes "$RPORT" "$HLO" "$HHI" > "$TMP/sizes.hot"
response_sizes "$RPORT" $((HHI - 9)) "$HHI" > "$TMP/sizes.repeat"
SIZE_HOT=$(mix_mean hot "$HLO" "$TMP/sizes.hot"); SIZE_REPEAT=$(mix_mean repeat "$HLO" "$TMP/sizes.repeat")
pad_body "$SIZE_HOT" "$TMP/body.hot"; pad_body "$SIZE_REPEAT" "$TMP/body.repeat"
echo "body (mean): hot $SIZE_HOT bytes (the mean of its mix over all its ids); repeat $SIZE_REPEAT bytes (its 10 ids); nginx returns exactly these sizes (application/json; charset=utf-8)"
echo "body (sized): per id, the size of reviewsd's body for it: hot $(wc -l < "$TMP/sizes.hot") ids, $(awk '{print $2}' "$TMP/sizes.hot" | sort -n | awk '{a[NR]=$1} END {printf "%d-%d bytes, median %d", a[1], a[NR], a[int((NR+1)/2)]}'); repeat $(wc -l < "$TMP/sizes.repeat") ids, $(awk '{print $2}' "$TMP/sizes.repeat" | sort -n | awk '{a[NR]=$1} END {printf "%d-%d bytes", a[1], a[NR]}')"
nginx_start "$THREADS" "$NPORT_HOT" "$TMP/body.hot" "$NPORT_REPEAT" "$TMP/body.repeat" \
  "$SPORT_HOT" "sizes:$TMP/sizes.hot" "$SPORT_REPEAT" "sizes:$TMP/sizes.repeat"

for mode in hot repeat; do
  echo
  warm_up "$RPORT" "$mode" "$HLO" "$HHI"
  echo "$mode: warm cache (the measured rounds start after the warm-up, on the same process)"
  before=$(cache_counters "$RPORT")
  for ref in "${REFS[@]}"; do
    case $mode-$ref in
      hot-mean) nport=$NPORT_HOT ;; repeat-mean) nport=$NPORT_REPEAT ;;
      hot-sized) nport=$SPORT_HOT ;; repeat-sized) nport=$SPORT_REPEAT ;;
    esac
    compare "$mode" "$HLO" "$HHI" reviewsd "http://127.0.0.1:$RPORT" "$RPID" \
      "nginx-$ref" "http://127.0.0.1:$nport" "$(pgrep -P "$NPID" | tr '\n' ' ')"
  done
  cache_report "$RPORT" "$mode: reviewsd" "$before"
done
stop "$RPID"; stop "$NPID"

echo
start_reviewsd "$UPORT_ON" uniform-on; ON=$SPID
start_reviewsd "$UPORT_OFF" uniform-off --cache-mb 0; OFF=$SPID
warm_up "$UPORT_OFF" uniform "$LO" "$HI"
warm_up "$UPORT_ON" uniform "$LO" "$HI"
before_on=$(cache_counters "$UPORT_ON"); before_off=$(cache_counters "$UPORT_OFF")
compare uniform "$LO" "$HI" "cache-on" "http://127.0.0.1:$UPORT_ON" "$ON" \
  "cache-off" "http://127.0.0.1:$UPORT_OFF" "$OFF"
cache_report "$UPORT_ON" "uniform: cache-on" "$before_on"
cache_report "$UPORT_OFF" "uniform: cache-off (--cache-mb 0)" "$before_off"
