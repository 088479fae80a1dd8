#!/usr/bin/env bash
# End-to-end tests of compressed rows, the same-file refusal and the
# wrong-kind hints, through the built binary:
#   real_files_test.sh ROWFLOW SOURCE_DIR
# gzip/zstd in and out (files and stdin, CSV and .npy) must give the plain
# run's bytes exactly, decompressed with Debian's gzip and zstd tools;
# corrupt or truncated input is exit 4 with one line and no output file;
# -o naming -i (path, symlink, hard link, redirected stdin/stdout) is exit 2
# with the input unchanged; each wrong kind of file gets its hint.
set -u
set -o pipefail

rowflow=$1
src=$2
examples=$src/tools/examples
py=/usr/bin/python3
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"

rf() { "$rowflow" "$@" 2>"$tmp/err"; }

# expect_refusal NAME CODE PATTERN OUTPUT ARGS...: rowflow ARGS exits CODE
# with exactly one stderr line matching PATTERN, and OUTPUT does not exist.
expect_refusal() {
  local name=$1 code=$2 pattern=$3 out=$4
  shift 4
  rf "$@" >/dev/null
  local got=$? lines
  lines=$(wc -l <"$tmp/err")
  if [[ $got == "$code" && $lines == 1 ]] && grep -Eq -- "$pattern" "$tmp/err" &&
     [[ ! -e $out ]] && ! ls -a "$(dirname "$out")" | grep -q '\.rowflow-'; then
    pass "$name"
  else
    fail "$name" "expected exit $code, one line matching: $pattern, no $out" \
      "got exit $got, $lines lines: $(cat "$tmp/err")" "$(ls -a "$(dirname "$out")" | grep rowflow-)"
  fi
}

rf build -q "$examples/seed_4_5.pbtxt" -o "$tmp/m.pb" || fail "build" "$(cat "$tmp/err")"
# 30000 rows of real-valued pairs (numpy's shortest float32 text), and the
# same as .npy.
"$py" - "$tmp" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
x = np.random.default_rng(3).standard_normal((30000, 2)).astype(np.float32)
with open(f"{d}/rows.csv", "w") as f:
    for a, b in x:
        f.write(f"{np.format_float_positional(a)},{np.format_float_positional(b)}\n")
np.save(f"{d}/rows.npy", x)
EOF
rf run "$tmp/m.pb" -i "$tmp/rows.csv" -o "$tmp/plain.csv" -q
rf run "$tmp/m.pb" -i "$tmp/rows.npy" -o "$tmp/plain.npy" -q
[[ $(wc -l <"$tmp/plain.csv") == 30000 ]] || fail "plain run" "$(cat "$tmp/err")"

gzip -k "$tmp/rows.csv"
zstd -q -k "$tmp/rows.csv"
gzip -k "$tmp/rows.npy"
zstd -q -k "$tmp/rows.npy"

# same NAME FILE WANT: FILE's bytes are WANT's.
same() {
  if [[ -s $3 ]] && cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1)" "$(cat "$tmp/err")"; fi
}

# --- compressed input, by magic bytes ---------------------------------------
for z in gz zst; do
  rf run "$tmp/m.pb" -i "$tmp/rows.csv.$z" -o "$tmp/in_$z.csv" -q
  same "CSV .$z input gives the plain run's bytes" "$tmp/in_$z.csv" "$tmp/plain.csv"
  rf run "$tmp/m.pb" -i - -o "$tmp/stdin_$z.csv" -q <"$tmp/rows.csv.$z"
  same "CSV .$z on stdin gives the plain run's bytes" "$tmp/stdin_$z.csv" "$tmp/plain.csv"
  cat "$tmp/rows.csv.$z" | rf run "$tmp/m.pb" -i - -o - -q >"$tmp/pipe_$z.csv"
  same "CSV .$z through a pipe, -i - -o -" "$tmp/pipe_$z.csv" "$tmp/plain.csv"
  rf run "$tmp/m.pb" -i "$tmp/rows.npy.$z" -o "$tmp/in_$z.npy" -q
  same ".npy.$z input gives the plain run's bytes" "$tmp/in_$z.npy" "$tmp/plain.npy"
  rf run "$tmp/m.pb" -i - --format npy -o "$tmp/stdin_$z.npy" -q <"$tmp/rows.npy.$z"
  same ".npy.$z on stdin with --format npy" "$tmp/stdin_$z.npy" "$tmp/plain.npy"
done
# The magic decides, not the name.
cp "$tmp/rows.csv.zst" "$tmp/misnamed.csv"
rf run "$tmp/m.pb" -i "$tmp/misnamed.csv" -o "$tmp/misnamed_out.csv" -q
same "zstd bytes named .csv are read as zstd" "$tmp/misnamed_out.csv" "$tmp/plain.csv"
# Concatenated gzip members, as pigz and `cat a.gz b.gz` write them.
head -n 1000 "$tmp/rows.csv" | gzip >"$tmp/two.csv.gz"
tail -n +1001 "$tmp/rows.csv" | gzip >>"$tmp/two.csv.gz"
rf run "$tmp/m.pb" -i "$tmp/two.csv.gz" -o "$tmp/two.csv" -q
same "two concatenated gzip members read as one input" "$tmp/two.csv" "$tmp/plain.csv"

# --- compressed output, by extension ---------------------------------------
rf run "$tmp/m.pb" -i "$tmp/rows.csv" -o "$tmp/out.csv.gz" -q
gzip -t "$tmp/out.csv.gz" && gzip -dc "$tmp/out.csv.gz" >"$tmp/out_gz.csv"
same "-o out.csv.gz is gzip of the plain output (gzip -dc)" "$tmp/out_gz.csv" "$tmp/plain.csv"
"$py" -c 'import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())' \
  "$tmp/out.csv.gz" >"$tmp/out_pygz.csv"
same "-o out.csv.gz reads back with Python's gzip module" "$tmp/out_pygz.csv" "$tmp/plain.csv"
rf run "$tmp/m.pb" -i "$tmp/rows.csv.gz" -o "$tmp/out.csv.zst" -q
zstd -q -t "$tmp/out.csv.zst" && zstd -q -dc "$tmp/out.csv.zst" >"$tmp/out_zst.csv"
same "gzip in, -o out.csv.zst out (zstd -dc)" "$tmp/out_zst.csv" "$tmp/plain.csv"
for z in gz zst; do
  rf run "$tmp/m.pb" -i "$tmp/rows.npy" -o "$tmp/out.npy.$z" -q
  if [[ $z == gz ]]; then gzip -dc "$tmp/out.npy.$z"; else zstd -q -dc "$tmp/out.npy.$z"; fi >"$tmp/out_$z.npy"
  same "-o out.npy.$z is the plain .npy compressed" "$tmp/out_$z.npy" "$tmp/plain.npy"
done
rf run "$tmp/m.pb" -i "$tmp/rows.csv" -o - -q >"$tmp/stdout.csv"
same "stdout is never compressed" "$tmp/stdout.csv" "$tmp/plain.csv"

# --- corrupt and truncated compressed input: exit 4, one line, no output ---
head -c 20000 "$tmp/rows.csv.gz" >"$tmp/cut.csv.gz"
expect_refusal "truncated gzip input" 4 'cut\.csv\.gz: truncated gzip data' \
  "$tmp/o1.csv" run "$tmp/m.pb" -i "$tmp/cut.csv.gz" -o "$tmp/o1.csv"
head -c 20000 "$tmp/rows.csv.zst" >"$tmp/cut.csv.zst"
expect_refusal "truncated zstd input" 4 'cut\.csv\.zst: truncated zstd data' \
  "$tmp/o2.csv" run "$tmp/m.pb" -i "$tmp/cut.csv.zst" -o "$tmp/o2.csv"
expect_refusal "truncated gzip on stdin" 4 '<stdin>: truncated gzip data' \
  "$tmp/o3.csv" run "$tmp/m.pb" -i - -o "$tmp/o3.csv" <"$tmp/cut.csv.gz"
cp "$tmp/rows.csv.gz" "$tmp/bad.csv.gz"
printf '\xff\xff\xff\xff\xff\xff' | dd of="$tmp/bad.csv.gz" bs=1 seek=3000 conv=notrunc 2>/dev/null
expect_refusal "corrupt gzip input" 4 'bad\.csv\.gz: corrupt gzip data \(.*\) after [0-9]+ bytes' \
  "$tmp/o4.csv.gz" run "$tmp/m.pb" -i "$tmp/bad.csv.gz" -o "$tmp/o4.csv.gz"
# A flipped bit in a zstd checksum: the rows parse, the frame's end says so.
cp "$tmp/rows.csv.zst" "$tmp/bad.csv.zst"
size=$(stat -c %s "$tmp/bad.csv.zst")
printf '\x00\x00\x00\x00' | dd of="$tmp/bad.csv.zst" bs=1 seek=$((size - 4)) conv=notrunc 2>/dev/null
expect_refusal "zstd checksum mismatch" 4 'bad\.csv\.zst: corrupt zstd data \(.*checksum.*\)' \
  "$tmp/o5.npy" run "$tmp/m.pb" -i "$tmp/bad.csv.zst" -o "$tmp/o5.npy"
printf '\x1f\x8b' >"$tmp/magic_only.gz"
expect_refusal "gzip magic and nothing else" 4 'magic_only\.gz: truncated gzip data' \
  "$tmp/o6.csv" run "$tmp/m.pb" -i "$tmp/magic_only.gz" -o "$tmp/o6.csv"

# --- -o naming the input: exit 2, nothing written ---------------------------
cp "$tmp/rows.csv" "$tmp/data.csv"
before=$(md5sum <"$tmp/data.csv")
# refuse_same NAME ARGS...: exit 2, the same-file line, data.csv unchanged.
refuse_same() {
  local name=$1
  shift
  rf "$@" >/dev/null
  local got=$?
  if [[ $got == 2 && $(wc -l <"$tmp/err") == 1 ]] &&
     grep -q 'is the input file .* (same device and inode)' "$tmp/err" &&
     [[ $(md5sum <"$tmp/data.csv") == "$before" ]] &&
     ! ls -a "$tmp" | grep -q '\.rowflow-'; then
    pass "$name"
  else
    fail "$name" "expected exit 2, the same-file line, input unchanged" \
      "got exit $got: $(cat "$tmp/err")"
  fi
}
refuse_same "-o is -i (same path)" run "$tmp/m.pb" -i "$tmp/data.csv" -o "$tmp/data.csv"
refuse_same "-o is -i (another spelling)" run "$tmp/m.pb" -i "$tmp/data.csv" -o "$tmp/./data.csv"
ln -s data.csv "$tmp/link.csv"
refuse_same "-o is a symlink to -i" run "$tmp/m.pb" -i "$tmp/data.csv" -o "$tmp/link.csv"
refuse_same "-i is a symlink to -o" run "$tmp/m.pb" -i "$tmp/link.csv" -o "$tmp/data.csv"
ln "$tmp/data.csv" "$tmp/hard.csv"
refuse_same "-o is a hard link to -i" run "$tmp/m.pb" -i "$tmp/data.csv" -o "$tmp/hard.csv"
refuse_same "stdin redirected from -o" run "$tmp/m.pb" -i - -o "$tmp/data.csv" <"$tmp/data.csv"
rf run "$tmp/m.pb" -i "$tmp/data.csv" -o - >>"$tmp/data.csv"
got=$?
if [[ $got == 2 && $(md5sum <"$tmp/data.csv") == "$before" ]]; then
  pass "stdout appending to -i is refused"
else
  fail "stdout appending to -i is refused" "got exit $got: $(cat "$tmp/err")"
fi
rm "$tmp/link.csv" "$tmp/hard.csv"
if rf run "$tmp/m.pb" -i "$tmp/data.csv" -o "$tmp/new.csv" -q && cmp -s "$tmp/new.csv" "$tmp/plain.csv"; then
  pass "an output that does not exist yet is fine"
else
  fail "an output that does not exist yet is fine" "$(cat "$tmp/err")"
fi
expect_refusal "--header on .npy input" 2 '--header applies to CSV input; .*rows\.npy is read as \.npy' \
  "$tmp/o7.csv" run "$tmp/m.pb" -i "$tmp/rows.npy" -o "$tmp/o7.csv" --header
expect_refusal "--header with --format npy on stdin" 2 '--header applies to CSV input; <stdin>' \
  "$tmp/o8.npy" run "$tmp/m.pb" -i - --format npy -o "$tmp/o8.npy" --header <"$tmp/rows.npy"

# --- the wrong kind of file gets a hint ------------------------------------
spec=$examples/seed_4_5.pbtxt
for cmd in run inspect; do
  args=()
  [[ $cmd == run ]] && args=(-i "$tmp/rows.csv" -o "$tmp/h_$cmd.csv")
  expect_refusal "a layer spec given to $cmd" 3 'seed_4_5\.pbtxt: this is a layer spec; run `rowflow build` first' \
    "$tmp/h_$cmd.csv" "$cmd" "$spec" "${args[@]}"
done
rf build -q "$spec" -o "$tmp/m.pbtxt"
for m in m.pb m.pbtxt; do
  expect_refusal "a model ($m) given to build" 3 "$m: this is a model, not a layer spec" \
    "$tmp/h_build.pb" build "$tmp/$m" -o "$tmp/h_build.pb"
done
"$py" - "$tmp/mlp.onnx" <<'EOF'
import sys, onnx
from onnx import helper, TensorProto, numpy_helper
import numpy as np
w = numpy_helper.from_array(np.ones((2, 1), np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [w])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
EOF
for cmd in run inspect; do
  args=()
  [[ $cmd == run ]] && args=(-i "$tmp/rows.csv" -o "$tmp/h_$cmd.csv")
  expect_refusal "an ONNX model given to $cmd" 3 'mlp\.onnx: this is an ONNX model; run `rowflow import-onnx` first' \
    "$tmp/h_$cmd.csv" "$cmd" "$tmp/mlp.onnx" "${args[@]}"
done
if rf import-onnx "$tmp/mlp.onnx" -o "$tmp/mlp.pb" && rf run "$tmp/mlp.pb" -i "$tmp/rows.csv" -o "$tmp/mlp.csv" -q; then
  pass "the hinted import-onnx then runs"
else
  fail "the hinted import-onnx then runs" "$(cat "$tmp/err")"
fi
expect_refusal ".npy bytes on stdin without --format npy" 4 '<stdin>: holds \.npy data, not CSV rows; .*--format npy' \
  "$tmp/h1.csv" run "$tmp/m.pb" -i - -o "$tmp/h1.csv" <"$tmp/rows.npy"
expect_refusal "gzip'd .npy bytes on stdin without --format npy" 4 '<stdin>: holds \.npy data, not CSV rows' \
  "$tmp/h2.csv" run "$tmp/m.pb" -i - -o "$tmp/h2.csv" <"$tmp/rows.npy.gz"
printf 'x1,x2\n1.5,2\n' >"$tmp/header.csv"
for rows in rows.csv header.csv; do
  expect_refusal "CSV rows ($rows) given as the model" 3 "$rows: looks like CSV rows, not a model" \
    "$tmp/h3.csv" run "$tmp/$rows" -i "$tmp/rows.csv" -o "$tmp/h3.csv"
done
expect_refusal ".npy rows given as the model" 3 'rows\.npy: holds \.npy rows, not a model' \
  "$tmp/h4.csv" run "$tmp/rows.npy" -i "$tmp/rows.csv" -o "$tmp/h4.csv"
expect_refusal "a gzip'd model" 3 'm\.pb\.gz: is gzip-compressed; .*gzip -d' \
  "$tmp/h5.csv" run "$(gzip -k "$tmp/m.pb" && echo "$tmp/m.pb.gz")" -i "$tmp/rows.csv" -o "$tmp/h5.csv"

checks_summary
