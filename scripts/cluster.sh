#!/usr/bin/env bash
# A local selfprov cluster on 127.0.0.1 to try the clustered form (docs/deployment.md):
# PostgreSQL (scripts/pg.sh), Kamailio as the phones' registrar and proxy
# (deploy/kamailio/kamailio.cfg) and N selfprov nodes sharing the database, with the demo users.
#
#   scripts/cluster.sh up [N]     build selfprov (release), start PostgreSQL, N nodes (default 2)
#                                 and Kamailio; print where phones and callers connect
#   scripts/cluster.sh down       stop them all by PID (the nodes drain first); the data stays
#   scripts/cluster.sh status     which of them run
#
# Everything lives in SELFPROV_CLUSTER_DIR (default var/cluster in the repository): each node's
# configuration and log, Kamailio's, the database. Ports: Kamailio SIP_BASE (default 5080), node
# i (1..N) SIP SIP_BASE+i, admin HTTP SIP_BASE+100+i, configuration HTTP SIP_BASE+200+i, RTP
# from SIP_BASE+1000+P*i (P ports each: SELFPROV_CLUSTER_RTP_PORTS, default 200);
# set SELFPROV_CLUSTER_PORT_BASE to move them all. SELFPROV_BIN picks
# an already built binary instead of building one; SELFPROV_CLUSTER_CONFIG another base
# configuration than config/selfprov.toml (with the sample's listen addresses and backend lines,
# which are replaced per node: benches/cluster/run.py tunes the limits in a copy).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="${SELFPROV_CLUSTER_DIR:-$root/var/cluster}"
base="${SELFPROV_CLUSTER_PORT_BASE:-5080}"
rtp_ports="${SELFPROV_CLUSTER_RTP_PORTS:-200}"
realm="pbx.local"

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stop the process whose PID is in file $1 with signal $2, wait up to $3 seconds, then SIGKILL.
stop_pid() {
  local pidfile="$1" sig="$2" wait_s="$3" pid
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid="$(cat "$pidfile")"
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((wait_s * 20))); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.05
  done
  echo "cluster: PID $pid did not stop in ${wait_s} s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# Wait up to $2 seconds for $3 to appear in file $1 (a log), while PID file $4's process lives.
wait_log() {
  for _ in $(seq 1 $(($2 * 10))); do
    grep -q "$3" "$1" 2>/dev/null && return 0
    alive "$4" || { echo "cluster: it exited; see $1" >&2; tail -20 "$1" >&2; return 1; }
    sleep 0.1
  done
  echo "cluster: no '$3' in $1 after $2 s" >&2
  tail -20 "$1" >&2
  return 1
}

modules_dir() {
  local d
  for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules; do
    [ -f "$d/registrar.so" ] && { echo "$d"; return; }
  done
  echo "cluster: Kamailio's modules not found (scripts/install-deps.sh installs kamailio)" >&2
  exit 1
}

# The configuration of node $1: the sample's, on its ports, on PostgreSQL, behind Kamailio.
node_config() {
  local i="$1" url="$2" kam="127.0.0.1:$base" rtp=$((base + 1000 + rtp_ports * i))
  sed -e "s|listen = \"127.0.0.1:5060\"|listen = \"127.0.0.1:$((base + i))\"|" \
      -e "s|listen = \"127.0.0.1:8080\"|listen = \"127.0.0.1:$((base + 100 + i))\"|" \
      -e "s|http_listen = \"127.0.0.1:6970\"|http_listen = \"127.0.0.1:$((base + 200 + i))\"|" \
      -e "s|^tftp_listen = .*|# tftp_listen: off in the local cluster|" \
      -e "s|rtp_port_range = { start = 20000, end = 29999 }|rtp_port_range = { start = $rtp, end = $((rtp + rtp_ports - 1)) }|" \
      -e "s|dir = \"../prompts\"|dir = \"$root/prompts\"|" \
      -e "s|^data_dir = .*|data_dir = \"$dir/node-$i/var\"|" \
      -e "s|^templates_dir = .*|templates_dir = \"$root/config/templates\"|" \
      -e "s|backend = \"sqlite\"|backend = \"postgresql\"\nurl = \"$url\"\npool_size = 8|" \
      -e "s|mode = \"builtin\"|mode = \"external\"\naddress = \"$kam\"\ntrusted_proxies = [\"127.0.0.1\"]\nsubscriber_realm = \"$realm\"|" \
      -e "s|sip_password = \"\"|sip_password = \"not-checked\"|" \
      -e "s|# outbound_proxy = \"192.0.2.20:5060\"|outbound_proxy = \"$kam\"|" \
      -e "s|# sip_address = \"192.0.2.10:5060\"|sip_address = \"$kam\"|" \
      -e "s|^\[phone_config\]$|[phone_config]\nsecret_key_file = \"$dir/device-secret.key\"|" \
      "${SELFPROV_CLUSTER_CONFIG:-$root/config/selfprov.toml}"
}

up() {
  local n="${1:-2}" bin i url kam_url
  [[ "$n" =~ ^[1-9][0-9]?$ ]] || { echo "cluster: N must be 1 to 99" >&2; exit 2; }
  for tool in kamailio kamcmd; do
    command -v "$tool" >/dev/null || { echo "cluster: $tool not found: run scripts/install-deps.sh" >&2; exit 1; }
  done
  [ -f "$(modules_dir)/db_postgres.so" ] || { echo "cluster: Kamailio's PostgreSQL module is missing: run scripts/install-deps.sh (kamailio-postgres-modules)" >&2; exit 1; }
  if alive "$dir/kamailio.pid" || alive "$dir/node-1.pid"; then
    echo "cluster: already running in $dir (scripts/cluster.sh down first)" >&2
    exit 1
  fi
  if [ -n "${SELFPROV_BIN:-}" ]; then
    bin="$SELFPROV_BIN"
  else
    "$root/scripts/install-deps.sh" --build
    cargo build --manifest-path "$root/Cargo.toml" --release --locked -p selfprov
    bin="$root/target/release/selfprov"
  fi
  mkdir -p "$dir"

  echo "cluster: PostgreSQL"
  if ! [ -f "$dir/pg/data/postmaster.pid" ] || ! kill -0 "$(head -1 "$dir/pg/data/postmaster.pid")" 2>/dev/null; then
    "$root/scripts/pg.sh" start "$dir/pg" "$((base + 900))" >"$dir/pg.pid"
  fi
  "$root/scripts/pg.sh" createdb "$dir/pg" selfprov
  url="$("$root/scripts/pg.sh" url "$dir/pg" selfprov)"
  for i in $(seq 1 "$n"); do
    mkdir -p "$dir/node-$i"
    node_config "$i" "$url" >"$dir/node-$i/selfprov.toml"
  done
  # The schema (Kamailio checks its subscriber table at start), the shared device-secret key and
  # the demo users, before anything serves.
  "$bin" --config "$dir/node-1/selfprov.toml" demo load >/dev/null 2>"$dir/demo.log" ||
    grep -qi "already" "$dir/demo.log" || { cat "$dir/demo.log" >&2; exit 1; }

  echo "cluster: Kamailio on 127.0.0.1:$base"
  : >"$dir/dispatcher.list"
  for i in $(seq 1 "$n"); do
    echo "1 sip:127.0.0.1:$((base + i)) 0 0" >>"$dir/dispatcher.list"
  done
  kam_url="${url/postgresql:\/\/selfprov@/postgres://selfprov:unused@}"
  sed -e "s|@IP@|127.0.0.1|g" -e "s|@PORT@|$base|g" -e "s|@MPATH@|$(modules_dir)|g" \
      -e "s|@CTL@|unix:$dir/kamailio.ctl|g" -e "s|@DBURL@|$kam_url|g" -e "s|@REALM@|$realm|g" \
      -e "s|@ROUTE_POINTS@|^2000\$|g" -e "s|@DISPATCHER_LIST@|$dir/dispatcher.list|g" \
      "$root/deploy/kamailio/kamailio.cfg" >"$dir/kamailio.cfg"
  setsid kamailio -f "$dir/kamailio.cfg" -DD -E -m 64 -M 8 -Y "$dir" -w "$dir" \
    >"$dir/kamailio.log" 2>&1 </dev/null &
  echo $! >"$dir/kamailio.pid"
  for _ in $(seq 1 100); do
    kamcmd -s "unix:$dir/kamailio.ctl" core.version >/dev/null 2>&1 && break
    alive "$dir/kamailio.pid" || { tail -20 "$dir/kamailio.log" >&2; exit 1; }
    sleep 0.1
  done

  for i in $(seq 1 "$n"); do
    echo "cluster: node $i"
    setsid "$bin" --config "$dir/node-$i/selfprov.toml" serve >"$dir/node-$i/selfprov.log" 2>&1 </dev/null &
    echo $! >"$dir/node-$i.pid"
    wait_log "$dir/node-$i/selfprov.log" 120 "selfprov ready" "$dir/node-$i.pid"
  done

  cat <<EOF

selfprov cluster up in $dir: PostgreSQL ($url), Kamailio, $n node(s).
  Phones register and call at     sip:127.0.0.1:$base  (domain/realm $realm; route point 2000)
  Phones fetch their files from   $(for i in $(seq 1 "$n"); do printf 'http://127.0.0.1:%s/ ' $((base + 200 + i)); done)
  Administrators (web console)    $(for i in $(seq 1 "$n"); do printf 'http://127.0.0.1:%s/ ' $((base + 100 + i)); done)
                                  first password: $dir/node-1/var/initial-admin-password
  Try a phone:   $bin --config $dir/node-1/selfprov.toml phone --boot yealink --device SEP0A1B2C3D4E5F --digits 1004#12345#1
  Logs:          $dir/node-*/selfprov.log, $dir/kamailio.log, $dir/pg/postgres.log
  Stop:          scripts/cluster.sh down
EOF
}

down() {
  local f
  # Nodes first: SIGTERM drains (calls in progress end, no new ones).
  for f in "$dir"/node-*.pid; do
    [ -e "$f" ] || continue
    echo "cluster: stopping ${f##*/}"
    stop_pid "$f" TERM 60
  done
  [ -e "$dir/kamailio.pid" ] && { echo "cluster: stopping Kamailio"; stop_pid "$dir/kamailio.pid" TERM 10; }
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    echo "cluster: stopping PostgreSQL"
    "$root/scripts/pg.sh" stop "$dir/pg"
  fi
  rm -f "$dir/pg.pid"
  echo "cluster: down (data kept in $dir)"
}

status() {
  local f any=1
  for f in "$dir"/node-*.pid "$dir/kamailio.pid"; do
    [ -e "$f" ] || continue
    if alive "$f"; then echo "${f##*/}: running (PID $(cat "$f"))"; any=0; else echo "${f##*/}: not running"; fi
  done
  if [ -f "$dir/pg/data/postmaster.pid" ] && kill -0 "$(head -1 "$dir/pg/data/postmaster.pid")" 2>/dev/null; then
    echo "postgresql: running (PID $(head -1 "$dir/pg/data/postmaster.pid"))"
    any=0
  fi
  return $any
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  -h|--help|"") usage ;;
  *) echo "cluster: unknown command '$1' (up, down, status)" >&2; exit 2 ;;
esac
