#!/usr/bin/env bash
# The whole selfprov test suite: installs what it needs, builds once, runs every test in parallel.
# Usage: scripts/test.sh [extra nextest args]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# One build of everything (binaries the end-to-end tests run, all test targets).
cargo build --workspace --all-targets --locked
# Doc tests are not run by nextest.
cargo test --workspace --doc --locked --quiet
# nextest runs test binaries in parallel with per-test timeouts (see .config/nextest.toml); its
# summary line is the suite's result.
cargo nextest run --workspace --locked --no-fail-fast "$@"
# Every fuzz target for a short bounded run (FUZZ_SECONDS each, 20 by default; 0 skips): the
# parsers and renderers that take bytes from the network, a CSV file or a template.
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  FUZZ_SEED="${FUZZ_SEED:-1}" scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
