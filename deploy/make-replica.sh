#!/usr/bin/env bash
# Makes a streaming replica (hot standby) of a PostgreSQL primary on this machine, for testing
# reviewsd with --replica: pg_basebackup -R copies the primary into a new data directory, the
# copy gets its own port and socket directory, pg_ctl starts it, and the script waits until it
# streams WAL from the primary. Production replicas are set up the same way, on their own
# hosts (deploy/replicas.md).
#
#   deploy/make-replica.sh --primary-data /path/to/primary/data --dir /path/to/replica --port 5433
#   deploy/make-replica.sh --primary-host /var/run/postgresql --primary-port 5432 \
#       --dir /srv/replica1 --port 5433 --slot replica1
#
# Options:
#   --primary-data DIR   the running primary's data directory: its port and socket directory
#                        are read from DIR/postmaster.pid
#   --primary-host H     or: the primary's socket directory (or address) ...
#   --primary-port N     ... and port (default 5432)
#   --primary-user U     role to replicate as (default postgres; needs REPLICATION and a
#                        `replication` line in the primary's pg_hba.conf)
#   --dir DIR            the replica: DIR/data (its data directory), DIR/sock (its socket
#                        directory), DIR/server.log; DIR is created (default: none, required)
#   --port N             the replica's port (names its socket file; TCP on the primary's
#                        listen_addresses). Required, and different from the primary's when
#                        both listen on TCP.
#   --slot NAME          create and use a physical replication slot: the primary keeps the WAL
#                        this replica has not received, however long it is down. Drop it when
#                        you drop the replica (SELECT pg_drop_replication_slot('NAME')), or the
#                        primary's disk fills up.
#
# The replica's conninfo is printed on the last line: host=DIR/sock port=N user=postgres.
# Stop it with `pg_ctl -D DIR/data stop` (as the postgres user when root). Run again on an
# existing replica, the script only starts it if it is stopped (idempotent).
#
# PostgreSQL refuses to run as root: when root, every PostgreSQL program runs as the `postgres`
# OS user, which must be able to reach DIR. Binaries: $REVIEWSD_PG_BINDIR, else the newest
# /usr/lib/postgresql/*/bin (the same choice as db/local_cluster.cpp).
set -euo pipefail

die() { echo "make-replica.sh: $*" >&2; exit 2; }
say() { echo "make-replica.sh: $*"; }

primary_data="" primary_host="" primary_port=5432 primary_user=postgres
dir="" port="" slot=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { [ "$1" = -h ] || [ "$1" = --help ]; } || die "$1 needs a value"
  case "$1" in
    --primary-data) primary_data="$2" ;;
    --primary-host) primary_host="$2" ;;
    --primary-port) primary_port="$2" ;;
    --primary-user) primary_user="$2" ;;
    --dir) dir="$2" ;;
    --port) port="$2" ;;
    --slot) slot="$2" ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift 2
done
[ -n "$dir" ] || die "--dir is required"
[ -n "$port" ] || die "--port is required"
[[ "$port" =~ ^[0-9]+$ ]] || die "--port wants a number, got '$port'"
[ -z "$slot" ] || [[ "$slot" =~ ^[a-z0-9_]+$ ]] || die "--slot wants [a-z0-9_]+, got '$slot'"

if [ -n "$primary_data" ]; then
  pidfile="$primary_data/postmaster.pid"
  [ -r "$pidfile" ] || die "no $pidfile: is the primary running?"
  # postmaster.pid: line 4 is the port, line 5 the first socket directory.
  primary_port="$(sed -n 4p "$pidfile")"
  primary_host="$(sed -n 5p "$pidfile")"
  [ -n "$primary_host" ] || primary_host="$(sed -n 6p "$pidfile")"  # TCP only: its address
fi
[ -n "$primary_host" ] || die "give --primary-data, or --primary-host and --primary-port"

if [ -n "${REVIEWSD_PG_BINDIR:-}" ]; then
  bindir="$REVIEWSD_PG_BINDIR"
else
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -1)"
fi
[ -x "$bindir/pg_basebackup" ] || die "no pg_basebackup in '$bindir' (install postgresql-15, or set REVIEWSD_PG_BINDIR)"

# as_owner CMD...: runs a PostgreSQL program as the cluster owner (postgres when we are root).
if [ "$(id -u)" -eq 0 ]; then
  getent passwd postgres >/dev/null || die "running as root, but there is no postgres OS user"
  as_owner() { runuser -u postgres -- "$@"; }
  owner=postgres
else
  as_owner() { "$@"; }
  owner="$(id -un)"
fi

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data" sock="$dir/sock" log="$dir/server.log"
replica_conninfo="host=$sock port=$port user=$primary_user"
primary_conninfo="host=$primary_host port=$primary_port user=$primary_user"

psql_replica() { as_owner "$bindir/psql" -X -At -d "$replica_conninfo dbname=postgres" -c "$1"; }

# wait_streaming: up to 30 s for the replica to accept connections, be in recovery and stream.
wait_streaming() {
  local status=""
  for _ in $(seq 300); do
    status="$(psql_replica "SELECT pg_is_in_recovery()::text || ' ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')" 2>/dev/null || true)"
    if [ "$status" = "true streaming" ]; then
      say "replica in $data streams from $primary_conninfo"
      echo "$replica_conninfo"
      return 0
    fi
    sleep 0.1
  done
  echo "make-replica.sh: the replica does not stream (last: '${status:-no answer}'); tail of $log:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

start_replica() {
  as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -s start ||
    { tail -n 20 "$log" >&2; die "pg_ctl start failed"; }
}

# Already made: start it when stopped, then report (idempotent).
if [ -e "$data/PG_VERSION" ]; then
  [ -e "$data/standby.signal" ] || die "$data holds a cluster that is not a standby: refusing to touch it"
  if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "replica in $data is running"
  else
    say "replica in $data exists; starting it"
    start_replica
  fi
  wait_streaming
  exit 0
fi

# The primary must ship WAL to standbys.
wal_level="$(as_owner "$bindir/psql" -X -At -d "$primary_conninfo dbname=postgres" -c "SHOW wal_level")" ||
  die "cannot connect to the primary ($primary_conninfo)"
[ "$wal_level" != minimal ] || die "the primary has wal_level = minimal: set replica (the default) and restart it"

# The postgres user must reach DIR; the data directory itself is created by pg_basebackup.
if [ "$(id -u)" -eq 0 ]; then
  chown "$owner" "$dir"
  runuser -u postgres -- test -x "$dir" ||
    die "$dir is not reachable by the postgres user (a parent directory is private?)"
fi
as_owner mkdir -p "$sock"

# -R: standby.signal + primary_conninfo (the same connection, so over the primary's socket);
# -X stream: the WAL written during the copy comes along, so the copy is consistent;
# -c fast: an immediate checkpoint instead of waiting for a spread one (minutes).
slot_args=()
[ -z "$slot" ] || slot_args=(-C -S "$slot")
say "pg_basebackup from $primary_conninfo into $data"
as_owner "$bindir/pg_basebackup" -d "$primary_conninfo application_name=$(basename "$dir")" \
  -D "$data" -R -X stream -c fast "${slot_args[@]}" ||
  die "pg_basebackup failed"

# The copy carries the primary's postgresql.conf: later lines win, so its own port and socket
# directory go at the end. hot_standby (on by default) is what lets it answer reads.
as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# streaming replica made by deploy/make-replica.sh
port = $port
unix_socket_directories = '$sock'
hot_standby = on
EOF
start_replica
wait_streaming
