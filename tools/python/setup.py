"""Builds the rowflow Python package with the repository's CMake build.

    cd tools/python && pip install --no-build-isolation .

The extension rowflow._rowflow is the CMake target rowflow_python; this
script configures the repository (once) in a build folder of its own,
build/pip, or reuses the configured build folder named by the environment
variable ROWFLOW_BUILD_DIR (e.g. build, so nothing is compiled twice),
builds only that target, and packages the module with rowflow/*.py.
ROWFLOW_JOBS sets the parallel jobs (default: every core);
ROWFLOW_CMAKE_ARGS adds configure arguments (e.g. -DROWFLOW_NATIVE=OFF).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.path.abspath(os.environ.get("ROWFLOW_BUILD_DIR") or
                            os.path.join(ROOT, "build", "pip"))
# setuptools' own build folders go under the CMake build folder too, so
# that the source tree stays clean.
SETUPTOOLS_DIR = os.path.join(BUILD_DIR, "python-setuptools")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(rowflow\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else "0"


class CMakeBuild(build_ext):
    """Builds the extension by `cmake --build --target rowflow_python`."""

    def build_extension(self, ext):
        build_dir = BUILD_DIR
        jobs = os.environ.get("ROWFLOW_JOBS") or str(os.cpu_count() or 1)
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            configure = ["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                         f"-DPython_EXECUTABLE={sys.executable}"]
            configure += shlex.split(os.environ.get("ROWFLOW_CMAKE_ARGS", ""))
            self.announce("rowflow: " + " ".join(configure), level=2)
            subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", build_dir, "-j", jobs, "--target", "rowflow_python"],
                       check=True)
        built = os.path.join(build_dir, "python", "rowflow",
                             "_rowflow" + sysconfig.get_config_var("EXT_SUFFIX"))
        if not os.path.exists(built):
            sys.exit(f"rowflow: {built} was not built: is {build_dir} configured for this "
                     f"Python ({sys.version.split()[0]}, needs pybind11-dev and python3-dev)?")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built, target)


os.makedirs(SETUPTOOLS_DIR, exist_ok=True)
setup(
    name="rowflow",
    version=project_version(),
    description="Neural-network forward propagation over many rows, in parallel, at C++ speed",
    python_requires=">=3.11",
    install_requires=["numpy"],
    packages=["rowflow"],
    package_data={"rowflow": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("rowflow._rowflow", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
    options={"build": {"build_base": os.path.join(SETUPTOOLS_DIR, "build")},
             "egg_info": {"egg_base": SETUPTOOLS_DIR}},
)
