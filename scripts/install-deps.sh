#!/usr/bin/env bash
# Installs everything selfprov's build and test suite need on a fresh Debian 12 machine.
# Idempotent: only missing packages are installed. Needs root (or sudo) for apt-get.
set -euo pipefail

# Debian packages: C libraries for -sys crates and the real peers the tests drive.
packages=(
  pkg-config cmake libopus-dev   # audiopus (Opus codec)
  sip-tester                     # SIPp: SIP scenarios and load
  kamailio                       # real SIP registrar for registration tests
  baresip                        # a real softphone for end-to-end tests
  espeak-ng sox                  # prompt generation (scripts/make-prompts.sh) and audio checks
  tshark                         # packet captures in tests
  procps                         # ps/pkill-free process inspection used by scripts
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  ${SUDO:+$SUDO -E} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's kamailio package may start a system instance on :5060 where an init system exists;
  # tests run their own Kamailio on free ports, and the sample config listens on :5060.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kamailio 2>/dev/null; then
    $SUDO systemctl stop kamailio || true
    $SUDO systemctl disable kamailio || true
  fi
else
  echo "install-deps: all Debian packages present"
fi

# cargo-nextest runs the suite in parallel; install it if this machine lacks it.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
