#!/usr/bin/env bash
# tools/bench/peers.py at tiny sizes against numpy alone, so that it never
# rots (PyTorch and ONNX Runtime are left out: the second needs npm):
#   peers_smoke.sh ROWFLOW SOURCE_DIR     (PYTHONPATH: the built package)
# Its tables come out whole and its output check passes; with --tolerance 0
# the same check refuses numpy's rounding (exit 1, one line), so it can fail.
set -u
set -o pipefail

rowflow=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"
peers() { /usr/bin/python3 "$src/tools/bench/peers.py" --rowflow "$rowflow" --quick "$@" 2>"$tmp/err"; }

out=$(peers --peers numpy --workdir "$tmp/w")
code=$?
expect_eq "peers.py --quick --peers numpy: exit 0, nothing on stderr" "0 ''" "$code '$(cat "$tmp/err")'"
expect_eq "the main table: its header and a row per workload" \
  "| workload | rowflow | best peer | rowflow / best peer | where rowflow stands |
seed mid wide tanh" \
  "$(grep -m1 '^| workload | rowflow | best peer' <<<"$out")
$(grep -oE '^\| (seed|mid|wide|tanh) \(' <<<"$out" | tr -d '|( ' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the main table's ratios and shares are numbers" 4 \
  "$(grep -cE '^\| (seed|mid|wide|tanh) \(.*\| [0-9.]+× \| .*[0-9]+ % of the (copy bandwidth|FMA limit) \|$' <<<"$out")"
expect_eq "the latency table: rows per call 1, 16, 256, 4096, rowflow at 1 and 2 threads and numpy" \
  "1 16 256 4096" \
  "$(grep -E '^\| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
if [[ $out == *"Outputs: every setting of every peer matched rowflow's within 0.0001 "* ]]; then
  pass "the output check passed and says its tolerance"
else
  fail "the output check line" "$out"
fi
expect_eq "the model and rows came out of rowflow bench --save-model / --save-input" \
  "mid.npy mid.pb" "$(cd "$tmp/w" && ls mid.npy mid.pb | tr '\n' ' ' | sed 's/ $//')"

out=$(peers --peers numpy --workloads mid --tolerance 0)
code=$?
expect_eq "--tolerance 0: numpy's rounding is refused, exit 1, one line" \
  "1 1 peers.py: mid: numpy's output differs from rowflow's" \
  "$code $(wc -l <"$tmp/err") $(cut -d: -f1-3 "$tmp/err")"

out=$(peers --peers tensorflow)
expect_eq "--peers tensorflow: refused by the argument parser, exit 2" 2 $?

checks_summary
