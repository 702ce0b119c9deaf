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
# One PostgreSQL for the whole run (scripts/pg.sh: its own user, data directory and port on
# 127.0.0.1); every test that needs one creates its own database on it. Stopped by PID at exit.
pg_dir="$(mktemp -d /tmp/selfprov-test-pg.XXXXXX)"
scripts/pg.sh start "$pg_dir" auto -c fsync=off >/dev/null
stop_pg() {
  scripts/pg.sh stop "$pg_dir" || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT
export SELFPROV_TEST_PG="$(scripts/pg.sh url "$pg_dir")"
# nextest runs test binaries in parallel with per-test timeouts (see .config/nextest.toml); its
# summary line is the suite's result.
cargo nextest run --workspace --locked --no-fail-fast "$@"
# Every fuzz target for a short bounded run (FUZZ_SECONDS each, 20 by default; 0 skips): the
# parsers and renderers that take bytes from the network, a CSV file or a template.
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  FUZZ_SEED="${FUZZ_SEED:-1}" scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
