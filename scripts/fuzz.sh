#!/usr/bin/env bash
# Runs every fuzz target (libFuzzer, coverage-guided) for a bounded time; any crash, panic,
# timeout or out-of-memory fails the run, and the input is kept in fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [seconds-per-target] [target ...]      (default 60 s, every target)
# FUZZ_SEED=N fixes libFuzzer's random seed (scripts/test.sh does, so a CI run explores the same
# inputs for the same code; a local campaign leaves it unset).
#
# The targets are built with the instrumentation cargo-fuzz uses for `cargo fuzz build -s none`
# (SanitizerCoverage, `--cfg fuzzing`, debug assertions and overflow checks), so neither
# cargo-fuzz nor a nightly toolchain is needed; libFuzzer itself comes from libfuzzer-sys.
# Seeds are in fuzz/seeds/<target>/; what a run learns goes to fuzz/corpus/<target>/ (kept
# between local runs, not committed). `cargo fuzz run <target>` works too where it is installed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(awk '/^\[\[bin\]\]/{bin=1} bin && /^name = /{gsub(/"/,"",$3); print $3; bin=0}' Cargo.toml)
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
target_dir="${CARGO_TARGET_DIR:-target}"
# opt-level 1 by default: the build takes about half as long as at opt-level 3 (it is part of
# every CI run), and a 20 s run still executes each target 10^4..10^7 times. For long local
# campaigns: FUZZ_OPT_LEVEL=3 scripts/fuzz.sh 3600.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${FUZZ_OPT_LEVEL:-1}"
# --target: the flags reach the fuzzed code only, not build scripts and proc macros.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
  cargo build --release --locked --target "$triple" --bins
failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t"
  echo "== fuzz $t for ${secs}s"
  if ! "$target_dir/$triple/release/$t" "corpus/$t" "seeds/$t" \
      -max_total_time="$secs" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" 2>"artifacts/$t/last-run.log"; then
    tail -n 40 "artifacts/$t/last-run.log"
    failed+=("$t")
  else
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "artifacts/$t/last-run.log" | tr '\n' ' '
    echo
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found a failure in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${secs}s each, no failure"
