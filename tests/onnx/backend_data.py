"""ONNX's own backend test data through rowflow (ctest onnx.backend_data).

    backend_data.py ROWFLOW SCOPE [--data DIR] [--only SUBSTR] [--verbose]
                    [--print-passing] [--jobs N]

Every case of Debian's libonnx-testdata (node/, pytorch-converted/,
pytorch-operator/, simple/: a model.onnx and test_data_set_*/input_*.pb,
output_*.pb) is imported with `rowflow import-onnx`. An imported case is run
with `rowflow run` on each data set and its outputs compared with the
expected ones. The rules:
  - a case listed in SCOPE (tests/onnx/backend_scope.txt) must import and match;
  - any other case must be refused (exit 3, exactly one stderr line starting
    'rowflow: error:', no output file) or import and match (printed as a note,
    so the manifest can grow; not a failure);
  - no case may crash (a signal, an exit code other than 0 and 3, a hang) or
    import and then give other outputs than ONNX's.

Rows: the first dim of every input is the batch; rowflow reads one row per
batch element, the inputs' elements row-major and concatenated column-wise in
graph-input order (rowflow's InputWidth), and writes the outputs likewise.
The harness checks through `rowflow inspect --json` that the imported model
has exactly the ONNX graph's inputs and outputs, in that order, with the data
sets' shapes less the batch dim, and feeds .npy (exact values both ways).

Tolerance, per element: |got - want| <= atol + rtol * |want|, NaN where
ONNX has NaN, infinities equal. F32: rtol 1e-5, atol 1e-6. The references
were computed by numpy, in float32 or in float64 and rounded; rowflow's F32
kernels (vectorized exp/tanh/log, a GEMM whose summation order differs)
are a few ulps (1 ulp = 6e-8 relative) from either, so 1e-5 leaves two
orders of magnitude of headroom and still catches a wrong formula or a
wrong constant (any error of 1e-5 relative or worse); atol 1e-6 covers
results that cancel to near zero, whose error scales with the operands and
not with the result. F64: rtol = atol = 1e-12.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

DATA = "/usr/share/libonnx-testdata/data"
SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
TOL = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-12)}
TIMEOUT = 60  # seconds for one rowflow process; these models are tiny


def read_scope(path):
    """Case names of the manifest: one per line, '#' starts a comment."""
    names = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line)
    return names


def rowflow(exe, *args, stdout=False):
    """Runs rowflow; returns (returncode, stderr), with stdout in front when
    asked for. returncode is None on a hang."""
    try:
        p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        got = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        got = None, "", f"no exit after {TIMEOUT} s"
    return got if stdout else (got[0], got[2])


def read_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, numpy_helper.to_array(t)


def read_set(folder, prefix, names):
    """The arrays input_0.pb, input_1.pb, ... of one data set, in the order
    of `names` (matched by the tensor's name, by position where it has none)."""
    files = sorted(glob.glob(os.path.join(folder, f"{prefix}_*.pb")),
                   key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
    if len(files) != len(names):
        raise ValueError(f"{len(files)} {prefix} files for {len(names)} graph {prefix}s")
    by_pos = [read_tensor(p) for p in files]
    by_name = {n: a for n, a in by_pos if n}
    if set(by_name) == set(names):
        return [by_name[n] for n in names]
    return [a for _, a in by_pos]


class Case:
    """Outcome of one case: kind is 'passed', 'refused' or 'failed'."""

    def __init__(self, name):
        self.name, self.kind, self.why = name, None, ""

    def done(self, kind, why=""):
        self.kind, self.why = kind, why
        return self


def check_refusal(case, rc, err, work):
    if rc is None or rc < 0:
        return case.done("failed", f"import-onnx: crashed ({err if rc is None else f'signal {-rc}'})")
    if rc != 3:
        return case.done("failed", f"import-onnx: exit {rc}, expected 0 or 3: {err.strip()!r}")
    lines = err.splitlines()
    if len(lines) != 1 or not lines[0].startswith("rowflow: error:") or not err.endswith("\n"):
        return case.done("failed", f"import-onnx refused with other than one error line: {err!r}")
    if os.listdir(work):
        return case.done("failed", f"import-onnx refused but left files: {os.listdir(work)}")
    return case.done("refused", lines[0])


def run_case(exe, folder, name, tmp):
    case = Case(name)
    work = os.path.join(tmp, name.replace("/", "__"))
    os.makedirs(work)
    model_pb = os.path.join(work, "model.pb")
    rc, err = rowflow(exe, "import-onnx", os.path.join(folder, "model.onnx"), "-o", model_pb, "-q")
    if rc != 0:
        return check_refusal(case, rc, err, work)
    if err:
        return case.done("failed", f"import-onnx: exit 0 but stderr {err!r} with -q")

    rc, out, err = rowflow(exe, "inspect", model_pb, "--json", stdout=True)
    if rc != 0:
        return case.done("failed", f"inspect of the imported model: exit {rc}: {err.strip()}")
    info = json.loads(out)
    dtype = np.dtype({"F32": np.float32, "F64": np.float64}[info["dtype"]])

    model = onnx.load(os.path.join(folder, "model.onnx"))
    inits = {i.name for i in model.graph.initializer}
    onnx_ins = [i.name for i in model.graph.input if i.name not in inits]
    onnx_outs = [o.name for o in model.graph.output]
    rf_ins = [v["name"] for v in info["inputs"]]
    rf_outs = [v["name"] for v in info["outputs"]]
    if rf_ins != onnx_ins or rf_outs != onnx_outs:
        return case.done("failed", f"imported interface {rf_ins} -> {rf_outs}, "
                         f"ONNX graph has {onnx_ins} -> {onnx_outs}")

    sets = sorted(glob.glob(os.path.join(folder, "test_data_set_*")))
    if not sets:
        return case.done("failed", "imported, but the case has no test_data_set_*")
    for s in sets:
        label = os.path.basename(s)
        try:
            ins = read_set(s, "input", onnx_ins)
            want = read_set(s, "output", onnx_outs)
        except Exception as e:  # a sequence or optional value, a bad file
            return case.done("failed", f"imported, but {label} does not read as tensors: {e}")
        why = check_set(exe, model_pb, info, dtype, ins, want, os.path.join(work, label))
        if why:
            return case.done("failed", f"{label}: {why}")
    return case.done("passed")


def rows_of(arrays, shapes, dtype, what):
    """(batch, width) rows of `arrays`, or a string saying why they are none."""
    batches = {a.shape[0] if a.ndim else None for a in arrays}
    if len(batches) != 1 or None in batches:
        return f"{what}s' first dims {[a.shape for a in arrays]} share no batch dim"
    batch = batches.pop()
    # rowflow's per-row shapes leave out unit dims ONNX keeps ([N, 1] may be
    # [] per row): the same row-major layout.
    def layout(dims):
        return [d for d in dims if d != 1]
    for a, shape in zip(arrays, shapes):
        if layout(a.shape[1:]) != layout(shape):
            return f"{what} of shape {list(a.shape)} for rowflow's per-row shape {shape}"
        if a.dtype != dtype:
            return f"{what} of dtype {a.dtype} for a {dtype} model"
    return np.concatenate([a.reshape(batch, -1) for a in arrays], axis=1)


def check_set(exe, model_pb, info, dtype, ins, want, base):
    in_shapes = [v["shape"] for v in info["inputs"]]
    out_shapes = [v["shape"] for v in info["outputs"]]
    rows = rows_of(ins, in_shapes, dtype, "input")
    if isinstance(rows, str):
        return rows
    expected = rows_of(want, out_shapes, dtype, "expected output")
    if isinstance(expected, str):
        return expected
    if expected.shape[0] != rows.shape[0]:
        return f"{rows.shape[0]} input rows but {expected.shape[0]} expected output rows"
    np.save(base + ".in.npy", np.ascontiguousarray(rows))
    rc, err = rowflow(exe, "run", model_pb, "-i", base + ".in.npy", "-o", base + ".out.npy",
                      "-q", "--threads", "1")
    if rc != 0:
        return f"run: exit {rc}: {err.strip()}"
    got = np.load(base + ".out.npy")
    if got.shape != expected.shape or got.dtype != dtype:
        return f"run wrote {got.dtype} {got.shape}, expected {dtype} {expected.shape}"
    rtol, atol = TOL[dtype]
    g, w = got.astype(np.float64), expected.astype(np.float64)
    bad = ~((np.abs(g - w) <= atol + rtol * np.abs(w)) | (np.isnan(g) & np.isnan(w)) | (g == w))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        return (f"{int(bad.sum())} of {bad.size} outputs differ beyond rtol {rtol} atol {atol};"
                f" first at row {r} column {c}: got {g[r, c]!r}, expected {w[r, c]!r}")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rowflow")
    ap.add_argument("scope")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--print-passing", action="store_true",
                    help="print the names of the cases that import and match (for the manifest)")
    ap.add_argument("--verbose", action="store_true", help="one line per case: outcome and why")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    folders = {}
    for suite in SUITES:
        for model in sorted(glob.glob(os.path.join(args.data, suite, "*", "model.onnx"))):
            folder = os.path.dirname(model)
            folders[f"{suite}/{os.path.basename(folder)}"] = folder
    if len(folders) < 1000:
        print(f"FAIL {args.data}: {len(folders)} cases, expected over 1000 "
              "(install Debian's libonnx-testdata; tools/setup/common.sh does)")
        return 1
    scope = read_scope(args.scope)
    unknown = [n for n in scope if n not in folders]
    dups = {n for n in scope if scope.count(n) > 1}
    names = [n for n in folders if args.only in n]

    with tempfile.TemporaryDirectory(prefix="rowflow-backend-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            cases = list(pool.map(lambda n: run_case(args.rowflow, folders[n], n, tmp), names))

    if args.print_passing:
        for c in cases:
            if c.kind == "passed":
                print(c.name)
        return 0

    if args.verbose:
        for c in cases:
            print(f"{c.kind:7} {c.name} {c.why}")
    in_scope = set(scope)
    failures = [f"{n}: in {os.path.basename(args.scope)} but no such case" for n in unknown]
    failures += [f"{n}: listed twice in {os.path.basename(args.scope)}" for n in sorted(dups)]
    passed = refused = extra = 0
    now_passing = []
    for c in cases:
        if c.kind == "failed":
            failures.append(f"{c.name}: {c.why}")
        elif c.name in in_scope:
            if c.kind == "passed":
                passed += 1
            else:
                failures.append(f"{c.name}: in scope but refused: {c.why}")
        elif c.kind == "refused":
            refused += 1
        else:
            extra += 1
            now_passing.append(c.name)
    for f in failures:
        print(f"FAIL {f}")
    if now_passing:
        print(f"note: {len(now_passing)} cases import and match but are not in "
              f"{os.path.basename(args.scope)}; add them:")
        for n in now_passing:
            print(f"  {n}")
    print(f"backend_data: {passed} in scope passed, {refused} out of scope refused, "
          f"{extra} out of scope passing, {len(failures)} failed ({len(cases)} cases)")
    return 1 if failures or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
