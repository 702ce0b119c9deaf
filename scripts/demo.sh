#!/usr/bin/env bash
# A provisioning walk-through on the shipped sample configuration and its embedded database
# (config/var/selfprov.db): demo data, status, a new phone auto-registers, it is assigned to
# user jsmith with the same rules the IVR applies, and the audit log shows it.
# Usage: scripts/demo.sh [path/to/config.toml]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-config/selfprov.toml}"

cargo build --release -q -p selfprov
sp() { echo "\$ selfprov $*" >&2; target/release/selfprov --config "$CONFIG" "$@"; }

sp check-config
sp status
sp demo load
sp user list
# A brand-new phone appears: it gets the next free DN of the auto-registration range.
sp device autoregister SEP0011223344AA --model "Cisco 8845"
sp device list
# The user claims it (the IVR will do this from the phone's keypad).
sp device assign SEP0011223344AA jsmith
sp device list --json
sp audit --limit 5
