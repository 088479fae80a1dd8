"""The two documented ways to install the package, as README "Python" gives
them: `cmake --install` into a prefix, and `pip install
--no-build-isolation .` (tools/python/) into a venv with Debian's packages
visible, without the network. Each then imports rowflow in a clean
environment, away from the build tree, and runs the seed."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from conftest import BUILD_DIR, SOURCE_DIR

SEED = ("import rowflow, sys; "
        "m = rowflow.build(sys.argv[1]); "
        "print(rowflow.__file__); "
        "print(rowflow.Session(m, threads=2).run([[3, 5], [8, 4]])[:, 0].tolist())")
SPEC = os.path.join(SOURCE_DIR, "tools", "examples", "seed_4_5.pbtxt")


def clean_env(**extra):
    """PATH and HOME only (plus the sanitizer runtime when the build has one):
    no PYTHONPATH naming the build tree."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    for key in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


def run(cmd, **kwargs):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def check_seed(python, where, env, cwd):
    r = run([python, "-c", SEED, SPEC], env=env, cwd=cwd)
    path, result = r.stdout.splitlines()[-2:]
    assert path.startswith(str(where)), f"imported {path}, expected it under {where}"
    assert result == "[182.0, 392.0]"


def test_cmake_install_into_a_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    build_env = dict(os.environ)
    build_env.pop("LD_PRELOAD", None)
    run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], env=build_env)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = prefix / "lib" / version / "dist-packages"
    package = site / "rowflow"
    assert (package / "__init__.py").is_file() and (package / "py.typed").is_file()
    assert (package / "__init__.pyi").is_file()
    assert (package / ("_rowflow" + sysconfig.get_config_var("EXT_SUFFIX"))).is_file()
    assert not list(package.glob("__pycache__")), "bytecode from the build tree was installed"
    check_seed("/usr/bin/python3", package, clean_env(PYTHONPATH=str(site)), cwd=tmp_path)


def test_pip_install_into_a_venv(tmp_path):
    # Reuses this build folder (ROWFLOW_BUILD_DIR), so the extension is not
    # compiled again; --no-index proves no network is needed.
    venv = tmp_path / "venv"
    env = clean_env()
    env.pop("LD_PRELOAD", None)                     # pip and cmake are not instrumented
    run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], env=env)
    pip_env = dict(env, ROWFLOW_BUILD_DIR=BUILD_DIR, ROWFLOW_JOBS="2",
                   PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "."], env=pip_env, cwd=os.path.join(SOURCE_DIR, "tools", "python"))
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages"
    check_seed(venv / "bin" / "python", site / "rowflow", clean_env(), cwd=tmp_path)
    # pip left nothing in the source tree.
    if shutil.which("git") and os.path.exists(os.path.join(SOURCE_DIR, ".git")):
        status = run(["git", "status", "--porcelain", "--ignored", "tools/python"],
                     cwd=SOURCE_DIR).stdout
        assert status == "", f"pip left files in tools/python:\n{status}"
    # And it uninstalls cleanly.
    run([venv / "bin" / "python", "-m", "pip", "uninstall", "-y", "rowflow"], env=pip_env)
    # Nothing of it is left in the venv (a rowflow of the system's own, e.g.
    # the Debian package installed by someone, may still import).
    assert not (site / "rowflow").exists(), list((site / "rowflow").iterdir())
    r = subprocess.run([venv / "bin" / "python", "-c", "import rowflow; print(rowflow.__file__)"],
                       env=clean_env(), cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0 or not r.stdout.startswith(str(venv)), r.stdout


@pytest.mark.skipif(not os.path.isdir(os.path.join(SOURCE_DIR, ".git")) and
                    not os.path.isfile(os.path.join(SOURCE_DIR, ".git")),
                    reason="not a git checkout")
def test_top_level_stays_clean():
    # pyproject.toml / setup.py live in tools/python/, not at the top.
    top = set(os.listdir(SOURCE_DIR))
    assert not top & {"setup.py", "pyproject.toml", "setup.cfg"}
