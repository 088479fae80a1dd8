#!/usr/bin/python3
"""ONNX models and numpy references for rowflow's ONNX tests (onnx_test.sh).

  onnx_cases.py gen DIR            small ONNX models (each op of the subset,
                                   with and without bias, f32 and f64), rows,
                                   and numpy predictions: DIR/cases.txt lists
                                   "case dtype tolerance"
  onnx_cases.py bad DIR            malformed models; DIR/bad.txt lists
                                   "name<TAB>message regex"
  onnx_cases.py check MODEL ROWS GOT DTYPE
                                   onnx.checker (full) on MODEL, then MODEL run
                                   by this file's numpy evaluator on ROWS must
                                   match rowflow's predictions GOT
  onnx_cases.py compare GOT WANT DTYPE [TOLERANCE]

Needs Debian's python3-onnx and python3-numpy: run it with /usr/bin/python3.
Tolerance (GOT vs a float64 reference), by default ("scaled"):
|got - want| <= tol * (1 + |want|), tol = 1e-5 for f32 models and 1e-12 for
f64 models. A case may state a tighter one: "exact" (bitwise equal to a
reference computed in the model's dtype) or "ulpsK" (|got - want| <=
K * eps * |want| against float64, eps = 2^-23 for f32 and 2^-52 for f64).
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TOL = {"f32": 1e-5, "f64": 1e-12}
EPS = {"f32": 2.0 ** -23, "f64": 2.0 ** -52}
NP = {"f32": np.float32, "f64": np.float64}
ELEM = {"f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE}

# --- a numpy float64 evaluator for the ONNX subset rowflow imports/exports ---


def f32(v):
    """An ONNX float attribute as the float64 it stands for."""
    return float(np.float32(v))


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _legacy(a, b, attrs, opset):
    """Input b lined up with a under the broadcast/axis attributes of
    opsets before 7 (numpy's trailing alignment from opset 7)."""
    if opset >= 7 or not attrs.get("broadcast", 0) or b.ndim == 0:
        return b
    axis = attrs.get("axis", a.ndim - b.ndim) % a.ndim
    return b.reshape(b.shape + (1,) * (a.ndim - axis - b.ndim))


def _axes(node_attrs, x, opset, since=13):
    axes = node_attrs.get("axes") if opset < since else (x[1] if len(x) > 1 else None)
    return None if axes is None else tuple(int(v) for v in axes)


def evaluate(model, feeds):
    """Runs `model` on {input name: float64 array}; returns the outputs.
    An activation parameter that rowflow's exporter saved exactly in the
    metadata (rowflow.alpha/<output>, ...) replaces its float attribute."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    exact = {}
    for prop in model.metadata_props:
        for param in ("alpha", "beta"):
            if prop.key.startswith(f"rowflow.{param}/"):
                exact[(prop.key.split("/", 1)[1], param)] = float(prop.value)
    env = dict(feeds)
    for t in model.graph.initializer:
        env[t.name] = numpy_helper.to_array(t)
        if env[t.name].dtype.kind == "f":
            env[t.name] = env[t.name].astype(np.float64)
    for node in model.graph.node:  # the checker ensures topological order
        a = _attrs(node)
        for param in ("alpha", "beta"):
            if (node.output[0], param) in exact and param in a:
                # Only where it is that float's exact value.
                assert f32(exact[(node.output[0], param)]) == f32(a[param]), node.name
                a[param] = exact[(node.output[0], param)]
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "MatMul":
            y = x[0] @ x[1]
        elif op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            B = x[1].T if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if opset < 7 and len(x) > 2 and not a.get("broadcast", 0):
                raise SystemExit("evaluator: Gemm broadcast=0 needs C of the full shape")
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
        elif op == "Add":
            y = x[0] + _legacy(x[0], x[1], a, opset)
        elif op == "Sub":
            y = x[0] - _legacy(x[0], x[1], a, opset)
        elif op == "Mul":
            y = x[0] * _legacy(x[0], x[1], a, opset)
        elif op == "Div":
            y = x[0] / _legacy(x[0], x[1], a, opset)
        elif op == "Pow":
            y = np.power(x[0], _legacy(x[0], x[1], a, opset))
        elif op == "Sqrt":
            y = np.sqrt(x[0])
        elif op == "Neg":
            y = -x[0]
        elif op == "Reciprocal":
            y = 1 / x[0]
        elif op == "BatchNormalization":
            shape = (-1,) + (1,) * (x[0].ndim - 2)
            if opset < 9 and not a.get("spatial", 1):
                shape = x[1].shape
            s, b, m, v = (t.reshape(shape) for t in x[1:5])
            y = (x[0] - m) / np.sqrt(v + a.get("epsilon", f32(1e-5))) * s + b
        elif op == "PRelu":
            y = np.where(x[0] < 0, x[1] * x[0], x[0])
        elif op == "Selu":
            alpha = a.get("alpha", 1.67326319217681884765625)
            gamma = a.get("gamma", 1.05070102214813232421875)
            y = gamma * np.where(x[0] > 0, x[0], alpha * np.expm1(np.minimum(x[0], 0)))
        elif op == "HardSwish":
            y = x[0] * np.clip(x[0] / 6 + 0.5, 0, 1)
        elif op == "Squeeze":
            axes = _axes(a, x, opset)
            y = np.squeeze(x[0], axis=axes)
        elif op == "Reshape":
            shape = a["shape"] if opset < 5 else x[1]
            shape = [x[0].shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
            y = x[0].reshape(shape)
        elif op == "Transpose":
            y = np.transpose(x[0], a.get("perm"))
        elif op == "Cast":
            to = a["to"]
            if isinstance(to, bytes):  # a name before opset 6
                to = TensorProto.DataType.Value(to.decode())
            y = x[0].astype(np.float32) if to == TensorProto.FLOAT else x[0]
        elif op == "Dropout":
            y = x[0]
        elif op == "ReduceSum":
            y = np.sum(x[0], axis=_axes(a, x, opset), keepdims=bool(a.get("keepdims", 1)))
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
            y = np.concatenate(x, axis=a.get("axis", 1))
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


def compare(got, want, dtype, what, tolerance="scaled"):
    """Exits 1 with the worst element when got and want differ beyond the
    tolerance (see the module doc); returns the worst error in its unit."""
    if got.shape != want.shape:
        raise SystemExit(f"{what}: shape {got.shape}, expected {want.shape}")
    if tolerance != "scaled":
        # CSV holds the shortest decimal that reads back as the dtype's value.
        got = got.astype(NP[dtype]).astype(np.float64)
    if tolerance == "exact":
        err, limit, unit = (got != want).astype(np.float64), 0.0, "elements differing"
    elif tolerance.startswith("ulps"):
        # In units of eps * |want| (a zero want allows no error).
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(got - want) / (EPS[dtype] * np.abs(want))
        err[got == want] = 0
        limit, unit = float(tolerance[4:]), "eps relative"
    else:
        err, limit, unit = np.abs(got - want) / (1 + np.abs(want)), TOL[dtype], "scaled"
    err = np.where(np.isnan(err), np.inf, err)
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else None
    if err.size and not err[worst] <= limit:
        raise SystemExit(f"{what}: row {worst[0]} col {worst[1]}: got {got[worst]!r}, "
                         f"expected {want[worst]!r} ({unit} error {err[worst]:.3g} > "
                         f"{limit}, tolerance {tolerance})")
    if tolerance == "exact":
        return "bitwise equal"
    return f"max {unit} error {float(err.max()) if err.size else 0.0:.3g}"


# --- the cases -----------------------------------------------------------------

# Next to this file (python puts the script's folder first on sys.path).
from onnx_model_cases import CASES  # noqa: E402
from onnx_bad_cases import BAD_CASES  # noqa: E402


def gen(out_dir):
    rng = np.random.default_rng(20240607)
    lines = []
    for name, dtype, build in CASES:
        model, reference, *rest = build(dtype, rng)
        tolerance = rest[0] if rest else "scaled"
        opset = max(o.version for o in model.opset_import)
        if opset <= onnx.defs.onnx_opset_version():
            # onnx has no type inference for several ops of opsets 1 to 5
            # (Gemm-1, Relu-1, ...): their models get the structural check.
            onnx.checker.check_model(model, full_check=opset >= 6)
        # else: newer than this python3-onnx knows (Gelu, opset 20); the
        # evaluator and the reference still check each other below.
        width = sum(int(np.prod([d.dim_value for d in vi.type.tensor_type.shape.dim[1:]]))
                    for vi in model.graph.input)
        rows = rng.uniform(-2, 2, size=(41, width)).astype(NP[dtype]).astype(np.float64)
        rows[0] = 0
        want = reference(rows)
        # The hand-written reference and the evaluator must agree: a check of
        # the test itself (within the dtype's rounding for a reference
        # computed in the dtype).
        compare(predict(model, rows), want, "f64" if tolerance == "scaled" else dtype,
                f"{name}: evaluator vs reference")
        case = f"{name}_{dtype}"
        onnx.save(model, os.path.join(out_dir, case + ".onnx"))
        write_csv(os.path.join(out_dir, case + ".rows.csv"), rows)
        write_csv(os.path.join(out_dir, case + ".want.csv"), want)
        lines.append(f"{case} {dtype} {tolerance}\n")
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
        print(compare(read_csv(argv[4]), predict(model, read_csv(argv[3])), argv[5],
                      f"{argv[2]}: rowflow vs numpy evaluation of the ONNX model"))
    elif cmd == "compare" and len(argv) in (5, 6):
        print(compare(read_csv(argv[2]), read_csv(argv[3]), argv[4], argv[2],
                      *argv[5:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
