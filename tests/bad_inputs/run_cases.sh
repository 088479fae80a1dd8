#!/usr/bin/env bash
# The golden bad-input suite runner (RELIABILITY.md "Tests").
#
#   run_cases.sh ROWFLOW CASE_DIR...    # one or more case folders
#   run_cases.sh ROWFLOW SUITE_DIR      # every subfolder holding a case.txt
#
# A case folder holds its input files and a case.txt of "key: value" lines
# ('#' starts a comment line):
#   args: run {dir}/model.pbtxt -i {dir}/rows.csv -o {out}/out.csv
#         rowflow's arguments, split on blanks; {dir} is the case folder,
#         {out} a fresh empty temp folder (any subcommand: build, run, ...)
#   exit: 4                      expected exit code
#   message: <ERE>               must match stderr (grep -E)
#   stdin: <path>                fed to stdin ({dir} allowed; default /dev/null)
#   expect_output: <file>        success cases: {out} must then hold exactly
#                                one file, byte-identical to {dir}/<file>
#   expect_stdout: <file>        stdout must be byte-identical to {dir}/<file>
#   file_size_limit: <KiB>       run under `ulimit -f <KiB>`
# A failing case (exit != 0) must print exactly one stderr line starting
# "rowflow: error: " (argument parser errors too: any hint is on that line)
# and leave {out} empty: no partial output, no temp file.
set -u

if [[ $# -lt 2 ]]; then
  echo "usage: $0 ROWFLOW CASE_DIR..." >&2
  exit 2
fi
rowflow=$1
shift

failures=0
failed_cases=0
cases=0

fail() {
  echo "FAIL $case_name: $*"
  failures=$((failures + 1))
  case_failed=1
}

run_case() {
  local dir
  dir=$(cd "$1" && pwd)
  case_name=$(basename "$dir")
  case_failed=0
  cases=$((cases + 1))
  local args="" want_exit="" message="" stdin="/dev/null" expect="" expect_stdout=""
  local fsize=unlimited
  local line key value
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    key=${line%%:*}
    value=${line#*:}
    value=${value#"${value%%[![:space:]]*}"}
    case $key in
      args) args=$value ;;
      exit) want_exit=$value ;;
      message) message=$value ;;
      stdin) stdin=$value ;;
      expect_output) expect=$value ;;
      expect_stdout) expect_stdout=$value ;;
      file_size_limit) fsize=$value ;;
      *) fail "case.txt: unknown key '$key'"; return ;;
    esac
  done <"$dir/case.txt"
  if [[ -z $args || -z $want_exit ]]; then
    fail "case.txt needs 'args:' and 'exit:'"
    return
  fi

  local scratch out
  scratch=$(mktemp -d)
  out="$scratch/out"
  mkdir "$out"
  local -a words
  read -ra words <<<"$args"
  local i
  for i in "${!words[@]}"; do
    words[i]=${words[i]//\{dir\}/$dir}
    words[i]=${words[i]//\{out\}/$out}
  done
  stdin=${stdin//\{dir\}/$dir}

  (ulimit -f "$fsize" && exec timeout 60 "$rowflow" "${words[@]}") \
    <"$stdin" >"$scratch/stdout" 2>"$scratch/stderr"
  local got_exit=$?
  local stderr
  stderr=$(cat "$scratch/stderr")

  if [[ $got_exit == 124 ]]; then
    fail "timed out after 60 s"
  elif [[ $got_exit != "$want_exit" ]]; then
    fail "exit code: expected $want_exit, got $got_exit"
  fi
  if [[ -n $message ]] && ! grep -Eq -- "$message" "$scratch/stderr"; then
    fail "stderr does not match /$message/"
  fi
  if [[ $want_exit != 0 ]]; then
    local lines
    lines=$(wc -l <"$scratch/stderr")
    if [[ $stderr != "rowflow: error: "* ]]; then
      fail "stderr does not start with 'rowflow: error: '"
    elif [[ $lines != 1 ]]; then
      fail "expected one stderr line, got $lines"
    fi
    if [[ -n $(ls -A "$out") ]]; then
      fail "output folder not empty: $(ls -A "$out" | tr '\n' ' ')"
    fi
  fi
  if [[ -n $expect ]]; then
    local produced
    produced=$(ls -A "$out")
    if [[ $(ls -A "$out" | wc -l) != 1 ]]; then
      fail "expected exactly one output file, got: ${produced:-none}"
    elif ! cmp -s "$out/$produced" "$dir/$expect"; then
      fail "output $produced differs from $expect:"$'\n'"$(diff "$dir/$expect" "$out/$produced" | head -20)"
    fi
  fi
  if [[ -n $expect_stdout ]] && ! cmp -s "$scratch/stdout" "$dir/$expect_stdout"; then
    fail "stdout differs from $expect_stdout:"$'\n'"$(diff "$dir/$expect_stdout" "$scratch/stdout" | head -20)"
  fi
  if [[ $case_failed != 0 ]]; then
    failed_cases=$((failed_cases + 1))
    echo "  command: rowflow ${words[*]}"
    echo "  stderr:  ${stderr:-<empty>}"
  else
    echo "ok   $case_name"
  fi
  rm -rf "$scratch"
}

for arg in "$@"; do
  if [[ -f $arg/case.txt ]]; then
    run_case "$arg"
  elif [[ -d $arg ]]; then
    for d in "$arg"/*/; do
      [[ -f $d/case.txt ]] && run_case "$d"
    done
  else
    echo "no such case folder: $arg" >&2
    failures=$((failures + 1))
  fi
done

echo "$((cases - failed_cases)) of $cases cases passed"
[[ $failures == 0 ]]
