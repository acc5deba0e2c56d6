#!/usr/bin/env bash
# deploy/install.sh into a temporary root: every file lands with its mode; a second run copies
# nothing (idempotent); an edited configuration is never overwritten (the new example goes
# next to it as reviewsd.conf.new); --prefix moves the binary and the unit's ExecStart along;
# DESTDIR works like --root; bad arguments fail with status 2 and install nothing; a real
# install to / (run inside private mount and network namespaces over a copy of /etc) creates
# the user, sets owners and applies the sysctl settings; nothing is created on the real system
# (no user, no files in /etc or /usr/local).
# Env: REVIEWSD_BIN, REVIEWSD_DEPLOY_DIR (ctest).
set -euo pipefail

: "${REVIEWSD_BIN:?run through ctest}" "${REVIEWSD_DEPLOY_DIR:?run through ctest}"
install_sh="$REVIEWSD_DEPLOY_DIR/install.sh"
tmp="$(mktemp -d /tmp/reviewsd-install-test-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# The real system, before: must be the same after.
system_state() {
  getent passwd reviewsd || true
  ls -l /etc/systemd/system/reviewsd.service /etc/reviewsd /usr/local/bin/reviewsd \
    /etc/sysctl.d/60-reviewsd.conf 2>&1 || true
}
before="$(system_state)"

root="$tmp/root"
expect_file() {  # expect_file PATH MODE [SAME_AS]
  if [ ! -f "$1" ]; then fail "missing $1"; return; fi
  [ "$(stat -c %a "$1")" = "$2" ] || fail "$1 has mode $(stat -c %a "$1"), want $2"
  [ -z "${3:-}" ] || cmp -s "$1" "$3" || fail "$1 differs from $3"
}

# 1. First install.
"$install_sh" --root "$root" --binary "$REVIEWSD_BIN" >"$tmp/first.log" 2>&1 ||
  { cat "$tmp/first.log" >&2; fail "first install failed"; }
expect_file "$root/usr/local/bin/reviewsd" 755 "$REVIEWSD_BIN"
expect_file "$root/etc/systemd/system/reviewsd.service" 644 "$REVIEWSD_DEPLOY_DIR/reviewsd.service"
expect_file "$root/etc/reviewsd/reviewsd.conf" 640 "$REVIEWSD_DEPLOY_DIR/reviewsd.conf"
expect_file "$root/etc/sysctl.d/60-reviewsd.conf" 644 "$REVIEWSD_DEPLOY_DIR/sysctl.d/60-reviewsd.conf"
for f in README.md postgresql.md replicas.md; do
  expect_file "$root/usr/local/share/doc/reviewsd/$f" 644 "$REVIEWSD_DEPLOY_DIR/$f"
done
[ "$(stat -c %a "$root/etc/reviewsd")" = 750 ] || fail "/etc/reviewsd is not 0750"
grep -q "would create system user reviewsd" "$tmp/first.log" ||
  fail "install.sh did not say it would create the user"
[ ! -e "$root/etc/reviewsd/reviewsd.conf.new" ] || fail "reviewsd.conf.new on a first install"
find "$root" -name '*.tmp.*' | grep -q . && fail "temporary files left behind"
pass "first install"

# 2. Second run: nothing copied (same inodes, same times), nothing new.
snapshot() { find "$root" -printf '%p %i %Y %m %T@\n' | sort; }
s1="$(snapshot)"
"$install_sh" --root "$root" --binary "$REVIEWSD_BIN" >"$tmp/second.log" 2>&1 ||
  { cat "$tmp/second.log" >&2; fail "second install failed"; }
s2="$(snapshot)"
[ "$s1" = "$s2" ] || { fail "a second run changed files:"; diff <(echo "$s1") <(echo "$s2") >&2 || true; }
grep -q "^install.sh: installed" "$tmp/second.log" && fail "a second run installed something"
pass "second run is a no-op"

# 3. An edited configuration is kept; the new example goes next to it.
conf="$root/etc/reviewsd/reviewsd.conf"
printf '# edited by the operator\ndb = postgresql:///mine\n' >>"$conf"
edited="$(cat "$conf")"
"$install_sh" --root "$root" --binary "$REVIEWSD_BIN" >"$tmp/third.log" 2>&1 ||
  { cat "$tmp/third.log" >&2; fail "third install failed"; }
[ "$(cat "$conf")" = "$edited" ] || fail "install.sh overwrote an edited configuration"
expect_file "$conf.new" 640 "$REVIEWSD_DEPLOY_DIR/reviewsd.conf"
"$install_sh" --root "$root" --binary "$REVIEWSD_BIN" >/dev/null 2>&1 || fail "fourth install failed"
[ "$(cat "$conf")" = "$edited" ] || fail "install.sh overwrote an edited configuration (fourth run)"
pass "edited configuration kept, example as reviewsd.conf.new"

# 4. --prefix: the binary moves, and the unit's ExecStart and Documentation follow.
"$install_sh" --root "$tmp/opt" --prefix /opt/reviewsd --binary "$REVIEWSD_BIN" --no-sysctl \
  >/dev/null 2>&1 || fail "install with --prefix failed"
expect_file "$tmp/opt/opt/reviewsd/bin/reviewsd" 755 "$REVIEWSD_BIN"
grep -qx "ExecStart=/opt/reviewsd/bin/reviewsd serve --config /etc/reviewsd/reviewsd.conf" \
  "$tmp/opt/etc/systemd/system/reviewsd.service" || fail "--prefix: ExecStart does not follow"
grep -q "/usr/local" "$tmp/opt/etc/systemd/system/reviewsd.service" &&
  fail "--prefix: the unit still names /usr/local"
[ ! -e "$tmp/opt/etc/sysctl.d" ] || fail "--no-sysctl installed the sysctl file"
pass "--prefix and --no-sysctl"

# 5. DESTDIR is --root's default.
DESTDIR="$tmp/destdir" "$install_sh" --binary "$REVIEWSD_BIN" >/dev/null 2>&1 || fail "DESTDIR install failed"
expect_file "$tmp/destdir/usr/local/bin/reviewsd" 755 "$REVIEWSD_BIN"
pass "DESTDIR"

# 6. Bad arguments: status 2, nothing installed.
expect_usage_error() {
  local rc=0
  "$install_sh" "$@" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "install.sh $* exited $rc, want 2"
}
expect_usage_error --root "$tmp/bad" --binary "$tmp/no-such-binary"
expect_usage_error --root "$tmp/bad" --binary /bin/true  # not a reviewsd
expect_usage_error --root "$tmp/bad" --binary "$REVIEWSD_BIN" --frobnicate
expect_usage_error --root "$tmp/bad" --binary "$REVIEWSD_BIN" --prefix relative/path
[ -z "$(find "$tmp/bad" -type f 2>/dev/null)" ] || fail "a failed install left files"
pass "usage errors"

# 7. A real install (to /, as root), inside private mount and network namespaces: /etc is a
# copy, /usr/local and /run/systemd are empty tmpfs (so systemd, if it runs here, is never
# told), and the sysctl settings land in the private network namespace, where every one of
# them is per namespace. Shows the user is created once, the configuration is root:reviewsd
# 0640, the sysctl values are applied, and a second run changes nothing. Skipped where
# namespaces are not allowed (unprivileged, or a restricted container).
if [ "$(id -u)" -eq 0 ] && unshare -m -n --propagation private true 2>/dev/null; then
  cp -a /etc "$tmp/etc"
  cat >"$tmp/real.sh" <<INNER
set -euo pipefail
mount --bind "$tmp/etc" /etc
mount -t tmpfs tmpfs /usr/local
[ ! -d /run/systemd ] || mount -t tmpfs tmpfs /run/systemd
"$install_sh" --binary "$REVIEWSD_BIN" >"$tmp/real1.log" 2>&1
echo "user=\$(getent passwd reviewsd | cut -d: -f6,7)"
echo "conf=\$(stat -c '%U:%G %a' /etc/reviewsd/reviewsd.conf)"
echo "confdir=\$(stat -c '%U:%G %a' /etc/reviewsd)"
echo "unit=\$(stat -c '%a' /etc/systemd/system/reviewsd.service)"
echo "bin=\$(stat -c '%a' /usr/local/bin/reviewsd)"
echo "somaxconn=\$(sysctl -n net.core.somaxconn)"
echo "ports=\$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' ' ')"
echo "fin=\$(sysctl -n net.ipv4.tcp_fin_timeout)"
echo "synbacklog=\$(sysctl -n net.ipv4.tcp_max_syn_backlog)"
"$install_sh" --binary "$REVIEWSD_BIN" >"$tmp/real2.log" 2>&1
INNER
  if ! real="$(unshare -m -n --propagation private bash "$tmp/real.sh" 2>&1)"; then
    fail "real install in a namespace failed: $real $(cat "$tmp"/real*.log 2>/dev/null)"
  else
    for want in "user=/nonexistent:/usr/sbin/nologin" "conf=root:reviewsd 640" \
      "confdir=root:reviewsd 750" "unit=644" "bin=755" "somaxconn=4096" \
      "ports=10240 65535" "fin=15" "synbacklog=8192"; do
      grep -qxF "$want" <<<"$real" || fail "real install: want '$want', got: $(tr '\n' ' ' <<<"$real")"
    done
    grep -q "created system user reviewsd" "$tmp/real1.log" || fail "real install: no user created"
    grep -q "user reviewsd exists" "$tmp/real2.log" || fail "real install, second run: user again?"
    grep -q "^install.sh: installed" "$tmp/real2.log" && fail "real install, second run installed something"
    pass "real install to / (in private mount and network namespaces)"
  fi
else
  echo "skipped: real install to / (needs root and unshare -m -n)"
fi

# 8. The real system is untouched.
[ "$before" = "$(system_state)" ] || fail "the real system changed: before '$before', after '$(system_state)'"

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all passed"
