#!/usr/bin/env bash
# CI's fuzzing step (RELIABILITY.md "Tests"): builds the libFuzzer targets
# with clang-14 in build-fuzz, replays every corpus once (-runs=0), then
# fuzzes each target for ROWFLOW_FUZZ_SECONDS (default 60), two targets at a
# time on the 2 cores. Inputs found along the way stay in build-fuzz/; a
# crash fails the step and names the input to turn into a regression seed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seconds=${ROWFLOW_FUZZ_SECONDS:-60}

rowflow_fuzz_build
set +e  # from here on every status is looked at, and all targets run
out=$ROWFLOW_FUZZ_BUILD_DIR/fuzz-ci
rm -rf "$out"
mkdir -p "$out"
export ASAN_OPTIONS=$rowflow_fuzz_asan_options
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=()
for t in "${rowflow_fuzz_targets[@]}"; do
  rowflow_fuzz_seeds "$t" "$out/seeds/$t"
  echo "== replay $t"
  if ! "$ROWFLOW_FUZZ_BUILD_DIR/tests/fuzz/fuzz_$t" -runs=0 "${rowflow_fuzz_limits[@]}" \
         "$rowflow_fuzz_dir/corpus/$t" "$out/seeds/$t" >"$out/replay-$t.log" 2>&1; then
    tail -40 "$out/replay-$t.log"
    failed+=("replay $t")
  else
    tail -1 "$out/replay-$t.log"
  fi
done

# fuzz TARGET: one run of `seconds`, quiet unless it fails.
fuzz() {
  local t=$1
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  "$ROWFLOW_FUZZ_BUILD_DIR/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
    "${rowflow_fuzz_limits[@]}" -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
    "$out/corpus/$t" "$rowflow_fuzz_dir/corpus/$t" "$out/seeds/$t" >"$out/fuzz-$t.log" 2>&1
}

pids=()
names=()
for t in "${rowflow_fuzz_targets[@]}"; do
  fuzz "$t" &
  pids+=($!)
  names+=("$t")
  if ((${#pids[@]} == 2)); then
    for i in 0 1; do wait "${pids[i]}" || failed+=("fuzz ${names[i]}"); done
    pids=()
    names=()
  fi
done
for i in "${!pids[@]}"; do wait "${pids[i]}" || failed+=("fuzz ${names[i]}"); done

for t in "${rowflow_fuzz_targets[@]}"; do
  echo "== fuzz $t (${seconds} s): $(grep -E '^stat::number_of_executed_units' "$out/fuzz-$t.log" |
    awk '{print $2}') executions, $(grep -E '^stat::average_exec_per_sec' "$out/fuzz-$t.log" |
    awk '{print $2}') exec/s"
  for a in "$out/artifacts/$t"/*; do
    [[ -e $a ]] || continue
    tail -60 "$out/fuzz-$t.log"
    echo "FOUND: $a -- add it as tests/fuzz/corpus/$t/regression-<what>, with a unit test"
  done
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#rowflow_fuzz_targets[@]} corpora replayed, each target fuzzed ${seconds} s, no crash"
