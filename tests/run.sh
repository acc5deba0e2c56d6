#!/usr/bin/env bash
# The one command that runs every test: installs the system packages, then builds and runs the
# whole suite twice, as a warning-free Release build and under AddressSanitizer +
# UndefinedBehaviorSanitizer. Integration tests start their own private PostgreSQL cluster
# (ctest fixture `pg`), so nothing needs to be running beforehand.
#
#   tests/run.sh            # everything
#   tests/run.sh --quick    # Release build only (for a fast local loop)
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

jobs=2
run_suite() {  # NAME CMAKE_ARGS...
  local name=$1
  shift
  local dir=build/test-$name
  echo "=== $name: configure and build ($dir)"
  cmake -S . -B "$dir" -DREVIEWSD_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 ||
    { cat "$dir.cmake.log"; return 1; }
  cmake --build "$dir" -j"$jobs"
  echo "=== $name: test"
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 900
}

mkdir -p build
run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--quick" ]; then
  # detect_leaks stays on: a leak fails the suite. Abort on the first UBSan report.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Debug keeps the reactors' own-thread asserts on; -O1 keeps the timing-bounded tests honest.
  run_suite asan -DREVIEWSD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1"
fi
echo "=== all test suites passed"
