#!/usr/bin/env bash
# rowflow-sklearn through the build tree's command:
#   sklearn_test.sh MODE ROWFLOW SOURCE_DIR
# MODE:
#   f64, f32  MLPs trained on synthetic data (sklearn_cases.py: binary,
#             3-class and multilabel classifiers, regressors with 1 and 2
#             outputs, every hidden activation, with and without
#             StandardScaler pipelines) -> pickle -> rowflow-sklearn (.pb and
#             .pbtxt) -> rowflow run: matches predict_proba / predict within
#             1e-12 (F64, absolute) or 1e-5 * (1 + |want|) (F32); every
#             layer runs fused; from_sklearn's text is the CLI's .pbtxt
#   bad       unsupported estimators, pickles that are not models, missing
#             and empty files, bad options, unwritable outputs: the exit code,
#             one "rowflow-sklearn: error:" line, no output (an existing one
#             unchanged) and no temp file
# rowflow-sklearn is found next to ROWFLOW (CMake copies it there), and it
# finds ROWFLOW the same way. Needs Debian's python3-sklearn for
# /usr/bin/python3 (tools/setup/common.sh installs it).
set -u
set -o pipefail

mode=$1
rowflow=$2
src=$3
here=$src/tests/sklearn
python=${ROWFLOW_PYTHON:-/usr/bin/python3}
convert=$(dirname "$rowflow")/rowflow-sklearn
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"

if ! "$python" -c 'import sklearn, numpy' 2>"$tmp/err"; then
  echo "FAIL $python cannot import sklearn and numpy: $(tail -1 "$tmp/err")"
  echo "     install Debian's python3-sklearn (tools/setup/common.sh does)"
  exit 1
fi
cases() { "$python" "$here/sklearn_cases.py" "$@"; }

# predictions DTYPE: convert, run and compare every case of sklearn_cases.py.
predictions() {
  local dtype=$1 name ext tile opts
  if ! cases make "$tmp" "$dtype" 2>"$tmp/err"; then
    fail "make cases" "$(tail -3 "$tmp/err")"
    return
  fi
  while read -r name ext tile; do
    if ! "$convert" "$tmp/$name.pkl" -o "$tmp/$name$ext" --dtype "$dtype" -q 2>"$tmp/err"; then
      fail "$name: rowflow-sklearn" "$(cat "$tmp/err")"
      continue
    fi
    opts=()
    [[ $tile != 0 ]] && opts=(--tile "$tile")
    if ! "$rowflow" run "$tmp/$name$ext" -i "$tmp/$name.rows.csv" -o "$tmp/$name.got.csv" \
      -q "${opts[@]}" 2>"$tmp/err"; then
      fail "$name: rowflow run" "$(cat "$tmp/err")"
      continue
    fi
    # The planner fuses every layer (dense or tiny_mlp stages): no SUM of
    # a layer is left to a generic or elementwise stage.
    "$rowflow" inspect "$tmp/$name$ext" >"$tmp/inspect" 2>&1
    if grep -Eq '^ +[0-9]+ +(generic|elementwise) .*<- .*/sum' "$tmp/inspect" ||
      ! grep -Eq '^ +[0-9]+ +(dense|tiny_mlp) ' "$tmp/inspect"; then
      fail "$name: layers fused" "$(sed -n '/^plan:/,$p' "$tmp/inspect")"
    else
      pass "$name: converted, run, layers fused"
    fi
  done <"$tmp/cases.txt"
  # ok/FAIL lines per case, then the largest difference.
  cases compare "$tmp" "$dtype" "$src" >"$tmp/compare" 2>&1
  local rc=$?
  cat "$tmp/compare"
  if [[ $rc == 0 ]]; then
    pass "$dtype: predictions match sklearn"
  else
    fail "$dtype: predictions match sklearn" "see above"
  fi
}

# refuse NAME CODE PATTERN ARGS...: rowflow-sklearn ARGS exits CODE with
# one stderr line matching PATTERN, and $tmp/out holds only what it held.
refuse() {
  local name=$1 code=$2 pattern=$3
  shift 3
  local before after
  before=$(cd "$tmp/out" && ls -A | sort | tr '\n' ' '; cat ./* 2>/dev/null | md5sum)
  "$convert" "$@" >"$tmp/stdout" 2>"$tmp/err"
  local rc=$?
  after=$(cd "$tmp/out" && ls -A | sort | tr '\n' ' '; cat ./* 2>/dev/null | md5sum)
  local lines
  lines=$(wc -l <"$tmp/err")
  if [[ $rc != "$code" ]]; then
    fail "$name: exit code" "expected $code, got $rc" "$(cat "$tmp/err")"
  elif [[ $lines != 1 ]] || ! grep -Eq "^rowflow-sklearn: error: $pattern" "$tmp/err"; then
    fail "$name: message" "expected one line matching: $pattern" "got: $(cat "$tmp/err")"
  elif [[ $before != "$after" ]]; then
    fail "$name: output folder" "expected: $before" "got:      $after"
  elif [[ -s $tmp/stdout ]]; then
    fail "$name: stdout" "expected nothing, got: $(head -c 200 "$tmp/stdout")"
  else
    pass "$name: exit $code, one line, no output"
  fi
}

refusals() {
  if ! cases bad "$tmp" 2>"$tmp/err"; then
    fail "make bad cases" "$(tail -3 "$tmp/err")"
    return
  fi
  mkdir "$tmp/out"
  local o=$tmp/out/m.pb t=$tmp/out/m.pbtxt
  local supported='expected MLPClassifier, MLPRegressor, or a Pipeline of StandardScaler, MinMaxScaler, MaxAbsScaler or RobustScaler steps ending in one$'
  refuse svc 3 ".*/svc.pkl: SVC is not supported; $supported" "$tmp/svc.pkl" -o "$o"
  refuse svc_text 3 ".*/svc.pkl: SVC is not supported" "$tmp/svc.pkl" -o "$t"
  refuse dict 3 ".*/dict.pkl: dict is not supported; $supported" "$tmp/dict.pkl" -o "$o"
  refuse unfitted 3 ".*/unfitted.pkl: MLPClassifier is not fitted; expected a fitted estimator$" \
    "$tmp/unfitted.pkl" -o "$o"
  refuse normalizer 3 ".*/normalizer.pkl: Pipeline step Normalizer is not supported; $supported" \
    "$tmp/normalizer.pkl" -o "$o"
  refuse scaler_svc 3 ".*/scaler_svc.pkl: Pipeline step SVC is not supported" \
    "$tmp/scaler_svc.pkl" -o "$o"
  refuse huge_f32 3 ".*/huge.pkl: hidden_0/w: a value beyond float32's range \(1e\+39\); expected" \
    "$tmp/huge.pkl" -o "$t" --dtype F32
  refuse not_pickle 3 ".*/text.pkl: not a pickle \(starts with b'not a '\); expected a pickled scikit-learn estimator$" \
    "$tmp/text.pkl" -o "$o"
  head -c 300 "$tmp/svc.pkl" >"$tmp/cut.pkl"
  refuse truncated 3 ".*/cut.pkl: cannot unpickle \((EOFError|UnpicklingError): .*\); expected a pickled scikit-learn estimator$" \
    "$tmp/cut.pkl" -o "$o"
  refuse empty 3 ".*/empty.pkl: empty file; expected a pickled scikit-learn estimator$" \
    "$tmp/empty.pkl" -o "$o"
  refuse missing 3 ".*/missing.pkl: cannot open: No such file or directory$" \
    "$tmp/missing.pkl" -o "$o"
  refuse folder_in 3 ".*/out: cannot open: Is a directory$" "$tmp/out" -o "$o"
  refuse dtype 2 "argument --dtype: invalid choice: 'F16'.*; see 'rowflow-sklearn --help'$" \
    "$tmp/svc.pkl" -o "$o" --dtype F16
  refuse no_output 2 "the following arguments are required: -o/--output; see" "$tmp/svc.pkl"
  refuse no_rowflow 2 "--rowflow $tmp/none: not an executable file$" \
    "$tmp/huge.pkl" -o "$o" --rowflow "$tmp/none"
  refuse same_file 2 ".*/huge.pkl: -o is the input file" "$tmp/huge.pkl" -o "$tmp/huge.pkl"
  refuse no_folder 5 ".*/nowhere/m.pbtxt: cannot create a file in .*/nowhere: No such file or directory$" \
    "$tmp/huge.pkl" -o "$tmp/nowhere/m.pbtxt"
  refuse no_folder_pb 5 ".*/nowhere/m.pb" "$tmp/huge.pkl" -o "$tmp/nowhere/m.pb"
  refuse full_text 5 "/dev/full: cannot write: No space left on device$" \
    "$tmp/huge.pkl" -o /dev/full --to text
  refuse full_binary 5 "/dev/full: .*No space left on device" "$tmp/huge.pkl" -o /dev/full
  refuse out_folder 5 ".*/out: is a folder" "$tmp/huge.pkl" -o "$tmp/out"

  # '-' is stdout, binary unless --to text, and the summary stays on stderr.
  if "$convert" "$tmp/huge.pkl" -o - >"$tmp/stdout.pb" 2>"$tmp/err" &&
    "$convert" "$tmp/huge.pkl" -o - --to text -q >"$tmp/stdout.pbtxt" 2>>"$tmp/err" &&
    "$rowflow" convert "$tmp/stdout.pb" "$tmp/back.pbtxt" 2>>"$tmp/err" &&
    "$rowflow" convert "$tmp/stdout.pbtxt" "$tmp/back2.pbtxt" 2>>"$tmp/err" &&
    cmp -s "$tmp/back.pbtxt" "$tmp/back2.pbtxt" && grep -q '^format_version: 1$' "$tmp/stdout.pbtxt" &&
    [[ $(wc -l <"$tmp/err") == 1 ]]; then
    pass "stdout: binary and text, the same graph"
  else
    fail "stdout" "$(cat "$tmp/err")"
  fi

  # An existing output stays as it was when the model is refused.
  echo keep >"$o"
  echo keep >"$t"
  refuse svc_keeps 3 ".*SVC is not supported" "$tmp/svc.pkl" -o "$o"
  refuse huge_keeps 3 ".*beyond float32's range" "$tmp/huge.pkl" -o "$t" --dtype F32

  # ... and is replaced, keeping its permission bits, when it is not.
  chmod 640 "$t"
  if "$convert" "$tmp/huge.pkl" -o "$t" -q 2>"$tmp/err" && grep -q '^dtype: F64$' "$t" &&
    [[ $(stat -c %a "$t") == 640 && $(ls -A "$tmp/out" | wc -l) == 2 ]]; then
    pass "replace: F64 accepts 1e39, mode 640 kept, no temp file"
  else
    fail "replace" "$(cat "$tmp/err")" "$(stat -c %a "$t") $(ls -A "$tmp/out")"
  fi
}

case $mode in
  f64) predictions F64 ;;
  f32) predictions F32 ;;
  bad) refusals ;;
  *)
    echo "unknown mode '$mode'; expected f64, f32 or bad"
    exit 2
    ;;
esac
checks_summary
