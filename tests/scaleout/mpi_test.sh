#!/usr/bin/env bash
# `rowflow run` under Open MPI (tools/cli/mpi_run.h), on one machine over
# loopback and shared memory:
#   mpi_test.sh ROWFLOW SOURCE_DIR
# Every output made by 1-4 ranks must be byte-identical to one process's
# (CSV and .npy, both directions, rows not divisible by the ranks, fewer
# rows than ranks, a header, CRLF, --keep, blank lines at a part's edge);
# a bad row in the last rank's part is exit 4 with one line naming its
# global line, a rank killed mid-run fails mpirun, and neither leaves an
# output file or a temp file.
set -u
set -o pipefail

rowflow=$1
src=$2
py=/usr/bin/python3
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"

# As root in a container: Open MPI refuses root without both of these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Loopback only: shared memory between the ranks, the launcher on lo; no
# single-copy (CMA needs ptrace rights a container may not grant).
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo
# Under ASan (.ci/run's second pass) libmpi's own allocations at exit are
# reported as leaks: leak checking is off for the ranks, ASan stays on.
# Open MPI's memory patcher (hooks on munmap for RDMA caches, unused over
# shared memory) is off there too, so that it does not wrap ASan's hooks.
if [[ -n ${ASAN_OPTIONS:-} ]]; then
  export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" OMPI_MCA_memory=^patcher
fi

mpi() {
  local np=$1
  shift
  mpirun -q --oversubscribe --allow-run-as-root --bind-to none -np "$np" "$rowflow" "$@"
}

# no_leftovers DIR: no temp file of an unfinished output in DIR.
no_leftovers() { ! ls -a "$1" | grep -q '\.rowflow-'; }

# same NAME NP REFERENCE OUT ARGS...: mpirun -np NP rowflow ARGS -o OUT
# succeeds and OUT is REFERENCE's bytes.
same() {
  local name=$1 np=$2 ref=$3 out=$4
  shift 4
  rm -f "$out"
  if mpi "$np" "$@" -o "$out" -q 2>"$tmp/err" && cmp -s "$ref" "$out" && no_leftovers "$(dirname "$out")"; then
    pass "$name"
  else
    fail "$name" "expected $out = $ref" "$(cat "$tmp/err")" "$(cmp "$ref" "$out" 2>&1)"
  fi
}

# refused NAME NP CODE PATTERN OUT ARGS...: exit CODE, one stderr line
# (from whichever rank reports) matching PATTERN, no OUT, no temp file.
refused() {
  local name=$1 np=$2 code=$3 pattern=$4 out=$5
  shift 5
  rm -f "$out"
  mpi "$np" "$@" -o "$out" -q >/dev/null 2>"$tmp/err"
  local got=$? lines
  lines=$(grep -c . "$tmp/err")
  if [[ $got == "$code" && $lines == 1 ]] && grep -Eq -- "$pattern" "$tmp/err" &&
     [[ ! -e $out ]] && no_leftovers "$(dirname "$out")"; then
    pass "$name"
  else
    fail "$name" "expected exit $code, one line matching: $pattern, no $out" \
      "got exit $got, $lines lines: $(cat "$tmp/err")" "$(ls -a "$(dirname "$out")" | grep rowflow-)"
  fi
}

"$rowflow" build -q "$src/tools/examples/seed_4_5.pbtxt" -o "$tmp/m.pb" || fail build
"$rowflow" build -q "$src/tools/examples/seed_3_3.pbtxt" -o "$tmp/m64.pb" || fail build64
"$py" - "$tmp" <<'PY'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(16)
x = rng.standard_normal((10007, 2)).astype(np.float32)
def csv(path, rows, nl="\n", header=None):
    with open(path, "w", newline="") as f:
        if header: f.write(header + nl)
        for r in rows:
            f.write(",".join(np.format_float_positional(v) for v in r) + nl)
csv(f"{d}/rows.csv", x)
csv(f"{d}/head.csv", x, header="x0,x1")
csv(f"{d}/crlf.csv", x, nl="\r\n")
csv(f"{d}/three.csv", x[:3])
np.save(f"{d}/rows.npy", x)
np.save(f"{d}/three.npy", x[:3])
np.save(f"{d}/rows64.npy", rng.standard_normal((5001, 2)))
with open(f"{d}/keep.csv", "w") as f:
    f.write("id,x0,x1\n")
    for i, r in enumerate(x[:5000]):
        f.write(f'"id {i}",' + ",".join(np.format_float_positional(v) for v in r) + "\n")
bad = open(f"{d}/rows.csv").read().split("\n")
bad[9990] = "1.5,oops"  # line 9991, in the last of 2, 3 or 4 parts
open(f"{d}/bad.csv", "w").write("\n".join(bad))
# Blank lines in the middle: an error in one pass ("empty row"), wherever
# the parts' edges fall.
lines = open(f"{d}/three.csv").read().split("\n")
open(f"{d}/blank.csv", "w").write(lines[0] + "\n" + "\n" * 40 + lines[1] + "\n")
# A NaN in row 9000 (0-based), in the last of 3 parts, after a header and
# comment lines (rows and lines differ), for --check-finite; and the same
# rows without it for an injected kernel fault.
nan = x.copy()
nan[9000, 1] = np.nan
np.save(f"{d}/nan.npy", nan)
def commented(path, rows):
    with open(path, "w") as f:
        f.write("x0,x1\n")
        for i, r in enumerate(rows):
            if i % 1000 == 5:
                f.write("# a comment\n")
            f.write(",".join(np.format_float_positional(v) for v in r) + "\n")
commented(f"{d}/nan.csv", nan)
commented(f"{d}/comments.csv", x)
# A quoted field holding a newline (refused under mpirun).
open(f"{d}/quoted.csv", "w").write('id,x0,x1\n"a\nb",1,2\n"c",3,4\n')
PY

# One process, the reference for each.
one() { "$rowflow" run "$@" -q 2>"$tmp/err" || fail "reference $*" "$(cat "$tmp/err")"; }
one "$tmp/m.pb" -i "$tmp/rows.csv" -o "$tmp/ref.csv" --tile 64
one "$tmp/m.pb" -i "$tmp/rows.npy" -o "$tmp/ref.npy"
one "$tmp/m.pb" -i "$tmp/rows.npy" -o "$tmp/ref_npy.csv"
one "$tmp/m.pb" -i "$tmp/rows.csv" -o "$tmp/ref_csv.npy"
one "$tmp/m.pb" -i "$tmp/head.csv" -o "$tmp/ref_head.csv" --header
one "$tmp/m.pb" -i "$tmp/crlf.csv" -o "$tmp/ref_crlf.csv"
one "$tmp/m.pb" -i "$tmp/three.csv" -o "$tmp/ref_three.csv"
one "$tmp/m.pb" -i "$tmp/three.npy" -o "$tmp/ref_three.npy"
one "$tmp/m64.pb" -i "$tmp/rows64.npy" -o "$tmp/ref64.npy"
one "$tmp/m.pb" -i "$tmp/keep.csv" -o "$tmp/ref_keep.csv" --header --keep id

o=$tmp/out
mkdir -p "$o"
for np in 1 2 3 4; do
  same "csv -np $np" "$np" "$tmp/ref.csv" "$o/p.csv" run "$tmp/m.pb" -i "$tmp/rows.csv" --tile 64
  same "npy -np $np" "$np" "$tmp/ref.npy" "$o/p.npy" run "$tmp/m.pb" -i "$tmp/rows.npy"
done
same "npy in, csv out -np 3" 3 "$tmp/ref_npy.csv" "$o/p.csv" run "$tmp/m.pb" -i "$tmp/rows.npy"
same "csv in, npy out -np 3" 3 "$tmp/ref_csv.npy" "$o/p.npy" run "$tmp/m.pb" -i "$tmp/rows.csv"
same "f64 npy -np 2" 2 "$tmp/ref64.npy" "$o/p.npy" run "$tmp/m64.pb" -i "$tmp/rows64.npy" --threads 1
same "3 rows, 4 ranks, csv" 4 "$tmp/ref_three.csv" "$o/p.csv" run "$tmp/m.pb" -i "$tmp/three.csv"
same "3 rows, 4 ranks, npy" 4 "$tmp/ref_three.npy" "$o/p.npy" run "$tmp/m.pb" -i "$tmp/three.npy"
same "header line -np 3" 3 "$tmp/ref_head.csv" "$o/p.csv" run "$tmp/m.pb" -i "$tmp/head.csv" --header
same "crlf -np 2" 2 "$tmp/ref_crlf.csv" "$o/p.csv" run "$tmp/m.pb" -i "$tmp/crlf.csv"
same "keep + header -np 3" 3 "$tmp/ref_keep.csv" "$o/p.csv" run "$tmp/m.pb" -i "$tmp/keep.csv" --header --keep id

# Errors: global line numbers, one line, no output file.
refused "bad row in the last part -np 3" 3 4 '^rowflow: error: .*bad\.csv:9991:5: not a number' \
  "$o/p.csv" run "$tmp/m.pb" -i "$tmp/bad.csv"
refused "bad row in the last part -np 4" 4 4 '^rowflow: error: .*bad\.csv:9991:5: not a number' \
  "$o/p.csv" run "$tmp/m.pb" -i "$tmp/bad.csv" --tile 16
# like_one NAME NP FILE ARGS...: refused with one process's exit code and
# its very message line (global line numbers), no output, no temp file.
like_one() {
  local name=$1 np=$2 in=$3
  shift 3
  "$rowflow" run "$tmp/m.pb" -i "$in" -o "$tmp/x.out" -q "$@" 2>"$tmp/err1"
  local want=$?
  rm -f "$o/p.csv"
  mpi "$np" run "$tmp/m.pb" -i "$in" -o "$o/p.csv" -q "$@" >/dev/null 2>"$tmp/err"
  local got=$?
  if [[ $got == "$want" && $want != 0 ]] && cmp -s "$tmp/err1" "$tmp/err" &&
     [[ ! -e $o/p.csv ]] && no_leftovers "$o"; then
    pass "$name"
  else
    fail "$name" "expected exit $want: $(cat "$tmp/err1")" "got exit $got: $(cat "$tmp/err")"
  fi
}
like_one "bad row: one process's message -np 2" 2 "$tmp/bad.csv"
like_one "empty lines before a later part's rows -np 4" 4 "$tmp/blank.csv"
like_one "empty lines, general path -np 3" 3 "$tmp/blank.csv" --comment '#'
# Row numbers in kernel and --check-finite errors are global, and a part's
# tiles are cut where one process cuts them: the very same line (for a
# kernel fault, whose message names the tile, with a tile smaller than a
# part; a tiny model's default tile holds all 10007 rows in one process).
like_one "NaN in the last part, --check-finite, npy -np 3" 3 "$tmp/nan.npy" --check-finite
like_one "NaN in the last part, --check-finite, csv -np 3" 3 "$tmp/nan.csv" --check-finite \
  --header --comment '#'
# Row 9000 is line 9011 (a header and 9 comment lines before it), in one
# process and under mpirun.
refused "NaN after comments: its real global line -np 3" 3 4 \
  '^rowflow: error: .*nan\.csv:9011: column 2 is nan; expected finite values' \
  "$o/p.csv" run "$tmp/m.pb" -i "$tmp/nan.csv" --check-finite --header --comment '#'
export ROWFLOW_TEST_FAIL_ROW=9000
like_one "kernel fault in the last part, npy -np 3" 3 "$tmp/rows.npy" --tile 1000
like_one "kernel fault in the last part, npy, --tile 100 -np 4" 4 "$tmp/rows.npy" --tile 100
like_one "kernel fault in the last part, csv, --tile 64 -np 3" 3 "$tmp/comments.csv" \
  --header --comment '#' --tile 64
unset ROWFLOW_TEST_FAIL_ROW
printf '1,2\n\n\n\n' >"$tmp/trail.csv"
same "empty lines at the end only -np 4" 4 <("$rowflow" run "$tmp/m.pb" -i "$tmp/trail.csv" -o - -q) \
  "$o/p.csv" run "$tmp/m.pb" -i "$tmp/trail.csv"
head -c 2000 "$tmp/rows.npy" >"$tmp/short.npy"
refused "truncated npy -np 2" 2 4 'short\.npy: truncated \.npy data: expected 10007 rows, data ends in row 235$' \
  "$o/p.npy" run "$tmp/m.pb" -i "$tmp/short.npy"
refused "quoted newline -np 2" 2 4 'quoted\.csv:2: a quoted field holds a newline; under mpirun' \
  "$o/p.csv" run "$tmp/m.pb" -i "$tmp/quoted.csv" --header --keep id
gzip -c "$tmp/rows.csv" >"$tmp/rows.csv.gz"
refused "compressed input -np 2" 2 2 'rows\.csv\.gz: compressed input cannot be read in parts under mpirun' \
  "$o/p.csv" run "$tmp/m.pb" -i "$tmp/rows.csv.gz"
refused "stdin -np 2" 2 2 '-i - under mpirun' "$o/p.csv" run "$tmp/m.pb" -i -

# A rank killed after its first tile (rank 1; rank 0, which holds the temp
# file): mpirun fails, nothing at the path, and no temp file. mpirun's
# SIGKILL follows its SIGTERM as soon as one rank has exited, so rank 0's
# SIGTERM handler may never run (and never does when rank 0 is the one
# killed): rank 0's watcher process removes the temp file once rank 0 is
# gone, which may be just after mpirun returned, hence the wait (bounded,
# for a hang; not a speed check).
gone_within() {  # gone_within DIR: no temp file in DIR, waiting up to 30 s
  local i
  for ((i = 0; i < 300; ++i)); do
    no_leftovers "$1" && return 0
    sleep 0.1
  done
  return 1
}
for k in 1 0; do
  rm -f "$o/p.csv"
  ROWFLOW_TEST_MPI_KILL_RANK=$k mpirun --oversubscribe --allow-run-as-root --bind-to none \
    -x ROWFLOW_TEST_MPI_KILL_RANK -np 3 "$rowflow" run "$tmp/m.pb" -i "$tmp/rows.csv" \
    -o "$o/p.csv" --tile 64 -q >/dev/null 2>"$tmp/err"
  code=$?
  if [[ $code != 0 && ! -e $o/p.csv ]]; then pass "rank $k killed mid-run"; else
    fail "rank $k killed mid-run" "expected mpirun to fail, no output" "exit $code: $(head -3 "$tmp/err")"; fi
  if gone_within "$o"; then pass "no temp file after rank $k's kill"; else
    fail "no temp file after rank $k's kill" "$(ls -a "$o")"; fi
done

# The summary: one line, from rank 0, with the total rows.
mpi 2 run "$tmp/m.pb" -i "$tmp/rows.npy" -o "$o/p.npy" 2>"$tmp/err"
if [[ $(grep -c . "$tmp/err") == 1 ]] && grep -Eq '^rowflow: 10007 rows in .* rows/s\), 2 ranks x 1 thread, tile' "$tmp/err"; then
  pass "summary line"
else
  fail "summary line" "$(cat "$tmp/err")"
fi

checks_summary
