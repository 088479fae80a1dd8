#!/usr/bin/env bash
# The shape of `rowflow bench`'s output and options, through the built
# binary (no timed assertions: figures only have to be there and positive,
# and the shares have to be the figures over the limits):
#   bench_cli_test.sh ROWFLOW
# --limits (text, --json), the limit fields of a sweep's --json and their
# absence under --no-limits, --dtype f64, --save-model / --save-input, and
# the refusals (one line, exit 2). Needs /usr/bin/python3 with numpy.
set -u
set -o pipefail

rowflow=$1
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"
py=/usr/bin/python3

rf() { "$rowflow" "$@" 2>"$tmp/err"; }

# check_json NAME SCRIPT < LINES: SCRIPT sees `points` (the parsed lines)
# and prints "ok" or what is wrong.
check_json() {
  local got
  got=$($py -c "import json, sys
points = [json.loads(l) for l in sys.stdin if l.strip()]
$2" 2>&1)
  expect_eq "$1" ok "$got"
}

# --- --limits alone: one object per thread count ------------------------------
rf bench --limits --threads 1,2 --json >"$tmp/limits.json"
expect_eq "--limits --json: exit 0, nothing on stderr" "0 ''" "$? '$(cat "$tmp/err")'"
check_json "--limits --json: threads 1 and 2, every limit a positive number" '
keys = ("fma_gflops_f32", "fma_gflops_f64", "copy_gbytes_per_s", "copy_buffer_bytes")
bad = [p for p in points if not (p.get("fma_isa") and all(
    isinstance(p.get(k), (int, float)) and p[k] > 0 for k in keys))]
print("ok" if [p["threads"] for p in points] == [1, 2] and not bad
      else f"got {points}")' <"$tmp/limits.json"
check_json "--limits: the copy buffer is at least 256 MiB" '
print("ok" if all(p["copy_buffer_bytes"] >= 256 << 20 for p in points) else points)' \
  <"$tmp/limits.json"

out=$(rf bench --limits --threads 1)
if [[ $out == "machine limits, best of 3: FMA loop ("*"), memcpy of "*" MiB (read + write)"* &&
      $(grep -cE '^ +1 +[0-9.]+ +[0-9.]+ +[0-9.]+$' <<<"$out") == 1 ]]; then
  pass "--limits (text): the heading and one row for 1 thread"
else
  fail "--limits (text)" "$out" "$(cat "$tmp/err")"
fi

# --- a sweep: the limit fields, consistent with the figures ------------------
rf bench --workload seed --rows 20000 --threads 1,2 --repeat 1 --json >"$tmp/seed.json"
expect_eq "bench seed --json: exit 0" 0 $?
check_json "bench seed --json: limits and shares on every point, shares = figure / limit" '
bad = []
for p in points:
    if p["bytes_per_row"] != 12:  # 2 f32 in, 1 out
        bad.append(("bytes_per_row", p["bytes_per_row"]))
    for k in ("fma_limit_gflops", "copy_limit_gbytes_per_s", "fma_fraction",
              "copy_fraction", "gbytes_per_s", "gflops"):
        if not (isinstance(p.get(k), (int, float)) and p[k] > 0):
            bad.append((k, p.get(k)))
    if not bad:
        # Each share must lie in what its rounded inputs allow: the shares
        # are rounded to 0.001, gflops to 0.01, the FMA limit to 0.1 and the
        # copy limit to 0.01 (rows_per_s is whole rows/s, exact enough).
        def within(share, figure, df, limit, dl):
            lo = (figure - df) / (limit + dl) - 0.0005
            hi = (figure + df) / (limit - dl) + 0.0005 if limit > dl else float("inf")
            return lo - 1e-9 <= share <= hi + 1e-9
        gbps = p["rows_per_s"] * 12 / 1e9
        if not within(p["copy_fraction"], gbps, 1e-9, p["copy_limit_gbytes_per_s"], 0.005):
            bad.append(("copy_fraction", p))
        if not within(p["fma_fraction"], p["gflops"], 0.005, p["fma_limit_gflops"], 0.05):
            bad.append(("fma_fraction", p))
print("ok" if len(points) == 2 and not bad else f"{len(points)} points; {bad}")' \
  <"$tmp/seed.json"

rf bench --workload seed --rows 20000 --threads 1 --repeat 1 --json --no-limits >"$tmp/nolim.json"
check_json "--no-limits --json: no limit fields, bytes_per_row still there" '
p = points[0]
print("ok" if len(points) == 1 and "fma_limit_gflops" not in p and "copy_fraction" not in p
      and p["bytes_per_row"] == 12 else p)' <"$tmp/nolim.json"

out=$(rf bench --workload seed --rows 20000 --threads 1 --repeat 1)
if [[ $out == *" of FMA  of copy"* && $out == *"machine limits, best of 3"* &&
      $(grep -cE '^ +1 +[0-9]+ .* [0-9]+ % +[0-9]+ %$' <<<"$out") == 1 ]]; then
  pass "bench (text): of-FMA / of-copy columns and the limits below the table"
else
  fail "bench (text): limits" "$out"
fi
out=$(rf bench --workload seed --rows 20000 --threads 1 --repeat 1 --no-limits)
if [[ $out != *"of FMA"* && $out != *"machine limits"* && $out == "seed (F32): 20000 rows, "* ]]; then
  pass "bench --no-limits (text): neither the columns nor the limits"
else
  fail "bench --no-limits (text)" "$out"
fi

# --- --dtype f64 --------------------------------------------------------------
rf bench --workload mid --dtype f64 --rows 2000 --threads 1 --repeat 1 --json --no-limits >"$tmp/f64.json"
check_json "bench --workload mid --dtype f64: an F64 point, (64 + 10) x 8 bytes a row" '
p = points[0]
print("ok" if p["dtype"] == "F64" and p["bytes_per_row"] == 592 and p["rows_per_s"] > 0
      and p["identical_output"] else p)' <"$tmp/f64.json"
rf bench --workload mid --dtype f64 --save-model "$tmp/mid64.pbtxt"
expect_eq "--dtype f64 --save-model: the model file says F64" 1 \
  "$(grep -c '^dtype: F64' "$tmp/mid64.pbtxt")"

# --- --save-model / --save-input: the same model and rows for a peer ---------
rf bench --workload tanh --rows 300 --save-model "$tmp/tanh.pb" --save-input "$tmp/x300.npy"
expect_eq "--save-model --save-input: exit 0, no table" "0 ''" "$? '$(cat "$tmp/err")'"
rf bench --workload tanh --rows 100 --save-input "$tmp/x100.npy"
got=$($py -c "import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
print(a.shape, a.dtype, bool((a[:100] == b).all()), bool((np.abs(a) <= 10).all()))" \
  "$tmp/x300.npy" "$tmp/x100.npy")
expect_eq "--save-input: (rows, 32) f32 in [-10, 10], the same stream for any --rows" \
  "(300, 32) float32 True True" "$got"
rf run "$tmp/tanh.pb" -i "$tmp/x300.npy" -o "$tmp/y.npy" -q
expect_eq "the saved model runs the saved rows: (300, 1)" "(300, 1)" \
  "$($py -c "import numpy as np, sys; print(np.load(sys.argv[1]).shape)" "$tmp/y.npy")"
expect_eq "the saved model is the workload: same FLOP/row as bench --workload tanh" \
  "$(rf bench --workload tanh --rows 10 --repeat 1 --threads 1 --no-limits | head -1 | sed 's/^tanh/M/')" \
  "$(rf bench "$tmp/tanh.pb" --rows 10 --repeat 1 --threads 1 --no-limits | head -1 | sed 's/^tanh/M/')"

# --- refusals: one line, exit 2 -----------------------------------------------
refuse() {  # refuse NAME EXPECTED_LINE ARGS...
  local name=$1 want=$2
  shift 2
  out=$(rf bench "$@")
  local code=$?
  expect_eq "$name: exit 2, one line, no output" "2 1 '' $want" \
    "$code $(wc -l <"$tmp/err") '$out' $(cat "$tmp/err")"
}
refuse "--dtype f16" "rowflow: error: --dtype: f16 not in {f32,f64}; see 'rowflow bench --help'" \
  --workload mid --dtype f16
refuse "--dtype with a MODEL" "rowflow: error: --dtype picks a --workload's dtype; a MODEL has its own" \
  "$tmp/tanh.pb" --dtype f64
refuse "--limits with --workload" \
  "rowflow: error: --limits measures the machine alone; give it without a MODEL, --workload, --dtype or --save-*" \
  --limits --workload mid
refuse "--limits --no-limits" "rowflow: error: give --limits or --no-limits, not both" \
  --limits --no-limits
refuse "--save-input not .npy" "rowflow: error: --save-input writes .npy; got 'x.csv' (name it *.npy)" \
  --workload mid --save-input x.csv
refuse "--limits --threads -1" "rowflow: error: --threads must be 0 (all cores) or 1..1024; got -1" \
  --limits --threads -1
[[ ! -e x.csv ]] && pass "a refused --save-input wrote nothing" || fail "x.csv was written"

checks_summary
