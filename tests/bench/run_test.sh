#!/usr/bin/env bash
# `reviewsd-bench run` end to end (issue 7): scale 0.01, the `hot` and `random` scenarios for
# 2 s each after 1 s of warm-up, with the references (nginx, pgbench) when installed, into an
# output directory whose name holds a space and a double quote (nginx's config must quote its
# paths). Its own cluster in a temporary directory on socket port 5496: never the `pg`
# fixture's (5499). Checks the results, the report files and their figures, and that nothing
# it started is left running. Then a second run on the same cluster directory must reuse the
# data (no gen, no load) and --no-reference must skip the references; a run whose nginx fails
# to start must still write its report, with the failure noted, and exit 1; then a Ctrl-C in
# the middle of a run must stop everything it started and exit 130.
#
#   tests/bench/run_test.sh REVIEWSD_BENCH REVIEWSD
#
# Bounded: each run has its own time limit (RUN1_LIMIT and so on below, each plus KILL_AFTER
# for `timeout -k`); the ctest TIMEOUT (CMakeLists.txt) is larger than their sum.
set -euo pipefail
BENCH=$1
BIN=$2
TMP=$(mktemp -d /tmp/reviewsd-bench-run-test-XXXXXX)
chmod 755 "$TMP"  # the cluster inside runs as `postgres` when we are root
PORT=5496
RUN1_LIMIT=150 RUN2_LIMIT=60 RUN3_LIMIT=60 KILL_AFTER=15
# Every process a run starts inherits this variable (nginx's workers excepted: nginx rewrites
# their environment), so a leaked `reviewsd-bench load` or `reviewsd serve` can be found by it.
MARK="REVIEWSD_BENCH_RUN_TEST=$TMP"
run_pid=""

postmaster_pid() { head -1 "$TMP/cluster/pg/data/postmaster.pid" 2>/dev/null || true; }
cluster_running() { local p; p=$(postmaster_pid); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# Processes carrying our mark in their environment.
marked() {
  local e
  for e in /proc/[0-9]*/environ; do
    if { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qxF "$MARK"; then
      e=${e#/proc/}
      echo "${e%/environ}"
    fi
  done
}
# The loopback ports the runs used: every 127.0.0.1:PORT and "port N" in their logs, plus
# EXTRA_PORTS (the self-check below).
EXTRA_PORTS=""
used_ports() {
  { cat "$TMP"/run*.err 2>/dev/null | grep -oE '127\.0\.0\.1:[0-9]+|port [0-9]+' | grep -oE '[0-9]+$' || true
    for p in $EXTRA_PORTS; do echo "$p"; done; } | sort -un | grep -vx "$PORT" || true
}
# Sockets listening on those ports, from /proc/net/tcp{,6} (state 0A): catches nginx workers
# that outlived their master, whose command line and environment name nothing of ours.
listening_on_used_ports() {
  local p hex
  for p in $(used_ports); do
    hex=$(printf '%04X' "$p")
    if awk -v hex="$hex" 'NR > 1 { split($2, a, ":"); if (a[2] == hex && $4 == "0A") found = 1 }
                          END { exit !found }' /proc/net/tcp /proc/net/tcp6; then
      echo "listener:$p"
    fi
  done
}
# Everything a run may have left: processes naming our directory (postgres, serve, nginx's
# master), processes with our mark (load, serve, pgbench), listeners on the ports it used.
leftovers() {
  { pgrep -f "$TMP" || true; marked; listening_on_used_ports; } | sort -u | tr '\n' ' '
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  # A run still going (an assertion failed while it ran): SIGTERM stops what it started.
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$run_pid" 2>/dev/null || true
  fi
  # Our cluster, by the pid in its own postmaster.pid: SIGQUIT is PostgreSQL's immediate
  # shutdown; its backends follow their postmaster.
  p=$(postmaster_pid)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -QUIT "$p" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  # Anything else of ours, by pid (found by our directory or our mark only).
  for p in $( { pgrep -f "$TMP" || true; marked; } | sort -u); do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

echo "== self-check: leftovers() sees a marked process and a listener on a used port"
env "$MARK" sleep 60 &
decoy=$!
python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$TMP/decoy.port" &
listener=$!
for _ in $(seq 50); do [ -s "$TMP/decoy.port" ] && break; sleep 0.1; done
EXTRA_PORTS=$(cat "$TMP/decoy.port")
found=$(leftovers)
kill "$decoy" "$listener" 2>/dev/null || true
wait "$decoy" "$listener" 2>/dev/null || true
case " $found " in *" $decoy "*) ;; *) fail "leftovers() missed a marked process: '$found'" ;; esac
case " $found " in *" listener:$EXTRA_PORTS "*) ;; *) fail "leftovers() missed a listener: '$found'" ;; esac
EXTRA_PORTS=""

OUT1="$TMP/out a\"b"
echo "== run 1: hot,random at scale 0.01 into '$OUT1'"
start=$(date +%s)
env "$MARK" timeout -k $KILL_AFTER $RUN1_LIMIT "$BENCH" run --scale 0.01 --scenario hot,random \
  --duration 2 --warmup 1 --connections 16 --cluster "$TMP/cluster" --pg-port $PORT \
  --out "$OUT1" --bin "$BIN" >"$TMP/run1.out" 2>"$TMP/run1.err" ||
  { rc=$?; cat "$TMP/run1.err"; fail "run 1 exited $rc"; }
echo "run 1 took $(( $(date +%s) - start )) s"
grep -q "generating scale 0.01" "$TMP/run1.err" || fail "run 1 did not generate the data"
grep -q "loading " "$TMP/run1.err" || fail "run 1 did not load the data"
grep -q "^run: \[1/2\] hot" "$TMP/run1.err" || fail "no progress line for hot"
for f in run.json hot.json random.json report.md report.html serve.log; do
  [ -s "$OUT1/$f" ] || fail "missing $OUT1/$f"
done
cluster_running && fail "the cluster is still running after run 1"
[ -z "$(leftovers)" ] || fail "processes left running: $(leftovers)"

python3 - "$OUT1" <<'PY'
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
    # The series leaves the drain out: its sum plus the drain's is every response.
    assert sum(p["responses"] for p in r["series"]) + r["drain"]["responses"] == r["requests"], s
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
    [ -s "$OUT1/$s.nginx.json" ] || fail "nginx installed but no $s.nginx.json"
  done
  grep -Eq '^\| hot \|.*\| nginx [0-9]+ req/s \| [0-9.]+x \|$' "$OUT1/report.md" || fail "no nginx ratio for hot"
  refs=1
fi
if have pgbench || ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  [ -s "$OUT1/random-uncached.json" ] || fail "no random-uncached.json"
  [ -s "$OUT1/random-uncached.pgbench.json" ] || fail "no random-uncached.pgbench.json"
  grep -Eq '^\| random-uncached .*\| pgbench [0-9]+ tps \| [0-9.]+x \|$' "$OUT1/report.md" || fail "no pgbench ratio"
  refs=1
fi
echo "references checked: $refs"

echo "== run 2: the same cluster directory reuses the data; --no-reference"
env "$MARK" timeout -k $KILL_AFTER $RUN2_LIMIT "$BENCH" run --scale 0.01 --scenario repeat \
  --duration 1 --warmup 0 --connections 8 --cluster "$TMP/cluster" --pg-port $PORT \
  --out "$TMP/out2" --bin "$BIN" --no-reference >"$TMP/run2.out" 2>"$TMP/run2.err" ||
  { rc=$?; cat "$TMP/run2.err"; fail "run 2 exited $rc"; }
grep -q "reusing the data set in database sf0_01" "$TMP/run2.err" || fail "run 2 did not reuse the data"
grep -q "generating" "$TMP/run2.err" && fail "run 2 generated again"
ls "$TMP/out2"/*.nginx.json "$TMP/out2"/*pgbench* >/dev/null 2>&1 && fail "--no-reference ran references"
grep -q '^| repeat |' "$TMP/run2.out" || fail "run 2 printed no table"
cluster_running && fail "the cluster is still running after run 2"

echo "== run 2b: a reference that fails (an nginx that exits 1) still gets the report written"
mkdir -p "$TMP/fakebin"
printf '#!/bin/sh\necho "fake nginx: refusing to start" >&2\nexit 1\n' >"$TMP/fakebin/nginx"
chmod 755 "$TMP/fakebin/nginx"
rc=0
env "$MARK" PATH="$TMP/fakebin:$PATH" timeout -k $KILL_AFTER $RUN2_LIMIT "$BENCH" run \
  --scale 0.01 --scenario repeat --duration 1 --warmup 0 --connections 8 \
  --cluster "$TMP/cluster" --pg-port $PORT --out "$TMP/out2b" --bin "$BIN" \
  >"$TMP/run2b.out" 2>"$TMP/run2b.err" || rc=$?
[ "$rc" = 1 ] || { cat "$TMP/run2b.err"; fail "run 2b exited $rc, not 1"; }
for f in run.json repeat.json report.md report.html; do
  [ -s "$TMP/out2b/$f" ] || { cat "$TMP/run2b.err"; fail "run 2b: missing $f"; }
done
grep -q '^| repeat |' "$TMP/run2b.out" || fail "run 2b printed no table"
grep -q 'reference nginx failed: nginx exited (1)' "$TMP/out2b/run.json" ||
  fail "run 2b: the nginx failure is not in run.json's notes"
grep -q 'reference nginx failed' "$TMP/out2b/report.md" || fail "run 2b: no note in report.md"
cluster_running && fail "the cluster is still running after run 2b"
[ -z "$(leftovers)" ] || fail "processes left running after run 2b: $(leftovers)"

echo "== run 3: SIGINT in the middle stops everything and exits 130"
env "$MARK" "$BENCH" run --scale 0.01 --scenario random --duration 30 --warmup 0 \
  --connections 8 --cluster "$TMP/cluster" --pg-port $PORT --out "$TMP/out3" --bin "$BIN" \
  --no-reference >"$TMP/run3.out" 2>"$TMP/run3.err" &
run_pid=$!
for _ in $(seq 300); do grep -q "^run: \[1/1\]" "$TMP/run3.err" && break; sleep 0.1; done
sleep 2
kill -INT "$run_pid"
# Bounded: a run that ignores the SIGINT fails here, not at the ctest timeout.
for _ in $(seq $(( RUN3_LIMIT * 10 ))); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$run_pid" 2>/dev/null && fail "run 3 still running ${RUN3_LIMIT} s after SIGINT"
rc=0
wait "$run_pid" || rc=$?
run_pid=""
[ "$rc" = 130 ] || { cat "$TMP/run3.err"; fail "interrupted run exited $rc, not 130"; }
grep -q "interrupted" "$TMP/run3.err" || fail "no 'interrupted' message"
cluster_running && fail "the cluster is still running after the interrupted run"
[ -z "$(leftovers)" ] || fail "processes left running after SIGINT: $(leftovers)"
echo "bench run test passed"
