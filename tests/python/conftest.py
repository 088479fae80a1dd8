"""Shared by the Python package's tests (tests/python/, run by ctest -L python).

ctest sets PYTHONPATH to the build tree's python/ folder and names the
build's CLI and folders in the environment:
    ROWFLOW_CLI         build/tools/rowflow
    ROWFLOW_SOURCE_DIR  the repository
    ROWFLOW_BUILD_DIR   the build folder
Run by hand from the repository with a Release build in build/:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
"""

import os
import subprocess

import numpy as np
import pytest

import rowflow

SOURCE_DIR = os.environ.get(
    "ROWFLOW_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("ROWFLOW_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
CLI = os.path.abspath(os.environ.get("ROWFLOW_CLI", os.path.join(BUILD_DIR, "tools", "rowflow")))
EXAMPLES = os.path.join(SOURCE_DIR, "tools", "examples")


def example(name):
    return os.path.join(EXAMPLES, name)


def cli(*args, check=True, **kwargs):
    """Runs the rowflow CLI; returns the CompletedProcess (text mode)."""
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, **kwargs)
    if check and r.returncode != 0:
        raise AssertionError(f"rowflow {' '.join(map(str, args))} exited {r.returncode}: "
                             f"{r.stderr.strip()}")
    return r


def cli_error(*args):
    """The CLI's one error line for `args` without its 'rowflow: error: '
    prefix, and its exit code."""
    r = cli(*args, check=False)
    assert r.returncode != 0, f"rowflow {args} succeeded"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got {r.stderr!r}"
    prefix = "rowflow: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):], r.returncode


def bits(a):
    """The array's bit patterns, for bitwise comparisons (NaN == NaN)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_bitwise(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(bits(got), bits(want))


def mlp(widths, dtype="F32", seed=0, activation="RELU", name="mlp"):
    """A dense network through the builder with reproducible random
    weights: widths[0] inputs, then one layer per further width (the last
    without activation)."""
    rng = np.random.default_rng(seed)
    b = rowflow.GraphBuilder(name, dtype=dtype)
    v = b.input("x", [widths[0]])
    for i, (w_in, w_out) in enumerate(zip(widths, widths[1:])):
        last = i == len(widths) - 2
        v = b.dense(v, f"layer_{i}", w_out,
                    rng.uniform(-1, 1, (w_out, w_in)) / np.sqrt(w_in),
                    bias=rng.uniform(-0.1, 0.1, w_out),
                    activation=None if last else activation)
    b.output(v)
    return b.build()


def rows(n, width, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).uniform(-2, 2, (n, width)).astype(dtype)


@pytest.fixture
def seed_4_5():
    return rowflow.build(example("seed_4_5.pbtxt"))
