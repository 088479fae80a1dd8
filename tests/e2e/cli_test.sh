#!/usr/bin/env bash
# End-to-end tests of the rowflow CLI, through the built binary:
#   cli_test.sh ROWFLOW SOURCE_DIR
# Builds the seed examples (tools/examples), runs them, and checks the seed
# notebook's results exactly, both model forms, convert, trace, inspect,
# dot, streaming through stdin/stdout, the `| head -1` policy and output
# errors. Every check runs; each failure prints what was expected and got.
set -u
set -o pipefail

rowflow=$1
src=$2
examples=$src/tools/examples
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"

# rf ARGS...: runs rowflow with stderr in $tmp/err; returns its exit code.
rf() { "$rowflow" "$@" 2>"$tmp/err"; }

# --- build every seed example in both forms ---------------------------------
for spec in seed_2_2 seed_3_3 seed_3_4 seed_3_4_rows seed_4_5; do
  if rf build -q "$examples/$spec.pbtxt" -o "$tmp/$spec.pb" &&
     rf build -q "$examples/$spec.pbtxt" -o "$tmp/${spec}_pn.pb" --per-node; then
    pass "build $spec (layer and per-node forms)"
  else
    fail "build $spec" "$(cat "$tmp/err")"
  fi
done

# --- the seed notebook's results, exactly, in both forms -------------------
declare -A expected=(
  [seed_2_2]=9
  [seed_3_3]=0.9901095378334199
  [seed_3_4]=52
  [seed_3_4_rows]=$'52\n63\n0\n148'
  [seed_4_5]=182
)
for spec in "${!expected[@]}"; do
  for form in "" _pn; do
    got=$(rf run "$tmp/$spec$form.pb" -i "$examples/$spec.csv" -o - -q)
    expect_eq "run $spec$form gives the seed's result" "${expected[$spec]}" "$got"
  done
done

# --- per-node and layer form give byte-identical output files --------------
awk 'BEGIN { for (i = 0; i < 20000; ++i) printf "%d,%.3f\n", i % 37 - 18, (i % 101) / 7 - 7 }' \
  >"$tmp/mixed.csv"
for spec in seed_3_3 seed_4_5; do
  rf run "$tmp/$spec.pb" -i "$tmp/mixed.csv" -o "$tmp/$spec.layer.csv" -q &&
    rf run "$tmp/${spec}_pn.pb" -i "$tmp/mixed.csv" -o "$tmp/$spec.pernode.csv" -q
  if cmp -s "$tmp/$spec.layer.csv" "$tmp/$spec.pernode.csv" && [[ -s $tmp/$spec.layer.csv ]]; then
    pass "$spec: per-node and layer outputs are byte-identical"
  else
    fail "$spec: per-node and layer outputs differ" "$(cmp "$tmp/$spec.layer.csv" "$tmp/$spec.pernode.csv" 2>&1)"
  fi
done

# --- convert: binary -> text -> binary is lossless -------------------------
for m in seed_3_3 seed_4_5_pn; do
  if rf convert "$tmp/$m.pb" "$tmp/$m.rt.pbtxt" && rf convert "$tmp/$m.rt.pbtxt" "$tmp/$m.rt.pb" &&
     cmp -s "$tmp/$m.pb" "$tmp/$m.rt.pb"; then
    pass "convert $m: binary -> text -> binary gives identical bytes"
  else
    fail "convert $m round trip" "$(cat "$tmp/err")" "$(cmp "$tmp/$m.pb" "$tmp/$m.rt.pb" 2>&1)"
  fi
done

# --- trace prints the seed's values -----------------------------------------
expect_eq "trace seed_4_5 per-node form" "node_0_0: input 26, output 26
node_0_1: input -13, output 0
node_0: [26, 0]
node_1_0: input -26, output 0
node_1_1: input 26, output 26
node_1: [0, 26]
output_0: input 182, output 182
output: 182" "$(rf trace "$tmp/seed_4_5_pn.pb" --row 3,5)"
expect_eq "trace seed_4_5 layer form" "node_0: input [26, -13], output [26, 0]
node_1: input [-26, 26], output [0, 26]
output: 182" "$(rf trace "$tmp/seed_4_5.pb" --row 3,5)"
expect_eq "trace seed_3_3 prints the notebook's tanh result" "output: 0.9901095378334199" \
  "$(rf trace "$tmp/seed_3_3.pb" --row=-1,2 | tail -1)"
rf trace "$tmp/seed_4_5.pb" --row 3,5,1 >/dev/null
expect_eq "trace: wrong value count is a usage error" \
  "2 rowflow: error: --row: expected 2 values, got 3" "$? $(cat "$tmp/err")"
rf trace "$tmp/seed_4_5.pb" --row 3,x >/dev/null
expect_eq "trace: a non-number is a usage error" \
  "2 rowflow: error: --row: value 2 is not a number: 'x'" "$? $(cat "$tmp/err")"

# --- inspect -----------------------------------------------------------------
out=$(rf inspect "$tmp/seed_4_5.pb")
if [[ $out == *"verdict:     valid"* && $out == *"inputs:      input_data [2]"* &&
      $out == *"parameters:  10 in 3 constants"* && $out == *"flops/row:   20"* ]]; then
  pass "inspect seed_4_5: verdict, inputs, parameters, flops"
else
  fail "inspect seed_4_5" "$out"
fi
out=$(rf inspect --json "$tmp/seed_4_5_pn.pb")
if [[ $out == *'"valid": true'* && $out == *'"parameters": 10'* && $out == *'"plan": ['* ]]; then
  pass "inspect --json seed_4_5 per-node"
else
  fail "inspect --json" "$out"
fi
if command -v python3 >/dev/null; then
  if python3 -m json.tool <<<"$out" >/dev/null; then pass "inspect --json parses as JSON"
  else fail "inspect --json does not parse as JSON" "$out"; fi
fi
printf 'format_version: 1\nname: "bad"\nnodes { name: "n" op: SUM inputs: ["nowhere"] output: "n" }\n' \
  >"$tmp/invalid.pbtxt"
out=$(rf inspect "$tmp/invalid.pbtxt")
code=$?
if [[ $code == 3 && $out == "verdict:     invalid: "*invalid.pbtxt* ]]; then
  pass "inspect of an invalid model prints the verdict and exits 3"
else
  fail "inspect of an invalid model" "exit $code" "$out"
fi

# --- dot ---------------------------------------------------------------------
# check_dot NAME FILE: balanced braces, and every edge endpoint declared.
check_dot() {
  local declared used
  declared=$(grep -oE '^  "[^"]+" \[' "$2" | sed -E 's/^  ("[^"]+").*/\1/' | sort -u)
  used=$(grep -oE '^  "[^"]+" -> "[^"]+"' "$2" | grep -oE '"[^"]+"' | sort -u)
  if [[ $(head -c 8 "$2") == "digraph " && $(tail -1 "$2") == "}" && -n $used ]] &&
     [[ -z $(comm -13 <(echo "$declared") <(echo "$used")) ]]; then
    if command -v dot >/dev/null && ! dot -Tsvg "$2" >/dev/null 2>"$tmp/dot.err"; then
      fail "$1" "graphviz refused it: $(cat "$tmp/dot.err")"
    else
      pass "$1"
    fi
  else
    fail "$1" "undeclared: $(comm -13 <(echo "$declared") <(echo "$used") | tr '\n' ' ')" "$(head -5 "$2")"
  fi
}
rf dot "$tmp/seed_4_5_pn.pb" >"$tmp/pn.dot" && check_dot "dot seed_4_5 per-node is well-formed" "$tmp/pn.dot"
rf dot "$tmp/seed_4_5.pb" --collapse >"$tmp/col.dot" && check_dot "dot --collapse is well-formed" "$tmp/col.dot"
n=$(grep -c 'dense 2→2 RELU' "$tmp/col.dot")
expect_eq "dot --collapse draws each hidden layer as one 'dense 2→2 RELU' box" 2 "$n"
n=$(grep -c 'ACTIVATION RELU' "$tmp/pn.dot")
expect_eq "dot per-node shows each unit's activation" 4 "$n"

# --- streaming: 1M rows, stdin -> stdout equals file -> file ----------------
awk 'BEGIN { for (i = 0; i < 1000000; ++i) printf "%d,%d\n", i % 19 - 9, i % 23 - 11 }' >"$tmp/big.csv"
rf run "$tmp/seed_4_5.pb" -i "$tmp/big.csv" -o "$tmp/big.out.csv"
summary=$(cat "$tmp/err")
rf run "$tmp/seed_4_5.pb" -i - -o - -q <"$tmp/big.csv" >"$tmp/big.stdout.csv"
if cmp -s "$tmp/big.out.csv" "$tmp/big.stdout.csv" && [[ $(wc -l <"$tmp/big.out.csv") == 1000000 ]]; then
  pass "1M rows: stdin -> stdout equals file -> file byte for byte"
else
  fail "1M rows: stdin -> stdout differs from file -> file" "$(cmp "$tmp/big.out.csv" "$tmp/big.stdout.csv" 2>&1)"
fi
if [[ $summary =~ ^rowflow:\ 1000000\ rows\ in\ [0-9.]+\ s\ \([0-9.]+\ [kMG]?\ ?rows/s\),\ [0-9]+\ threads?,\ tile\ [0-9]+$ ]]; then
  pass "run prints the one-line summary: $summary"
else
  fail "run summary line" "got: $summary"
fi
# The summary counts the threads that ran tiles, not the threads asked for:
# 4 rows are one tile, run by one thread.
rf run "$tmp/seed_3_4_rows.pb" -i "$examples/seed_3_4_rows.csv" -o "$tmp/four.csv" --threads 1024
summary=$(cat "$tmp/err")
if [[ $summary =~ ^rowflow:\ 4\ rows\ in\ .*,\ 1\ thread,\ tile\ [0-9]+$ ]]; then
  pass "--threads 1024 over one tile: the summary says 1 thread"
else
  fail "--threads 1024 over one tile: summary" "got: $summary"
fi
expect_eq "streamed rows keep input order (row 1 = [-9,-11], row 1000000)" \
  "$(rf run "$tmp/seed_4_5.pb" -i <(printf '%s\n' -9,-11 "$(tail -1 "$tmp/big.csv")") -o - -q)" \
  "$(sed -n '1p;$p' "$tmp/big.out.csv")"
rf run "$tmp/seed_4_5.pb" -i "$tmp/big.csv" -o "$tmp/big.t1.csv" -q --threads 1 --tile 1000
if cmp -s "$tmp/big.out.csv" "$tmp/big.t1.csv"; then pass "1 thread, tile 1000 gives the same bytes"
else fail "1 thread, tile 1000 differs"; fi
rf run "$tmp/seed_4_5.pb" -i "$tmp/big.csv" -o "$tmp/big.npy" -q
expect_eq ".npy output: 128-byte header + 1M f32 values" 4000128 "$(stat -c %s "$tmp/big.npy")"

# --- bench: F32 and F64 models, one table each ------------------------------
for m in seed_4_5:F32 seed_3_3:F64; do
  out=$(rf bench "$tmp/${m%%:*}.pb" --rows 20000 --threads 1,2 --tile 1000 --repeat 1)
  code=$?
  rows_in_table=$(grep -cE '^ +[12] +1000 +[0-9.]+ [kMG]? ' <<<"$out")
  if [[ $code == 0 && $out == "${m%%:*} (${m##*:}): 20000 rows, "* && $rows_in_table == 2 &&
        $out == *"every point produced bitwise-identical output"* ]]; then
    pass "bench ${m%%:*} (${m##*:}): exit 0, a row per thread count, identical output"
  else
    fail "bench ${m%%:*} (${m##*:})" "exit $code" "$out" "$(cat "$tmp/err")"
  fi
done

# --- `| head -1`: the reader leaving early is a normal end (exit 0, silent) --
first=$("$rowflow" run "$tmp/seed_4_5.pb" -i "$tmp/big.csv" -o - 2>"$tmp/err" | head -1)
codes=("${PIPESTATUS[@]}")
expect_eq "| head -1: exit 0, one line, nothing on stderr" "0 $(head -1 "$tmp/big.out.csv") ''" \
  "${codes[0]} $first '$(cat "$tmp/err")'"

# --- the argument parser: --help prints and succeeds, refusals are one line --
for cmd in "" run build convert export-onnx; do
  # shellcheck disable=SC2086  # "" means no subcommand
  out=$(rf $cmd --help)
  code=$?
  if [[ $code == 0 && $out == *"Usage: rowflow"* && ! -s $tmp/err ]]; then
    pass "rowflow $cmd --help: help on stdout, exit 0"
  else
    fail "rowflow $cmd --help" "exit $code" "$(head -3 <<<"$out")" "$(cat "$tmp/err")"
  fi
done
out=$(rf help run)
expect_eq "rowflow help run is rowflow run --help" "0 Usage: rowflow run [OPTIONS] model" \
  "$? $(sed -n 2p <<<"$out")"
rf help frob >/dev/null
expect_eq "rowflow help of an unknown command: one line, exit 2" \
  "2 rowflow: error: help takes one command, one of: build, run, inspect, dot, trace, convert, bench, import-onnx, export-onnx; see 'rowflow --help'" \
  "$? $(cat "$tmp/err")"
rf >/dev/null
expect_eq "no command: one line listing the commands, exit 2" \
  "2 rowflow: error: no command given; expected one of: build, run, inspect, dot, trace, convert, bench, import-onnx, export-onnx; see 'rowflow --help'" \
  "$? $(cat "$tmp/err")"
rf --frob >/dev/null
expect_eq "unknown top-level option: one line, exit 2" \
  "2 rowflow: error: unknown option '--frob'; see 'rowflow --help'" "$? $(cat "$tmp/err")"
rf run "$tmp/seed_4_5.pb" extra -i "$tmp/mixed.csv" -o - >/dev/null
expect_eq "extra positional argument: one line, exit 2" \
  "2 rowflow: error: unexpected argument 'extra'; see 'rowflow run --help'" "$? $(cat "$tmp/err")"
rf run "$tmp/seed_4_5.pb" -i "$tmp/mixed.csv" -o - --format xml >/dev/null
expect_eq "value outside a choice: one line, exit 2" \
  "2 rowflow: error: --format: xml not in {csv,npy}; see 'rowflow run --help'" "$? $(cat "$tmp/err")"

# --- output errors and unusable models ---------------------------------------
mkdir "$tmp/outdir"
rf run "$tmp/seed_4_5.pb" -i "$tmp/mixed.csv" -o /dev/full -q
expect_eq "/dev/full as output: exit 5" "5 rowflow: error: /dev/full: No space left on device" \
  "$? $(cat "$tmp/err")"
rf run "$tmp/seed_4_5.pb" -i "$tmp/mixed.csv" -o "$tmp/outdir/missing/out.csv" -q
expect_eq "output in a missing folder: exit 5, nothing left behind" "5 " "$? $(ls -A "$tmp/outdir")"
rf run "$tmp/seed_4_5.pb" -i "$tmp/mixed.csv" -o "$tmp/outdir/out.csv" --check-finite -q
expect_eq "--check-finite on finite rows succeeds" "0 out.csv" "$? $(ls -A "$tmp/outdir")"
# A NaN after a header, comment and blank lines is named by its real line,
# as a parse error on that row is: from a .gz file and from stdin.
printf 'a,b\n# c\n1,2\n\n# x\n7,nan\n8,9\n' | gzip >"$tmp/late.csv.gz"
printf 'a,b\n# c\n1,2\n\n# x\n7,oops\n8,9\n' | gzip >"$tmp/late_bad.csv.gz"
late=(--header --comment '#' --skip-blank -q)
rf run "$tmp/seed_4_5.pb" -i "$tmp/late.csv.gz" -o "$tmp/outdir/late.csv" --check-finite "${late[@]}"
expect_eq "--check-finite, .gz: the NaN's real line (6), not its row's" \
  "4 rowflow: error: $tmp/late.csv.gz:6: column 2 is nan; expected finite values (--check-finite)" \
  "$? $(cat "$tmp/err")"
rf run "$tmp/seed_4_5.pb" -i "$tmp/late_bad.csv.gz" -o "$tmp/outdir/late.csv" "${late[@]}"
expect_eq "a parse error on that row names the same line" "4 $tmp/late_bad.csv.gz:6:" \
  "$? $(sed -E 's/^rowflow: error: ([^:]*:[0-9]+:).*/\1/' "$tmp/err")"
gzip -dc "$tmp/late.csv.gz" | rf run "$tmp/seed_4_5.pb" -i - -o - --check-finite "${late[@]}" >/dev/null
expect_eq "--check-finite, stdin: the NaN's real line" \
  "4 rowflow: error: <stdin>:6: column 2 is nan; expected finite values (--check-finite)" \
  "$? $(cat "$tmp/err")"
expect_eq "nothing left behind" "out.csv" "$(ls -A "$tmp/outdir")"
# Through a symlink: the target is written and the link stays; a replaced
# file keeps its mode.
mkdir "$tmp/linkdir"
echo old >"$tmp/linkdir/real.csv"
chmod 640 "$tmp/linkdir/real.csv"
ln -s linkdir/real.csv "$tmp/link.csv"
rf run "$tmp/seed_4_5.pb" -i "$examples/seed_4_5.csv" -o "$tmp/link.csv" -q
expect_eq "-o a symlink: the target gets the rows and keeps mode 640, the link stays" \
  "0 182 640 symbolic link linkdir/real.csv real.csv" \
  "$? $(cat "$tmp/linkdir/real.csv") $(stat -c '%a' "$tmp/linkdir/real.csv") $(stat -c '%F' "$tmp/link.csv") $(readlink "$tmp/link.csv") $(ls -A "$tmp/linkdir")"
# /dev/stdout is the shell's stdout as it is: a pipe, or a file the shell
# also writes before and after (not replaced by a new file).
got=$(rf run "$tmp/seed_4_5.pb" -i "$examples/seed_4_5.csv" -o /dev/stdout -q | cat)
expect_eq "-o /dev/stdout into a pipe" "0 182" "${PIPESTATUS[0]} $got"
{
  echo before
  rf run "$tmp/seed_4_5.pb" -i "$examples/seed_4_5.csv" -o /dev/stdout -q
  echo after
} >"$tmp/shell_out.txt"
expect_eq "-o /dev/stdout into a file the shell writes too" "before 182 after" \
  "$(tr '\n' ' ' <"$tmp/shell_out.txt" | sed 's/ $//')"
for model in "$tmp" /dev/null; do
  rf run "$model" -i "$tmp/mixed.csv" -o "$tmp/outdir/x.csv" -q
  expect_eq "model $model: exit 3" 3 "$?"
done

# --- the activations added in issue 11, end to end ---------------------------
# One identity layer per activation (x: [3] -> act(x)), F32 and F64, both
# forms: spec -> build -> run and trace, against references written here
# with Python's math module (independent of rowflow's kernels), within
# |got - want| <= tol * (1 + |want|), tol 1e-6 (F32) and 1e-12 (F64).
python=${ROWFLOW_PYTHON:-/usr/bin/python3}
act_ref() {  # act_ref ACT ROWS.csv: the reference rows
  "$python" - "$@" <<'PY'
import math, sys
act, path = sys.argv[1], sys.argv[2]
def sigmoid(v): return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
one = {
    "ELU": lambda v: v if v > 0 else 0.5 * math.expm1(v),
    "GELU": lambda v: v * (1 + math.erf(v / math.sqrt(2))) / 2,
    "GELU_TANH": lambda v: v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3))) / 2,
    "SILU": lambda v: v * sigmoid(v),
    "HARD_SIGMOID": lambda v: max(0.0, min(1.0, 0.25 * v + 0.375)),
}
for line in open(path):
    x = [float(f) for f in line.split(",")]
    if act == "LOG_SOFTMAX":
        m = max(x)
        lse = m + math.log(sum(math.exp(v - m) for v in x))
        y = [v - lse for v in x]
    else:
        y = [one[act](v) for v in x]
    print(",".join(repr(v) for v in y))
PY
}
act_compare() {  # act_compare GOT WANT TOL: prints the worst scaled error
  "$python" - "$@" <<'PY'
import sys
got = [[float(f) for f in l.split(",")] for l in open(sys.argv[1])]
want = [[float(f) for f in l.split(",")] for l in open(sys.argv[2])]
tol = float(sys.argv[3])
if len(got) != len(want):
    sys.exit(f"{len(got)} rows, expected {len(want)}")
worst = 0.0
for i, (g, w) in enumerate(zip(got, want)):
    if len(g) != len(w):
        sys.exit(f"row {i + 1}: {len(g)} columns, expected {len(w)}")
    for j, (a, b) in enumerate(zip(g, w)):
        err = abs(a - b) / (1 + abs(b))
        if not err <= tol:
            sys.exit(f"row {i + 1} col {j + 1}: got {a!r}, expected {b!r}")
        worst = max(worst, err)
print(f"max scaled error {worst:.3g}")
PY
}
# Values exact in F32 (multiples of 1/16 and small integers), so that F32 and
# F64 models see the same inputs; plus zeros, a tiny and a large magnitude.
awk 'BEGIN { for (i = 0; i < 300; ++i) printf "%.4f,%.1f,%.2f\n", (i - 150) / 16, (i % 17) - 8.5, (i * 7 % 61 - 30) / 4 }' \
  >"$tmp/act_rows.csv"
printf '0,-0,0.0009765625\n-30,30,-0.5\n' >>"$tmp/act_rows.csv"
echo "-1.5,0.25,3" >"$tmp/act_trace_row.csv"
for act in ELU GELU GELU_TANH SILU HARD_SIGMOID LOG_SOFTMAX; do
  params=""
  [[ $act == ELU ]] && params="alpha: 0.5"
  [[ $act == HARD_SIGMOID ]] && params="alpha: 0.25 beta: 0.375"
  act_ref "$act" "$tmp/act_rows.csv" >"$tmp/$act.want.csv"
  act_ref "$act" "$tmp/act_trace_row.csv" >"$tmp/$act.trace_want.csv"
  for dtype in F32 F64; do
    tol=1e-6
    [[ $dtype == F64 ]] && tol=1e-12
    printf 'dtype: %s\ninput { width: 3 }\nlayer { units: 3 activation: %s %s weights { values: [1, 0, 0, 0, 1, 0, 0, 0, 1] } }\n' \
      "$dtype" "$act" "$params" >"$tmp/$act.$dtype.pbtxt"
    for form in layer per-node; do
      flag=""
      [[ $form == per-node ]] && flag=--per-node
      name="$act $dtype $form"
      if ! rf build -q "$tmp/$act.$dtype.pbtxt" -o "$tmp/act.pb" $flag ||
         ! rf run "$tmp/act.pb" -i "$tmp/act_rows.csv" -o "$tmp/act.got.csv" -q; then
        fail "$name: build and run" "$(cat "$tmp/err")"
        continue
      fi
      if out=$(act_compare "$tmp/act.got.csv" "$tmp/$act.want.csv" "$tol" 2>&1); then
        pass "$name: run matches the reference ($out)"
      else
        fail "$name: run" "$out"
      fi
      # trace computes with the reference evaluator: the same values.
      rf trace "$tmp/act.pb" --row=-1.5,0.25,3 | tail -1 |
        sed 's/^output: \[//; s/\]$//; s/ //g' >"$tmp/act.trace.csv"
      if out=$(act_compare "$tmp/act.trace.csv" "$tmp/$act.trace_want.csv" "$tol" 2>&1); then
        pass "$name: trace matches the reference"
      else
        fail "$name: trace" "$out" "$(cat "$tmp/act.trace.csv")"
      fi
    done
  done
done
# inspect and dot name them; dot with their parameters.
rf build -q "$tmp/HARD_SIGMOID.F64.pbtxt" -o "$tmp/hs.pb"
expect_eq "inspect counts HARD_SIGMOID" "activations: HARD_SIGMOID 1" \
  "$(rf inspect "$tmp/hs.pb" | grep '^activations:')"
expect_eq "dot shows HARD_SIGMOID's alpha and beta" 1 \
  "$(rf dot "$tmp/hs.pb" | grep -c 'HARD_SIGMOID alpha=0.25 beta=0.375')"

checks_summary
