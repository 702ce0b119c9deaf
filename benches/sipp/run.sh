#!/usr/bin/env bash
# Run one SIPp load script against a fresh release build of selfprov and report the service's
# CPU and memory from /proc while it runs.
#
#   benches/sipp/run.sh [--max-calls N] [--] <scenario.xml> [sipp arguments...]
#
# selfprov gets a private copy of config/selfprov.toml (SIP 127.0.0.1:5070, admin :8090, RTP from
# 20000, its own database, log level warn, demo data). SIPp runs against it with -s 2000 -i
# 127.0.0.1 -p 5071 -mp 30000 plus your arguments; its own statistics go to the working
# directory (printed at the end). Results: CPU seconds (user+system) of selfprov during the run,
# peak and final resident memory, SIPp's summary line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
max_calls=10000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-calls) max_calls="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { sed -n '2,13p' "$0"; exit 2; }
scenario="$(realpath "$1")"; shift
command -v sipp >/dev/null || { echo "run.sh: sipp missing (scripts/install-deps.sh)"; exit 2; }
(cd "$repo" && cargo build --release --locked -q -p selfprov)
bin="${CARGO_TARGET_DIR:-$repo/target}/release/selfprov"

work="$(mktemp -d /tmp/selfprov-bench.XXXXXX)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
sed -e 's#listen = "127.0.0.1:5060"#listen = "127.0.0.1:5070"#' \
    -e 's#listen = "127.0.0.1:8080"#listen = "127.0.0.1:8090"#' \
    -e "s#dir = \"../prompts\"#dir = \"$repo/prompts\"#" \
    -e "s#max_calls = 10000#max_calls = $max_calls#" \
    -e 's#level = "info"#level = "warn"#' \
    "$repo/config/selfprov.toml" > "$work/selfprov.toml"
ulimit -n 65536 2>/dev/null || true
t0=$(date +%s%N)
RUST_LOG=warn,selfprov_service=info "$bin" --config "$work/selfprov.toml" serve 2> "$work/selfprov.log" &
pid=$!
until grep -q "selfprov ready" "$work/selfprov.log"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/selfprov.log"; exit 1; }
  sleep 0.02
done
echo "selfprov ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $pid, $work)"

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
c0=$(cpu); r0=$(rss); peak=$r0
( while kill -0 "$pid" 2>/dev/null; do rss >> "$work/rss.txt" || true; sleep 1; done ) &
sampler=$!
s0=$(date +%s%N)
set +e
(cd "$work" && sipp 127.0.0.1:5070 -sf "$scenario" \
   -s 2000 -i 127.0.0.1 -p 5071 -mp 30000 -nostdin -trace_stat -fd 1 -trace_rtt -rtt_freq 1 "$@")
rc=$?
set -e
s1=$(date +%s%N)
c1=$(cpu); r1=$(rss)
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$work/rss.txt" | tail -1)
secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
echo "sipp exit status $rc after ${secs}s"
awk -v c="$((c1 - c0))" -v t="$ticks" -v s="$secs" \
  'BEGIN {printf "selfprov CPU: %.2f s user+system = %.1f%% of one core over the run\n", c / t, 100 * c / t / s}'
echo "selfprov RSS: ${r0} KiB at start, ${peak} KiB peak, ${r1} KiB at the end"
curl -s localhost:8090/metrics | grep -E '^selfprov_(calls_total|calls_refused_total|rtp_packets)' || true
echo "files: $work (selfprov.log, SIPp *_stat.csv and *_rtt.csv)"
exit "$rc"
