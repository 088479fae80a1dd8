#!/usr/bin/env bash
# The portable build's kernel dispatch gives the native build's bits: every
# activation in a tiny chain (the fused tiny-layer path), an 8-wide chain
# (the per-layer tiny path) and a GEMM layer (65 -> 129 -> 17, several
# blocks), F32 and F64, over rows at three scales; each model runs through
# the native `rowflow run` and the portable one under every kernel set this
# CPU has (ROWFLOW_KERNELS), and the .npy outputs must be byte-identical.
# (tests/isa runs isa_hashes from the same portable tree under every set.)
#
#   dispatch_bits.sh NATIVE_ROWFLOW PORTABLE_ROWFLOW WORK_DIR
set -euo pipefail
native=$1
portable=$2
work=$3
rm -rf "$work"
mkdir -p "$work"

source "$(dirname "${BASH_SOURCE[0]}")/../portable/kernel_sets.sh"
sets=$(kernel_sets "$portable")
if ! "$portable" --version | grep -q 'picked at run time'; then
  echo "FAIL: $portable is not a dispatching build:"; "$portable" --version; exit 1
fi

# Rows: width 65, values at scales 1, 4 and 30 (the activations' tails).
/usr/bin/python3 - "$work/rows.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    state = 12345
    for r in range(3000):
        scale = (1, 4, 30)[r % 3]
        vals = []
        for c in range(65):
            state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
            vals.append(repr(((state >> 11) / 2**53 * 2 - 1) * scale))
        f.write(",".join(vals) + "\n")
PY

# spec NAME DTYPE ACT "UNITS..." WIDTH
spec() {
  local name=$1 dtype=$2 act=$3 units=$4 width=$5 seed=1
  {
    echo "name: \"$name\" dtype: $dtype input { name: \"x\" width: $width }"
    for u in $units; do
      echo "layer { units: $u activation: $act"
      echo "  weights { init { kind: GLOROT_UNIFORM seed: $seed } }"
      echo "  bias { init { kind: UNIFORM seed: $((seed + 100)) } } }"
      seed=$((seed + 1))
    done
  } >"$work/$name.pbtxt"
}

acts="IDENTITY RELU TANH SIGMOID LEAKY_RELU SOFTPLUS SOFTMAX ELU GELU GELU_TANH
      SILU HARD_SIGMOID LOG_SOFTMAX CLIP ERF LAYER_NORM"
cases=0 failed=0
for dtype in F32 F64; do
  for act in $acts; do
    # Last-axis activations only in the last layer: one layer for those.
    case $act in SOFTMAX|LOG_SOFTMAX|LAYER_NORM) tiny="3" wide="8" gemm="17" ;;
                 *) tiny="4 3" wide="8 8" gemm="129 17" ;; esac
    for shape in tiny wide gemm; do
      name=${dtype}_${act}_$shape
      spec "$name" "$dtype" "$act" "${!shape}" 65
      "$native" build "$work/$name.pbtxt" -o "$work/$name.pb" -q
      "$native" run "$work/$name.pb" -i "$work/rows.csv" -o "$work/$name.native.npy" -q
      for set in $sets; do
        ROWFLOW_KERNELS=$set "$portable" run "$work/$name.pb" -i "$work/rows.csv" \
          -o "$work/$name.$set.npy" -q
        cases=$((cases + 1))
        if ! cmp -s "$work/$name.native.npy" "$work/$name.$set.npy"; then
          echo "FAIL: $name: portable build with ROWFLOW_KERNELS=$set differs from native"
          failed=$((failed + 1))
        fi
      done
    done
  done
done
((failed == 0)) || { echo "$failed of $cases runs differ"; exit 1; }
echo "ok: $cases runs of the portable build (kernel sets: $sets) give the native build's bytes"
