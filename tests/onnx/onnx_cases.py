#!/usr/bin/python3
"""ONNX models and numpy references for rowflow's ONNX tests (onnx_test.sh).

  onnx_cases.py gen DIR            small ONNX models (each op of the subset,
                                   with and without bias, f32 and f64), rows,
                                   and numpy float64 predictions: DIR/cases.txt
  onnx_cases.py bad DIR            malformed models; DIR/bad.txt lists
                                   "name<TAB>message regex"
  onnx_cases.py check MODEL ROWS GOT DTYPE
                                   onnx.checker (full) on MODEL, then MODEL run
                                   by this file's numpy evaluator on ROWS must
                                   match rowflow's predictions GOT
  onnx_cases.py compare GOT WANT DTYPE

Needs Debian's python3-onnx and python3-numpy: run it with /usr/bin/python3.
Tolerance (GOT vs a float64 reference): |got - want| <= tol * (1 + |want|),
tol = 1e-5 for f32 models and 1e-12 for f64 models.
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TOL = {"f32": 1e-5, "f64": 1e-12}
NP = {"f32": np.float32, "f64": np.float64}
ELEM = {"f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE}

# --- a numpy float64 evaluator for the ONNX subset rowflow imports/exports ---


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def evaluate(model, feeds):
    """Runs `model` on {input name: float64 array}; returns the outputs."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    env = dict(feeds)
    for t in model.graph.initializer:
        env[t.name] = numpy_helper.to_array(t)
        if env[t.name].dtype.kind == "f":
            env[t.name] = env[t.name].astype(np.float64)
    for node in model.graph.node:  # the checker ensures topological order
        a = _attrs(node)
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "MatMul":
            y = x[0] @ x[1]
        elif op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            B = x[1].T if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "Mul":
            y = x[0] * x[1]
        elif op == "ReduceSum":
            axes = a.get("axes") if opset < 13 else (x[1] if len(x) > 1 else None)
            y = np.sum(x[0], axis=tuple(int(v) for v in axes),
                       keepdims=bool(a.get("keepdims", 1)))
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "LeakyRelu":
            y = np.where(x[0] >= 0, x[0], a.get("alpha", 0.01) * x[0])
        elif op == "Tanh":
            y = np.tanh(x[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-x[0]))
        elif op == "Softplus":
            y = np.logaddexp(0, x[0])
        elif op == "Elu":
            alpha = a.get("alpha", 1.0)
            y = np.where(x[0] > 0, x[0], alpha * np.expm1(np.minimum(x[0], 0)))
        elif op == "HardSigmoid":
            # ONNX's defaults are float attributes too.
            alpha = a.get("alpha", float(np.float32(0.2)))
            y = np.clip(alpha * x[0] + a.get("beta", 0.5), 0, 1)
        elif op == "Erf":
            y = _erf(x[0])
        elif op == "Gelu":
            if a.get("approximate", b"none") in (b"tanh", "tanh"):
                y = 0.5 * x[0] * (1 + np.tanh(np.sqrt(2 / np.pi) *
                                              (x[0] + 0.044715 * x[0] ** 3)))
            else:
                y = 0.5 * x[0] * (1 + _erf(x[0] / np.sqrt(2)))
        elif op == "Div":
            y = x[0] / x[1]
        elif op == "Pow":
            y = np.power(x[0], x[1])
        elif op == "LogSoftmax":
            axis = a.get("axis", -1 if opset >= 13 else 1)
            m = x[0].max(axis=axis, keepdims=True)
            y = x[0] - m - np.log(np.exp(x[0] - m).sum(axis=axis, keepdims=True))
        elif op == "Softmax":
            axis = a.get("axis", -1 if opset >= 13 else 1)
            if opset >= 13:
                y = _softmax(x[0], axis)
            else:  # normalizes over the dims from `axis` on, flattened
                shape = x[0].shape
                flat = x[0].reshape(int(np.prod(shape[:axis])), -1)
                y = _softmax(flat, 1).reshape(shape)
        elif op == "Sub":
            y = x[0] - x[1]
        elif op == "Sqrt":
            y = np.sqrt(x[0])
        elif op == "Clip":
            if opset < 11:
                lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
            else:
                lo = x[1] if len(x) > 1 and x[1] is not None else -np.inf
                hi = x[2] if len(x) > 2 and x[2] is not None else np.inf
            y = np.minimum(np.maximum(x[0], lo), hi)
        elif op == "ReduceMean":
            axes = a.get("axes") if opset < 18 else x[1]
            y = np.mean(x[0], axis=tuple(int(v) for v in axes),
                        keepdims=bool(a.get("keepdims", 1)))
        elif op == "LayerNormalization":
            d = x[0] - x[0].mean(axis=-1, keepdims=True)
            y = d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + a.get("epsilon", 1e-5))
            y = y * x[1] + (x[2] if len(x) > 2 and x[2] is not None else 0)
        elif op == "Identity":
            y = x[0]
        elif op == "Flatten":
            axis = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif op == "Concat":
            y = np.concatenate(x, axis=a["axis"])
        elif op == "Unsqueeze":
            axes = a["axes"] if opset < 13 else x[1]
            y = x[0]
            for ax in sorted(int(v) % (y.ndim + len(axes)) for v in axes):
                y = np.expand_dims(y, ax)
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"]).astype(np.float64)
        else:
            raise SystemExit(f"evaluator: op {op} is not in the subset")
        env[node.output[0]] = np.asarray(y, dtype=np.float64)
    return [env[o.name] for o in model.graph.output]


def predict(model, rows):
    """rowflow's view: a row's columns fill the inputs in order, and the
    outputs' elements are the output row's columns."""
    feeds, col = {}, 0
    inits = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim[1:]]
        width = int(np.prod(dims))
        feeds[vi.name] = rows[:, col:col + width].reshape([len(rows)] + dims)
        col += width
    outs = evaluate(model, feeds)
    return np.concatenate([o.reshape(len(rows), -1) for o in outs], axis=1)


# --- CSV helpers -------------------------------------------------------------


def read_csv(path):
    with open(path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f if line.strip()]
    return np.array(rows, dtype=np.float64)


def write_csv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(repr(float(v)) for v in r) + "\n")


def compare(got, want, dtype, what):
    """Exits 1 with the worst element when got and want differ beyond TOL."""
    if got.shape != want.shape:
        raise SystemExit(f"{what}: shape {got.shape}, expected {want.shape}")
    err = np.abs(got - want) / (1 + np.abs(want))
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else None
    if err.size and not err[worst] <= TOL[dtype]:
        raise SystemExit(f"{what}: row {worst[0]} col {worst[1]}: got {got[worst]!r}, "
                         f"expected {want[worst]!r} (scaled error {err[worst]:.3g} > "
                         f"{TOL[dtype]})")
    return float(err.max()) if err.size else 0.0


# --- the cases -----------------------------------------------------------------

# Next to this file (python puts the script's folder first on sys.path).
from onnx_model_cases import CASES  # noqa: E402
from onnx_bad_cases import BAD_CASES  # noqa: E402


def gen(out_dir):
    rng = np.random.default_rng(20240607)
    lines = []
    for name, dtype, build in CASES:
        model, reference = build(dtype, rng)
        if max(o.version for o in model.opset_import) <= onnx.defs.onnx_opset_version():
            onnx.checker.check_model(model, full_check=True)
        # else: newer than this python3-onnx knows (Gelu, opset 20); the
        # evaluator and the reference still check each other below.
        width = sum(int(np.prod([d.dim_value for d in vi.type.tensor_type.shape.dim[1:]]))
                    for vi in model.graph.input)
        rows = rng.uniform(-2, 2, size=(41, width)).astype(NP[dtype]).astype(np.float64)
        rows[0] = 0
        want = reference(rows)
        # The hand-written reference and the evaluator must agree: a check of
        # the test itself.
        compare(predict(model, rows), want, "f64", f"{name}: evaluator vs reference")
        case = f"{name}_{dtype}"
        onnx.save(model, os.path.join(out_dir, case + ".onnx"))
        write_csv(os.path.join(out_dir, case + ".rows.csv"), rows)
        write_csv(os.path.join(out_dir, case + ".want.csv"), want)
        lines.append(f"{case} {dtype}\n")
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.writelines(lines)


def bad(out_dir):
    with open(os.path.join(out_dir, "bad.txt"), "w") as f:
        for name, make, pattern in BAD_CASES:
            data = make()
            with open(os.path.join(out_dir, name + ".onnx"), "wb") as m:
                m.write(data if isinstance(data, bytes) else data.SerializeToString())
            f.write(f"{name}\t{pattern}\n")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "gen" and len(argv) == 3:
        gen(argv[2])
    elif cmd == "bad" and len(argv) == 3:
        bad(argv[2])
    elif cmd == "check" and len(argv) == 6:
        model = onnx.load(argv[2])
        onnx.checker.check_model(model, full_check=True)
        err = compare(read_csv(argv[4]), predict(model, read_csv(argv[3])), argv[5],
                      f"{argv[2]}: rowflow vs numpy evaluation of the ONNX model")
        print(f"max scaled error {err:.3g}")
    elif cmd == "compare" and len(argv) == 5:
        err = compare(read_csv(argv[2]), read_csv(argv[3]), argv[4], argv[2])
        print(f"max scaled error {err:.3g}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
