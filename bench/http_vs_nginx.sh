#!/usr/bin/env bash
# HTTP engine benchmark (issue 3): reviewsd's fixed 1.5 KB route against nginx `return 200` with
# the same body, same wrk client, same connections; then pipelining and idle-connection memory.
# Usage: bench/http_vs_nginx.sh [REVIEWSD_BIN] [ROUNDS]     (needs wrk, nginx, python3)
# Env: DUR (wrk duration per run, 10s), THREADS (reviewsd --threads = nginx worker_processes,
#      default nproc), CONNS (wrk -c, 64), QUICK=1 (skip the pipelining and memory parts).
set -euo pipefail
BIN=${1:-$(dirname "$0")/../build-p/server/reviewsd}
ROUNDS=${2:-3}
THREADS=${THREADS:-$(nproc)}
CONNS=${CONNS:-64}
QUICK=${QUICK:-0}
DUR=${DUR:-10s}
RPORT=18080; NPORT=18081
ulimit -n 65536 2>/dev/null || true
# nginx_start, run_wrk, median
source "$(dirname "$0")/lib.sh"
bench_temp

"$BIN" serve --listen 127.0.0.1:$RPORT --threads "$THREADS" 2>"$TMP/reviewsd.log" & RPID=$!; PIDS+=($RPID)
sleep 0.5
curl -s http://127.0.0.1:$RPORT/bench/fixed > "$TMP/body.json"
nginx_start "$THREADS" $NPORT "$TMP/body.json"

echo "threads: reviewsd --threads $THREADS, nginx worker_processes $THREADS"
echo "machine: $(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), wrk on the same machine"
echo "command: wrk -t1 -c$CONNS -d$DUR --latency http://127.0.0.1:PORT/bench/fixed   ($ROUNDS alternating rounds)"
: > "$TMP/r"; : > "$TMP/n"
for i in $(seq "$ROUNDS"); do
  # Who goes first alternates too: on a shared machine neither side should always get the
  # freshly idle slot.
  if [ $((i % 2)) = 1 ]; then
    run_wrk http://127.0.0.1:$RPORT/bench/fixed >> "$TMP/r"
    run_wrk http://127.0.0.1:$NPORT/bench/fixed >> "$TMP/n"
  else
    run_wrk http://127.0.0.1:$NPORT/bench/fixed >> "$TMP/n"
    run_wrk http://127.0.0.1:$RPORT/bench/fixed >> "$TMP/r"
  fi
  echo "round $i: reviewsd $(tail -1 "$TMP/r")  nginx $(tail -1 "$TMP/n")   (req/s p99_ms)"
done
R=$(cut -d' ' -f1 "$TMP/r" | median); N=$(cut -d' ' -f1 "$TMP/n" | median)
RP=$(cut -d' ' -f2 "$TMP/r" | median); NP=$(cut -d' ' -f2 "$TMP/n" | median)
echo "median: reviewsd $R req/s (p99 $RP ms), nginx $N req/s (p99 $NP ms), ratio $(python3 -c "print(f'{$R/$N:.2f}')")x"

[ "$QUICK" = 1 ] && exit 0

P=$(run_wrk -s "$(dirname "$0")/pipeline16.lua" http://127.0.0.1:$RPORT/bench/fixed | cut -d' ' -f1)
echo "pipelined x16: reviewsd $P req/s = $(python3 -c "print(f'{$P/$R:.2f}')")x non-pipelined"

rss() { awk '/VmRSS/ {print $2}' /proc/$RPID/status; }
BEFORE=$(rss)
python3 - $RPORT <<'PY' &
import socket, sys, time
port = int(sys.argv[1]); conns = []
for i in range(10000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    conns.append(s)
for s in conns:
    s.recv(4096)
open("/tmp/reviewsd-bench-idle-ready", "w").close()
time.sleep(30)
PY
IDLE=$!; PIDS+=($IDLE)
for _ in $(seq 120); do [ -e /tmp/reviewsd-bench-idle-ready ] && break; sleep 0.5; done
sleep 1
AFTER=$(rss)
rm -f /tmp/reviewsd-bench-idle-ready
echo "10k idle keep-alive connections: RSS ${BEFORE} KiB -> ${AFTER} KiB, +$(( (AFTER-BEFORE)/1024 )) MiB"
