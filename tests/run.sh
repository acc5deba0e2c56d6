#!/usr/bin/env bash
# The one command that runs every test: installs the system packages, then builds and runs the
# whole suite twice, as a warning-free Release build and under AddressSanitizer +
# UndefinedBehaviorSanitizer; then the multi-threaded tests under ThreadSanitizer, and each
# libFuzzer target for a bounded time. Integration tests start their own private PostgreSQL
# cluster (ctest fixture `pg`), so nothing needs to be running beforehand.
#
#   tests/run.sh              # everything
#   tests/run.sh --quick      # Release build only (for a fast local loop)
#   tests/run.sh --only NAME  # one stage: release, asan, tsan or fuzz
#
# REVIEWSD_FUZZ_SECONDS (default 45) is each fuzz target's time in the fuzz stage.
set -euo pipefail
cd "$(dirname "$0")/.."

only=""
case "${1:-}" in
  --quick) only=release ;;
  --only) only=${2:?"--only needs a stage: release, asan, tsan or fuzz"} ;;
  "") ;;
  *) echo "usage: tests/run.sh [--quick | --only release|asan|tsan|fuzz]" >&2; exit 2 ;;
esac
wanted() { [ -z "$only" ] || [ "$only" = "$1" ]; }

deploy/install-deps.sh

jobs=2
configure() {  # DIR CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DREVIEWSD_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 ||
    { cat "$dir.cmake.log"; return 1; }
}
run_suite() {  # NAME CMAKE_ARGS...
  local name=$1
  shift
  local dir=build/test-$name
  echo "=== $name: configure and build ($dir)"
  configure "$dir" "$@"
  cmake --build "$dir" -j"$jobs"
  echo "=== $name: test"
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 900
}

# The tests whose code runs on several threads: the cache, and everything that spawns
# `reviewsd serve` (two reactors) or uses the pool and generator threads. Selected by name
# (test name = target name); names that do not exist yet simply match nothing. Not
# server_api_fault_test: it asserts recovery within 2 s, which TSan's slowdown breaks.
tsan_tests='^(cache_unit_test|cache_api_test|server_serve_test|server_api_read_test|server_api_write_test|server_metrics_test|db_pg_pool_test|db_gen_test)$'
run_tsan() {
  local dir=build/test-tsan reports
  reports=$PWD/$dir/tsan-reports
  echo "=== tsan: configure and build ($dir)"
  # Debug keeps the reactors' own-thread asserts on; -O1 keeps TSan's slowdown bearable.
  configure "$dir" -DREVIEWSD_TSAN=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1"
  local targets
  mapfile -t targets < <(ctest --test-dir "$dir" -N -R "$tsan_tests" |
    sed -n 's/^ *Test *#[0-9]*: //p' | grep -E "$tsan_tests")  # without the pg fixture
  cmake --build "$dir" -j"$jobs" --target reviewsd reviewsd-testpg "${targets[@]}"
  echo "=== tsan: test (${targets[*]})"
  rm -rf "$reports" && mkdir -p "$reports"
  # Every TSan-built process, the spawned servers included, writes its reports to
  # $reports/report.PID: a race inside a server the test killed still fails the stage. The
  # first report ends the process with exit code 66. Each test takes under a minute under
  # TSan: 300 s means a hang, not a slow machine.
  local rc=0
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 exitcode=66 log_path=$reports/report" \
    ctest --test-dir "$dir" -j"$jobs" -R "$tsan_tests" --output-on-failure --timeout 300 || rc=$?
  if compgen -G "$reports/report.*" >/dev/null; then
    echo "=== tsan: ThreadSanitizer reports:"
    cat "$reports"/report.*
    return 1
  fi
  return "$rc"
}

# Each libFuzzer target over a scratch copy of its seed corpus (never the repository's), for
# REVIEWSD_FUZZ_SECONDS. A crash or a violated property fails the stage and names the input.
run_fuzz() {
  local dir=build/test-fuzz secs=${REVIEWSD_FUZZ_SECONDS:-45}
  echo "=== fuzz: configure and build ($dir, clang)"
  CC=clang CXX=clang++ configure "$dir" -DREVIEWSD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
  cmake --build "$dir" -j"$jobs" --target reviewsd_fuzzers
  echo "=== fuzz: seed corpora"
  ctest --test-dir "$dir" -L fuzz --output-on-failure --timeout 300
  local target
  for target in request_parser query review_input csv json_writer; do
    local bin=$dir/tests/fuzz/fuzz_$target work=$dir/fuzz-run/$target
    rm -rf "$work" && mkdir -p "$work"
    cp -r "tests/fuzz/corpus/$target" "$work/corpus"
    local dict=()
    case $target in
      request_parser) dict=(-dict=tests/fuzz/http.dict) ;;
      review_input) dict=(-dict=tests/fuzz/json.dict) ;;
    esac
    echo "=== fuzz: $target for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$work/" "${dict[@]}" "$work/corpus" >"$work/log" 2>&1; then
      tail -n 60 "$work/log"
      echo "=== fuzz: $target FAILED; reproducer: $(sed -n 's/.*Test unit written to //p' "$work/log")"
      echo "    rerun: $bin <reproducer>"
      return 1
    fi
    echo "    $(grep -E '^Done' "$work/log" || true), corpus $(ls "$work/corpus" | wc -l) files"
  done
}

mkdir -p build
if wanted release; then
  run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# detect_leaks stays on: a leak fails the suite. Abort on the first UBSan report.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if wanted asan; then
  # Debug keeps the reactors' own-thread asserts on; -O1 keeps the timing-bounded tests honest.
  run_suite asan -DREVIEWSD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1"
fi
if wanted tsan; then
  run_tsan
fi
if wanted fuzz; then
  run_fuzz
fi
echo "=== all test suites passed"
