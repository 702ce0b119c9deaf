#!/usr/bin/env bash
# A private PostgreSQL server on 127.0.0.1 for tests, benchmarks and scripts/cluster.sh: its own
# data directory and port, run as the `postgres` user when started by root (PostgreSQL refuses
# root), stopped by PID.
#
#   scripts/pg.sh start DIR PORT|auto [-c name=value ...]
#                                                      create DIR/data if missing (superuser
#                                                      `selfprov`, trust on 127.0.0.1, C locale),
#                                                      start the server, wait until it accepts
#                                                      connections, print its PID
#   scripts/pg.sh stop DIR                             fast shutdown of the server of DIR (by the
#                                                      PID in DIR/data/postmaster.pid), wait for it
#   scripts/pg.sh createdb DIR NAME                    create database NAME unless it exists
#   scripts/pg.sh url DIR [NAME]                       the connection URL of the server of DIR
#                                                      (`auto` picks a free port; DIR/port keeps it)
#
# The server's log is DIR/postgres.log. Extra `-c` settings go to the server (tests use
# `-c fsync=off`; benchmarks leave durability on).
set -euo pipefail

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
  echo "pg.sh: PostgreSQL not found under /usr/lib/postgresql (scripts/install-deps.sh installs it)" >&2
  exit 1
}

# Run a command as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 2; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

case "$cmd" in
  start)
    port="${3:?pg.sh start DIR PORT|auto}"
    shift 3
    if [ "$port" = auto ]; then
      # A port nothing listens on (bash's /dev/tcp connects when something does).
      for _ in $(seq 1 50); do
        # Below the kernel's ephemeral range (32768-60999), where outgoing connections take ports.
        port=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
      done
    fi
    bin="$(bindir)"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" -U selfprov --auth=trust -E UTF8 --locale=C -N \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    echo "$port" >"$dir/port"
    as_pg "$bin/postgres" -D "$dir/data" -p "$port" -h 127.0.0.1 -k "$dir" \
      -c max_connections=300 -c shared_buffers=128MB "$@" >"$dir/postgres.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U selfprov -d postgres; then
        # The postmaster's own PID (the one to signal), as it recorded it.
        head -1 "$dir/data/postmaster.pid"
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
      sleep 0.05
    done
    echo "pg.sh: PostgreSQL on port $port not ready after 10 s; log:" >&2
    cat "$dir/postgres.log" >&2
    kill -INT "$pid" 2>/dev/null || true
    exit 1
    ;;
  stop)
    pidfile="$dir/data/postmaster.pid"
    [ -f "$pidfile" ] || exit 0
    pid="$(head -1 "$pidfile")"
    kill -INT "$pid" 2>/dev/null || exit 0
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    ;;
  createdb)
    name="${3:?pg.sh createdb DIR NAME}"
    bin="$(bindir)"
    if ! "$bin/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U selfprov -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$(cat "$dir/port")" -U selfprov "$name"
    fi
    ;;
  url)
    echo "postgresql://selfprov@127.0.0.1:$(cat "$dir/port")/${3:-postgres}"
    ;;
  *)
    echo "pg.sh: unknown command '$cmd' (start, stop, createdb, url)" >&2
    exit 2
    ;;
esac
