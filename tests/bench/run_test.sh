#!/usr/bin/env bash
# `reviewsd-bench run` end to end (issue 7): scale 0.01, the `hot` and `random` scenarios for
# 2 s each after 1 s of warm-up, with the references (nginx, pgbench) when installed. Its own
# cluster in a temporary directory on socket port 5496: never the `pg` fixture's (5499).
# Checks the results, the report files and their figures, and that nothing it started is left
# running. Then a second run on the same cluster directory must reuse the data (no gen, no
# load) and --no-reference must skip the references; then a Ctrl-C in the middle of a run
# must stop everything it started and exit 130.
#
#   tests/bench/run_test.sh REVIEWSD_BENCH REVIEWSD
set -euo pipefail
BENCH=$1
BIN=$2
TMP=$(mktemp -d /tmp/reviewsd-bench-run-test-XXXXXX)
chmod 755 "$TMP"  # the cluster inside runs as `postgres` when we are root
PORT=5496
cleanup() {
  # A cluster left running by a failed assertion: stop it (ours, by its data directory).
  if [ -f "$TMP/cluster/pg/data/postmaster.pid" ]; then
    local pg_ctl
    pg_ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)
    if [ "$(id -u)" = 0 ]; then
      su postgres -s /bin/sh -c "$pg_ctl -D '$TMP/cluster/pg/data' -m immediate -w stop" >/dev/null 2>&1 || true
    else
      "$pg_ctl" -D "$TMP/cluster/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

cluster_running() { [ -f "$TMP/cluster/pg/data/postmaster.pid" ] && kill -0 "$(head -1 "$TMP/cluster/pg/data/postmaster.pid")" 2>/dev/null; }
# Processes whose command line names our temporary directory (servers, nginx, postgres).
leftovers() { pgrep -f "$TMP" || true; }

echo "== run 1: hot,random at scale 0.01"
start=$(date +%s)
timeout 150 "$BENCH" run --scale 0.01 --scenario hot,random --duration 2 --warmup 1 \
  --connections 16 --cluster "$TMP/cluster" --pg-port $PORT --out "$TMP/out" --bin "$BIN" \
  >"$TMP/run1.out" 2>"$TMP/run1.err" || { cat "$TMP/run1.err"; fail "run 1 exited $?"; }
echo "run 1 took $(( $(date +%s) - start )) s"
grep -q "generating scale 0.01" "$TMP/run1.err" || fail "run 1 did not generate the data"
grep -q "loading " "$TMP/run1.err" || fail "run 1 did not load the data"
grep -q "^run: \[1/2\] hot" "$TMP/run1.err" || fail "no progress line for hot"
for f in run.json hot.json random.json report.md report.html serve.log; do
  [ -s "$TMP/out/$f" ] || fail "missing $TMP/out/$f"
done
cluster_running && fail "the cluster is still running after run 1"
[ -z "$(leftovers)" ] || fail "processes left running: $(leftovers)"

python3 - "$TMP/out" <<'PY'
import json, os, re, sys
out = sys.argv[1]
def load(name):
    return json.load(open(os.path.join(out, name)))
run = load("run.json")["run"]
for k in ("command", "date", "reviewsd", "scale", "machine"):
    assert k in run, k
assert run["scale"] == "0.01", run["scale"]
assert run["reviewsd"].startswith("reviewsd "), run["reviewsd"]
assert int(run["machine"]["nproc"]) >= 1 and run["machine"]["cpu"], run["machine"]
md = open(os.path.join(out, "report.md")).read()
html = open(os.path.join(out, "report.html")).read()
for s in ("hot", "random"):
    r = load(s + ".json")
    assert r["scenario"] == s, r["scenario"]
    assert r["requests"] > 100, (s, r["requests"])
    assert sum(r["errors"].values()) == 0, (s, r["errors"])
    assert r["statuses"].get("200", 0) == r["requests"], (s, r["statuses"])
    # The Markdown row: requests/s as in the JSON, rounded.
    row = next(l for l in md.splitlines() if l.startswith(f"| {s} |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == f"{r['rps']:.0f}", (cells, r["rps"])
    assert cells[3] == "0", cells
    assert f'data-name="throughput (req/s)"' in html
    if r.get("series"):
        assert len(r["series"]) >= 1
print("results and report agree")
PY

refs=0
if have nginx; then
  for s in hot random; do
    [ -s "$TMP/out/$s.nginx.json" ] || fail "nginx installed but no $s.nginx.json"
  done
  grep -Eq '^\| hot \|.*\| nginx [0-9]+ req/s \| [0-9.]+x \|$' "$TMP/out/report.md" || fail "no nginx ratio for hot"
  refs=1
fi
if have pgbench || ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  [ -s "$TMP/out/random-uncached.json" ] || fail "no random-uncached.json"
  [ -s "$TMP/out/random-uncached.pgbench.json" ] || fail "no random-uncached.pgbench.json"
  grep -Eq '^\| random-uncached .*\| pgbench [0-9]+ tps \| [0-9.]+x \|$' "$TMP/out/report.md" || fail "no pgbench ratio"
  refs=1
fi
echo "references checked: $refs"

echo "== run 2: the same cluster directory reuses the data; --no-reference"
timeout 60 "$BENCH" run --scale 0.01 --scenario repeat --duration 1 --warmup 0 --connections 8 \
  --cluster "$TMP/cluster" --pg-port $PORT --out "$TMP/out2" --bin "$BIN" --no-reference \
  >"$TMP/run2.out" 2>"$TMP/run2.err" || { cat "$TMP/run2.err"; fail "run 2 exited $?"; }
grep -q "reusing the data set in database sf0_01" "$TMP/run2.err" || fail "run 2 did not reuse the data"
grep -q "generating" "$TMP/run2.err" && fail "run 2 generated again"
ls "$TMP/out2"/*.nginx.json "$TMP/out2"/*pgbench* >/dev/null 2>&1 && fail "--no-reference ran references"
grep -q '^| repeat |' "$TMP/run2.out" || fail "run 2 printed no table"
cluster_running && fail "the cluster is still running after run 2"

echo "== run 3: SIGINT in the middle stops everything and exits 130"
"$BENCH" run --scale 0.01 --scenario random --duration 30 --warmup 0 --connections 8 \
  --cluster "$TMP/cluster" --pg-port $PORT --out "$TMP/out3" --bin "$BIN" --no-reference \
  >"$TMP/run3.out" 2>"$TMP/run3.err" &
pid=$!
for _ in $(seq 300); do grep -q "^\[1/1\]\|^run: \[1/1\]" "$TMP/run3.err" && break; sleep 0.1; done
sleep 2
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || { cat "$TMP/run3.err"; fail "interrupted run exited $rc, not 130"; }
grep -q "interrupted" "$TMP/run3.err" || fail "no 'interrupted' message"
cluster_running && fail "the cluster is still running after the interrupted run"
[ -z "$(leftovers)" ] || fail "processes left running after SIGINT: $(leftovers)"
echo "bench run test passed"
