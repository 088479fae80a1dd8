#!/usr/bin/env bash
# Fault tests of the rowflow CLI (RELIABILITY.md classes 1, 11, 24-26) that
# tests/e2e/cli_test.sh and tests/bad_inputs/ do not already cover:
#   cli_fault_test.sh ROWFLOW [SANITIZED]
# outputs that cannot be created (under /proc, below a regular file),
# stdout closed before the run or by a reader that leaves early, empty
# input, endless inputs (/dev/zero, a FIFO), argument values the parser
# cannot convert, runs ended by SIGTERM/SIGINT/SIGHUP (no temp file left),
# and models with valid but huge shapes under
# `prlimit --as` (skipped when SANITIZED=1: ASan reserves terabytes of
# address space up front). Every failing run must print exactly one line
# "rowflow: error: ...", exit with the documented code and leave nothing
# behind; every check runs, each failure says what was expected and got.
set -u
set -o pipefail

rowflow=$1
sanitized=${2:-0}
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"

# expect_error NAME CODE ERE: the last run (status in $rc, stderr in
# $tmp/err) exited CODE with one stderr line "rowflow: error: " matching ERE.
expect_error() {
  local err lines
  err=$(cat "$tmp/err")
  lines=$(wc -l <"$tmp/err")
  if [[ $rc == "$2" && $lines == 1 && $err == "rowflow: error: "* ]] && grep -Eq -- "$3" "$tmp/err"; then
    pass "$1"
  else
    fail "$1" "expected: exit $2, one line 'rowflow: error: ...' matching /$3/" \
      "got:      exit $rc, $lines line(s): $err"
  fi
}

# rf ARGS...: runs rowflow (60 s at most) with stderr in $tmp/err; sets rc.
rf() {
  timeout 60 "$rowflow" "$@" 2>"$tmp/err"
  rc=$?
}

# listing DIR: names in DIR, hidden temp files included, one line.
listing() { ls -A "$1" | tr '\n' ' '; }

cat >"$tmp/model.pbtxt" <<'EOF'
# y = relu([3, 5] . [2, 4] ...): the seed's section 3.4 network, F64.
format_version: 1
name: "seed_3_4"
dtype: F64
inputs { name: "x" shape: [2] }
outputs { name: "output" shape: [1] }
constants { name: "w0" shape: [2, 2] double_data: [2, 4, 4, -5] }
constants { name: "w1" shape: [1, 2] double_data: [2, 7] }
nodes { name: "m0" op: MULTIPLY inputs: ["x", "w0"] output: "m0" }
nodes { name: "s0" op: SUM inputs: ["m0"] output: "s0" axis: -1 }
nodes { name: "h" op: ACTIVATION inputs: ["s0"] output: "h" activation: RELU }
nodes { name: "m1" op: MULTIPLY inputs: ["h", "w1"] output: "m1" }
nodes { name: "s1" op: SUM inputs: ["m1"] output: "s1" axis: -1 }
nodes { name: "output" op: ACTIVATION inputs: ["s1"] output: "output" activation: RELU }
EOF
model=$tmp/model.pbtxt
printf '3,5\n1,-1\n0,0\n8,4\n' >"$tmp/rows.csv"
mkdir "$tmp/out"

# --- outputs that cannot be created (class 24) -------------------------------
# As root, chmod cannot make a folder read-only; /proc refuses new files to
# everyone, and a regular file cannot hold one.
for out in /proc/self/rowflow-out.csv /proc/rowflow-out.npy; do
  rf run "$model" -i "$tmp/rows.csv" -o "$out" -q
  expect_error "output $out (cannot be created): exit 5" 5 "^rowflow: error: $out: "
done
touch "$tmp/out/file"
rf run "$model" -i "$tmp/rows.csv" -o "$tmp/out/file/out.csv" -q
expect_error "output below a regular file: exit 5" 5 "file/out\.csv: Not a directory$"
expect_eq "output below a regular file: nothing left behind" "file " "$(listing "$tmp/out")"
rm "$tmp/out/file"

# --- stdout closed (class 25) --------------------------------------------------
rf run "$model" -i "$tmp/rows.csv" -o - -q >&-
expect_error "stdout closed before the run: exit 5" 5 "Bad file descriptor$"
# A reader that leaves at once, after one line, or mid-header: a normal end.
awk 'BEGIN { for (i = 0; i < 300000; ++i) printf "%d,%d\n", i % 7, -(i % 5) }' >"$tmp/big.csv"
first=$("$rowflow" run "$model" -i "$tmp/rows.csv" -o - -q 2>"$tmp/err" | head -1)
expect_eq "4 rows | head -1: exit 0, first line 52, stderr empty" "0 52 ''" \
  "${PIPESTATUS[0]} $first '$(cat "$tmp/err")'"
"$rowflow" run "$model" -i "$tmp/big.csv" -o - -q 2>"$tmp/err" | true
expect_eq "300k rows | true (reader never reads): exit 0, stderr empty" "0 ''" \
  "${PIPESTATUS[0]} '$(cat "$tmp/err")'"
# --format applies to both ends: the rows go in as .npy too, made by an
# identity model.
cat >"$tmp/identity.pbtxt" <<'EOF'
format_version: 1
dtype: F64
inputs { name: "x" shape: [2] }
outputs { name: "y" shape: [2] }
constants { name: "one" shape: [] double_data: [1] }
nodes { name: "y" op: MULTIPLY inputs: ["x", "one"] output: "y" }
EOF
"$rowflow" run "$tmp/identity.pbtxt" -i "$tmp/big.csv" -o "$tmp/big.npy" -q
magic=$("$rowflow" run "$model" -i "$tmp/big.npy" -o - --format npy -q 2>"$tmp/err" |
  head -c 6 | od -An -c | tr -d ' ')
expect_eq "300k rows as .npy | head -c 6: exit 0, the magic, stderr empty" \
  "0 223NUMPY ''" "${PIPESTATUS[0]} $magic '$(cat "$tmp/err")'"

# --- empty input (documented: zero rows in, zero rows out, exit 0) ------------
rf run "$model" -i - -o "$tmp/out/empty.csv" -q </dev/null
expect_eq "empty stdin -> CSV file: exit 0, an empty file" "0 0" \
  "$rc $(stat -c %s "$tmp/out/empty.csv" 2>&1)"
out=$("$rowflow" run "$model" -i - -o - -q </dev/null 2>"$tmp/err" | wc -c)
expect_eq "empty stdin -> stdout: exit 0, no bytes, stderr empty" "0 0 ''" \
  "${PIPESTATUS[0]} $out '$(cat "$tmp/err")'"
rf run "$model" -i - -o "$tmp/out/empty.npy" -q </dev/null
expect_eq "empty stdin -> .npy: exit 0, a (0, 1) array" "0 (0, 1)" \
  "$rc $(head -c 128 "$tmp/out/empty.npy" | grep -ao "'shape': ([0-9, ]*)" | sed "s/'shape': //")"
printf '\n\n' >"$tmp/blank.csv"
rf run "$model" -i "$tmp/blank.csv" -o "$tmp/out/blank.csv" -q --header
expect_eq "blank lines only, --header: exit 0, only the output header" "0 y" \
  "$rc $(cat "$tmp/out/blank.csv" 2>&1)"
rm -f "$tmp"/out/*

# --- endless or odd inputs and model files (classes 1, 19, 20) ----------------
rf run "$model" -i /dev/zero -o "$tmp/out/z.csv" -q
expect_error "/dev/zero as CSV rows: exit 4 (line too long), no hang" 4 "^rowflow: error: /dev/zero:1: line too long"
rf run "$model" -i /dev/zero -o "$tmp/out/z.csv" -q --format npy
expect_error "/dev/zero as .npy rows: exit 4 (no magic), no hang" 4 "^rowflow: error: /dev/zero: not a \.npy file"
rf run "$model" -i "$tmp/missing.csv" -o "$tmp/out/z.csv" -q
expect_error "missing input file: exit 4" 4 "missing\.csv: No such file or directory$"
rf run "$model" -i "$tmp" -o "$tmp/out/z.csv" -q
expect_error "a folder as input: exit 4" 4 "Is a directory$"
mkfifo "$tmp/model.fifo"
rf run "$tmp/model.fifo" -i "$tmp/rows.csv" -o "$tmp/out/z.csv" -q
expect_error "a FIFO nobody writes as the model: exit 3 at once, no hang" 3 "model\.fifo: "
(printf 'garbage that is no model' >"$tmp/model.fifo" &)
rf run "$tmp/model.fifo" -i "$tmp/rows.csv" -o "$tmp/out/z.csv" -q
expect_error "garbage through a FIFO as the model: exit 3" 3 "model\.fifo"
expect_eq "odd inputs and models: nothing left behind" "" "$(listing "$tmp/out")"

# --- argument values the parser cannot convert (class 26) ----------------------
for args in "--threads abc" "--threads 1.5" "--tile x" "--threads 99999999999999999999"; do
  # shellcheck disable=SC2086  # split on purpose
  rf run "$model" -i "$tmp/rows.csv" -o "$tmp/out/t.csv" -q $args
  expect_error "$args: usage error (exit 2), one line" 2 "^rowflow: error: --(threads|tile)[ :]"
  expect_eq "$args: no output" "" "$(listing "$tmp/out")"
done

# --- a run ended by SIGTERM, SIGINT or SIGHUP leaves nothing behind -------------
# Endless rows (`yes`) keep the run writing its temp file until the signal;
# the handler removes the temp file and the process dies by the signal
# (status 128 + its number). Job control (set -m) starts the background job
# with the default SIGINT action: a script's background jobs otherwise
# ignore SIGINT, and rowflow leaves an inherited "ignore" alone.
set -m
for sig in TERM INT HUP; do
  mkdir "$tmp/sig"
  yes 3,5 | "$rowflow" run "$model" -i - -o "$tmp/sig/out.csv" -q 2>"$tmp/err" &
  pid=$!  # the last process of the pipeline: rowflow
  for ((i = 0; i < 100; ++i)); do  # until the temp file has rows, 10 s at most
    [[ -n $(find "$tmp/sig" -name '.out.csv.rowflow-*' -size +0 2>/dev/null) ]] && break
    sleep 0.1
  done
  before=$(listing "$tmp/sig")
  kill -s "$sig" "$pid"
  for ((i = 0; i < 100; ++i)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -s KILL "$pid" 2>/dev/null  # still alive after 10 s: a failure below
  wait "$pid"
  rc=$?
  if [[ $before == .out.csv.rowflow-* && $rc == $((128 + $(kill -l "$sig"))) &&
        -z $(listing "$tmp/sig") && ! -s $tmp/err ]]; then
    pass "SIG$sig mid-run: exit $rc (killed by it), temp file removed, stderr empty"
  else
    fail "SIG$sig mid-run" "expected: a temp file before, exit $((128 + $(kill -l "$sig"))), nothing after, no stderr" \
      "got:      before '$before', exit $rc, after '$(listing "$tmp/sig")', stderr '$(cat "$tmp/err")'"
  fi
  rm -rf "$tmp/sig"
done
set +m

# --- valid but huge shapes (class 11) --------------------------------------------
# x[N] + c[N, 1] broadcasts to an (N, N) value per row; SUM over axis 0
# gives y[N]. Constants stay small: the file is N zeros.
huge_model() {
  local n=$1
  {
    echo 'format_version: 1'
    echo 'name: "huge"'
    echo "inputs { name: \"x\" shape: [$n] }"
    echo "outputs { name: \"y\" shape: [$n] }"
    printf 'constants { name: "c" shape: [%d, 1] float_data: [0' "$n"
    for ((i = 1; i < n; ++i)); do printf ', 0'; done
    echo '] }'
    echo 'nodes { name: "b" op: ADD inputs: ["x", "c"] output: "b" }'
    echo 'nodes { name: "y" op: SUM inputs: ["b"] output: "y" axis: 0 }'
  }
}
huge_model 40000 >"$tmp/over_budget.pbtxt"  # 6.4 GB per row: over the 4 GiB budget
huge_model 4096 >"$tmp/wide.pbtxt"          # 64 MiB per row: within it
awk 'BEGIN { for (i = 0; i < 4096; ++i) printf "%s1", i ? "," : ""; print "" }' >"$tmp/wide_row.csv"
awk 'BEGIN { for (i = 0; i < 40000; ++i) printf "%s1", i ? "," : ""; print "" }' >"$tmp/over_row.csv"
limit=()
if [[ $sanitized != 1 ]]; then
  limit=(prlimit --as=$((2 * 1024 * 1024 * 1024)))
fi
rc=0
"${limit[@]}" timeout 60 "$rowflow" run "$tmp/over_budget.pbtxt" -i "$tmp/over_row.csv" \
  -o "$tmp/out/h.csv" -q 2>"$tmp/err" || rc=$?
expect_error "6.4 GB per row (${limit[*]:-no limit}): exit 3 naming the budget, nothing allocated" 3 \
  "graph needs 6400480000 bytes .*over the memory budget of [0-9]+ bytes$"
if [[ $sanitized != 1 ]]; then
  # Within the budget, the automatic tile shrinks to fit 64 MiB instead of
  # asking for 256 rows (16 GiB): it runs under 2 GiB of address space.
  rc=0
  out=$("${limit[@]}" timeout 60 "$rowflow" run "$tmp/wide.pbtxt" -i "$tmp/wide_row.csv" \
    -o - -q 2>"$tmp/err" | tr ',' '\n' | sort -u | tr '\n' ' ') || rc=$?
  expect_eq "64 MiB per row under ${limit[*]}: exit 0, every output 4096" "0 4096 ''" \
    "$rc $out'$(cat "$tmp/err")'"
  # An explicit tile of 256 such rows cannot fit: a clean out-of-memory
  # error (exit 1), never an abort or a kill, and no temp file.
  rc=0
  "${limit[@]}" timeout 60 "$rowflow" run "$tmp/wide.pbtxt" -i "$tmp/wide_row.csv" \
    -o "$tmp/out/h.csv" -q --tile 256 2>"$tmp/err" || rc=$?
  expect_error "--tile 256 of 64 MiB rows under ${limit[*]}: exit 1, out of memory" 1 \
    "^rowflow: error: out of memory$"
fi
expect_eq "huge shapes: nothing left behind" "" "$(listing "$tmp/out")"

checks_summary
