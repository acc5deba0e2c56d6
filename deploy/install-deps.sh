#!/usr/bin/env bash
# Installs every Debian 12 package reviewsd needs to build, test, benchmark and run its demo.
# Used by the README's commands and by CI. Idempotent: does nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libpq-dev libsimdjson-dev libfmt-dev catch2 libsystemd-dev zlib1g-dev
  node-llhttp                   # llhttp C sources, compiled by protocol/cmake/FindLlhttp.cmake
  postgresql-15 postgresql-contrib  # the server the tests, demo and bench start privately (+ pgbench)
  clang libclang-rt-14-dev      # libFuzzer targets and TSan
  wrk nginx-light               # bench references: load generator and the HTTP ceiling
  chromium                      # the bench report's browser test: headless screenshot of its plots
  python3 procps iproute2 systemd curl
  prometheus                    # promtool: the tests check GET /metrics with the real parser
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the package scripts from starting system services (nginx, the default
# PostgreSQL cluster): reviewsd starts its own private instances.
if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
