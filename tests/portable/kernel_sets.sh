# Sourced by tests/isa/run.sh and tests/install/dispatch_bits.sh.
# kernel_sets ROWFLOW: prints the kernel sets the dispatching binary ROWFLOW
# runs on this CPU, widest first ("avx512 avx2 generic"); fails naming the
# binary when its --version names no kernel set.
kernel_sets() {
  local widest
  widest=$("$1" --version | sed -n 's/^kernels: \([a-z0-9]*\) (.*$/\1/p')
  case $widest in
    avx512) echo "avx512 avx2 generic" ;;
    avx2) echo "avx2 generic" ;;
    generic) echo "generic" ;;
    *) echo "FAIL: the portable rowflow's --version names no kernel set:" >&2
       "$1" --version >&2; return 1 ;;
  esac
}
