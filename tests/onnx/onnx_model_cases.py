"""The ONNX models of rowflow's import tests, each with a numpy float64
reference written independently of the ONNX graph (used by onnx_cases.py).

A case is (name, builder); builder(dtype, rng) returns (model, reference)
where reference(rows) maps the float64 input rows [R, width] to the expected
output rows. Weights are drawn in the model's dtype, so the reference sees
exactly the values rowflow does. Initializers alternate between raw_data and
the typed fields.
"""
import itertools
import math

import numpy as np
from onnx import TensorProto, helper, numpy_helper

NP = {"f32": np.float32, "f64": np.float64}
ELEM = {"f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE}
_raw = itertools.cycle([True, False])


class Net:
    """Collects nodes and initializers of one model."""

    def __init__(self, dtype, rng):
        self.dtype, self.rng = dtype, rng
        self.nodes, self.inits = [], []

    def weight(self, name, *shape, raw=None):
        w = self.rng.uniform(-1, 1, size=shape).astype(NP[self.dtype])
        raw = next(_raw) if raw is None else raw
        if raw:
            self.inits.append(numpy_helper.from_array(w, name))
        else:
            self.inits.append(helper.make_tensor(name, ELEM[self.dtype], list(shape),
                                                 w.ravel().tolist()))
        return w.astype(np.float64)

    def ints(self, name, values):
        self.inits.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{len(self.nodes)}",
                                           **attrs))
        return output

    def model(self, inputs, outputs, opset=13, batch="N"):
        ins = [helper.make_tensor_value_info(n, ELEM[self.dtype], [batch] + d) for n, d in inputs]
        outs = [helper.make_tensor_value_info(n, ELEM[self.dtype], [batch] + d) for n, d in outputs]
        graph = helper.make_graph(self.nodes, "case", ins, outs, self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def col(y):
    return y.reshape(len(y), -1)


def relu(x):
    return np.maximum(x, 0)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def f32(v):
    """An ONNX float attribute as the float64 it stands for."""
    return float(np.float32(v))


def erf(x):
    return np.array([math.erf(v) for v in np.ravel(x)]).reshape(np.shape(x))


def gelu(x):
    return x * (1 + erf(x / math.sqrt(2))) / 2


def gelu_tanh(x):
    return x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))) / 2


def silu(x):
    return x / (1 + np.exp(-x))


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


ALPHA = f32(0.2)  # ONNX attributes are floats
# ONNX op -> (attributes, numpy reference).
ACTS = {
    "Relu": ({}, relu),
    "LeakyRelu": ({"alpha": 0.2}, lambda x: np.where(x >= 0, x, ALPHA * x)),
    "Tanh": ({}, np.tanh),
    "Sigmoid": ({}, lambda x: 1 / (1 + np.exp(-x))),
    "Softplus": ({}, lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)),
    "Softmax": ({}, softmax),
    "Elu": ({"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0)))),
    "HardSigmoid": ({}, lambda x: np.clip(f32(0.2) * x + 0.5, 0, 1)),
    "LogSoftmax": ({}, log_softmax),
    "Erf": ({}, erf),
}


def matmul_bias(dt, rng, bias=True):
    n = Net(dt, rng)
    W = n.weight("W", 5, 3)
    h = n.node("MatMul", ["x", "W"], "h" if bias else "y")
    b = n.weight("b", 3) if bias else 0
    if bias:
        n.node("Add", [h, "b"], "y")
    return n.model([("x", [5])], [("y", [3])]), lambda r: r @ W + b


def matmul_vector(dt, rng):
    n = Net(dt, rng)
    w = n.weight("w", 4)
    n.node("MatMul", ["x", "w"], "y")
    return n.model([("x", [4])], [("y", [])]), lambda r: col(r @ w)


def gemm(dt, rng, trans_b=1, alpha=1.0, beta=1.0, bias_shape=(3,), units=3):
    n = Net(dt, rng)
    W = n.weight("W", *((units, 5) if trans_b else (5, units)))
    inputs = ["x", "W"]
    C = 0
    if bias_shape is not None:
        C = n.weight("C", *bias_shape)
        inputs.append("C")
    n.node("Gemm", inputs, "y", transB=trans_b, alpha=alpha, beta=beta)
    Wk = W.T if trans_b else W
    return n.model([("x", [5])], [("y", [units])]), lambda r: alpha * (r @ Wk) + beta * C


def gemm_act(act, opset=13):
    def build(dt, rng):
        n = Net(dt, rng)
        W, b = n.weight("W", 4, 5), n.weight("b", 4)
        n.node("Gemm", ["x", "W", "b"], "h", transB=1)
        attrs, reference = ACTS[act]
        n.node(act, ["h"], "y", **attrs)
        return n.model([("x", [5])], [("y", [4])], opset=opset), lambda r: reference(r @ W.T + b)
    return build


def hard_sigmoid_torch(dt, rng):
    """nn.Hardsigmoid: HardSigmoid(alpha=1/6), with a MatMul before it."""
    n = Net(dt, rng)
    W = n.weight("W", 4, 3)
    n.node("HardSigmoid", [n.node("MatMul", ["x", "W"], "h")], "y", alpha=1 / 6, beta=0.5)
    return n.model([("x", [4])], [("y", [3])]), lambda r: np.clip(f32(1 / 6) * (r @ W) + 0.5, 0, 1)


def scalar(n, name, value, as_node):
    """A scalar constant in the model's dtype: a Constant node (as
    torch.onnx writes them) or an initializer."""
    t = numpy_helper.from_array(np.array(value, dtype=NP[n.dtype]), name)
    if as_node:
        n.nodes.append(helper.make_node("Constant", [], [name], value=t))
    else:
        n.inits.append(t)
    return name


def expansion(kind):
    """The subgraphs PyTorch writes for nn.GELU() (torch.onnx, TorchScript:
    Div by sqrt(2), Erf, Add 1, Mul x, Mul 0.5), GELU with Mul by 1/sqrt(2)
    and 0.5 * x first, nn.GELU(approximate='tanh') (x * (x * x), and
    Pow(x, 3) as the dynamo exporter writes), nn.SiLU() (Mul(x, Sigmoid(x)))
    and Gelu of opset 20; after a Gemm, so they read a row value."""
    def build(dt, rng):
        n = Net(dt, rng)
        W, b = n.weight("W", 4, 5), n.weight("b", 4)
        x = n.node("Gemm", ["x", "W", "b"], "h", transB=1)
        opset = 13
        # The reference uses the constants as the model stores them (in its
        # dtype); rowflow's activations use the exact ones, well within TOL.
        c = {k: float(NP[dt](v)) for k, v in [("sqrt2", math.sqrt(2)), ("kappa", 0.044715),
                                               ("beta", math.sqrt(2 / math.pi))]}
        if kind == "gelu":
            e = n.node("Erf", [n.node("Div", [x, scalar(n, "sqrt2", math.sqrt(2), True)], "d")], "e")
            a = n.node("Add", [e, scalar(n, "one", 1.0, True)], "a")
            n.node("Mul", [n.node("Mul", [x, a], "m"), scalar(n, "half", 0.5, True)], "y")
            def ref(z): return z * (1 + erf(z / c["sqrt2"])) / 2
        elif kind == "gelu_mul":
            d = n.node("Mul", [scalar(n, "rsqrt2", 1 / math.sqrt(2), False), x], "d")
            a = n.node("Add", [scalar(n, "one", 1.0, False), n.node("Erf", [d], "e")], "a")
            n.node("Mul", [n.node("Mul", [x, scalar(n, "half", 0.5, False)], "m"), a], "y")
            rsqrt2 = float(NP[dt](1 / math.sqrt(2)))
            def ref(z): return z * (1 + erf(z * rsqrt2)) / 2
        elif kind in ("gelu_tanh", "gelu_tanh_pow"):
            if kind == "gelu_tanh":
                cube = n.node("Mul", [x, n.node("Mul", [x, x], "x2")], "x3")
            else:
                cube = n.node("Pow", [x, scalar(n, "three", 3.0, False)], "x3")
            k = n.node("Mul", [scalar(n, "kappa", 0.044715, True), cube], "k")
            s = n.node("Add", [x, k], "s")
            i = n.node("Mul", [scalar(n, "beta", math.sqrt(2 / math.pi), True), s], "i")
            a = n.node("Add", [scalar(n, "one", 1.0, True), n.node("Tanh", [i], "t")], "a")
            n.node("Mul", [scalar(n, "half", 0.5, True), n.node("Mul", [x, a], "m")], "y")
            def ref(z): return z * (1 + np.tanh(c["beta"] * (z + c["kappa"] * z * z * z))) / 2
        elif kind == "silu":
            n.node("Mul", [x, n.node("Sigmoid", [x], "s")], "y")
            ref = silu
        else:  # "gelu_op_none", "gelu_op_tanh"
            approximate = kind.rsplit("_", 1)[1]
            n.node("Gelu", [x], "y", approximate=approximate)
            ref = gelu if approximate == "none" else gelu_tanh
            opset = 20
        model = n.model([("x", [5])], [("y", [4])], opset=opset)
        return model, lambda r: ref(r @ W.T + b)
    return build


def mul_add_const(dt, rng):
    n = Net(dt, rng)
    c, d = n.weight("c", 4), n.weight("d", 1, 4)
    n.node("Add", [n.node("Mul", ["x", "c"], "h"), "d"], "y")
    return n.model([("x", [4])], [("y", [4])]), lambda r: r * c + d


def mul_rows(dt, rng):
    n = Net(dt, rng)
    n.node("Mul", [n.node("Relu", ["x"], "h"), "x"], "y")
    return n.model([("x", [4])], [("y", [4])]), lambda r: relu(r) * r


def reducesum(dt, rng):
    n = Net(dt, rng)
    w = n.weight("w", 4)
    n.node("ReduceSum", [n.node("Mul", ["x", "w"], "h"), n.ints("axes", [-1])], "y", keepdims=0)
    return n.model([("x", [4])], [("y", [])]), lambda r: col((r * w).sum(axis=1))


def reducesum_opset11(dt, rng):
    n = Net(dt, rng)
    n.node("ReduceSum", ["x"], "y", axes=[1])  # keepdims defaults to 1
    return n.model([("x", [4])], [("y", [1])], opset=11), lambda r: r.sum(axis=1, keepdims=True)


def flatten_identity(dt, rng):
    n = Net(dt, rng)
    W = n.weight("W", 4, 2)
    n.node("MatMul", [n.node("Identity", [n.node("Flatten", ["x"], "f")], "i"), "W"], "y")
    return n.model([("x", [4])], [("y", [2])]), lambda r: r @ W


def concat_layers(dt, rng):
    n = Net(dt, rng)
    W1, b1, W2 = n.weight("W1", 2, 4), n.weight("b1", 2), n.weight("W2", 4, 3)
    a = n.node("Gemm", ["x", "W1", "b1"], "a", transB=1)
    b = n.node("Relu", [n.node("MatMul", ["x", "W2"], "m")], "b")
    n.node("Concat", [a, b], "y", axis=-1)
    return n.model([("x", [4])], [("y", [5])]), lambda r: np.hstack([r @ W1.T + b1, relu(r @ W2)])


def concat_units(dt, rng):
    """The seed's per-node style: one (x * w_i).sum() per unit, then stack."""
    n = Net(dt, rng)
    ws, units = [], []
    for i in range(3):
        ws.append(n.weight(f"w{i}", 4))
        s = n.node("ReduceSum", [n.node("Mul", ["x", f"w{i}"], f"m{i}"), n.ints(f"ax{i}", [1])],
                   f"s{i}")  # keepdims=1: [N, 1]
        units.append(n.node("Tanh", [s], f"u{i}"))
    n.node("Concat", units, "y", axis=1)
    return n.model([("x", [4])], [("y", [3])]), lambda r: np.tanh(np.stack([r @ w for w in ws], 1))


def unsqueeze_broadcast(dt, rng):
    """rowflow's own export style: x[N, 1, n] * W[k, n], summed over n."""
    n = Net(dt, rng)
    W, b = n.weight("W", 3, 4), n.weight("b", 3)
    u = n.node("Unsqueeze", ["x", n.ints("one", [1])], "u")
    s = n.node("ReduceSum", [n.node("Mul", [u, "W"], "m"), n.ints("two", [2])], "s", keepdims=0)
    n.node("Add", [s, "b"], "y")
    return n.model([("x", [4])], [("y", [3])]), lambda r: r @ W.T + b


def two_inputs(dt, rng):
    n = Net(dt, rng)
    W, c = n.weight("W", 1, 5), n.weight("c", 1)
    cat = n.node("Concat", ["a", "b"], "cat", axis=1)
    n.node("Sigmoid", [n.node("Gemm", [cat, "W", "c"], "g", transB=1)], "y")
    n.node("Relu", ["b"], "z")
    model = n.model([("a", [2]), ("b", [3])], [("y", [1]), ("z", [3])])
    return model, lambda r: np.hstack([ACTS["Sigmoid"][1](r @ W.T + c), relu(r[:, 2:])])


def constant_node(dt, rng):
    n = Net(dt, rng)
    W = n.weight("W", 3, 2)
    k = rng.uniform(-1, 1, size=2).astype(NP[dt])
    n.nodes.append(helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(k)))
    n.node("Add", [n.node("MatMul", ["x", "W"], "m"), "k"], "y")
    return n.model([("x", [3])], [("y", [2])]), lambda r: r @ W + k.astype(np.float64)


def matrix_rows(dt, rng):
    n = Net(dt, rng)
    W = n.weight("W", 2, 3)
    s = n.node("ReduceSum", [n.node("Mul", ["x", "W"], "m"), n.ints("axes", [2])], "s",
               keepdims=0)
    n.node("Softmax", [s], "y", axis=-1)
    return n.model([("x", [2, 3])], [("y", [2])]), lambda r: softmax((r.reshape(-1, 2, 3) * W).sum(2))


def pytorch_mlp(dt, rng):
    """What torch.onnx.export writes for Sequential(Linear, ReLU, Linear,
    Tanh, Linear) with dynamic_axes on the batch: Gemm(transB=1), raw_data."""
    n = Net(dt, rng)
    p = {k: n.weight(k, *s, raw=True) for k, s in
         [("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (6, 8)), ("2.bias", (6,)),
          ("4.weight", (2, 6)), ("4.bias", (2,))]}
    h = "input"
    for i, act in [(0, "Relu"), (2, "Tanh"), (4, None)]:
        h = n.node("Gemm", [h, f"{i}.weight", f"{i}.bias"],
                   "output" if act is None else f"/{i}/Gemm_output_0", alpha=1.0, beta=1.0,
                   transB=1)
        n.nodes[-1].name = f"/{i}/Gemm"
        if act:
            h = n.node(act, [h], f"/{i + 1}/{act}_output_0")
            n.nodes[-1].name = f"/{i + 1}/{act}"

    def reference(r):
        h = relu(r @ p["0.weight"].T + p["0.bias"])
        h = np.tanh(h @ p["2.weight"].T + p["2.bias"])
        return h @ p["4.weight"].T + p["4.bias"]
    return n.model([("input", [4])], [("output", [2])], opset=17, batch="batch_size"), reference


def fixed_batch(dt, rng):
    n = Net(dt, rng)
    W = n.weight("W", 4, 2)
    n.node("MatMul", ["x", "W"], "y")
    model = n.model([("x", [4])], [("y", [2])])
    for vi in (model.graph.input[0], model.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_value = 1
    return model, lambda r: r @ W


def clip(form):
    """nn.ReLU6 / nn.Hardtanh as torch.onnx writes them: Clip with bounds as
    inputs (opset 11+; either may be omitted) or attributes (before 11)."""
    def build(dt, rng):
        n = Net(dt, rng)
        W, b = n.weight("W", 4, 5), n.weight("b", 4)
        n.node("Gemm", ["x", "W", "b"], "h", transB=1)
        lo, hi = -0.25, 0.75
        opset = 13
        if form == "inputs":
            n.node("Clip", ["h", scalar(n, "lo", lo, True), scalar(n, "hi", hi, False)], "y")
        elif form == "max_only":
            lo = -np.inf
            n.node("Clip", ["h", "", scalar(n, "hi", hi, False)], "y")
        else:  # attributes, opset 9
            opset = 9
            n.node("Clip", ["h"], "y", min=lo, max=hi)
            lo, hi = f32(lo), f32(hi)
        return (n.model([("x", [5])], [("y", [4])], opset=opset),
                lambda r: np.clip(r @ W.T + b, lo, hi))
    return build


def layer_norm(form):
    """nn.LayerNorm(4) after a Linear: LayerNormalization (opset 17) or the
    ReduceMean/Sub/Pow (or Mul)/ReduceMean/Add/Sqrt/Div pattern torch.onnx
    writes below 17, then Mul by the scale and Add of the bias."""
    def build(dt, rng):
        n = Net(dt, rng)
        W, b = n.weight("W", 4, 5), n.weight("b", 4)
        g, beta = n.weight("g", 4), n.weight("beta", 4)
        eps = 1e-3
        n.node("Gemm", ["x", "W", "b"], "h", transB=1)
        opset = 13
        if form == "op":
            opset = 17
            n.node("LayerNormalization", ["h", "g", "beta"], "y", epsilon=eps)
            eps = f32(eps)
        else:
            n.nodes.append(helper.make_node("ReduceMean", ["h"], ["m"], axes=[-1]))
            n.node("Sub", ["h", "m"], "d")
            if form == "pow":
                n.node("Pow", ["d", scalar(n, "two", 2.0, True)], "d2")
            else:
                n.node("Mul", ["d", "d"], "d2")
            n.nodes.append(helper.make_node("ReduceMean", ["d2"], ["v"], axes=[-1]))
            n.node("Sqrt", [n.node("Add", ["v", scalar(n, "eps", eps, False)], "ve")], "s")
            n.node("Add", [n.node("Mul", [n.node("Div", ["d", "s"], "z"), "g"], "zg"),
                           "beta"], "y")
            eps = float(NP[dt](eps))

        def reference(r):
            h = r @ W.T + b
            d = h - h.mean(axis=-1, keepdims=True)
            return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps) * g + beta
        return n.model([("x", [5])], [("y", [4])], opset=opset), reference
    return build


_BUILDERS = [
    ("matmul_bias", matmul_bias),
    ("matmul", lambda dt, rng: matmul_bias(dt, rng, bias=False)),
    ("matmul_vector", matmul_vector),
    ("gemm_linear", gemm),
    ("gemm_nobias", lambda dt, rng: gemm(dt, rng, bias_shape=None)),
    ("gemm_alpha_beta", lambda dt, rng: gemm(dt, rng, 0, 0.5, 2.0, (1, 3))),
    ("gemm_scalar_bias", lambda dt, rng: gemm(dt, rng, 0, 1.0, 1.0, (1,), units=2)),
    ("mul_add_const", mul_add_const),
    ("mul_rows", mul_rows),
    ("reducesum", reducesum),
    ("reducesum_opset11", reducesum_opset11),
    ("flatten_identity", flatten_identity),
    ("concat_layers", concat_layers),
    ("concat_units", concat_units),
    ("unsqueeze_broadcast", unsqueeze_broadcast),
    ("two_inputs", two_inputs),
    ("constant_node", constant_node),
    ("matrix_rows", matrix_rows),
    ("pytorch_mlp", pytorch_mlp),
    ("fixed_batch", fixed_batch),
    ("softmax_opset11", gemm_act("Softmax", opset=11)),
    ("hard_sigmoid_torch", hard_sigmoid_torch),
    ("clip_inputs", clip("inputs")),
    ("clip_max_only", clip("max_only")),
    ("clip_attributes_opset9", clip("attributes")),
    ("layer_norm_op", layer_norm("op")),
    ("layer_norm_pow", layer_norm("pow")),
    ("layer_norm_mul", layer_norm("mul")),
] + [(f"gemm_{act.lower()}", gemm_act(act)) for act in ACTS] + [
    (f"expansion_{kind}", expansion(kind))
    for kind in ("gelu", "gelu_mul", "gelu_tanh", "gelu_tanh_pow", "silu", "gelu_op_none",
                 "gelu_op_tanh")]

CASES = [(name, dt, build) for name, build in _BUILDERS for dt in ("f32", "f64")]
