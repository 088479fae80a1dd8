#!/usr/bin/env bash
# The CLI on generated big models (tests/plan/big_graph_gen):
#  - a chain one node over the limit (graph/validate.h kMaxNodes) is refused
#    by `run` and `inspect` with exit 3 and one line, and `run` leaves no
#    output file;
#  - chains and fans of 1e5 nodes run to the exact result, within 1 GiB of
#    address space; of 1e6 nodes, `inspect` (load, validate, plan) stays
#    within 2 GiB.
# With SANITIZED=1 (ASan reserves terabytes of address space up front) the
# address-space limits and the 1e6-node cases are skipped; the rest runs.
#
# Usage: cli_scale_test.sh ROWFLOW BIG_GRAPH_GEN SANITIZED
set -u
rowflow=$1
gen=$2
sanitized=${3:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# limited MIB CMD...: runs CMD with at most MIB MiB of address space (none
# under sanitizers) and a 300 s guard against a hang.
limited() {
  local mib=$1
  shift
  if [[ $sanitized == 1 ]]; then
    timeout 300 "$@"
  else
    timeout 300 prlimit --as=$((mib * 1024 * 1024)) "$@"
  fi
}

# Over the node limit: exit 3, exactly one line, no output file.
max_nodes=1048576
over=$work/over.pb
"$gen" chain $((max_nodes + 1)) "$over" || fail "cannot generate $over"
want="rowflow: error: $over: too many nodes for rowflow's limits; expected at most $max_nodes, got $((max_nodes + 1))"
printf '1,-1\n' > "$work/x2.csv"
printf '1\n' > "$work/x1.csv"
for cmd in run inspect; do
  args=("$cmd" "$over")
  [[ $cmd == run ]] && args+=(-i "$work/x2.csv" -o "$work/over.csv")
  limited 1024 "$rowflow" "${args[@]}" > "$work/stdout" 2> "$work/stderr"
  rc=$?
  [[ $rc == 3 ]] || fail "$cmd over the limit: exit $rc, expected 3"
  [[ $(wc -l < "$work/stderr") == 1 ]] ||
    fail "$cmd over the limit: stderr is not one line: $(head -c 500 "$work/stderr")"
  [[ $(cat "$work/stderr") == "$want" ]] ||
    fail "$cmd over the limit: got '$(head -c 500 "$work/stderr")', expected '$want'"
  [[ $cmd == run && -s $work/stdout ]] && fail "run over the limit printed to stdout"
done
[[ -e $work/over.csv ]] && fail "run over the limit left $work/over.csv"
rm -f "$over"

# name nodes input expected-output: `run` within 1 GiB gives the exact row.
# chain: x * x * ... * x (nodes + 1 factors); fan_add: (nodes + 1) / 2 x^2
# added up; fan_concat: nodes - 1 copies of x^2.
run_case() {
  local shape=$1 nodes=$2 input=$3 want=$4
  local model=$work/$shape.$nodes.pb
  "$gen" "$shape" "$nodes" "$model" || fail "cannot generate $model"
  limited 1024 "$rowflow" run "$model" -i "$input" -o "$work/out.csv" \
    --threads 2 2> "$work/stderr"
  local rc=$?
  if [[ $rc != 0 ]]; then
    fail "run $shape $nodes: exit $rc: $(head -c 500 "$work/stderr")"
  elif [[ $(cat "$work/out.csv") != "$want" ]]; then
    fail "run $shape $nodes: got '$(head -c 200 "$work/out.csv")', expected '$want'"
  fi
  rm -f "$model" "$work/out.csv"
}
run_case chain 100000 "$work/x2.csv" "1,-1"
run_case fan_add 99999 "$work/x1.csv" "50000"
printf '2\n' > "$work/two.csv"
run_case fan_concat 100000 "$work/two.csv" "$(yes 4 | head -n 99999 | paste -sd,)"

# name nodes: `inspect` (load, validate, plan) within 2 GiB.
inspect_case() {
  local shape=$1 nodes=$2
  local model=$work/$shape.$nodes.pb
  "$gen" "$shape" "$nodes" "$model" --reverse || fail "cannot generate $model"
  limited 2048 "$rowflow" inspect "$model" > "$work/stdout" 2> "$work/stderr"
  local rc=$?
  if [[ $rc != 0 ]]; then
    fail "inspect $shape $nodes: exit $rc: $(head -c 500 "$work/stderr")"
  elif ! grep -q "^nodes: *$nodes " "$work/stdout"; then
    fail "inspect $shape $nodes: no 'nodes: $nodes' line"
  fi
  rm -f "$model"
}
if [[ $sanitized == 1 ]]; then
  echo "skipped: 1e6-node cases (sanitizer build)"
else
  inspect_case chain 1000000
  inspect_case fan_add 999999
fi

if [[ $failures != 0 ]]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all scale cases passed"
