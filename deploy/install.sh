#!/usr/bin/env bash
# Installs reviewsd as a systemd service: the binary, the unit, the example configuration, the
# sysctl settings, the docs, and the `reviewsd` system user. Idempotent: a second run changes
# nothing unless a source changed, and it never overwrites an existing configuration (a
# different new one goes next to it as reviewsd.conf.new).
#
#   deploy/install.sh                                   # the real thing (as root)
#   deploy/install.sh --root /tmp/stage --binary build/release/server/reviewsd   # staging
#
# Options:
#   --root DIR     install under DIR instead of / (default: $DESTDIR, else /). Anything but /
#                  only copies files: no user is created (it says what it would do), nothing
#                  is chowned, no sysctl is applied, systemd is not told.
#   --prefix DIR   where the binary and docs go (default /usr/local); the unit follows it.
#   --binary FILE  the reviewsd to install (default build/release/server/reviewsd, which
#                  deploy/quickstart.sh builds).
#   --no-sysctl    do not install or apply deploy/sysctl.d/60-reviewsd.conf.
#
# The service is neither enabled nor started: edit /etc/reviewsd/reviewsd.conf first, then
# `systemctl enable --now reviewsd`.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${DESTDIR:-/}"
prefix=/usr/local
binary="$here/../build/release/server/reviewsd"
sysctl=yes

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; root="$2"; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary="$2"; shift 2 ;;
    --no-sysctl) sysctl=no; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

case "$prefix" in /*) ;; *) die "--prefix must be absolute, got '$prefix'" ;; esac
prefix="${prefix%/}"
[ -f "$binary" ] && [ -x "$binary" ] || die "no executable reviewsd at $binary (build it, or pass --binary)"
# A binary that cannot print its usage (wrong architecture, missing libraries, not reviewsd at
# all) is not worth installing.
"$binary" serve --help 2>/dev/null | grep -q "usage: reviewsd serve" ||
  die "$binary serve --help does not print reviewsd's usage: not a working reviewsd"

mkdir -p "$root"
root="$(cd "$root" && pwd)"
real=no
[ "$root" = / ] && real=yes
R="${root%/}"  # prefix for every destination path: "" for a real install
if [ "$real" = yes ] && [ "$(id -u)" -ne 0 ]; then
  die "installing to / needs root (or use --root DIR to stage the files)"
fi

user=reviewsd

say() { echo "install.sh: $*"; }

# install_file SRC DEST MODE: copies when DEST differs (then sets copied=yes); the copy is
# renamed into place, so a running binary is never written over. Called plainly, never in an
# `if` or `||` (those would switch off `set -e` inside it).
copied=no
install_file() {
  local src="$1" dest="$2" mode="$3"
  copied=no
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    say "unchanged $dest"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
  copied=yes
  say "installed $dest"
}

# 1. The user: a system account with no shell and no home, owning nothing but its logs.
if [ "$real" = yes ]; then
  if getent passwd "$user" >/dev/null; then
    say "user $user exists"
  else
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "reviewsd HTTP API" "$user"
    say "created system user $user"
  fi
else
  say "would create system user $user (useradd --system --user-group --no-create-home" \
    "--home-dir /nonexistent --shell /usr/sbin/nologin) when installing to /"
fi

# 2. The binary.
install_file "$binary" "$R$prefix/bin/reviewsd" 0755

# 3. The unit, with the binary's and the docs' paths following --prefix.
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
sed -e "s#/usr/local/bin/reviewsd#$prefix/bin/reviewsd#g" \
  -e "s#/usr/local/share/doc/reviewsd#$prefix/share/doc/reviewsd#g" \
  "$here/reviewsd.service" >"$tmp"
install_file "$tmp" "$R/etc/systemd/system/reviewsd.service" 0644
changed_unit="$copied"

# 4. The configuration: the example on a first install; never replaced afterwards. It may hold
# database passwords, so only root and the service read it.
conf_dir="$R/etc/reviewsd"
conf="$conf_dir/reviewsd.conf"
mkdir -p "$conf_dir"
chmod 0750 "$conf_dir"
if [ ! -e "$conf" ]; then
  install -m 0640 "$here/reviewsd.conf" "$conf"
  say "installed $conf (edit it: db, listen)"
elif cmp -s "$here/reviewsd.conf" "$conf"; then
  say "unchanged $conf"
else
  install -m 0640 "$here/reviewsd.conf" "$conf.new"
  say "kept $conf (yours); the current example is $conf.new"
fi
if [ "$real" = yes ]; then
  chown root:"$user" "$conf_dir" "$conf"
  [ ! -e "$conf.new" ] || chown root:"$user" "$conf.new"
fi

# 5. Kernel settings for many connections.
if [ "$sysctl" = yes ]; then
  install_file "$here/sysctl.d/60-reviewsd.conf" "$R/etc/sysctl.d/60-reviewsd.conf" 0644
  if [ "$real" = yes ]; then
    # Containers often have a read-only /proc/sys: the file still applies on the host's boot.
    sysctl -q -p /etc/sysctl.d/60-reviewsd.conf ||
      say "warning: could not apply /etc/sysctl.d/60-reviewsd.conf now (it applies at boot)"
  fi
fi

# 6. Docs, where the unit's Documentation= points.
for f in README.md postgresql.md replicas.md; do
  install_file "$here/$f" "$R$prefix/share/doc/reviewsd/$f" 0644
done
install_file "$here/reviewsd.conf" "$R$prefix/share/doc/reviewsd/reviewsd.conf.example" 0644

# 7. systemd: only on a real install, and only when systemd runs this machine (not in a
# container or a chroot whose PID 1 is something else).
if [ "$real" = yes ] && [ -d /run/systemd/system ]; then
  if [ "$changed_unit" = yes ]; then
    systemctl daemon-reload
    say "systemctl daemon-reload"
  fi
  if systemctl is-active --quiet reviewsd; then
    say "reviewsd is running: \`systemctl restart reviewsd\` runs what was just installed"
  else
    say "next: edit $conf, then \`systemctl enable --now reviewsd\`"
  fi
elif [ "$real" = yes ]; then
  say "systemd is not running on this machine: the unit is installed for when it is"
fi
