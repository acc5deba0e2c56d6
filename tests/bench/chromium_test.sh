#!/usr/bin/env bash
# The HTML report in a real browser (issue 7): `reviewsd-bench report` renders the fixtures,
# headless chromium takes a screenshot of the page from a file:// URL (no network), and
# png_colours.py checks that every plot colour (throughput, p50, p90, p99) draws a line
# across the picture, not just a legend swatch. A second page, the same report with the line
# paths removed from its plots (axes, ticks and legends kept), must fail the same check: the
# check tells drawn lines from a page that only looks like plots.
#
#   tests/bench/chromium_test.sh REVIEWSD_BENCH FIXTURES_DIR
#
# Exit 77 (ctest SKIP) only when chromium is not installed; any other problem fails.
set -euo pipefail
BENCH=$1
FIX=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
  echo "SKIP: chromium is not installed (deploy/install-deps.sh installs it)"
  exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$BENCH" report --quiet --out "$TMP/report" "$FIX/run.json" "$FIX/hot.json" \
  "$FIX/hot.nginx.json" "$FIX/ramp.json" "$FIX/random-uncached.json" \
  "$FIX/random-uncached.pgbench.json"
[ -s "$TMP/report/report.html" ] || { echo "no report.html"; exit 1; }

shot() {  # HTML PNG
  # A fresh profile per run; as root chromium needs --no-sandbox. Bounded: 90 s. No network:
  # the page needs none, and headless chromium would otherwise fetch components, send pings
  # and check for updates in the background; the proxy on port 9 (discard, nothing listens)
  # refuses whatever request is left.
  if ! timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --hide-scrollbars --no-first-run --disable-background-networking \
    --disable-component-update --no-pings --disable-domain-reliability --disable-sync \
    --proxy-server=127.0.0.1:9 --user-data-dir="$TMP/profile" \
    --window-size=1100,3200 --screenshot="$2" "file://$1" >"$TMP/chromium.log" 2>&1; then
    cat "$TMP/chromium.log"
    echo "chromium failed"
    exit 1
  fi
  [ -s "$2" ] || { cat "$TMP/chromium.log"; echo "chromium wrote no screenshot"; exit 1; }
}
colours=(throughput=#1f77b4 p50=#2ca02c p90=#ff7f0e p99=#d62728)

shot "$TMP/report/report.html" "$TMP/report.png"
echo "== the report"
python3 "$HERE/png_colours.py" "$TMP/report.png" "${colours[@]}"

# The control: the same page without its plot lines must fail (axes, legends and tables alone
# are not enough to pass).
python3 - "$TMP/report/report.html" "$TMP/noplots.html" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
stripped, n = re.subn(r'<path class="line"[^>]*/>', "", html)
assert n >= 10, n
assert stripped.count("<svg ") >= 3
open(sys.argv[2], "w", encoding="utf-8").write(stripped)
PY
shot "$TMP/noplots.html" "$TMP/noplots.png"
echo "== the control page without plot lines (must fail)"
if python3 "$HERE/png_colours.py" "$TMP/noplots.png" "${colours[@]}"; then
  echo "the check passed a page without plot lines"
  exit 1
fi
echo "chromium renders the report's plots"
