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


# --- Sub, Div, the tabular layers, reshapes, folding, old opsets ---------------


def in_dtype(dt, f):
    """A reference computed in the model's dtype (for the exact cases)."""
    return lambda r: np.asarray(f(r.astype(NP[dt])), dtype=NP[dt]).astype(np.float64)


def sub(kind):
    """x - c, c - x and Relu(x) - x: rowflow adds the negation, exactly."""
    def build(dt, rng):
        n = Net(dt, rng)
        c = n.weight("c", 4).astype(NP[dt])
        if kind == "x_minus_c":
            n.node("Sub", ["x", "c"], "y")
            f = lambda r: r - c
        elif kind == "c_minus_x":
            n.node("Sub", ["c", "x"], "y")
            f = lambda r: c - r
        else:
            n.node("Sub", [n.node("Relu", ["x"], "h"), "x"], "y")
            f = lambda r: np.maximum(r, 0) - r
        return n.model([("x", [4])], [("y", [4])]), in_dtype(dt, f), "exact"
    return build


def div_const(dt, rng):
    """x / c as x * (1 / c): within 2 eps of numpy's division in float64."""
    n = Net(dt, rng)
    c = n.weight("c", 5)
    n.node("Div", ["x", "c"], "y")
    return n.model([("x", [5])], [("y", [5])]), lambda r: r / c, "ulps2"


def div_pow2(dt, rng):
    """x / 4 and x / 0.5: the reciprocal of a power of two is exact."""
    n = Net(dt, rng)
    n.inits.append(numpy_helper.from_array(np.array([4, 0.5, 2, 1], NP[dt]), "c"))
    n.node("Div", ["x", "c"], "y")
    f = lambda r: r / np.array([4, 0.5, 2, 1], NP[dt])
    return n.model([("x", [4])], [("y", [4])]), in_dtype(dt, f), "exact"


def standardise(dt, rng, folded=True):
    """(x - mu) / sd then a Linear layer: scikit-learn's StandardScaler in
    front of an MLP. Unfolded (do_constant_folding=False): sd = Sqrt(var),
    and the mean behind Neg and Neg, computed on the host."""
    n = Net(dt, rng)
    mu, var = n.weight("mu", 4), np.abs(n.weight("var", 4)) + 0.5
    var = var.astype(NP[dt]).astype(np.float64)
    n.inits[-1] = numpy_helper.from_array(var.astype(NP[dt]), "var")
    W, b = n.weight("W", 3, 4), n.weight("b", 3)
    if folded:
        sd = np.sqrt(var).astype(NP[dt]).astype(np.float64)
        n.inits.append(numpy_helper.from_array(sd.astype(NP[dt]), "sd"))
        centred = n.node("Sub", ["x", "mu"], "centred")
        z = n.node("Div", [centred, "sd"], "z")
    else:
        sd = np.sqrt(var)
        n.node("Sqrt", ["var"], "sd")
        m = n.node("Neg", [n.node("Neg", ["mu"], "neg_mu")], "mu2")
        centred = n.node("Sub", ["x", m], "centred")
        z = n.node("Mul", [centred, n.node("Reciprocal", ["sd"], "inv_sd")], "z")
    n.node("Gemm", [z, "W", "b"], "y", transB=1)
    return n.model([("x", [4])], [("y", [3])]), lambda r: ((r - mu) / sd) @ W.T + b


def bn_params(n, c, prefix="bn", shape=None):
    shape = shape or (c,)
    scale, bias, mean = (n.weight(f"{prefix}.{k}", *shape) for k in ("weight", "bias", "mean"))
    var = (np.abs(n.weight(f"{prefix}.var", *shape)) + 0.1).astype(NP[n.dtype]).astype(np.float64)
    n.inits[-1] = numpy_helper.from_array(var.astype(NP[n.dtype]), f"{prefix}.var")
    names = [f"{prefix}.{k}" for k in ("weight", "bias", "mean", "var")]
    return names, (scale, bias, mean, var)


def bn_ref(x, p, eps, axis_shape):
    scale, bias, mean, var = (v.reshape(axis_shape) for v in p)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def tabular(opset):
    """Linear, BatchNorm1d, ReLU, Dropout, Linear(1), squeeze(-1): a
    PyTorch tabular regressor, in each opset's spelling of the attributes."""
    def build(dt, rng):
        n = Net(dt, rng)
        W1, b1 = n.weight("W1", 6, 4), n.weight("b1", 6)
        names, p = bn_params(n, 6)
        W2, b2 = n.weight("W2", 1, 6), n.weight("b2", 1)
        legacy = {"consumed_inputs": [0]} if opset < 6 else {}
        gemm = {"broadcast": 1} if opset < 7 else {}
        h = n.node("Gemm", ["x", "W1", "b1"], "h", transB=1, **gemm)
        bn = {"epsilon": 1e-3}
        if opset < 7:
            bn.update(is_test=1, spatial=1, **legacy)
        elif opset < 9:
            bn.update(spatial=1)
        elif opset >= 14:
            bn.update(training_mode=0)
        h = n.node("BatchNormalization", [h] + names, "bn", **bn)
        h = n.node("Relu", [h], "r", **legacy)
        drop = {"is_test": 1, "ratio": 0.3} if opset < 7 else {"ratio": 0.3} if opset < 12 else {}
        inputs = [h]
        if opset >= 12:
            n.inits.append(numpy_helper.from_array(np.array(0.3, NP[dt]), "ratio"))
            inputs.append("ratio")
        n.nodes.append(helper.make_node("Dropout", inputs, ["d", "mask"] if opset >= 7 else ["d"],
                                        name="drop", **drop))
        o = n.node("Gemm", ["d", "W2", "b2"], "o", transB=1, **gemm)
        if opset < 13:
            n.node("Squeeze", [o], "y", axes=[1])
        else:
            n.node("Squeeze", [o, n.ints("sq_axes", [-1])], "y")

        def reference(r):
            h = np.maximum(bn_ref(r @ W1.T + b1, p, f32(1e-3), (-1,)), 0)
            return col(h @ W2.T + b2)
        return n.model([("x", [4])], [("y", [])], opset=opset), reference
    return build


def bn_channels(opset, spatial=1):
    """BatchNorm1d over [N, C, L] (per channel: constants [C, 1]), or
    spatial=0 before opset 9 (per element), read straight off the input."""
    def build(dt, rng):
        n = Net(dt, rng)
        shape = (3,) if spatial else (3, 2)
        names, p = bn_params(n, 3, shape=shape)
        attrs = {} if opset >= 9 else {"spatial": spatial}
        n.node("BatchNormalization", ["x"] + names, "y", **attrs)
        ref_shape = (3, 1) if spatial else (3, 2)

        def reference(r):
            return bn_ref(r.reshape(-1, 3, 2), p, f32(1e-5), ref_shape).reshape(len(r), -1)
        return n.model([("x", [3, 2])], [("y", [3, 2])], opset=opset), reference
    return build


def prelu(kind):
    """PRelu with one slope (LEAKY_RELU) or per channel (ReLUs, exactly)."""
    def build(dt, rng):
        n = Net(dt, rng)
        dims = {"scalar": [1], "channel": [4], "channel_cl": [3, 1]}[kind]
        x_dims = [3, 2] if kind == "channel_cl" else [4]
        a = n.weight("a", *dims).astype(NP[dt])
        n.node("PRelu", ["x", "a"], "y")

        def f(r):
            x = r.reshape([-1] + x_dims)
            return np.where(x < 0, a * x, x).reshape(len(r), -1)
        return n.model([("x", x_dims)], [("y", x_dims)]), in_dtype(dt, f), "exact"
    return build


def selu(attrs):
    def build(dt, rng):
        n = Net(dt, rng)
        W = n.weight("W", 4, 3)
        n.node("Selu", [n.node("MatMul", ["x", "W"], "h")], "y", **attrs)
        alpha = f32(attrs.get("alpha", 1.67326319217681884765625))
        gamma = f32(attrs.get("gamma", 1.05070102214813232421875))

        def reference(r):
            z = r @ W
            return gamma * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))
        return n.model([("x", [4])], [("y", [3])]), reference
    return build


def hard_swish(dt, rng):
    n = Net(dt, rng)
    W = n.weight("W", 4, 3)
    n.node("HardSwish", [n.node("MatMul", ["x", "W"], "h")], "y")

    def reference(r):
        z = r @ W
        return z * np.clip(z / 6 + 0.5, 0, 1)
    return n.model([("x", [4])], [("y", [3])], opset=14), reference


def reshapes(kind):
    """Reshapes of row values that keep the layout: Squeeze of a unit dim
    (a SUM over it, or a relabelling), Reshape with 0 and -1, Flatten of
    [N, 1, 3], Transpose moving a unit dim, Cast to the model's type,
    Identity; and Transpose and Cast of constant weights, on the host."""
    def build(dt, rng):
        n = Net(dt, rng)
        x_dims, out_dims, opset = [1, 3], [3], 13
        W = n.weight("W", 3, 2)
        if kind == "squeeze_input":  # [N, 1, 3] -> [N, 3], axes as input
            h = n.node("Squeeze", ["x", n.ints("axes", [1])], "h")
        elif kind == "squeeze_attr":
            h, opset = n.node("Squeeze", ["x"], "h", axes=[-2]), 11
        elif kind == "squeeze_all":
            h, opset = n.node("Squeeze", ["x"], "h"), 11
        elif kind == "reshape":  # [N, 1, 3] -> [N, 3] -> [N, 1, 3] -> [N, 3]
            t = n.node("Reshape", ["x", n.ints("s1", [0, -1])], "t")
            t = n.node("Reshape", [t, n.ints("s2", [-1, 1, 3])], "t2")
            h = n.node("Reshape", [t, n.ints("s3", [0, 3])], "h")
        elif kind == "reshape_opset1":
            h, opset = n.node("Reshape", ["x"], "h", shape=[0, 3]), 1
        elif kind == "flatten":
            h = n.node("Flatten", ["x"], "h", axis=1)
        elif kind == "flatten_axis2":
            h = n.node("Flatten", ["x"], "h", axis=2)
        elif kind == "transpose":  # [N, 3, 1] -> [N, 1, 3] -> squeeze
            x_dims = [3, 1]
            t = n.node("Transpose", ["x"], "t", perm=[0, 2, 1])
            h = n.node("Squeeze", [t, n.ints("axes", [1])], "h")
        else:  # "cast": Cast of rows to their own type, of DOUBLE weights
            x_dims = [3]
            c = n.node("Cast", ["x"], "c", to=ELEM[dt])
            h = n.node("Identity", [c], "h")
        # The weights as (k, n), transposed on the host, through a Cast
        # (whose type is a name before opset 6).
        n.inits[0] = numpy_helper.from_array(W.T.astype(np.float64), "W")
        to = ELEM[dt] if opset >= 6 else TensorProto.DataType.Name(ELEM[dt])
        wt = n.node("Transpose", [n.node("Cast", ["W"], "Wc", to=to)], "Wt")
        n.node("MatMul", [h, wt], "y")
        Wd = W.astype(NP[dt]).astype(np.float64)
        return (n.model([("x", x_dims)], [("y", [2])], opset=opset),
                lambda r: r.reshape(len(r), 3) @ Wd)
    return build


def new_layouts(kind):
    """Reshapes of row values to another row-major layout: a RESHAPE. Flatten
    of [N, 2, 4] at axis 1, Reshape [N, 2, 4] -> [N, 8] and back, each used
    in its new shape (MatMul over the flat row, ReduceSum over the last axis
    of the grid), and Unsqueeze of [N, 3] to [N, 3, 1] broadcast against a
    [1, 2] constant."""
    def build(dt, rng):
        n = Net(dt, rng)
        if kind == "flatten_2d":
            W = n.weight("W", 8, 3)
            n.node("MatMul", [n.node("Flatten", ["x"], "f", axis=1), "W"], "y")
            return n.model([("x", [2, 4])], [("y", [3])]), lambda r: r @ W
        if kind == "reshape_flat":  # 0 keeps the batch
            W = n.weight("W", 8, 3)
            f = n.node("Reshape", ["x", n.ints("s", [0, 8])], "f")
            n.node("MatMul", [f, "W"], "y")
            return n.model([("x", [2, 4])], [("y", [3])]), lambda r: r @ W
        if kind == "reshape_grid":  # [N, 8] -> [N, 2, 4], summed over the 4
            w = n.weight("w", 8)
            g = n.node("Reshape", [n.node("Mul", ["x", "w"], "xw"),
                                   n.ints("s", [-1, 2, 4])], "g")
            n.node("ReduceSum", [g, n.ints("axes", [-1])], "y", keepdims=0)
            return (n.model([("x", [8])], [("y", [2])]),
                    lambda r: (r * w).reshape(len(r), 2, 4).sum(axis=-1))
        if kind == "reshape_grid_out":  # a [2, 4] output after Relu
            n.node("Relu", [n.node("Reshape", ["x", n.ints("s", [-1, 2, 4])], "g")], "y")
            return n.model([("x", [8])], [("y", [2, 4])]), relu
        # "unsqueeze_inner": [N, 3] -> [N, 3, 1] * [1, 2] -> sum over the 3
        W = n.weight("W", 1, 2)
        u = n.node("Unsqueeze", ["x", n.ints("u_axes", [2])], "u")
        n.node("ReduceSum", [n.node("Mul", [u, "W"], "p"), n.ints("axes", [1])], "y",
               keepdims=0)
        return (n.model([("x", [3])], [("y", [2])]),
                lambda r: (r[:, :, None] * W).sum(axis=1))
    return build


def squeeze_units(opset):
    """Gemm with one unit, squeezed to [N]: a SUM over the length-1 axis,
    bitwise the identity."""
    def build(dt, rng):
        n = Net(dt, rng)
        W, b = n.weight("W", 1, 4), n.weight("b", 1)
        o = n.node("Gemm", ["x", "W", "b"], "o", transB=1)
        if opset < 13:
            n.node("Squeeze", [o], "y", axes=[1])
        else:
            n.node("Squeeze", [o, n.ints("axes", [1])], "y")
        return n.model([("x", [4])], [("y", [])], opset=opset), lambda r: r @ W.T + b
    return build


def legacy_broadcast(dt, rng):
    """Opset 6: Add and Mul with broadcast=1 and axis=1 line a [C] constant
    up with dim 1 of [N, C, L] (numpy would line it up with L)."""
    n = Net(dt, rng)
    s, b = n.weight("s", 3), n.weight("b", 2)
    h = n.node("Mul", ["x", "s"], "h", broadcast=1, axis=1)
    n.node("Add", [h, "b"], "y", broadcast=1)  # no axis: trailing, as numpy
    return (n.model([("x", [3, 2])], [("y", [3, 2])], opset=6),
            lambda r: (r.reshape(-1, 3, 2) * s[:, None] + b).reshape(len(r), -1))


def old_mlp(opset):
    """An MLP in opset 1 or 6: Gemm(broadcast=1), Relu and Add with
    consumed_inputs (opset 1), Concat without axis (opset 1), Softmax with
    its default axis 1, ReduceSum with axes as an attribute."""
    def build(dt, rng):
        n = Net(dt, rng)
        W, b, c = n.weight("W", 3, 4), n.weight("b", 3), n.weight("c", 3)
        legacy = {"consumed_inputs": [0]} if opset < 6 else {}
        h = n.node("Gemm", ["x", "W", "b"], "h", transB=1, broadcast=1)
        h = n.node("Relu", [n.node("Add", [h, "c"], "hc", broadcast=1, **legacy)], "r", **legacy)
        s = n.node("ReduceSum", [h], "s", axes=[1], keepdims=1)
        cat = n.node("Concat", [h, s], "cat", **({} if opset < 4 else {"axis": 1}))
        n.node("Softmax", [cat], "y")

        def reference(r):
            h = relu(r @ W.T + b + c)
            return softmax(np.hstack([h, h.sum(axis=1, keepdims=True)]))
        return n.model([("x", [4])], [("y", [4])], opset=opset), reference
    return build


def folded_weights(dt, rng):
    """Weights exported without constant folding: W = Transpose(Reshape(w))
    * 2 + Pow(v, 2) - Unsqueeze(Squeeze(u)), all on the host."""
    n = Net(dt, rng)
    w, v, u = n.weight("w", 12), n.weight("v", 4, 3), n.weight("u", 1, 3)
    r = n.node("Reshape", ["w", n.ints("shape", [3, 4])], "wr")
    t = n.node("Transpose", [r], "wt")
    m = n.node("Mul", [t, n.node("Cast", [n.ints("two", [2])], "two_f", to=ELEM[dt])], "w2")
    p = n.node("Pow", ["v", n.ints("e", [2])], "v2")
    s = n.node("Unsqueeze", [n.node("Squeeze", ["u", n.ints("ax0", [0])], "us"),
                             n.ints("ax0b", [0])], "uu")
    W = n.node("Sub", [n.node("Add", [m, p], "wa"), s], "W")
    n.node("MatMul", ["x", W], "y")
    Wv = w.reshape(3, 4).T * 2 + v ** 2 - u
    return n.model([("x", [4])], [("y", [3])]), lambda r: r @ Wv


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
                 "gelu_op_tanh")] + [
    (f"sub_{kind}", sub(kind)) for kind in ("x_minus_c", "c_minus_x", "rows")] + [
    ("div_const", div_const),
    ("div_pow2", div_pow2),
    ("standardise", standardise),
    ("standardise_unfolded", lambda dt, rng: standardise(dt, rng, folded=False)),
    ("folded_weights", folded_weights),
    ("selu", selu({})),
    ("selu_attrs", selu({"alpha": 1.5, "gamma": 0.75})),
    ("hard_swish", hard_swish),
    ("legacy_broadcast", legacy_broadcast),
    ("bn_channels_opset9", bn_channels(9)),
    ("bn_channels_opset7", bn_channels(7)),
    ("bn_elements_opset7", bn_channels(7, spatial=0)),
] + [(f"prelu_{kind}", prelu(kind)) for kind in ("scalar", "channel", "channel_cl")] + [
    (f"reshape_{kind}", reshapes(kind))
    for kind in ("squeeze_input", "squeeze_attr", "squeeze_all", "reshape", "reshape_opset1",
                 "flatten", "flatten_axis2", "transpose", "cast")] + [
    (f"layout_{kind}", new_layouts(kind))
    for kind in ("flatten_2d", "reshape_flat", "reshape_grid", "reshape_grid_out",
                 "unsqueeze_inner")] + [
    (f"tabular_opset{o}", tabular(o)) for o in (1, 6, 7, 9, 11, 13, 17, 22)] + [
    (f"squeeze_units_opset{o}", squeeze_units(o)) for o in (11, 13)] + [
    (f"old_mlp_opset{o}", old_mlp(o)) for o in (1, 6)]

CASES = [(name, dt, build) for name, build in _BUILDERS for dt in ("f32", "f64")]
