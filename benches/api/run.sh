#!/usr/bin/env bash
# The HTTP API benchmark: a database of 100,000 users and 1,000 devices, then wrk against a
# release build of `selfprov serve` with an administrator's API token:
#   list      pages of 50 anywhere in the user list (random offset)
#   keyset    the same pages reached with a cursor (`after=`, keyset paging)
#   prefix    prefix search on the user ID (`user0123`)
#   name      search on the last name, sorted by last name
#   wildcard  `*1234*` (the trigram index narrows it)
#   sorted    pages of the list sorted by last name, descending (random offset)
#   sorted_keyset  the same with a cursor
#   devices   one device by name, each connection pacing itself to about 1,000 reads/s in all
# With --calls N, the IVR carries N silent calls the whole time (selfprov-loadgen, as in
# benches/run-load.py: each from a new phone that fetches its file first), started before the
# first scenario and measured by the load generator (its summary is printed at the end). With
# --baseline S as well, the same N calls first run alone for S seconds (no API load), so the
# IVR's figures with and without the API load come from the same run, on the same machine.
# Prints one Markdown table row per scenario (requests/s, p50, p90, p99, max) for
# docs/benchmarks.md.
#
# Usage: benches/api/run.sh [--users N] [--devices N] [--duration 20s] [--connections 4] [--calls N [--baseline S]]
# Needs: wrk (Debian package `wrk`; scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."

users=100000 devices=1000 duration=20s connections=4 calls=0 baseline=0
while (($#)); do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    *) echo "usage: $0 [--users N] [--devices N] [--duration 20s] [--connections 4] [--calls N [--baseline S]]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed: scripts/install-deps.sh" >&2; exit 1; }

cargo build --release --quiet -p selfprov -p selfprov-bench-api -p selfprov-loadgen
bin=target/release
dir=$(mktemp -d /tmp/selfprov-bench-api.XXXXXX)
pid= lg=
cleanup() {
  [ -n "$lg" ] && kill "$lg" 2>/dev/null && wait "$lg" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
admin=$(free_port) sip=$(free_port) web=$(free_port) tftp=$(free_port)
rtp=$(( ($(free_port) / 2) * 2 ))
# The flood defences off (as benches/run-load.py's LIMITS_OFF): 1,000 phones from one address,
# all new, would otherwise be refused as a flood.
sed -e "s|listen = \"127.0.0.1:5060\"|listen = \"127.0.0.1:$sip\"|" \
    -e "s|listen = \"127.0.0.1:8080\"|listen = \"127.0.0.1:$admin\"|" \
    -e "s|http_listen = \"127.0.0.1:6970\"|http_listen = \"127.0.0.1:$web\"|" \
    -e "s|tftp_listen = \"127.0.0.1:6969\"|tftp_listen = \"127.0.0.1:$tftp\"|" \
    -e "s|rtp_port_range = { start = 20000, end = 29999 }|rtp_port_range = { start = $rtp, end = $((rtp + 1)) }|" \
    -e "s|dir = \"../prompts\"|dir = \"$PWD/prompts\"|" \
    -e "s|level = \"info\"|level = \"warn\"|" \
    -e "s|load_on_first_start = true|load_on_first_start = false|" \
    -e "s|first_digit_timeout = \"10s\"|first_digit_timeout = \"10m\"|" \
    -e "s|unknown_per_minute = 60|unknown_per_minute = 1000000|" \
    -e "s|rate_limit_register = 10|rate_limit_register = 0|" \
    -e "s|rate_limit_invite = 10|rate_limit_invite = 0|" \
    -e "s|rate_limit_options = 10|rate_limit_options = 0|" \
    -e "s|rate_limit_other = 20|rate_limit_other = 0|" \
    -e "s|new_devices_per_second = 10|new_devices_per_second = 0|" \
    -e "s|max_connections_per_source = 64|max_connections_per_source = 512|" \
    -e "s|dn_range = { start = \"1000\", end = \"1999\" }|dn_range = { start = \"400000\", end = \"499999\" }|" \
    config/selfprov.toml > "$dir/selfprov.toml"
cfg="$dir/selfprov.toml"

"$bin/selfprov-bench-api" --config "$cfg" --users "$users" --devices "$devices" >&2
"$bin/selfprov" --config "$cfg" serve 2> "$dir/serve.log" &
pid=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$admin/status" >/dev/null 2>&1 && break
  sleep 0.2
done
printf 'a long benchmark password' | "$bin/selfprov" --config "$cfg" admin create bench --role administrator >&2
token=$("$bin/selfprov" --config "$cfg" token create --owner bench 2>/dev/null)

# The IVR's figures of a load generator summary, one table row.
ivr_row() { # label json
  python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
v = d["deviation_ms"]
print(f"| {sys.argv[1]} | {d['calls']} | {d['failed']} | {d['rtp_received']:,} | {d['rtp_lost']} | "
      f"{v['p50']:.2f} | {v['p99']:.2f} | {v['p999']:.2f} | {v['max']:.1f} |")
PY
}

if ((calls > 0 && baseline > 0)); then
  # The same calls alone first: the baseline of the IVR's figures.
  "$bin/selfprov-loadgen" --server "127.0.0.1:$sip" --config-url "http://127.0.0.1:$web" \
    --calls "$calls" --rate 200 --hold "${baseline}s" --prompts prompts --json "$dir/baseline.json" \
    > /dev/null 2> "$dir/baseline.log" || echo "the baseline run reports failed calls or lost packets" >&2
  # Its calls are gone before the next ones start.
  for _ in $(seq 1 120); do
    up=$(curl -fs "http://127.0.0.1:$admin/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["active_calls"])')
    ((up == 0)) && break
    sleep 0.5
  done
fi

if ((calls > 0)); then
  # The calls stay up for the whole run (8 scenarios of $duration) and end on their own a little
  # after it, when the load generator writes its summary.
  hold=$(( 8 * ${duration%s} + 30 ))s
  "$bin/selfprov-loadgen" --server "127.0.0.1:$sip" --config-url "http://127.0.0.1:$web" \
    --calls "$calls" --rate 200 --hold "$hold" --prompts prompts --json "$dir/loadgen.json" \
    > /dev/null 2> "$dir/loadgen.log" &
  lg=$!
  for _ in $(seq 1 600); do
    up=$(curl -fs "http://127.0.0.1:$admin/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["active_calls"])')
    ((up >= calls)) && break
    sleep 0.5
  done
  echo "IVR: $up calls up" >&2
fi

echo "| scenario | connections | requests/s | p50 ms | p90 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|---|---|"
# wrk stands in for administrators' scripts on other machines: with --calls it runs at nice 10
# (CLIENT_NICE), so that on this one 2-core machine it does not take the cores from the IVR that
# remote clients would not; the service's API threads lower their own priority the same way.
client_nice=0
[ "$calls" -gt 0 ] && client_nice=${CLIENT_NICE:-10}
run() { # scenario connections pace_ms
  local out
  out=$(TOKEN=$token SCENARIO=$1 USERS=$users DEVICES=$devices PACE_MS=$3 \
        nice -n "$client_nice" wrk -t2 -c"$2" -d"$duration" --latency -s benches/api/wrk.lua "http://127.0.0.1:$admin" 2>"$dir/wrk.err")
  # A script that does not load leaves wrk requesting `/` without a token: measure nothing.
  if [ -s "$dir/wrk.err" ]; then echo "$1: wrk:" >&2; cat "$dir/wrk.err" >&2; exit 1; fi
  # wrk prints latencies as 1.23ms / 456.78us / 1.02s; give milliseconds.
  ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'; }
  local rps p50 p90 p99 max
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p90=$(ms "$(awk '$1 == "90%" { print $2 }' <<<"$out")")
  p99=$(ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  max=$(ms "$(awk '$1 == "Latency" { print $4 }' <<<"$out")")
  if grep -q "Non-2xx" <<<"$out"; then echo "$1: wrk saw errors:" >&2; echo "$out" >&2; exit 1; fi
  echo "| $1 | $2 | $rps | $p50 | $p90 | $p99 | $max |"
}
for s in list keyset prefix name wildcard sorted sorted_keyset; do run "$s" "$connections" 0; done
run devices 11 10
if [ -n "$lg" ]; then
  up=$(curl -fs "http://127.0.0.1:$admin/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["active_calls"])')
  echo "IVR: $up calls still up at the end" >&2
  wait "$lg" || echo "the load generator reports failed calls or lost packets" >&2
  lg=
  [ -f "$dir/loadgen.json" ] && cp "$dir/loadgen.json" "${LOADGEN_JSON:-/tmp/selfprov-bench-api-loadgen.json}" \
    && echo "loadgen summary: ${LOADGEN_JSON:-/tmp/selfprov-bench-api-loadgen.json}" >&2
fi
if [ -f "$dir/loadgen.json" ]; then
  echo
  echo "| IVR | calls | failed | RTP received | lost | deviation p50 ms | p99 ms | p99.9 ms | max ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
  [ -f "$dir/baseline.json" ] && ivr_row "alone (${baseline} s)" "$dir/baseline.json"
  ivr_row "with the API load" "$dir/loadgen.json"
fi
