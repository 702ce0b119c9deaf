#!/usr/bin/env bash
# Configuration-fetch benchmark (issue 12): files/s and latency of the configuration server
# serving phones' files, measured with wrk against a release build of `selfprov serve` on the
# sample configuration (free ports, its data in a temp directory):
#   common   files without a secret (XmlDefault.cnf.xml, Yealink y000000000108.cfg, Polycom
#            000000000000.cfg): rendered for every request, no database
#   device   each phone's own SEP<MAC>.cnf.xml with its HTTP digest answer (precomputed by
#            authorizations.py after each phone's first fetch): database, secret, digest, render
#   paced    the same device files with each connection pacing itself to about 1,000 files/s in all
#   storm    N new phones fetch their first file at once (storm.py: auto-registration, a database
#            write per phone), then the same N phones "reboot" at once (401, then digest); each
#            phone then REGISTERs with the line and digest credentials its file gives it: the time
#            to the last phone back on its line
# Prints Markdown table rows for docs/benchmarks.md; raw outputs stay in the printed directory.
#
# Usage: benches/config-fetch/run.sh [--duration 10s] [--connections 32] [--phones 1000] [--storm 2000]
# Needs: wrk (Debian package `wrk`), python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
duration=10s connections=32 nphones=1000 storm=2000
while (($#)); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --phones) nphones=$2; shift 2 ;;
    --storm) storm=$2; shift 2 ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
work="$(mktemp -d /tmp/selfprov-config-fetch.XXXXXX)"
source "$repo/benches/service.sh"
service_build
# All the benchmark's phones come from 127.0.0.1; a site sees them from as many addresses, so the
# per-address limit on unknown MACs is raised (the throttle is still consulted on every request).
# The sample's 1,000 temporary DNs would run out before the phones do.
service_config -e 's#unknown_per_minute = 60#unknown_per_minute = 1000000#' \
               -e 's#dn_range = { start = "1000", end = "1999" }#dn_range = { start = "400000", end = "499999" }#'
service_start
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs" >&2

# The request lists.
printf '%s\n' /XmlDefault.cnf.xml /y000000000108.cfg /000000000000.cfg > "$work/common.txt"
python3 "$here/authorizations.py" "$CONFIG_URL" "$nphones" "$work/device.txt"

ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'; }
ticks=$(getconf CLK_TCK)
echo "| run | connections | files/s | p50 ms | p90 ms | p99 ms | max ms | selfprov CPU (% of a core) |"
echo "|---|---|---|---|---|---|---|---|"
run() { # name list connections pace_ms
  local out c0 c1 t0 t1
  c0=$(svc_cpu); t0=$(date +%s%N)
  out=$(FILES="$2" PACE_MS="$4" wrk -t2 -c"$3" -d"$duration" --latency -s "$here/fetch.lua" "$CONFIG_URL")
  c1=$(svc_cpu); t1=$(date +%s%N)
  echo "$out" > "$work/wrk-$1.txt"
  if ! grep -q "^not 200: 0$" <<<"$out" || grep -q "Socket errors" <<<"$out"; then
    echo "$1: wrk saw errors or statuses other than 200:" >&2; echo "$out" >&2; exit 1
  fi
  local rps p50 p90 p99 max cpu
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p90=$(ms "$(awk '$1 == "90%" { print $2 }' <<<"$out")")
  p99=$(ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  max=$(ms "$(awk '$1 == "Latency" { print $4 }' <<<"$out")")
  cpu=$(awk -v c="$((c1 - c0))" -v t="$ticks" -v ns="$((t1 - t0))" 'BEGIN { printf "%.0f", 100 * c / t / (ns / 1e9) }')
  echo "| $1 | $3 | $rps | $p50 | $p90 | $p99 | $max | $cpu |"
}
run common "$work/common.txt" "$connections" 0
run device "$work/device.txt" "$connections" 0
# About 1,000 files/s: 10 connections, each waiting 10 ms between its requests.
run paced "$work/device.txt" 10 10

storm_run() { # name args...
  local out c0 c1 t0 t1 name=$1; shift
  c0=$(svc_cpu); t0=$(date +%s%N)
  out=$(python3 "$here/storm.py" "127.0.0.1:$HTTP_PORT" "$storm" --register "127.0.0.1:$SIP_PORT" "$@")
  c1=$(svc_cpu); t1=$(date +%s%N)
  echo "$out" > "$work/$name.json"
  python3 - "$out" "$name" "$((c1 - c0))" "$ticks" "$((t1 - t0))" <<'PY'
import json, sys
r, name = json.loads(sys.argv[1]), sys.argv[2]
cpu = 100 * int(sys.argv[3]) / int(sys.argv[4]) / (int(sys.argv[5]) / 1e9)
l = r["latency_ms"] or {"p50": "-", "p99": "-", "max": "-"}
print(f"| {name}: {r['phones']} phones at once | {r['phones']} | {r['files_per_s']} | {l['p50']} | - | {l['p99']} | {l['max']} | {cpu:.0f} |")
print(f"{name}: served {r['served']} of {r['phones']}, other {r['other']}, last file after {r['time_to_last_s']} s, "
      f"client CPU {r['client_cpu_s']} s", file=sys.stderr)
g = r["registered_ms"] or {"p50": "-", "p99": "-", "max": "-"}
print(f"{name}: registered {r['registered']} of {r['phones']}, refused {r['not_registered']}, last phone registered "
      f"{r['time_to_last_registered_s']} s after the storm began (per phone, first connection to REGISTER 200: "
      f"p50 {g['p50']} ms, p99 {g['p99']} ms, max {g['max']} ms)", file=sys.stderr)
if r["registered"] != r["phones"]:
    sys.exit(f"{name}: not every phone is back on its line")
PY
}
storm_run storm-new --save "$work/storm-passwords.txt"
storm_run storm-reboot --reboot --passwords "$work/storm-passwords.txt"
echo "files: $work" >&2
