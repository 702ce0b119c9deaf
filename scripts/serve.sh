#!/usr/bin/env bash
# Runs the selfprov service on a machine that has only Rust: installs the missing build
# dependencies first (scripts/install-deps.sh --build: apt-get as root, or via sudo), then
#
#   cargo run --release --locked -p selfprov -- serve --config config/selfprov.toml [ARGS...]
#
# which is all this does once those packages are present (the check is quiet then).
#
# Usage: scripts/serve.sh [ARGS...]      extra arguments go to `selfprov serve`
#   --config PATH (or -c PATH) among ARGS, or SELFPROV_CONFIG=PATH, picks another configuration;
#   relative paths are relative to the directory you run this from. Works from any directory.
# cargo execs the built binary, so this script's PID ends up being the service's (signals reach it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

"$root/scripts/install-deps.sh" --build

if ! command -v cargo >/dev/null 2>&1; then
  echo "serve: cargo not found; install Rust first (https://rustup.rs), then retry" >&2
  exit 1
fi

# The sample configuration unless the caller names one (clap refuses --config twice).
config=(--config "${SELFPROV_CONFIG:-$root/config/selfprov.toml}")
for arg in "$@"; do
  case "$arg" in
    --) break ;;
    --config|--config=*|-c|-c?*) config=() ;;
  esac
done

exec cargo run --manifest-path "$root/Cargo.toml" --release --locked -p selfprov -- \
  serve "${config[@]}" "$@"
