# Sourced by the benchmark scripts (benches/sipp/run.sh, benches/config-fetch/run.sh): a release
# selfprov on a private copy of config/selfprov.toml, on ports found free, in a temp directory,
# stopped by its PID when the script exits.
#
#   source "$repo/benches/service.sh"
#   service_build                      # cargo build --release -p selfprov (once)
#   service_config [sed expressions]   # $work/selfprov.toml; sets SIP_PORT ADMIN_PORT HTTP_PORT TFTP_PORT
#   service_start                      # starts it, waits for the ready line; sets SVC_PID
#   svc_cpu / svc_rss                  # its CPU clock ticks (user+system) and resident KiB
#
# The caller sets `repo` and `work` (a fresh directory) first. Everything started here is stopped
# by the EXIT trap, by PID; the caller adds its own PIDs to `bench_pids`.

bench_pids=()
bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap bench_cleanup EXIT

# A port free for both TCP and UDP on 127.0.0.1 (selfprov's SIP listens on both).
free_port() {
  python3 - <<'EOF'
import socket
while True:
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
EOF
}

service_build() {
  (cd "$repo" && cargo build --release --locked -q -p selfprov)
  SELFPROV="${CARGO_TARGET_DIR:-$repo/target}/release/selfprov"
}

# The sample configuration with free ports, the repository's prompts, logs at warn, the data in
# $work, no per-source SIP rate limit, no limit on new devices a second and no practical HTTP
# connection cap (the load generators send thousands of requests a second from one address: the
# benchmarks measure capacity, not the limits); extra sed expressions (e.g. -e 's#max_calls = 10000#max_calls = 1000#') apply after.
service_config() {
  SIP_PORT=$(free_port); ADMIN_PORT=$(free_port); HTTP_PORT=$(free_port); TFTP_PORT=$(free_port)
  sed -e "s#listen = \"127.0.0.1:5060\"#listen = \"127.0.0.1:$SIP_PORT\"#" \
      -e "s#listen = \"127.0.0.1:8080\"#listen = \"127.0.0.1:$ADMIN_PORT\"#" \
      -e "s#http_listen = \"127.0.0.1:6970\"#http_listen = \"127.0.0.1:$HTTP_PORT\"#" \
      -e "s#tftp_listen = \"127.0.0.1:6969\"#tftp_listen = \"127.0.0.1:$TFTP_PORT\"#" \
      -e "s#dir = \"../prompts\"#dir = \"$repo/prompts\"#" \
      -e "s#data_dir = \"var\"#data_dir = \"$work/var\"#" \
      -e 's#level = "info"#level = "warn"#' \
      -e 's#^rate_limit_\(register\|invite\|options\|other\) = [0-9]*#rate_limit_\1 = 0#' \
      -e 's#^new_devices_per_second = [0-9]*#new_devices_per_second = 0#' \
      -e 's#^max_connections_per_source = [0-9]*#max_connections_per_source = 16384#' \
      -e 's#^max_connections = [0-9]*#max_connections = 16384#' \
      "$@" "$repo/config/selfprov.toml" > "$work/selfprov.toml"
  for p in $SIP_PORT $ADMIN_PORT $HTTP_PORT $TFTP_PORT; do
    grep -q ":$p\"" "$work/selfprov.toml" || { echo "service.sh: port $p not set in the config"; exit 2; }
  done
  CONFIG_URL="http://127.0.0.1:$HTTP_PORT"
}

selfprov_cli() { "$SELFPROV" --config "$work/selfprov.toml" "$@"; }

service_start() {
  ulimit -n 65536 2>/dev/null || true
  local t0; t0=$(date +%s%N)
  RUST_LOG="${SELFPROV_LOG:-warn,selfprov_service::start=info}" \
    "$SELFPROV" --config "$work/selfprov.toml" serve 2> "$work/selfprov.log" &
  SVC_PID=$!
  bench_pids+=("$SVC_PID")
  until grep -q "selfprov ready" "$work/selfprov.log"; do
    kill -0 "$SVC_PID" 2>/dev/null || { cat "$work/selfprov.log"; exit 1; }
    sleep 0.02
  done
  echo "selfprov ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $SVC_PID, SIP $SIP_PORT, admin $ADMIN_PORT, config $CONFIG_URL, $work)"
}

svc_cpu() { awk '{print $14 + $15}' "/proc/$SVC_PID/stat"; }
svc_rss() { awk '/VmRSS/ {print $2}' "/proc/$SVC_PID/status"; }
