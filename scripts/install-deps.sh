#!/usr/bin/env bash
# Installs the Debian packages selfprov needs on a fresh Debian 12 machine.
#
#   scripts/install-deps.sh           everything: the build dependencies, the real peers the test
#                                     suite drives, and cargo-nextest (what scripts/test.sh runs)
#   scripts/install-deps.sh --build   only what `cargo build -p selfprov` needs (what
#                                     scripts/serve.sh runs); prints nothing when all are present
#
# Idempotent: only missing packages are installed (checked with dpkg-query). apt-get runs directly
# as root, through sudo otherwise (non-interactive sudo, or a password prompt on a terminal); when
# neither is possible it exits 1 naming the exact command to run. Needs no stdin.
set -euo pipefail

# The build dependencies, kept here only (scripts/serve.sh uses --build).
build_packages=(
  ca-certificates                # cargo downloads crates from crates.io over HTTPS
  gcc libc6-dev                  # rustc links with cc; libsqlite3-sys compiles the bundled SQLite
  pkg-config libopus-dev         # audiopus_sys finds libopus with pkg-config (else it needs cmake)
)
# The test suite's extra packages: C libraries for -sys crates and the real peers the tests drive.
test_packages=(
  cmake                          # audiopus_sys can build Opus itself when pkg-config misses it
  sip-tester                     # SIPp: SIP scenarios and load
  kamailio                       # real SIP registrar for registration tests
  kamailio-postgres-modules      # Kamailio's auth_db on PostgreSQL (deploy/kamailio, e2e_cluster)
  kamailio-tls-modules           # Kamailio's tls module: the record-routing proxy over TLS (crates/sip/tests/proxy.rs)
  postgresql                     # the PostgreSQL backend's tests (scripts/pg.sh starts a private server)
  baresip                        # a real softphone for end-to-end tests
  espeak-ng sox                  # prompt generation (scripts/make-prompts.sh) and audio checks
  tshark                         # packet captures in tests
  tftp-hpa curl                  # real TFTP and HTTPS clients for the configuration server
  openssl                        # test certificates for the configuration server's HTTPS side
  procps                         # ps/pkill-free process inspection used by scripts
  wrk                            # HTTP load for the API benchmark (benches/api/run.sh)
  chromium chromium-driver       # the web console's browser test (e2e_console.rs, WebDriver)
)

mode=all
case "${1:-}" in
  "") ;;
  --build) mode=build ;;
  -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "install-deps: unknown argument '$1' (use --build, or nothing)" >&2; exit 2 ;;
esac

packages=("${build_packages[@]}")
if [ "$mode" = all ]; then packages+=("${test_packages[@]}"); fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  # Not Debian/Ubuntu: say what is needed and let the build report anything still missing.
  echo "install-deps: no dpkg-query here (not Debian?); install the equivalents of:" \
    "${packages[*]}" >&2
  [ "$mode" = build ] && exit 0
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  install_cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  # How to become root: directly, passwordless sudo, or sudo asking on the terminal.
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ] || [ -t 2 ]; }; then
      sudo=(sudo)
    else
      echo "install-deps: missing Debian packages: ${missing[*]}" >&2
      echo "install-deps: not root and no usable sudo; run as root, then retry:" >&2
      echo "  apt-get update && $install_cmd" >&2
      exit 1
    fi
  fi
  echo "install-deps: installing ${missing[*]}"
  apt_log=$(mktemp)
  trap 'rm -f "$apt_log"' EXIT
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >"$apt_log" 2>&1 ||
     ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         "${missing[@]}" </dev/null >>"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "install-deps: apt-get failed (output above); the command was:" >&2
    echo "  ${sudo[*]}${sudo[*]:+ }apt-get update && ${sudo[*]}${sudo[*]:+ }$install_cmd" >&2
    exit 1
  fi
  # Debian's kamailio package may start a system instance on :5060 where an init system exists;
  # tests run their own Kamailio on free ports, and the sample config listens on :5060.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kamailio 2>/dev/null; then
    "${sudo[@]}" systemctl stop kamailio || true
    "${sudo[@]}" systemctl disable kamailio || true
  fi
elif [ "$mode" = all ]; then
  echo "install-deps: all Debian packages present"
fi

[ "$mode" = build ] && exit 0

# cargo-nextest runs the suite in parallel; install it if this machine lacks it.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
