#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running reviewsd: installs the packages,
# builds, then `reviewsd demo` creates a private PostgreSQL cluster under ./var, generates and
# loads a data set on first run (scale 0.01 unless SCALE is set) and serves it.
#   deploy/quickstart.sh                 # SCALE=0.1 deploy/quickstart.sh for a bigger one
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DREVIEWSD_TESTS=OFF >/dev/null
cmake --build build/release -j2
exec build/release/server/reviewsd demo --scale "${SCALE:-0.01}" "$@"
