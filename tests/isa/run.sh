#!/usr/bin/env bash
# The same bits on every ISA build (README "Execution and determinism"):
# runs the native build's isa_hashes and the portable tree's
# (tests/portable/build.sh: -DROWFLOW_NATIVE=OFF, the kernels compiled for
# baseline x86-64, AVX2 and AVX-512 and picked at run time) under every
# kernel set this CPU runs (ROWFLOW_KERNELS=generic, avx2, avx512), and
# checks that each prints tests/isa/golden_hashes.txt. generic is the
# baseline x86-64 code; avx2 the x86-64-v3 (Haswell) code. Also checks,
# with objdump, that the builds really differ: no AVX register in any
# baseline object of the portable tree (everything but the AVX2/AVX-512
# kernel copies), AVX2 but no AVX-512 in the AVX2 copy, AVX-512 in the
# AVX-512 copy.
#
#   run.sh PORTABLE_TREE WORK_DIR NATIVE_ISA_HASHES
#
# After a change that rightly changes output bits (a new activation, a new
# kernel), regenerate the golden file from the native build:
#   build/tests/isa_hashes > tests/isa/golden_hashes.txt
set -euo pipefail
tree=$1
work=$2
native=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
golden=$here/golden_hashes.txt
portable=$tree/tests/isa_hashes
rm -rf "$work"
mkdir -p "$work"
failed=0
for bin in "$portable" "$tree/tools/rowflow"; do
  [[ -x $bin ]] || { echo "FAIL: no $bin (the portable.build test builds it)"; exit 1; }
done

# vector_registers FILE...: "ymm N zmm M", the instructions of each width.
vector_registers() {
  local dis
  dis=$(objdump -d --no-show-raw-insn "$@")
  echo "ymm $(grep -c '%ymm' <<<"$dis" || true) zmm $(grep -c '%zmm' <<<"$dis" || true)"
}

# The objects: the kernel copies' own targets (ops/CMakeLists.txt) and all
# the rest, compiled for baseline x86-64.
mapfile -t avx2_objs < <(find "$tree" -path '*/rowflow_ops_avx2.dir/*.o')
mapfile -t avx512_objs < <(find "$tree" -path '*/rowflow_ops_avx512.dir/*.o')
mapfile -t base_objs < <(find "$tree" -name '*.o' -not -path '*/rowflow_ops_avx2.dir/*' \
                           -not -path '*/rowflow_ops_avx512.dir/*')
mapfile -t generic_kernels < <(find "$tree" -path '*/rowflow_ops.dir/*kernels.cc.o')
if ((${#avx2_objs[@]} == 0 || ${#avx512_objs[@]} == 0 || ${#generic_kernels[@]} == 0)); then
  echo "FAIL: $tree has no AVX2/AVX-512/generic kernel objects (a dispatching build?)"; exit 1
fi
read -r _ ymm _ zmm <<<"$(vector_registers "${base_objs[@]}")"
if ((ymm + zmm > 0)); then
  echo "FAIL: the portable tree's baseline objects use AVX registers (ymm $ymm, zmm $zmm)"
  failed=1
fi
read -r _ ymm _ zmm <<<"$(vector_registers "${avx2_objs[@]}")"
if ((ymm == 0 || zmm > 0)); then
  echo "FAIL: the AVX2 kernel copy is not AVX2-only (ymm $ymm, zmm $zmm)"; failed=1
fi
read -r _ ymm _ zmm <<<"$(vector_registers "${avx512_objs[@]}")"
if ((zmm == 0)); then
  echo "FAIL: the AVX-512 kernel copy uses no zmm register (ymm $ymm)"; failed=1
fi
echo "objects: ${#base_objs[@]} baseline (no AVX), ${#avx2_objs[@]} AVX2," \
  "${#avx512_objs[@]} AVX-512; native isa_hashes: $(vector_registers "$native")"

# The sets this CPU runs, widest first.
source "$here/../portable/kernel_sets.sh"
sets=$(kernel_sets "$tree/tools/rowflow")

"$native" >"$work/native.txt" 2>"$work/native.err" ||
  { cat "$work/native.err"; echo "FAIL: native isa_hashes exited $?"; exit 1; }
cat "$work/native.err"
variants=native
for set in $sets; do
  ROWFLOW_KERNELS=$set "$portable" >"$work/$set.txt" 2>"$work/$set.err" ||
    { cat "$work/$set.err"; echo "FAIL: portable isa_hashes ($set) exited $?"; exit 1; }
  # A refused ROWFLOW_KERNELS falls back with a warning: that run did not
  # test the set it names.
  if ! grep -qxF "isa_hashes: kernel set $set" "$work/$set.err"; then
    cat "$work/$set.err"; echo "FAIL: ROWFLOW_KERNELS=$set did not run the $set kernels"
    failed=1
  fi
  variants+=" $set"
done
for variant in $variants; do
  if ! diff "$golden" "$work/$variant.txt" >"$work/$variant.golden.diff"; then
    echo "FAIL: the $variant outputs differ from tests/isa/golden_hashes.txt" \
      "(< golden, > $variant):"
    cat "$work/$variant.golden.diff"
    echo "     if the change is meant: build/tests/isa_hashes > tests/isa/golden_hashes.txt"
    failed=1
  fi
done
((failed == 0)) || exit 1
skipped=""
[[ $sets == *avx512* ]] || skipped=" (this CPU lacks AVX-512: that set not run)"
echo "ok: $(wc -l <"$golden") cases give the same output bytes, as" \
  "tests/isa/golden_hashes.txt, on the native build and the portable one" \
  "with kernel sets: $sets$skipped"
