#!/usr/bin/env bash
# deploy/reviewsd.service passes `systemd-analyze verify` (no error, no warning about it), and
# verify catches a broken copy of it, so passing means something; the unit keeps the settings
# the Operations issue asks for and a `systemd-analyze security` exposure of at most 2.0; the
# sysctl and config files only name keys that exist.
#
# verify checks that ExecStart's binary exists: the unit is installed with deploy/install.sh
# into a temporary root and verified as a copy whose paths point into that root. Nothing
# outside the temporary directory is touched. Env: REVIEWSD_BIN, REVIEWSD_DEPLOY_DIR (ctest).
set -euo pipefail

: "${REVIEWSD_BIN:?run through ctest}" "${REVIEWSD_DEPLOY_DIR:?run through ctest}"
deploy="$REVIEWSD_DEPLOY_DIR"
tmp="$(mktemp -d /tmp/reviewsd-unit-test-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

command -v systemd-analyze >/dev/null || { echo "FAIL: no systemd-analyze (package systemd)" >&2; exit 1; }

root="$tmp/root"
"$deploy/install.sh" --root "$root" --binary "$REVIEWSD_BIN" >"$tmp/install.log"
installed="$root/etc/systemd/system/reviewsd.service"
[ -f "$installed" ] || { echo "FAIL: install.sh did not install the unit" >&2; exit 1; }

# The installed unit, its absolute paths moved into the temporary root.
mkdir -p "$tmp/units"
unit="$tmp/units/reviewsd.service"
sed -e "s#=/usr/local/#=$root/usr/local/#g" -e "s# /etc/reviewsd/# $root/etc/reviewsd/#g" \
  -e "s#file:/usr/local/#file:$root/usr/local/#g" "$installed" >"$unit"
grep -q "^ExecStart=$root/usr/local/bin/reviewsd serve --config $root/etc/reviewsd/reviewsd.conf$" "$unit" ||
  { echo "FAIL: could not point ExecStart into the temporary root:" >&2; grep ExecStart "$unit" >&2; exit 1; }

# verify FILE: 0 when systemd-analyze verify exits 0 and says nothing about the unit (unknown
# keys, keys in the wrong section and bad values are only warnings, with exit status 0).
verify() {
  local out rc=0
  out="$(systemd-analyze verify --man=no "$1" 2>&1)" || rc=$?
  if [ "$rc" -ne 0 ] || grep -q "reviewsd.service" <<<"$out"; then
    printf '%s\n' "$out" | sed 's/^/    /'
    return 1
  fi
  [ -z "$out" ] || printf 'note (not about the unit): %s\n' "$out"
  return 0
}

if verify "$unit"; then pass "systemd-analyze verify"; else fail "systemd-analyze verify on the unit"; fi

# Each break must be caught, or a pass above proves nothing.
broken="$tmp/broken/reviewsd.service"
mkdir -p "$tmp/broken"
breaks=(
  "s/^Type=notify$/Type=notify\nProtectSystm=strict/"           # a misspelt directive
  "s/^NoNewPrivileges=yes$/NoNewPrivileges=maybe/"             # a bad value
  "s#^ExecStart=$root/usr/local/bin/reviewsd#ExecStart=$root/nowhere/reviewsd#"  # no binary
  "s/^Type=notify$/Type=notifyy/"                              # a bad service type
  "s/^RestartSec=2s$/RestartSec=2s\nStartLimitIntervalSec=60s/"  # a [Unit] key in [Service]
  "s/^SystemCallFilter=@system-service$/SystemCallFilter=@system-servise/"  # silently no filter
  "s/^RestrictAddressFamilies=.*/RestrictAddressFamilies=AF_INET AF_INETT/"  # a bad family
  "s/^LimitNOFILE=131072$/LimitNOFILE=lots/"                   # a bad limit
)
for b in "${breaks[@]}"; do
  sed -e "$b" "$unit" >"$broken"
  if cmp -s "$unit" "$broken"; then
    fail "break '$b' changed nothing: the unit changed, update the test"
  elif verify "$broken" >/dev/null 2>&1; then
    fail "verify missed a broken unit ($b)"
  else
    pass "verify catches: $b"
  fi
done

# What the issue asks of the unit.
want=(
  "Type=notify" "ExecReload=/bin/kill -HUP \$MAINPID" "User=reviewsd" "Group=reviewsd"
  "Restart=on-failure" "LogsDirectory=reviewsd" "NoNewPrivileges=yes" "ProtectSystem=strict"
  "ProtectHome=yes" "PrivateTmp=yes" "PrivateDevices=yes" "ProtectKernelTunables=yes"
  "ProtectKernelModules=yes" "ProtectKernelLogs=yes" "ProtectControlGroups=yes"
  "ProtectClock=yes" "ProtectHostname=yes" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"
  "RestrictNamespaces=yes" "RestrictRealtime=yes" "RestrictSUIDSGID=yes" "LockPersonality=yes"
  "MemoryDenyWriteExecute=yes" "SystemCallArchitectures=native"
  "SystemCallFilter=@system-service" "CapabilityBoundingSet=" "UMask=0027"
)
for w in "${want[@]}"; do
  grep -qxF "$w" "$unit" || fail "the unit lacks the line '$w'"
done
grep -q '^WatchdogSec=' "$unit" && fail "WatchdogSec= is set, but the server never sends WATCHDOG=1"
grep -q '^AmbientCapabilities=CAP' "$unit" && fail "the unit grants a capability by default"

# LimitNOFILE above max-connections (+1000 for listeners, database connections, logs), and
# TimeoutStopSec above the drain timeout, with the values of the installed configuration.
conf="$root/etc/reviewsd/reviewsd.conf"
conf_value() {  # conf_value KEY DEFAULT: the value set in the config, else the default
  local v
  v="$(sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$conf" | tail -1)"
  echo "${v:-$2}"
}
nofile="$(sed -n 's/^LimitNOFILE=//p' "$unit")"
max_conn="$(conf_value max-connections 100000)"
[ "$nofile" -ge $((max_conn + 1000)) ] || fail "LimitNOFILE=$nofile is not above max-connections $max_conn + 1000"
stop_s="$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")"
drain_ms="$(conf_value drain-timeout-ms 10000)"
[ -n "$stop_s" ] && [ $((stop_s * 1000)) -gt $((drain_ms + 5000)) ] ||
  fail "TimeoutStopSec (${stop_s:-unset} s) is not 5 s above drain-timeout-ms ($drain_ms)"
pass "LimitNOFILE=$nofile, TimeoutStopSec=${stop_s}s vs max-connections $max_conn, drain $drain_ms ms"

# Hardening does not regress: exposure at most 2.0 ("OK"). --offline reads only the file.
if out="$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1)"; then
  pass "systemd-analyze security: $(grep -o 'Overall exposure level.*' <<<"$out")"
else
  fail "systemd-analyze security above 2.0: $(grep -o 'Overall exposure level.*' <<<"$out")"
fi

# sysctl.d: every key exists in this kernel, and every setting comes after its reason.
sysctl_file="$deploy/sysctl.d/60-reviewsd.conf"
prev=""
while IFS= read -r line; do
  if [[ "$line" =~ ^([a-z0-9_.]+)[[:space:]]*=[[:space:]]*(.+)$ ]]; then
    key="${BASH_REMATCH[1]}"
    [ -e "/proc/sys/${key//.//}" ] || fail "sysctl: no such key $key"
    [[ "$prev" == "#"* ]] || fail "sysctl: $key has no comment (the reason) above it"
  elif [ -n "$line" ] && [[ "$line" != "#"* ]]; then
    fail "sysctl: not a 'key = value' line: $line"
  fi
  prev="$line"
done <"$sysctl_file"
pass "sysctl.d keys"

# reviewsd.conf: `key = value` lines with known keys only; each key documented in a comment.
keys="listen threads db replica cache-mb cache-ttl-s db-conns-per-thread db-deadline-ms
  max-connections idle-timeout-ms head-timeout-ms drain-timeout-ms cors-origin log-level
  log-file access-log max-pipeline write-timeout-ms max-body-bytes db-max-outstanding
  read-your-writes-ms"
while IFS= read -r line; do
  [ -z "$line" ] || [[ "$line" == "#"* ]] && continue
  key="${line%%=*}"
  key="${key%"${key##*[![:space:]]}"}"
  [[ " $(tr -s ' \n' '  ' <<<"$keys") " == *" $key "* ]] || fail "reviewsd.conf: unknown key in '$line'"
done <"$deploy/reviewsd.conf"
for k in $keys; do
  grep -q "^#\?$k = \|^#\?$k =$" "$deploy/reviewsd.conf" || fail "reviewsd.conf: $k is not shown"
done
pass "reviewsd.conf keys"

# With a reviewsd that has --check-config: the example is accepted as installed and with every
# commented-out setting switched on (but the second `db` example), and the defaults it states
# are the binary's.
if "$REVIEWSD_BIN" serve --help 2>/dev/null | grep -q -- "--check-config"; then
  check() { "$REVIEWSD_BIN" serve --config "$1" --check-config 2>&1; }
  out="$(check "$conf")" || fail "the installed reviewsd.conf is refused: $out"
  sed -e '/^#db = /d' -e 's/^#\([a-z-]* =\)/\1/' "$deploy/reviewsd.conf" >"$tmp/all.conf"
  out="$(check "$tmp/all.conf")" || fail "reviewsd.conf with every example on is refused: $out"
  defaults="$("$REVIEWSD_BIN" serve --config '' --check-config 2>&1)" ||
    fail "--check-config without a file failed: $defaults"
  for k in threads max-connections head-timeout-ms idle-timeout-ms drain-timeout-ms cors-origin \
    db-conns-per-thread db-deadline-ms cache-mb cache-ttl-s log-level max-pipeline \
    write-timeout-ms max-body-bytes db-max-outstanding read-your-writes-ms; do
    stated="$(grep "^#$k = " "$deploy/reviewsd.conf" | head -1 || true)"
    [ -n "$stated" ] || { fail "reviewsd.conf does not show the default of $k"; continue; }
    grep -qxF "${stated#\#}" <<<"$defaults" ||
      fail "reviewsd.conf states '${stated#\#}', the binary's default is '$(grep "^$k = " <<<"$defaults")'"
  done
  pass "reviewsd.conf accepted by --check-config, defaults as stated"
else
  echo "skipped: --check-config (this reviewsd has none)"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all passed"
