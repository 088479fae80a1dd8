#!/usr/bin/env bash
# Fuzzes one target for a given time and reports executions, exec/s, corpus
# size and crashes:
#   tests/fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
# TARGET is model_load, model_run, spec, csv_rows or npy_rows. Builds what is
# missing first. The growing corpus lives in build-fuzz/fuzz-run/corpus/TARGET
# (kept between runs); crashes go to build-fuzz/fuzz-run/artifacts/TARGET/.
# Exits 1 when the run found a crash.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [[ $# -lt 2 ]]; then
  echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
[[ " ${rowflow_fuzz_targets[*]} " == *" $target "* ]] ||
  { echo "unknown target '$target'; one of: ${rowflow_fuzz_targets[*]}" >&2; exit 2; }

binary=$ROWFLOW_FUZZ_BUILD_DIR/tests/fuzz/fuzz_$target
[[ ${ROWFLOW_FUZZ_NO_BUILD:-0} == 1 && -x $binary ]] || rowflow_fuzz_build >&2
out=$ROWFLOW_FUZZ_BUILD_DIR/fuzz-run
corpus=$out/corpus/$target
artifacts=$out/artifacts/$target
log=$out/$target.log
rm -rf "$out/seeds/$target"
rowflow_fuzz_seeds "$target" "$out/seeds/$target"
mkdir -p "$corpus" "$artifacts"
export ASAN_OPTIONS=$rowflow_fuzz_asan_options
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

marker=$out/.start-$target
touch "$marker"
start=$(date +%s)
set +e  # from here on every status is looked at
"$binary" -max_total_time="$seconds" "${rowflow_fuzz_limits[@]}" -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$corpus" "$rowflow_fuzz_dir/corpus/$target" \
  "$out/seeds/$target" >"$log" 2>&1
status=$?
elapsed=$(($(date +%s) - start))
crashes=$(find "$artifacts" -type f -newer "$marker" | wc -l)

stat() { grep -E "^stat::$1:" "$log" | awk '{print $2}' | tail -1; }
executions=$(stat number_of_executed_units)
exec_per_sec=$(stat average_exec_per_sec)
# The last status line: "#N ... cov: C ft: F corp: FILES/SIZE ..."
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
coverage=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
echo "target: $target"
echo "command: $binary -max_total_time=$seconds ${rowflow_fuzz_limits[*]} $* $corpus $rowflow_fuzz_dir/corpus/$target $out/seeds/$target"
echo "time: ${elapsed} s (asked ${seconds} s)"
echo "executions: ${executions:-?}"
echo "exec/s: ${exec_per_sec:-?}"
echo "coverage: ${coverage:-?} edges"
echo "corpus: ${corp:-?} (files/bytes in memory); on disk $(find "$corpus" -type f | wc -l) new files in $corpus"
echo "peak RSS: $(stat peak_rss_mb) MB"
echo "crashes: $crashes"
if ((crashes > 0 || status != 0)); then
  find "$artifacts" -type f -newer "$marker" | head -5
  grep -E "ERROR|SUMMARY|rowflow fuzz|==[0-9]+==" "$log" | head -20
  echo "log: $log"
  exit 1
fi
