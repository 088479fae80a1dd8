# Shared by the shell test scripts (tests/e2e/cli_test.sh,
# tests/fault/cli_fault_test.sh, tests/onnx/onnx_test.sh); source it:
# a scratch folder $tmp removed on exit, and checks that all run, each
# failure printing what was expected and what came.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "ok   $1"; }
fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL $1"
  shift
  for line in "$@"; do echo "     $line"; done
}

# expect_eq NAME EXPECTED GOT
expect_eq() {
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected: $(printf %q "$2")" "got:      $(printf %q "$3")"; fi
}

# checks_summary: prints the count; true when checks ran and none failed.
checks_summary() {
  echo "$((checks - failures)) of $checks checks passed"
  [[ $failures == 0 && $checks -gt 0 ]]
}
