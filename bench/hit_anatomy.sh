#!/usr/bin/env bash
# Where a cache hit's time goes, against nginx-mean (issue "Response cache", hot set): reviewsd
# serve (default cache, warmed) and nginx `return 200` of one body of the hot mix's mean size
# (as cache_vs_nginx.sh), both under `reviewsd-bench load --scenario hot` (64 connections,
# closed loop, one thread), in alternating rounds. Per response and server, medians of ROUNDS:
#   req/s; server CPU (its processes, /proc); client CPU (the load process: the shell's
#   children times); machine busy, idle and steal (/proc/stat, all cores); and, if perf is installed,
#   the server's context switches and epoll_wait / recvfrom / sendmsg / writev calls
#   (perf stat on its processes: counts only, no sampling).
# Each column's median is taken on its own; requests/s is also compared round by round (the
# median of the rounds' ratios, the figure to quote). Idle time left on the machine says it was
# not saturated: then a server's CPU per response moves requests/s less than one to one.
# PERF_RECORD=1: one more run per server under `perf record -F 999 -g` (slows both alike),
# then the symbols ([k] kernel, [.] user) whose samples per 1,000 responses differ most,
# reviewsd minus nginx, and each side's total (perf.reviewsd and perf.nginx are kept in OUT).
# One run each, not alternated: a picture, not a measurement to quote alone.
#
#   bench/hit_anatomy.sh BIN CONNINFO [ROUNDS]
#
# Env: DUR (seconds per run, 10), WARM (5), THREADS (reviewsd --threads = nginx
#      worker_processes, nproc), PORT (first of 2, 18390), OUT (where PERF_RECORD keeps its
#      profiles, default the current directory), BENCH_BIN.
set -euo pipefail
# bench_args, product_bounds, bench_temp, nginx_start, start_reviewsd, response_sizes,
# mix_mean, pad_body, median, find_bench_bin, cpu_ticks, TICK_US
source "$(dirname "$0")/lib.sh"
bench_args 20 5 10 "$@"
WARM=${WARM:-5}
THREADS=${THREADS:-$(nproc)}
PORT=${PORT:-18390}
OUT=${OUT:-.}
bench_temp
find_bench_bin "$BIN"
PERF=$(command -v perf || true)
product_bounds
LO=$HOT_LO

start_reviewsd "$PORT" reviewsd; RPID=$SPID
response_sizes "$PORT" "$LO" "$MAXP" > "$TMP/sizes"
MEAN=$(mix_mean hot "$LO" "$TMP/sizes")
pad_body "$MEAN" "$TMP/body"
nginx_start "$THREADS" $((PORT + 1)) "$TMP/body"
NPIDS=$(pgrep -P "$NPID" | tr '\n' ' ')
echo "reviewsd $("$BIN" --version 2>&1 | head -1), --threads $THREADS; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes $THREADS; $(nproc) cores"
echo "hot mix over ids $LO..$MAXP; nginx-mean body $MEAN bytes; reviewsd-bench load, 64 connections, ${DUR}s per run, $ROUNDS alternating rounds${PERF:+; perf stat counts}"

load() {  # PORT SECONDS: one closed-loop run, its JSON in $TMP/load.json
  "$BENCH_BIN" load --url "http://127.0.0.1:$1" --scenario hot --route reviews --products "$MAXP" \
    --connections 64 --duration "$2" --quiet --json > "$TMP/load.json" 2>/dev/null
}
# children_ticks FILE: user + system ticks of this shell's reaped children, from `times` saved in
# FILE (run `times > FILE` in this shell itself: in a $(...) it would see the subshell's).
children_ticks() {
  awk -v hz="$(getconf CLK_TCK)" 'NR == 2 {
    split($1, u, "m"); split($2, s, "m")
    printf "%d\n", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * hz + 0.5}' "$1"
}
# busy, idle and steal ticks of the machine (steal: time the hypervisor ran something else on
# our vCPUs; in neither of the other two)
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6, $9}' /proc/stat; }
EVENTS=context-switches,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev

# measure NAME PORT "PIDS": one run; appends a line of per-response figures to $TMP/res.NAME
measure() {
  local name=$1 port=$2 pids=$3 s0 s1 c0 c1 b0 i0 t0 b1 i1 t1 sp=""
  [ -n "$PERF" ] && { "$PERF" stat -x, -e "$EVENTS" -p "${pids// /,}" -o "$TMP/stat" -- sleep $((DUR + 1)) & sp=$!; }
  s0=$(cpu_ticks "$pids"); read -r b0 i0 t0 < <(machine); times > "$TMP/times0"
  load "$port" "$DUR"  # the only child reaped between the two `times`
  times > "$TMP/times1"; s1=$(cpu_ticks "$pids"); read -r b1 i1 t1 < <(machine)
  c0=$(children_ticks "$TMP/times0"); c1=$(children_ticks "$TMP/times1")
  [ -n "$sp" ] && wait "$sp"
  python3 - "$TMP/load.json" "${sp:+$TMP/stat}" $(((s1 - s0) * TICK_US)) $(((c1 - c0) * TICK_US)) \
    $(((b1 - b0) * TICK_US)) $(((i1 - i0) * TICK_US)) $(((t1 - t0) * TICK_US)) >> "$TMP/res.$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n = d["requests"]
bad = n - d["statuses"].get("200", 0)
if bad: sys.exit(f"hit_anatomy: {bad} of {n} responses were not 200")
server, client, busy, idle, steal = (int(x) / n for x in sys.argv[3:8])
counts = {}
if sys.argv[2]:  # perf stat -x,: value,unit,event,...
    for line in open(sys.argv[2]):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].replace(".", "").isdigit():
            counts[f[2].replace("syscalls:sys_enter_", "")] = float(f[0]) / n
keys = ["context-switches", "epoll_wait", "recvfrom", "sendmsg", "writev"]
print(d["rps"], server, client, busy, idle, steal, *(counts.get(k, -1) for k in keys))
PY
}

load "$PORT" "$WARM"  # the cache warm before the first measured run
: > "$TMP/res.reviewsd"; : > "$TMP/res.nginx"; : > "$TMP/paired"
for i in $(seq "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then order="reviewsd nginx"; else order="nginx reviewsd"; fi
  for s in $order; do
    if [ "$s" = reviewsd ]; then measure reviewsd "$PORT" "$RPID"; else measure nginx $((PORT + 1)) "$NPIDS"; fi
  done
  a=$(tail -1 "$TMP/res.reviewsd" | cut -d' ' -f1); b=$(tail -1 "$TMP/res.nginx" | cut -d' ' -f1)
  awk -v a="$a" -v b="$b" 'BEGIN {print a / b}' >> "$TMP/paired"
  echo "round $i: reviewsd $a req/s, nginx $b req/s, ratio $(tail -1 "$TMP/paired" | awk '{printf "%.2f", $1}')x"
done
echo "requests/s, reviewsd / nginx: median of the rounds' ratios $(median < "$TMP/paired" | awk '{printf "%.2f", $1}')x ($(awk '$1 >= 1' "$TMP/paired" | wc -l) of $ROUNDS rounds >= 1.00)"

echo
printf '%-34s %12s %12s %8s\n' "median per response" reviewsd nginx ratio
col=1
for label in "requests/s (medians apart)" "server CPU, us" "client CPU, us" "machine busy, us (all cores)" \
  "machine idle, us" "machine steal, us" "context switches" "epoll_wait" "recvfrom" "sendmsg" "writev"; do
  a=$(cut -d' ' -f$col "$TMP/res.reviewsd" | median); b=$(cut -d' ' -f$col "$TMP/res.nginx" | median)
  col=$((col + 1))
  awk -v l="$label" -v a="$a" -v b="$b" 'BEGIN {
    if (a >= 0 && b >= 0) printf "%-34s %12.3f %12.3f %8s\n", l, a, b, (b > 0 ? sprintf("%.2fx", a / b) : "-")}'
done

if [ -n "${PERF_RECORD:-}" ]; then
  [ -n "$PERF" ] || { echo "PERF_RECORD: no perf installed"; exit 2; }
  echo
  for s in reviewsd nginx; do
    if [ "$s" = reviewsd ]; then port=$PORT pids=$RPID; else port=$((PORT + 1)) pids=$NPIDS; fi
    "$PERF" record -F 999 -g -p "${pids// /,}" -o "$OUT/perf.$s" -- sleep $((DUR + 1)) 2>/dev/null &
    sp=$!
    load "$port" "$DUR"; wait "$sp" || true
    n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' "$TMP/load.json")
    "$PERF" report -i "$OUT/perf.$s" --no-children --sort sym -g none -n 2>/dev/null |
      awk -v n="$n" '/^ +[0-9.]+%/ {c = $2; $1 = $2 = ""; sub(/^ +/, ""); printf "%s %.4f\n", $0, c * 1000 / n}' > "$TMP/sym.$s"
  done
  echo "perf record -F 999: samples per 1,000 responses, reviewsd minus nginx (profiles in $OUT)"
  python3 - "$TMP/sym.reviewsd" "$TMP/sym.nginx" <<'PY'
import sys
def read(path):
    d = {}
    for line in open(path):
        name, v = line.rsplit(" ", 1)
        d[name] = d.get(name, 0.0) + float(v)
    return d
a, b = read(sys.argv[1]), read(sys.argv[2])
print(f"total: reviewsd {sum(a.values()):.2f}, nginx {sum(b.values()):.2f}")
rows = sorted(set(a) | set(b), key=lambda k: -abs(a.get(k, 0) - b.get(k, 0)))
for k in rows[:20]:
    print(f"  {k[:52]:52s} {a.get(k, 0):7.2f} {b.get(k, 0):7.2f} {a.get(k, 0) - b.get(k, 0):+7.2f}")
PY
fi
