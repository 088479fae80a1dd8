#!/usr/bin/env bash
# ONNX interop tests through the built binary:
#   onnx_test.sh MODE ROWFLOW SOURCE_DIR
# MODE:
#   import     ONNX models built by onnx_cases.py (each op of the subset, with
#              and without bias, f32 and f64, opsets 1 to 22) -> import-onnx
#              -> run: matches a numpy reference within the case's tolerance
#              of onnx_cases.py (scaled, a few eps, or bitwise)
#   export     the same models -> import-onnx -> export-onnx: passes
#              onnx.checker (full) and the numpy evaluation of the exported
#              model matches rowflow; importing that again gives the same
#              model file (ONNX -> rowflow -> ONNX -> rowflow)
#   roundtrip  rowflow graphs (the seed examples in both forms, mlp_init,
#              tests/onnx/export_ops.pbtxt and export_activations.pbtxt as
#              F32 and F64) -> export-onnx ->
#              checker + numpy evaluation -> import-onnx: byte-identical rows
#              (and, for `rowflow build` graphs, a byte-identical model file)
#   bad        malformed ONNX files and graphs ONNX cannot express: exit 3,
#              one "rowflow: error:" line matching the expected message, no
#              output file; plus output I/O errors (exit 5)
# Needs Debian's python3-onnx and python3-numpy for /usr/bin/python3
# (tools/setup/common.sh installs them); without them every mode fails.
set -u
set -o pipefail

mode=$1
rowflow=$2
src=$3
here=$src/tests/onnx
python=${ROWFLOW_PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"

if ! "$python" -c 'import onnx, numpy' 2>"$tmp/err"; then
  echo "FAIL $python cannot import onnx and numpy: $(tail -1 "$tmp/err")"
  echo "     install Debian's python3-onnx and python3-numpy (tools/setup/common.sh does)"
  exit 1
fi
cases() { "$python" "$here/onnx_cases.py" "$@"; }

# rf ARGS...: runs rowflow with stderr in $tmp/err.
rf() { "$rowflow" "$@" 2>"$tmp/err"; }

# rows csv of `width` columns, many rows (several tiles), mixed signs.
make_rows() {
  awk -v w="$2" 'BEGIN { for (i = 0; i < 3000; ++i) { line = "";
    for (j = 0; j < w; ++j) line = line (j ? "," : "") ((i * 7 + j * 13) % 41 - 20) / 8;
    print line } }' >"$1"
}

# export_check NAME MODEL.pb ROWS.csv DTYPE [--no-import]: export-onnx
# MODEL, the checker and numpy evaluation against rowflow's predictions,
# then import-onnx and byte-identical predictions.
export_check() {
  local name=$1 model=$2 rows=$3 dtype=$4 base=$tmp/$1
  if ! rf run "$model" -i "$rows" -o "$base.got.csv" -q; then
    fail "$name: run" "$(cat "$tmp/err")"
    return
  fi
  if ! rf export-onnx "$model" -o "$base.onnx" -q; then
    fail "$name: export-onnx" "$(cat "$tmp/err")"
    return
  fi
  if out=$(cases check "$base.onnx" "$rows" "$base.got.csv" "$dtype" 2>&1); then
    pass "$name: export passes onnx.checker and predicts what rowflow does ($out)"
  else
    fail "$name: exported model" "$out"
  fi
  [[ ${5:-} == --no-import ]] && return
  if rf import-onnx "$base.onnx" -o "$base.back.pb" -q &&
     rf run "$base.back.pb" -i "$rows" -o "$base.back.csv" -q &&
     cmp -s "$base.got.csv" "$base.back.csv"; then
    pass "$name: imported back, predictions are byte-identical"
  else
    fail "$name: round trip" "$(cat "$tmp/err")" "$(cmp "$base.got.csv" "$base.back.csv" 2>&1)"
  fi
}

run_import() {
  cases gen "$tmp" || { fail "onnx_cases.py gen"; return; }
  while read -r c dtype tolerance; do
    if ! rf import-onnx "$tmp/$c.onnx" -o "$tmp/$c.pb" -q; then
      fail "$c: import-onnx" "$(cat "$tmp/err")"
      continue
    fi
    if ! rf run "$tmp/$c.pb" -i "$tmp/$c.rows.csv" -o "$tmp/$c.got.csv" -q; then
      fail "$c: run" "$(cat "$tmp/err")"
      continue
    fi
    if out=$(cases compare "$tmp/$c.got.csv" "$tmp/$c.want.csv" "$dtype" "$tolerance" 2>&1); then
      pass "$c: rowflow matches numpy ($out)"
    else
      fail "$c: predictions" "$out"
    fi
  done <"$tmp/cases.txt"
}

run_export() {
  cases gen "$tmp" || { fail "onnx_cases.py gen"; return; }
  while read -r c dtype _; do
    if rf import-onnx "$tmp/$c.onnx" -o "$tmp/$c.pb" -q; then
      export_check "$c" "$tmp/$c.pb" "$tmp/$c.rows.csv" "$dtype"
      cmp -s "$tmp/$c.pb" "$tmp/$c.back.pb" ||
        fail "$c: the model file differs after rowflow -> ONNX -> rowflow"
    else
      fail "$c: import-onnx" "$(cat "$tmp/err")"
    fi
  done <"$tmp/cases.txt"
}

run_roundtrip() {
  local examples=$src/tools/examples spec
  for spec in seed_2_2 seed_3_3 seed_3_4 seed_4_5 mlp_init; do
    local width
    width=$(head -1 "$examples/$spec.csv" | awk -F, '{ print NF }')
    make_rows "$tmp/$spec.rows.csv" "$width"
    for form in layer per-node; do
      local flag=""
      [[ $form == per-node ]] && flag=--per-node
      if rf build -q "$examples/$spec.pbtxt" -o "$tmp/$spec.$form.pb" $flag; then
        local dtype=f32
        grep -q '^dtype: *F64' "$examples/$spec.pbtxt" && dtype=f64
        export_check "$spec ($form)" "$tmp/$spec.$form.pb" "$tmp/$spec.rows.csv" "$dtype"
        if cmp -s "$tmp/$spec.$form.pb" "$tmp/$spec ($form).back.pb"; then
          pass "$spec ($form): the model file comes back byte-identical"
        else
          fail "$spec ($form): the model file after the round trip differs"
        fi
        # The seed's own row gives the seed's exact result after the trip.
        if rf run "$tmp/$spec ($form).back.pb" -i "$examples/$spec.csv" -o "$tmp/seed.csv" -q &&
           rf run "$tmp/$spec.$form.pb" -i "$examples/$spec.csv" -o "$tmp/seed.want.csv" -q &&
           cmp -s "$tmp/seed.csv" "$tmp/seed.want.csv"; then
          pass "$spec ($form): the example's row gives $(head -c 40 "$tmp/seed.csv") after the trip"
        else
          fail "$spec ($form): the example's row after the round trip" "$(cat "$tmp/err")"
        fi
      else
        fail "build $spec $form" "$(cat "$tmp/err")"
      fi
    done
  done
  make_rows "$tmp/ops.rows.csv" 9
  sed 's/^dtype: F32/dtype: F64/; s/float_data/double_data/; s/alpha: 0.01/alpha: 0.25/' \
    "$here/export_ops.pbtxt" >"$tmp/export_ops_f64.pbtxt"
  export_check "export_ops (F32)" "$here/export_ops.pbtxt" "$tmp/ops.rows.csv" f32
  export_check "export_ops (F64)" "$tmp/export_ops_f64.pbtxt" "$tmp/ops.rows.csv" f64
  # A LeakyRelu slope that is not a float survives the trip exactly.
  if rf convert "$tmp/export_ops (F32).back.pb" "$tmp/back.pbtxt" &&
     grep -q 'alpha: 0.01$' "$tmp/back.pbtxt"; then
    pass "export_ops: LEAKY_RELU alpha 0.01 comes back exactly"
  else
    fail "export_ops: alpha" "$(grep alpha "$tmp/back.pbtxt")"
  fi
  # Every activation, written as its op or its expansion (GELU, GELU_TANH,
  # SILU); ELU's and HARD_SIGMOID's alpha 0.3 (not a float) come back exactly.
  sed 's/^dtype: F32/dtype: F64/; s/float_data/double_data/; s/alpha: 0.3/alpha: 0.375/' \
    "$here/export_activations.pbtxt" >"$tmp/export_activations_f64.pbtxt"
  export_check "export_activations (F32)" "$here/export_activations.pbtxt" "$tmp/ops.rows.csv" f32
  export_check "export_activations (F64)" "$tmp/export_activations_f64.pbtxt" "$tmp/ops.rows.csv" f64
  if rf convert "$tmp/export_activations (F32).back.pb" "$tmp/back_acts.pbtxt" &&
     [[ $(grep -c 'alpha: 0.3$' "$tmp/back_acts.pbtxt") -eq 2 ]] &&
     grep -q 'beta: 0.625$' "$tmp/back_acts.pbtxt"; then
    pass "export_activations: ELU and HARD_SIGMOID parameters come back exactly"
  else
    fail "export_activations: parameters" "$(grep -E 'alpha|beta' "$tmp/back_acts.pbtxt")"
  fi
  # Nodes over constants only export as ONNX nodes over initializers (ONNX
  # runs them); import-onnx refuses them (it does not fold constants).
  cat >"$tmp/const_nodes.pbtxt" <<'EOF'
format_version: 1
name: "const_nodes"
inputs { name: "x" shape: [2] }
constants { name: "a" shape: [2] float_data: [0.5, -2] }
constants { name: "b" shape: [] float_data: [0.25] }
nodes { name: "ab" op: ADD inputs: ["a", "b"] output: "ab" }
nodes { name: "s" op: ACTIVATION inputs: ["ab"] output: "s" activation: SIGMOID }
nodes { name: "y" op: MULTIPLY inputs: ["x", "s"] output: "y" }
outputs { name: "y" shape: [2] }
EOF
  make_rows "$tmp/const.rows.csv" 2
  export_check "constant-only nodes" "$tmp/const_nodes.pbtxt" "$tmp/const.rows.csv" f32 --no-import
}

# expect_refusal NAME CODE REGEX ARGS...: rowflow ARGS exits CODE with one
# line "rowflow: error: ..." matching REGEX, and $tmp/out stays empty.
expect_refusal() {
  local name=$1 code=$2 regex=$3
  shift 3
  rm -rf "$tmp/out" && mkdir "$tmp/out"
  "$rowflow" "$@" >/dev/null 2>"$tmp/err"
  local got=$? lines
  lines=$(wc -l <"$tmp/err")
  if [[ $got -ne $code ]]; then
    fail "$name: exit $got, expected $code" "$(cat "$tmp/err")"
  elif [[ $lines -ne 1 ]] || ! grep -qE "^rowflow: error: .*($regex)" "$tmp/err"; then
    fail "$name: message" "expected: /$regex/" "got:      $(cat "$tmp/err")"
  elif [[ -n $(ls -A "$tmp/out") ]]; then
    fail "$name: left output behind" "$(ls -A "$tmp/out")"
  else
    pass "$name: exit $code, $(cut -c1-110 "$tmp/err")"
  fi
}

run_bad() {
  cases bad "$tmp" || { fail "onnx_cases.py bad"; return; }
  while IFS=$'\t' read -r name regex; do
    expect_refusal "import $name" 3 "$regex" import-onnx "$tmp/$name.onnx" -o "$tmp/out/m.pb"
  done <"$tmp/bad.txt"
  rf build -q "$src/tools/examples/seed_2_2.pbtxt" -o "$tmp/seed.pb"
  expect_refusal "import a rowflow model" 3 "seed.pb: is a rowflow model file, not ONNX" \
    import-onnx "$tmp/seed.pb" -o "$tmp/out/m.pb"
  expect_refusal "import a missing file" 3 "nope.onnx: cannot open" \
    import-onnx "$tmp/nope.onnx" -o "$tmp/out/m.pb"
  expect_refusal "import a directory" 3 "is a directory" import-onnx "$tmp" -o "$tmp/out/m.pb"
  expect_refusal "export a missing model" 3 "nope.pb" export-onnx "$tmp/nope.pb" -o "$tmp/out/m.onnx"
  expect_refusal "export to a missing folder" 5 "no/such/dir" \
    export-onnx "$tmp/seed.pb" -o "$tmp/out/no/such/dir/m.onnx"
  expect_refusal "export to /dev/full" 5 "/dev/full" export-onnx "$tmp/seed.pb" -o /dev/full
  # Graphs ONNX cannot express: a constant joined with row values, a
  # constant output.
  cat >"$tmp/const_concat.pbtxt" <<'EOF'
format_version: 1
name: "const_concat"
inputs { name: "x" shape: [2] }
constants { name: "k" shape: [1] float_data: [1] }
nodes { name: "y" op: CONCAT inputs: ["x", "k"] output: "y" axis: -1 }
outputs { name: "y" shape: [3] }
EOF
  expect_refusal "export CONCAT of a constant" 3 \
    "const_concat.pbtxt: node 'y' \(CONCAT\) joins 'k', which does not depend on the rows" \
    export-onnx "$tmp/const_concat.pbtxt" -o "$tmp/out/m.onnx"
  sed 's/inputs: \["x", "k"\]/inputs: ["k", "k"]/; s/shape: \[3\] }/shape: [2] }/' \
    "$tmp/const_concat.pbtxt" >"$tmp/const_out.pbtxt"
  expect_refusal "export a constant output" 3 "output 'y' does not depend on the rows" \
    export-onnx "$tmp/const_out.pbtxt" -o "$tmp/out/m.onnx"
}

case $mode in
  import) run_import ;;
  export) run_export ;;
  roundtrip) run_roundtrip ;;
  bad) run_bad ;;
  *) echo "usage: $0 import|export|roundtrip|bad ROWFLOW SOURCE_DIR" >&2; exit 2 ;;
esac
checks_summary
