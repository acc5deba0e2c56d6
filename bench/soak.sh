#!/usr/bin/env bash
# Soak (issue 9): a long run of mixed load with writes at a constant rate, watching the server's
# memory and file descriptors, then checking every acknowledged write in the database.
#
#   bench/soak.sh BUILD_DIR CONNINFO [MINUTES] [RATE]
#
# BUILD_DIR holds server/reviewsd and bench/reviewsd-bench (or set SERVER and LOADGEN); CONNINFO is a loaded data set (it is
# modified: reviews added, helped, reported; use a throwaway copy). Starts `reviewsd serve
# --threads 2` (cache on, defaults), samples its VmRSS and fd count every $SAMPLE_S seconds
# (default 10), runs `reviewsd-bench load --scenario mixed` open loop at RATE requests/s
# (default 1000) for MINUTES (default 30), stops the server with SIGTERM (exit 0 expected) and
# prints:
#   - RSS and fds at the first sample, at 5 minutes and at the end, and their maximum;
#   - the load's summary (requests, errors by kind, latency);
#   - lost writes: rows added vs POSTs acknowledged (201), helpfulness added vs PUT helpful
#     acknowledged (204). When every write got its success status both must be equal; a write
#     without one (no answer, a reset, a 5xx) may or may not have committed, so then the check
#     is a range: acknowledged <= added <= acknowledged + unacknowledged.
# Everything is kept in $OUT (default a new directory under /tmp): samples.tsv, load.json,
# load.err, serve.log. Bounded: the load stops by itself after MINUTES + 2 s of drain.
set -euo pipefail
BUILD=$(readlink -f "$1")
DB=$2
MINUTES=${3:-30}
RATE=${4:-1000}
PORT=${PORT:-18095}
CONNS=${CONNS:-64}
SAMPLE_S=${SAMPLE_S:-10}
OUT=${OUT:-$(mktemp -d /tmp/reviewsd-soak.XXXXXX)}
mkdir -p "$OUT"
SERVER=${SERVER:-$BUILD/server/reviewsd}
LOADGEN=${LOADGEN:-$BUILD/bench/reviewsd-bench}
for f in "$SERVER" "$LOADGEN"; do [ -x "$f" ] || { echo "soak: missing $f" >&2; exit 2; }; done

SERVER_PID= SAMPLER_PID=
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT

q() { psql "$DB" -Atc "$1"; }
counts() {  # reviews, helpfulness, reported, photos
  q "SELECT (SELECT count(*) FROM reviews) || ' ' || (SELECT coalesce(sum(helpfulness), 0)
     FROM reviews) || ' ' || (SELECT count(*) FROM reviews WHERE reported) || ' ' ||
     (SELECT count(*) FROM reviews_photos)"
}
MAXP=$(q "SELECT max(product_id) FROM reviews")
MAXR=$(q "SELECT max(id) FROM reviews")

"$SERVER" serve --listen "127.0.0.1:$PORT" --threads 2 --db "$DB" 2>"$OUT/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "soak: server not ready" >&2; exit 1; }

sampler() {
  local t=0
  echo -e "seconds\trss_kb\tfds" > "$OUT/samples.tsv"
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    local rss fds
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null) || break
    fds=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo -e "$t\t$rss\t$fds" >> "$OUT/samples.tsv"
    sleep "$SAMPLE_S"
    t=$((t + SAMPLE_S))
  done
}
sampler & SAMPLER_PID=$!

before=$(counts)
echo "soak: $MINUTES min of mixed load at $RATE req/s, $CONNS connections, server pid $SERVER_PID," \
  "products 1..$MAXP, reviews 1..$MAXR; output in $OUT"
started=$(date +%s)
"$LOADGEN" load --url "http://127.0.0.1:$PORT" --scenario mixed --products "$MAXP" \
  --reviews "$MAXR" --rate "$RATE" --duration "$((MINUTES * 60))" --connections "$CONNS" \
  --json --quiet > "$OUT/load.json" 2> "$OUT/load.err" || true
ended=$(date +%s)
after=$(counts)

kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

python3 - "$OUT" "$before" "$after" "$status" "$((ended - started))" <<'PY'
import json, sys
out, before, after, status, wall = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rows = [l.split("\t") for l in open(f"{out}/samples.tsv").read().splitlines()[1:] if l.count("\t") == 2]
rows = [(int(t), int(r), int(f)) for t, r, f in rows if r and f]
def at(sec):
    return min(rows, key=lambda r: abs(r[0] - sec))
first, five, last = rows[0], at(300), rows[-1]
print(f"wall {wall} s, {len(rows)} samples; server exit status {status} after SIGTERM")
print("RSS MiB: first {:.1f}, at {} s {:.1f}, end {:.1f}, max {:.1f}".format(
    first[1] / 1024, five[0], five[1] / 1024, last[1] / 1024, max(r[1] for r in rows) / 1024))
print("fds: first {}, at {} s {}, end {}, max {}".format(
    first[2], five[0], five[2], last[2], max(r[2] for r in rows)))
try:
    r = json.loads(open(f"{out}/load.json").read())
except (OSError, ValueError) as e:
    print(f"load produced no JSON ({e}); see {out}/load.err")
    sys.exit(1)
lat = r["latency_us"]
errors = {k: v for k, v in r["errors"].items() if v}
print(f"load: {r['requests']} requests, {r['rps']:.0f} req/s, statuses {r['statuses']}, "
      f"errors {errors or 'none'}")
print(f"latency ms: p50 {lat['p50'] / 1000:.2f}, p99 {lat['p99'] / 1000:.2f}, "
      f"max {lat['max'] / 1000:.2f}")
b = [int(x) for x in before.split()]
a = [int(x) for x in after.split()]
w = r["writes"]
# Writes sent over the whole run (warm-up and drain included, like `writes`) that got no
# success status: no answer, a reset, or another status. Each may or may not have committed.
u = r["writes_unacknowledged"]
ok = True
for name, delta, acked, unacked in (("reviews added", a[0] - b[0], w["post"], u["post"]),
                                    ("helpfulness added", a[1] - b[1], w["helpful"], u["helpful"])):
    good = acked <= delta <= acked + unacked
    ok &= good
    print(f"{name}: {delta} in the database, {acked} acknowledged"
          f"{'' if not unacked else f' (+ up to {unacked} sent without a success status)'}: "
          f"{'OK' if good else 'MISMATCH'}")
print(f"reported: {a[2] - b[2]} newly reported of {w['report']} acknowledged reports "
      f"(reporting twice is allowed); photos added: {a[3] - b[3]}")
if status != 0:
    ok = False
sys.exit(0 if ok else 1)
PY
