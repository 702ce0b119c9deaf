#!/usr/bin/env bash
# Run one SIPp load script against a fresh release build of selfprov, with phones that
# authenticate as real ones do, and report the service's CPU and memory from /proc while it runs.
#
#   benches/sipp/run.sh [--max-calls N] [--phones N] [--provision N] [--capture] [--] <scenario.xml> [sipp arguments...]
#
# selfprov gets a private copy of config/selfprov.toml on free ports (SIP, admin, configuration
# server, TFTP), its own database in a temp directory, log level warn, demo data. Before SIPp
# starts, --phones N (default 200) new phones fetch their configuration files, which
# auto-registers them and gives each its digest credentials (benches/sipp/phones.py); SIPp gets
# them as its injection file (-inf, `device;password`) and answers the registrar's 401 with them.
# --provision N instead prepares N users and N new phones for provision.xml
# (`device;self_service_id;pin;contact_port;password`, a UDP sink taking the NOTIFY check-sync).
# --capture records the SIP traffic with tshark and prints INVITE -> final response times measured
# on the wire (wire-latency.py).
# SIPp runs with -s 2000 -i 127.0.0.1 -p <free port> -mp 30000 plus your arguments. Results: CPU
# seconds (user+system) of selfprov during the run, peak and final resident memory, SIPp's
# statistics in the printed directory. Every process started here is stopped by PID on exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
max_calls=10000
phones=200
provision=0
capture=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-calls) max_calls="$2"; shift 2 ;;
    --phones) phones="$2"; shift 2 ;;
    --provision) provision="$2"; shift 2 ;;
    --capture) capture=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { sed -n '2,19p' "$0"; exit 2; }
scenario="$(realpath "$1")"; shift
command -v sipp >/dev/null || { echo "run.sh: sipp missing (scripts/install-deps.sh)"; exit 2; }
work="$(mktemp -d /tmp/selfprov-bench.XXXXXX)"
source "$repo/benches/service.sh"
service_build
# All the benchmark's phones fetch their first file from one address (127.0.0.1); a site sees
# them from as many addresses as it has phones, so the per-address limit on unknown MACs is
# raised here, as in the end-to-end tests; temporary DNs for more phones than the sample's 1,000.
service_config -e "s#max_calls = 10000#max_calls = $max_calls#" \
               -e 's#unknown_per_minute = 60#unknown_per_minute = 1000000#' \
               -e 's#dn_range = { start = "1000", end = "1999" }#dn_range = { start = "400000", end = "499999" }#'

inf=()
if [[ "$provision" -gt 0 ]]; then
  # Users for provision.xml: self-service ID 7000+i, PIN 20000+37i, extension 300000+i.
  [[ "$provision" -le 3000 ]] || { echo "run.sh: --provision at most 3000 (IDs 7000-9999)"; exit 2; }
  selfprov_cli demo load > /dev/null
  notify_port=$(free_port)
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True: s.recv(65536)' "$notify_port" &
  bench_pids+=("$!")
  { echo "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile"
    for ((i = 0; i < provision; i++)); do
      echo "bench$(printf %05d $i),Bench,User$i,$((7000 + i)),$((20000 + 37 * i)),$((300000 + i)),Standard Employee"
    done; } > "$work/users.csv"
  selfprov_cli import users "$work/users.csv" > /dev/null
  { echo SEQUENTIAL
    for ((i = 0; i < provision; i++)); do
      printf 'SEP0B%010X;%d;%d;%d\n' "$i" $((7000 + i)) $((20000 + 37 * i)) "$notify_port"
    done; } > "$work/provision-in.csv"
fi

service_start
if [[ "$provision" -gt 0 ]]; then
  python3 "$here/phones.py" "$CONFIG_URL" "$work/phones.csv" --from "$work/provision-in.csv"
  inf=(-inf "$work/phones.csv")
elif [[ "$phones" -gt 0 ]] && grep -q '\[field1\]' "$scenario"; then
  python3 "$here/phones.py" "$CONFIG_URL" "$work/phones.csv" --new "$phones"
  inf=(-inf "$work/phones.csv")
fi

ticks=$(getconf CLK_TCK)
c0=$(svc_cpu); r0=$(svc_rss)
( while kill -0 "$SVC_PID" 2>/dev/null; do svc_rss >> "$work/rss.txt" || true; sleep 1; done ) &
bench_pids+=("$!")
sipp_port=$(free_port)
if [[ "$capture" == 1 ]]; then
  tshark -q -i lo -f "udp port $SIP_PORT" -w "$work/sip.pcap" 2> "$work/tshark.log" &
  tshark_pid=$!
  bench_pids+=("$tshark_pid")
  until grep -q "Capturing on" "$work/tshark.log"; do kill -0 "$tshark_pid" || exit 1; sleep 0.1; done
fi
s0=$(date +%s%N)
set +e
(cd "$work" && sipp "127.0.0.1:$SIP_PORT" -sf "$scenario" "${inf[@]}" \
   -s 2000 -i 127.0.0.1 -p "$sipp_port" -mp 30000 -nostdin -trace_stat -fd 1 -trace_rtt -rtt_freq 1 "$@")
rc=$?
set -e
s1=$(date +%s%N)
c1=$(svc_cpu); r1=$(svc_rss)
peak=$(sort -n "$work/rss.txt" | tail -1)
secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
echo "sipp exit status $rc after ${secs}s"
awk -v c="$((c1 - c0))" -v t="$ticks" -v s="$secs" \
  'BEGIN {printf "selfprov CPU: %.2f s user+system = %.1f%% of one core over the run\n", c / t, 100 * c / t / s}'
echo "selfprov RSS: ${r0} KiB at start, ${peak} KiB peak, ${r1} KiB at the end"
if [[ "$capture" == 1 ]]; then
  sleep 1; kill -INT "$tshark_pid"; wait "$tshark_pid" || true
  python3 "$here/wire-latency.py" "$work/sip.pcap" --port "$SIP_PORT"
fi
curl -s "localhost:$ADMIN_PORT/metrics" | grep -E '^selfprov_(calls_total|calls_refused_total|rtp_packets)' || true
echo "files: $work (selfprov.log, phones.csv, SIPp *_stat.csv and *_rtt.csv)"
exit "$rc"
