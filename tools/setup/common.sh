# Shared by the set-up scripts: installs what rowflow needs from Debian 12
# (skipping what is there) and configures + builds it.
#   ROWFLOW_BUILD_DIR   build folder (default: build)
#   ROWFLOW_SANITIZE=1  build with ASan+UBSan
#   ROWFLOW_JOBS        parallel build jobs (default: all cores)
set -euo pipefail

ROWFLOW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWFLOW_BUILD_DIR=${ROWFLOW_BUILD_DIR:-$ROWFLOW_ROOT/build}
ROWFLOW_JOBS=${ROWFLOW_JOBS:-$(nproc)}

rowflow_packages=(
  cmake g++ make pkg-config
  libtbb-dev libprotobuf-dev protobuf-compiler libfmt-dev libfast-float-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  libonnx-dev python3-onnx python3-numpy python3-sklearn libonnx-testdata
  python3-torch python3-pandas zlib1g-dev libzstd-dev libopenblas0-pthread
  pybind11-dev python3-dev python3-pytest python3-venv python3-pip
  dpkg-dev lintian file man-db ccache
  openmpi-bin libopenmpi-dev
  python3-dask python3-distributed
  python3-setuptools python3-wheel
)

rowflow_install_deps() {
  local missing=()
  for p in "${rowflow_packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "rowflow setup: installing ${missing[*]}" >&2
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# rowflow_build [TARGET...]: configures and builds (everything by default).
rowflow_build() {
  local sanitize=OFF targets=()
  [[ ${ROWFLOW_SANITIZE:-0} == 1 ]] && sanitize=ON
  for t in "$@"; do targets+=(--target "$t"); done
  cmake -S "$ROWFLOW_ROOT" -B "$ROWFLOW_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DROWFLOW_SANITIZE="$sanitize" >/dev/null
  cmake --build "$ROWFLOW_BUILD_DIR" -j "$ROWFLOW_JOBS" "${targets[@]}"
}
