#!/usr/bin/env bash
# SIP/TCP connection flood (issue 13): the release service's resident memory and descriptors
# idle, while idle connections are held, after its idle timeout closed the ones it admitted, and
# after the client closed them all. Two floods: the issue's (connections from one address: the
# per-source cap admits 64), and one spread over 100 addresses (64 admitted from each, up to the
# total cap), with tcp_idle_timeout = 10s. Prints Markdown table rows for docs/security.md.
#
# Usage: benches/tcp-flood/run.sh [--connections 15000]
# Needs: python3; a descriptor limit above the connection count (ulimit -n).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
connections=15000
while (($#)); do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
  esac
done
work="$(mktemp -d /tmp/selfprov-tcp-flood.XXXXXX)"
source "$repo/benches/service.sh"
service_build
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(date -u +%F)" >&2
echo "| flood | opened in | idle RSS | RSS, flood held | after the idle timeout | after the client closed | descriptors idle / held / after |"
echo "|---|---|---|---|---|---|---|"
for sources in 1 100; do
  rm -rf "$work/var"
  service_config -e 's#tcp_idle_timeout = "5m"#tcp_idle_timeout = "10s"#'
  service_start >&2
  r=$(python3 "$here/flood.py" "$SVC_PID" "$SIP_PORT" "$connections" "$sources" 10)
  echo "$r" > "$work/flood-$sources.json"
  python3 - "$r" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
mb = lambda k: f"{r[k]['rss_kib'] / 1024:.1f} MB"
print(f"| {r['connections']:,} connections from {r['sources']} address(es) | {r['connect_seconds']} s | {mb('idle')} | {mb('flood')} | "
      f"{mb('after_idle_timeout')} | {mb('after_close')} | {r['idle']['fds']} / {r['flood']['fds']} / {r['after_close']['fds']} |")
PY
  kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true
done
echo "raw results: $work" >&2
