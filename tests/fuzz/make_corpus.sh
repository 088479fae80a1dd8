#!/usr/bin/env bash
# Regenerates the seed corpora tests/fuzz/corpus/<target>/ from the example
# specs (built into models with the rowflow binary), the ONNX cases of
# tests/onnx, the bad-input suite, and the hand-written edge cases below. Files found by fuzzing
# (corpus/*/crash-*, regression-*) are kept.
#
#   tests/fuzz/make_corpus.sh ROWFLOW
set -euo pipefail

rowflow=$(realpath "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
corpus=$here/corpus
examples=$src/tools/examples
bad=$src/tests/bad_inputs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in model_load model_run spec csv_rows npy_rows; do
  mkdir -p "$corpus/$t"
  find "$corpus/$t" -type f ! -name 'regression-*' -delete
done

# --- models: every example spec, both forms, binary and text ---------------
for spec in "$examples"/*.pbtxt; do
  name=$(basename "$spec" .pbtxt)
  "$rowflow" build -q "$spec" -o "$corpus/model_load/example-$name.pb"
  [[ $name == mlp_init ]] && continue  # 17k weights: one binary copy is enough
  "$rowflow" build -q "$spec" -o "$corpus/model_load/example-$name.pbtxt"
  "$rowflow" build -q "$spec" --per-node -o "$corpus/model_load/example-$name-per-node.pb"
  "$rowflow" build -q "$spec" --per-node -o "$corpus/model_load/example-$name-per-node.pbtxt"
done
for model in "$bad"/models/*.pbtxt "$bad"/*/*.pb "$bad"/*/*.pbtxt; do
  [[ -f $model && $(basename "$model") != spec.pbtxt ]] || continue
  cp "$model" "$corpus/model_load/bad-$(basename "$(dirname "$model")")-$(basename "$model")"
done

# ONNX models for ImportOnnx (model_load feeds its bytes to both loaders):
# one per imported op from tests/onnx/onnx_cases.py (needs Debian's python3
# with numpy and onnx: python3-onnx), and three exports.
mkdir "$tmp/onnx"
/usr/bin/python3 "$src/tests/onnx/onnx_cases.py" gen "$tmp/onnx"
for m in "$tmp"/onnx/*.onnx; do cp "$m" "$corpus/model_load/onnx-$(basename "$m")"; done
for name in seed_4_5 seed_4_5_files seed_3_4_rows-per-node; do
  "$rowflow" export-onnx -q "$corpus/model_load/example-$name.pb" \
    -o "$corpus/model_load/onnx-example-$name.onnx"
done

# Hand-written: every op and activation, F64, rank-2 values, broadcasting,
# SUM over axis 0, CONCAT of scalars, metadata.
cat >"$corpus/model_load/edge-every-op.pbtxt" <<'EOF'
format_version: 1
name: "every_op"
dtype: F64
metadata { key: "k" value: "v" }
inputs { name: "x" shape: [3] }
inputs { name: "m" shape: [2, 3] }
outputs { name: "out" shape: [5] }
outputs { name: "out2" shape: [3] }
constants { name: "c" shape: [2, 3] double_data: [1, -2, 0.5, 3, 0, -1] }
constants { name: "s" shape: [] double_data: [0.25] }
nodes { name: "mx" op: MULTIPLY inputs: ["m", "x"] output: "mx" }
nodes { name: "mc" op: ADD inputs: ["mx", "c"] output: "mc" }
nodes { name: "r0" op: SUM inputs: ["mc"] output: "r0" axis: 0 }
nodes { name: "r1" op: SUM inputs: ["mc"] output: "r1" axis: -1 }
nodes { name: "t" op: SUM inputs: ["r1"] output: "t" }
nodes { name: "a1" op: ACTIVATION inputs: ["r0"] output: "a1" activation: SOFTMAX }
nodes { name: "a2" op: ACTIVATION inputs: ["r1"] output: "a2" activation: LEAKY_RELU alpha: 0.2 }
nodes { name: "a3" op: ACTIVATION inputs: ["t"] output: "a3" activation: SOFTPLUS }
nodes { name: "a4" op: ACTIVATION inputs: ["a3"] output: "a4" activation: SIGMOID }
nodes { name: "a5" op: MULTIPLY inputs: ["a4", "s"] output: "a5" }
nodes { name: "a6" op: ACTIVATION inputs: ["t"] output: "a6" activation: TANH }
nodes { name: "out" op: CONCAT inputs: ["a1", "a2"] output: "out" axis: -1 }
nodes { name: "out2" op: CONCAT inputs: ["a5", "a6", "t"] output: "out2" }
EOF
cat >"$corpus/model_load/edge-concat-rank2.pbtxt" <<'EOF'
format_version: 1
name: "concat_rank2"
inputs { name: "x" shape: [2, 2] }
outputs { name: "y" shape: [4, 2] }
outputs { name: "z" shape: [2, 4] }
constants { name: "w" shape: [2, 1] float_data: [1, -1] }
nodes { name: "b" op: MULTIPLY inputs: ["x", "w"] output: "b" }
nodes { name: "y" op: CONCAT inputs: ["x", "b"] output: "y" axis: 0 }
nodes { name: "z" op: CONCAT inputs: ["b", "x"] output: "z" axis: 1 }
EOF
cat >"$corpus/model_load/edge-scalar-input.pbtxt" <<'EOF'
format_version: 1
name: "scalar"
inputs { name: "x" shape: [] }
outputs { name: "y" shape: [] }
nodes { name: "y" op: ACTIVATION inputs: ["x"] output: "y" activation: RELU }
EOF
cat >"$corpus/model_load/edge-wide-per-row.pbtxt" <<'EOF'
format_version: 1
name: "wide"
inputs { name: "x" shape: [64] }
outputs { name: "y" shape: [64, 64] }
constants { name: "c" shape: [64, 1] float_data: [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8] }
nodes { name: "y" op: ADD inputs: ["x", "c"] output: "y" }
EOF
cat >"$corpus/model_load/edge-reshape.pbtxt" <<'EOF'
format_version: 1
name: "reshape"
inputs { name: "x" shape: [2, 4] }
outputs { name: "y" shape: [4, 2] }
outputs { name: "s" shape: [4] }
constants { name: "c" shape: [8] float_data: [1, 2, 3, 4, 5, 6, 7, 8] }
nodes { name: "f" op: RESHAPE inputs: ["x"] output: "f" shape: [8] }
nodes { name: "cf" op: RESHAPE inputs: ["c"] output: "cf" shape: [8] }
nodes { name: "a" op: ADD inputs: ["f", "cf"] output: "a" }
nodes { name: "y" op: RESHAPE inputs: ["a"] output: "y" shape: [4, 2] }
nodes { name: "s" op: SUM inputs: ["y"] output: "s" axis: -1 }
EOF
cp "$corpus"/model_load/* "$corpus/model_run/"

# --- specs, with their weight files appended as "#@file NAME" sections ------
for spec in "$examples"/*.pbtxt "$bad"/*/spec.pbtxt; do
  [[ -f $spec ]] || continue
  dir=$(dirname "$spec")
  case $spec in
    "$bad"/*) out="$corpus/spec/bad-$(basename "$dir").pbtxt" ;;
    *) out="$corpus/spec/example-$(basename "$spec")" ;;
  esac
  cp "$spec" "$out"
  # Weight files the spec names (npy: "..." / csv: "..."), when present.
  { grep -oE '(npy|csv): *"[^"]*"' "$spec" || true; } | sed -E 's/^[a-z]+: *"(.*)"$/\1/' |
    while IFS= read -r path; do
      if [[ -f $dir/$path && ! -L $dir/$path ]]; then
        printf '\n#@file %s\n' "$path" >>"$out"
        cat "$dir/$path" >>"$out"
      fi
    done
done
cat >"$corpus/spec/edge-every-field.pbtxt" <<'EOF'
name: "every_field"
dtype: F64
input { name: "in" width: 3 }
layer { name: "a" units: 2 activation: LEAKY_RELU alpha: 0.3
        weights { csv: "w.csv" } bias { npy: "b.npy" } }
layer { units: 4 activation: SOFTMAX weights { init { kind: GLOROT_UNIFORM seed: 3 } }
        bias { values: [1, 2, 3, 4] } }
layer { units: 1 activation: SOFTPLUS weights { init { kind: UNIFORM seed: 9 } }
        bias { init { kind: ZEROS } } }
output { name: "out" }
#@file w.csv
1,2,3
-4.5,5e-1,6
EOF
# b.npy: '<f8', shape (2,)
python3 - "$corpus/spec/edge-every-field.pbtxt" <<'EOF'
import struct, sys
header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
header += " " * (118 - len(header)) + "\n"
with open(sys.argv[1], "ab") as f:
    f.write(b"\n#@file b.npy\n" + b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
            + header.encode() + struct.pack("<2d", 0.5, -0.5))
EOF

# --- CSV rows -----------------------------------------------------------------
for f in "$examples"/*.csv "$bad"/*/rows.csv; do
  [[ -f $f ]] || continue
  case $f in
    "$bad"/*) cp "$f" "$corpus/csv_rows/bad-$(basename "$(dirname "$f")").csv" ;;
    *) cp "$f" "$corpus/csv_rows/example-$(basename "$f")" ;;
  esac
done
printf '\xef\xbb\xbf1,2\r\n3,4\r\n\r\n' >"$corpus/csv_rows/edge-bom-crlf.csv"
printf 'a,b,c\n+1, 2 ,\t3\nnan,inf,-inf\n1e-320,-0,3.4e38\n' >"$corpus/csv_rows/edge-header-specials.csv"
printf '1,2\n3,4' >"$corpus/csv_rows/edge-no-final-newline.csv"
printf '1e400,1\n' >"$corpus/csv_rows/edge-overflow.csv"
printf '1,2\n\n3,4\n' >"$corpus/csv_rows/edge-empty-line-inside.csv"
# The dialect passes pick their delimiter from the first byte (csv_rows.cc):
# ',' sniffs (pandas), 'e' is ';' with a decimal comma (Excel), 'b' a tab.
printf ',x0,x1\nid0,1.5,\nid1,"2",NA\n' >"$corpus/csv_rows/edge-dialect-pandas.csv"
printf 'e;x1;x2\r\nq;1,5;"2,25"\r\n#c\r\n\r\nz;NA;-0,5\r\n' >"$corpus/csv_rows/edge-dialect-excel.csv"
printf 'b\tx1\tx2\nr1\t1e3\tnull\n' >"$corpus/csv_rows/edge-dialect-tab.csv"
printf '"","x1","x2"\n"1",NA,2.5\n"2","3","a""b"\n' >"$corpus/csv_rows/edge-dialect-r.csv"
printf 'x,"y"\n"1.5","2"\n"NA",3\n"4\n5",6\n' >"$corpus/csv_rows/edge-dialect-quoted.csv"

# --- .npy rows ------------------------------------------------------------------
for f in "$examples"/weights/*.npy "$bad"/*/rows.npy; do
  [[ -f $f ]] || continue
  case $f in
    "$bad"/*) cp "$f" "$corpus/npy_rows/bad-$(basename "$(dirname "$f")").npy" ;;
    *) cp "$f" "$corpus/npy_rows/example-$(basename "$f")" ;;
  esac
done
printf '3,5\n1,-1\n0,0\n8,4\n' >"$tmp/rows.csv"
"$rowflow" build -q "$examples/seed_3_4.pbtxt" -o "$tmp/m.pb"
"$rowflow" run "$tmp/m.pb" -i "$tmp/rows.csv" -o "$corpus/npy_rows/rowflow-output-f32.npy" -q
python3 - "$corpus/npy_rows" <<'EOF'
import struct, sys
out = sys.argv[1]
def npy(name, descr, fortran, shape, payload, version=1):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    fixed = 10 if version == 1 else 12
    d += " " * ((64 - (fixed + len(d) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    with open(f"{out}/{name}", "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + size + d.encode() + payload)
npy("edge-f8-2x3.npy", "<f8", False, "(2, 3)", struct.pack("<6d", 1, 2, 3, 4, 5, 6))
npy("edge-f4-big-endian.npy", ">f4", False, "(2, 2)", struct.pack(">4f", 1, -2, 3.5, 0))
npy("edge-f8-fortran.npy", "<f8", True, "(3, 1)", struct.pack("<3d", 1, 2, 3))
npy("edge-f4-vector.npy", "<f4", False, "(4,)", struct.pack("<4f", 1, 2, 3, 4))
npy("edge-v2-header.npy", "<f8", False, "(1, 2)", struct.pack("<2d", 7, 8), version=2)
npy("edge-v3-header.npy", "<f4", False, "(0, 2)", b"", version=3)
npy("edge-nan-inf.npy", "<f4", False, "(1, 3)",
    struct.pack("<3I", 0x7fc00001, 0x7f800000, 0xff800000))
EOF

for t in model_load model_run spec csv_rows npy_rows; do
  echo "corpus/$t: $(find "$corpus/$t" -type f | wc -l) files"
done
