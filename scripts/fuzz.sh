#!/usr/bin/env bash
# Runs every fuzz target (libFuzzer, coverage-guided) for a bounded time; any crash, panic,
# timeout or out-of-memory fails the run, and the input is kept in fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [seconds-per-target] [target ...]      (default 60 s, every target)
# FUZZ_JOBS=N runs N targets at once (default: one per core).
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
# One target per core at a time (each libFuzzer run is one process on one core); each one's
# summary is printed when it ends.
jobs_max="${FUZZ_JOBS:-$(nproc)}"
run_target() { # target -> exit status; its summary in artifacts/<target>/summary
  local t=$1
  mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t"
  if "$target_dir/$triple/release/$t" "corpus/$t" "seeds/$t" \
      -max_total_time="$secs" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" 2>"artifacts/$t/last-run.log"; then
    { echo "== fuzz $t for ${secs}s"
      grep -E "^stat::number_of_executed_units|^stat::new_units_added" "artifacts/$t/last-run.log" | tr '\n' ' '
      echo; } > "artifacts/$t/summary"
    return 0
  fi
  { echo "== fuzz $t for ${secs}s: FAILED"; tail -n 40 "artifacts/$t/last-run.log"; } > "artifacts/$t/summary"
  return 1
}
declare -A pids=()
failed=()
wait_one() { # wait for any running target, report it
  local done_pid t
  wait -n -p done_pid "${!pids[@]}" && status=0 || status=$?
  t=${pids[$done_pid]}
  unset "pids[$done_pid]"
  cat "artifacts/$t/summary"
  [ "$status" -eq 0 ] || failed+=("$t")
}
for t in "${targets[@]}"; do
  while [ "${#pids[@]}" -ge "$jobs_max" ]; do wait_one; done
  run_target "$t" &
  pids[$!]=$t
done
while [ "${#pids[@]}" -gt 0 ]; do wait_one; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found a failure in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${secs}s each, no failure"
