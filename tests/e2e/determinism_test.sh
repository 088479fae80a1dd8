#!/usr/bin/env bash
# Bitwise determinism of `rowflow run` on real-valued weights and inputs:
#   determinism_test.sh ROWFLOW SOURCE_DIR
# Models with seeded `init` weights (tools/examples/mlp_init.pbtxt and two
# more: a GEMM chain through tanh, sigmoid and softmax, and a chain of tiny
# layers), each in F32 and F64, over non-integer random rows, CSV -> CSV and
# NPY -> NPY. For every tile in {1, 7, 333, default} and threads in
# {1, 2, 4} the output bytes must be the same: README promises bitwise
# identical output for any thread count and any tile size. (Integer weights
# and inputs would be exact in any summation order, so they could not fail.)
# The CSV and NPY outputs must also hold the same numbers, bit for bit.
set -u
set -o pipefail

rowflow=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/../check_lib.sh"
python=${ROWFLOW_PYTHON:-/usr/bin/python3}  # Debian's, with python3-numpy
rows=3000

# --- models -----------------------------------------------------------------
cp "$src/tools/examples/mlp_init.pbtxt" "$tmp/mlp.pbtxt"
cat >"$tmp/chain.pbtxt" <<'EOF'
name: "chain"
input { name: "x" width: 33 }
layer {
  units: 129 activation: TANH
  weights { init { kind: HE_UNIFORM seed: 11 } }
  bias { init { kind: UNIFORM seed: 12 } }
}
layer {
  units: 17 activation: SIGMOID
  weights { init { kind: GLOROT_UNIFORM seed: 13 } }
  bias { init { kind: UNIFORM seed: 14 } }
}
layer {
  units: 5 activation: SOFTMAX
  weights { init { kind: UNIFORM seed: 15 } }
}
EOF
cat >"$tmp/tiny.pbtxt" <<'EOF'
name: "tiny"
input { name: "x" width: 3 }
layer {
  units: 8 activation: TANH
  weights { init { kind: HE_UNIFORM seed: 21 } }
  bias { init { kind: UNIFORM seed: 22 } }
}
layer {
  units: 5 activation: SOFTPLUS
  weights { init { kind: GLOROT_UNIFORM seed: 23 } }
  bias { init { kind: UNIFORM seed: 24 } }
}
layer { units: 2 weights { init { kind: UNIFORM seed: 25 } } }
EOF
models=()
for m in mlp chain tiny; do
  for dtype in F32 F64; do
    name=${m}_${dtype}
    { echo "dtype: $dtype"; grep -v '^dtype:' "$tmp/$m.pbtxt"; } >"$tmp/$name.pbtxt"
    if "$rowflow" build -q "$tmp/$name.pbtxt" -o "$tmp/$name.pb" 2>"$tmp/err"; then
      models+=("$name")
    else
      fail "build $name" "$(cat "$tmp/err")"
    fi
  done
done

# --- inputs: uniform in [-4, 4) with 9 significant digits, CSV and NPY -------
declare -A widths=([mlp]=64 [chain]=33 [tiny]=3)
for m in mlp chain tiny; do
  if ! "$python" - "$tmp" "$m" "${widths[$m]}" "$rows" <<'EOF'; then
import sys
import numpy as np
tmp, name, width, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(sum(map(ord, name)))
x = rng.uniform(-4, 4, size=(rows, width))
text = "\n".join(",".join(f"{v:.9g}" for v in row) for row in x) + "\n"
open(f"{tmp}/{name}_in.csv", "w").write(text)
# The NPY inputs hold exactly the CSV's numbers, in the model's dtype.
back = np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])
np.save(f"{tmp}/{name}_F32_in.npy", back.astype("<f4"))
np.save(f"{tmp}/{name}_F64_in.npy", back.astype("<f8"))
EOF
    fail "write the inputs of $m" "python3 with numpy failed"
  fi
done

# run MODEL IN OUT TILE THREADS: runs rowflow, records a failure and
# returns 1 when it fails.
run() {
  local tile_args=()
  [[ $4 == default ]] || tile_args=(--tile "$4")
  if ! "$rowflow" run "$tmp/$1.pb" -i "$2" -o "$3" --threads "$5" "${tile_args[@]}" -q \
    2>"$tmp/err"; then
    fail "run $1 -i $(basename "$2") tile $4 threads $5" "$(cat "$tmp/err")"
    return 1
  fi
}

for name in "${models[@]}"; do
  m=${name%_*}
  for format in csv npy; do
    if [[ $format == csv ]]; then in=$tmp/${m}_in.csv; else in=$tmp/${name}_in.npy; fi
    first=""
    first_what=""
    ok=1
    for tile in 1 7 333 default; do
      for threads in 1 2 4; do
        out=$tmp/out_${name}_${tile}_${threads}.$format
        run "$name" "$in" "$out" "$tile" "$threads" || { ok=0; continue; }
        sum=$(sha256sum <"$out")
        what="tile $tile threads $threads"
        if [[ -z $first ]]; then
          first=$sum
          first_what=$what
          cp "$out" "$tmp/base_$name.$format"
        elif [[ $sum != "$first" ]]; then
          ok=0
          fail "$name $format: $what gives the bytes of $first_what" \
            "$(cmp "$tmp/base_$name.$format" "$out" | head -1)"
        fi
        rm -f "$out"
      done
    done
    ((ok)) && pass "$name $format -> $format: same bytes for tiles 1, 7, 333, default x threads 1, 2, 4"
  done
  # The two formats hold the same numbers, bit for bit, and real ones (no
  # integers only, no NaN), so the comparison above could fail.
  if [[ -f $tmp/base_$name.csv && -f $tmp/base_$name.npy ]]; then
    if verdict=$("$python" - "$tmp/base_$name.csv" "$tmp/base_$name.npy" "$rows" 2>&1 <<'EOF'
import sys
import numpy as np
csv, npy, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
y = np.load(npy)
c = np.loadtxt(csv, delimiter=",", dtype=y.dtype, ndmin=2).reshape(y.shape)
if y.shape[0] != rows:
    sys.exit(f"expected {rows} rows, got {y.shape[0]}")
if not np.array_equal(c.view(np.uint8), y.view(np.uint8)):
    sys.exit(f"CSV and NPY outputs differ in {int(np.sum(c != y))} values")
if not np.all(np.isfinite(y)) or np.all(y == np.round(y)):
    sys.exit("outputs are not finite non-integers")
if len(np.unique(y)) < rows // 2:
    sys.exit(f"only {len(np.unique(y))} distinct outputs")
EOF
    ); then
      pass "$name: CSV and NPY outputs hold the same real numbers bitwise"
    else
      fail "$name: CSV vs NPY output" "$verdict"
    fi
  fi
done

checks_summary
