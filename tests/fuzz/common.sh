# Shared by tests/fuzz/ci.sh and tests/fuzz/run.sh: installs clang-14, builds
# the libFuzzer targets in their own folder and gathers the seed inputs.
#   ROWFLOW_FUZZ_BUILD_DIR  build folder (default: build-fuzz)
#   ROWFLOW_JOBS            parallel build jobs (default: 2)
#   ROWFLOW_FUZZ_CMAKE_ARGS extra configure arguments, e.g. -DROWFLOW_NATIVE=OFF
#                           to fuzz the portable code paths (CSV without SSE4.1)
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/setup/common.sh"

ROWFLOW_FUZZ_BUILD_DIR=${ROWFLOW_FUZZ_BUILD_DIR:-$ROWFLOW_ROOT/build-fuzz}
ROWFLOW_JOBS=${ROWFLOW_JOBS:-2}
rowflow_fuzz_dir=$ROWFLOW_ROOT/tests/fuzz
rowflow_fuzz_targets=(model_load model_run spec csv_rows npy_rows)
# libFuzzer's limits (RELIABILITY.md); rowflow's budgets sit below them
# (tests/fuzz/fuzz_util.h).
rowflow_fuzz_limits=(-rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=5)
# ASan's options for the fuzz runs (ci.sh, run.sh). malloc_context_size=2:
# ASan stores the stack of every malloc and free in its StackDepot, which is
# never freed, and its fast unwinder walks on into Debian's libprotobuf and
# libtbb, built without frame pointers, reading junk frames: every junk
# stack is a new entry. With the default 30 frames that grew by about
# 2.6 MB/s in model_run (2.7 million stacks, 235 MB after 90 s) and hit
# -rss_limit_mb=1024 after 523 s of the first 10-minute run, with 33 MB of
# live heap. Two frames (the allocator and its caller, always right) keep the
# depot small (713 stacks after 60 s of model_run). To see full allocation
# and free stacks for a crash, replay its input with
#   ASAN_OPTIONS=fast_unwind_on_malloc=0 build-fuzz/tests/fuzz/fuzz_TARGET INPUT
rowflow_fuzz_asan_options=detect_leaks=1:abort_on_error=0:malloc_context_size=2

# Installs what is missing and builds fuzz_<target> for every target.
rowflow_fuzz_build() {
  rowflow_install_deps clang-14 libclang-rt-14-dev
  # -O1 and line tables only: a third of -O2 -g's build time on 2 cores,
  # and crash reports still name file:line.
  cmake -S "$ROWFLOW_ROOT" -B "$ROWFLOW_FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DROWFLOW_FUZZ=ON ${ROWFLOW_FUZZ_CMAKE_ARGS:-} >/dev/null
  local targets=()
  for t in "${rowflow_fuzz_targets[@]}"; do targets+=(--target "fuzz_$t"); done
  cmake --build "$ROWFLOW_FUZZ_BUILD_DIR" -j "$ROWFLOW_JOBS" "${targets[@]}"
}

# rowflow_fuzz_seeds TARGET DIR: fills DIR with the bad-input suite's files
# for TARGET as they are now (the committed corpus holds a snapshot; this
# picks up cases added since). Specs get their weight files appended as
# "#@file NAME" sections (tests/fuzz/spec.cc).
rowflow_fuzz_seeds() {
  local target=$1 dir=$2 f case_dir name
  mkdir -p "$dir"
  for f in "$ROWFLOW_ROOT"/tests/bad_inputs/*/*; do
    [[ -f $f && ! -L $f ]] || continue
    case_dir=$(basename "$(dirname "$f")")
    name=$(basename "$f")
    case $target:$name in
      csv_rows:*.csv | npy_rows:*.npy) cp "$f" "$dir/$case_dir-$name" ;;
      model_load:*.pb | model_load:*.pbtxt | model_run:*.pb | model_run:*.pbtxt)
        [[ $name == spec.pbtxt ]] || cp "$f" "$dir/$case_dir-$name" ;;
      spec:spec.pbtxt)
        cp "$f" "$dir/$case_dir-$name"
        local other
        for other in "$(dirname "$f")"/*; do
          case $(basename "$other") in
            case.txt | spec.pbtxt | expected.*) ;;
            *)
              if [[ -f $other && ! -L $other ]]; then
                printf '\n#@file %s\n' "$(basename "$other")" >>"$dir/$case_dir-$name"
                cat "$other" >>"$dir/$case_dir-$name"
              fi ;;
          esac
        done ;;
    esac
  done
}
