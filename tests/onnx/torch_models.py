"""Typical tabular PyTorch models through torch.onnx.export and rowflow
(ctest onnx.torch).

    torch_models.py ROWFLOW [--only SUBSTR] [--verbose]

Each model of MODELS (eval mode, weights from a fixed seed) is exported by
PyTorch's TorchScript exporter at every opset of OPSETS, with
do_constant_folding True and False, as F32 and as F64 (model.double()):
a variant is named like mlp_relu.op13.fold.f32. Each variant is imported
with `rowflow import-onnx`, run over ROWS rows with `rowflow run` (.npy in
and out, so no value is rounded on the way) and compared with PyTorch's
output for the same rows. The rules:
  - a variant not matched by EXPECTED_REFUSED must import and match;
  - a variant matched by it must be refused (exit 3, exactly one stderr line
    starting 'rowflow: error:', no output file); if it imports and matches,
    a note says to remove it from EXPECTED_REFUSED (not a failure); if it
    imports and gives other outputs, that fails;
  - a crash (signal, an exit code other than 0 and 3, a hang) always fails.

Tolerance, per element: |got - want| <= atol + rtol * |want|.
  F32: rtol 1e-5, atol 1e-6 (TOL_F32; a model may state a wider one in
  F32_TOL_OVERRIDE with its reason). Both sides are float32 computations of
  the same formula in different orders with different exp/tanh/erf
  approximations, a few ulps (6e-8 relative each) apart; 1e-5 leaves two
  orders of magnitude of headroom over that and still catches a wrong
  formula or constant. atol covers outputs that cancel to near zero, whose
  error scales with the operands (O(1) here), not with the result.
  F64: rtol = atol = 1e-12, against PyTorch's output or, where the export
  rounds a parameter to a float attribute (LeakyRelu, Elu, Selu,
  HardSigmoid's 1/6; see float_attributes), against PyTorch computing with
  the rounded value: either is a faithful reading of the file, and the
  output must match one of them in every element.

Everything is written to a temp folder; nothing is cached.
"""
import argparse
import copy
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

import numpy as np
import torch
from torch import nn

OPSETS = [9, 11, 13, 17]
ROWS = 300
WIDTH = 8
TOL_F64 = (1e-12, 1e-12)
TOL_F32 = (1e-5, 1e-6)
TIMEOUT = 60  # seconds for one rowflow process; these models are tiny

# Variants rowflow refuses on main today, with the op of the node that stops
# them (first word). A key is a model name (all its variants) or a model name
# with some of the variant's parts (mlp_hardswish.op17: that model at opset
# 17, either folding, either dtype); the key with most parts wins. The
# importer is growing: a variant that imports and matches is reported so its
# key can go, one refused at another op is reported so the reason can be
# updated (neither fails); one that imports and mismatches fails.
EXPECTED_REFUSED = {
}

# Models whose F32 comparison needs more than TOL_F32: name -> (rtol, atol,
# why). None of the models here needs one.
F32_TOL_OVERRIDE = {
}

MODELS = {}


def model(name, row_shape=(WIDTH,)):
    """Registers builder() -> nn.Module under `name`; rows are row_shape each."""

    def register(builder):
        MODELS[name] = (builder, row_shape)
        return builder

    return register


def mlp(act, out=4, head=None):
    layers = [nn.Linear(WIDTH, 16), act, nn.Linear(16, out)]
    return nn.Sequential(*layers, *([head] if head else []))


def per_channel_prelu():
    p = nn.PReLU(16)
    with torch.no_grad():
        p.weight.uniform_(-0.5, 0.5)
    return p


ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leakyrelu": lambda: nn.LeakyReLU(0.05),
    "softplus": nn.Softplus,
    "elu": lambda: nn.ELU(alpha=0.7),
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "silu": nn.SiLU,
    "hardsigmoid": nn.Hardsigmoid,
    "hardswish": nn.Hardswish,
    "hardtanh": lambda: nn.Hardtanh(-1.5, 2.0),
    "relu6": nn.ReLU6,
    "prelu_scalar": lambda: nn.PReLU(init=0.2),
    "prelu_channel": per_channel_prelu,
}
for _act, _make in ACTIVATIONS.items():
    model(f"mlp_{_act}")(lambda make=_make: mlp(make()))

model("mlp_softmax")(lambda: mlp(nn.ReLU(), head=nn.Softmax(dim=-1)))
model("mlp_logsoftmax")(lambda: mlp(nn.ReLU(), head=nn.LogSoftmax(dim=-1)))


@model("mlp_deep")
def _():
    return nn.Sequential(nn.Linear(WIDTH, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))


def batchnorm(n):
    """A BatchNorm1d with running statistics and an affine part far from
    the identity, as after training."""
    bn = nn.BatchNorm1d(n)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn


model("bn_first")(lambda: nn.Sequential(batchnorm(WIDTH), *mlp(nn.ReLU())))
model("bn_after_linear")(lambda: nn.Sequential(nn.Linear(WIDTH, 16), batchnorm(16), nn.ReLU(),
                                               nn.Linear(16, 4)))
model("bn_before_linear")(lambda: nn.Sequential(nn.Linear(WIDTH, 16), nn.ReLU(), batchnorm(16),
                                                nn.Linear(16, 4)))


class Standardized(nn.Module):
    """(x - mu) / sd with the statistics as buffers, then an MLP."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mu", torch.linspace(-1, 1, WIDTH))
        self.register_buffer("sd", torch.linspace(0.5, 3, WIDTH))
        self.net = mlp(nn.ReLU())

    def forward(self, x):
        return self.net((x - self.mu) / self.sd)


class Regressor(nn.Module):
    """One output unit squeezed to a (batch,) prediction."""

    def __init__(self):
        super().__init__()
        self.net = mlp(nn.ReLU(), out=1)

    def forward(self, x):
        return self.net(x).squeeze(-1)


model("standardize")(Standardized)
model("layernorm")(lambda: nn.Sequential(nn.Linear(WIDTH, 16), nn.LayerNorm(16), nn.ReLU(),
                                         nn.Linear(16, 4)))
model("dropout")(lambda: nn.Sequential(nn.Linear(WIDTH, 16), nn.ReLU(), nn.Dropout(0.3),
                                       nn.Linear(16, 4)))
model("regressor_squeeze")(Regressor)
model("flatten_flat")(lambda: nn.Sequential(nn.Flatten(), *mlp(nn.ReLU())))
model("flatten_2d", row_shape=(2, WIDTH // 2))(
    lambda: nn.Sequential(nn.Flatten(), *mlp(nn.ReLU())))


def expected_refusal(variant):
    """The EXPECTED_REFUSED reason matching `variant`, or None."""
    name, *parts = variant.split(".")
    matches = [(len(key.split(".")), why) for key, why in EXPECTED_REFUSED.items()
               if key.split(".")[0] == name and set(key.split(".")[1:]) <= set(parts)]
    return max(matches)[1] if matches else None


def rowflow(exe, *args):
    """Runs rowflow; returns (returncode, stderr); returncode None on a hang."""
    try:
        p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"no exit after {TIMEOUT} s"
    return p.returncode, p.stderr


def build(name, dtype):
    builder, row_shape = MODELS[name]
    torch.manual_seed(zlib.crc32(name.encode()))
    net = builder().eval()
    if dtype == "f64":
        net = net.double()
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    rows = (rng.standard_normal((ROWS, *row_shape)) * 4).astype(
        np.float64 if dtype == "f64" else np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(rows)).numpy()
    return net, rows, want


class OnnxHardSigmoid(nn.Module):
    """max(0, min(1, alpha * x + beta)) with the given alpha, beta."""

    def __init__(self, alpha, beta=0.5):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def forward(self, x):
        return torch.clamp(x * self.alpha + self.beta, 0, 1)


class OnnxHardSwish(OnnxHardSigmoid):
    def forward(self, x):
        return x * super().forward(x)


class OnnxSelu(nn.Module):
    def __init__(self, alpha, gamma):
        super().__init__()
        self.alpha, self.gamma = alpha, gamma

    def forward(self, x):
        return self.gamma * torch.where(x > 0, x, self.alpha * (torch.exp(x) - 1))


def f32(v):
    return float(np.float32(v))


def float_attributes(net, opset):
    """A copy of `net` computing what its ONNX export states where that
    differs in F64: ONNX attributes are floats, so LeakyRelu's and Elu's
    alpha, Selu's alpha and gamma and HardSigmoid's 1/6 (nn.Hardsigmoid,
    and nn.Hardswish before opset 14's HardSwish) reach the file rounded to
    float32, 2^-24 relative; None when nothing is rounded."""
    net = copy.deepcopy(net)
    changed = False
    for parent in list(net.modules()):
        for key, child in parent.named_children():
            new = None
            if isinstance(child, nn.LeakyReLU) and f32(child.negative_slope) != child.negative_slope:
                new = nn.LeakyReLU(f32(child.negative_slope))
            elif isinstance(child, nn.ELU) and f32(child.alpha) != child.alpha:
                new = nn.ELU(f32(child.alpha))
            elif isinstance(child, nn.SELU):
                new = OnnxSelu(f32(1.6732632423543772), f32(1.0507009873554805))
            elif isinstance(child, nn.Hardsigmoid):
                new = OnnxHardSigmoid(f32(1 / 6))
            elif isinstance(child, nn.Hardswish) and opset < 14:
                new = OnnxHardSwish(f32(1 / 6))
            if new is not None:
                setattr(parent, key, new)
                changed = True
    return net if changed else None


def export(net, rows, opset, fold):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.from_numpy(rows[:5]), buf, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          opset_version=opset, do_constant_folding=fold)
    return buf.getvalue()


def compare(got, want, tol):
    rtol, atol = tol
    g = got.reshape(len(got), -1).astype(np.float64)
    w = want.reshape(len(want), -1).astype(np.float64)
    if g.shape != w.shape:
        return f"rowflow wrote {got.shape}, PyTorch gives {want.shape}"
    err = np.abs(g - w)
    bad = ~((err <= atol + rtol * np.abs(w)) | (g == w))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        return (f"{int(bad.sum())} of {bad.size} outputs differ beyond rtol {rtol} atol {atol};"
                f" first at row {r} column {c}: got {g[r, c]!r}, expected {w[r, c]!r}")
    return None


def check_variant(exe, work, onnx_bytes, rows, wants, tol):
    """('matched' | 'refused' | 'failed', detail) for one exported variant:
    matched when the output is within `tol` of one of `wants` everywhere."""
    os.makedirs(work)
    onnx_path = os.path.join(work, "m.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onnx_bytes)
    model_pb = os.path.join(work, "m.pb")
    rc, err = rowflow(exe, "import-onnx", onnx_path, "-o", model_pb, "-q")
    if rc is None or rc < 0:
        return "failed", f"import-onnx crashed: {err if rc is None else f'signal {-rc}'}"
    if rc == 3:
        lines = err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("rowflow: error:") or not err.endswith("\n"):
            return "failed", f"import-onnx refused with other than one error line: {err!r}"
        if sorted(os.listdir(work)) != ["m.onnx"]:
            return "failed", f"import-onnx refused but left files: {os.listdir(work)}"
        return "refused", lines[0]
    if rc != 0:
        return "failed", f"import-onnx: exit {rc}, expected 0 or 3: {err.strip()!r}"
    if err:
        return "failed", f"import-onnx: exit 0 but stderr {err!r} with -q"
    # rowflow reads a row as its input's elements, row-major: (N, width).
    np.save(os.path.join(work, "in.npy"), rows.reshape(len(rows), -1))
    out = os.path.join(work, "out.npy")
    rc, err = rowflow(exe, "run", model_pb, "-i", os.path.join(work, "in.npy"), "-o", out, "-q")
    if rc != 0:
        return "failed", f"imported, but run: exit {rc}: {err.strip()}"
    got = np.load(out)
    if got.dtype != rows.dtype:
        return "failed", f"rowflow wrote {got.dtype} for a {rows.dtype} model"
    whys = [compare(got, want, tol) for want in wants]
    return ("failed", f"imported, but {whys[0]}") if all(whys) else ("matched", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rowflow")
    ap.add_argument("--only", default="", help="run the variants whose name contains this")
    ap.add_argument("--verbose", action="store_true", help="one line per variant")
    args = ap.parse_args()
    torch.set_num_threads(1)
    unknown = [k for k in EXPECTED_REFUSED if k.split(".")[0] not in MODELS]
    unknown += [k for k in F32_TOL_OVERRIDE if k not in MODELS]
    failures = [f"{k}: names no model of MODELS" for k in unknown]
    counts = {"matched": 0, "refused": 0, "now supported": 0}
    notes = []
    export_s = rowflow_s = 0.0
    with tempfile.TemporaryDirectory(prefix="rowflow-torch-") as tmp:
        for name in MODELS:
            for dtype in ["f32", "f64"]:
                variants = [(f"{name}.op{o}.{'fold' if f else 'nofold'}.{dtype}", o, f)
                            for o in OPSETS for f in (True, False)]
                variants = [v for v in variants if args.only in v[0]]
                if not variants:
                    continue
                net, rows, want = build(name, dtype)
                tol = TOL_F64 if dtype == "f64" else F32_TOL_OVERRIDE.get(name, TOL_F32)[:2]
                rounded = {}  # opset -> the F64 output with float attributes
                for variant, opset, fold in variants:
                    t0 = time.monotonic()
                    try:
                        onnx_bytes = export(net, rows, opset, fold)
                    except Exception as e:  # PyTorch cannot export it: the test is wrong
                        failures.append(f"{variant}: torch.onnx.export: {e}")
                        continue
                    t1 = time.monotonic()
                    wants = [want]
                    if dtype == "f64":
                        if opset not in rounded:
                            alt = float_attributes(net, opset)
                            rounded[opset] = None
                            if alt is not None:
                                with torch.no_grad():
                                    rounded[opset] = alt(torch.from_numpy(rows)).numpy()
                        if rounded[opset] is not None:
                            wants.append(rounded[opset])
                    kind, why = check_variant(args.rowflow, os.path.join(tmp, variant),
                                              onnx_bytes, rows, wants, tol)
                    export_s, rowflow_s = export_s + t1 - t0, rowflow_s + time.monotonic() - t1
                    expected = expected_refusal(variant)
                    if args.verbose:
                        print(f"{kind:8} {variant} {why}")
                    if kind == "failed":
                        failures.append(f"{variant}: {why}")
                    elif kind == "refused" and expected is None:
                        failures.append(f"{variant}: expected to import, refused: {why}")
                    elif kind == "refused":
                        counts["refused"] += 1
                        op = re.search(r"\((\w+), opset \d+\)", why)
                        if not op or op.group(1) != expected.split()[0]:
                            notes.append(f"{variant}: refused, but not at {expected.split()[0]} "
                                         f"as EXPECTED_REFUSED says: {why}")
                    elif expected is not None:
                        counts["now supported"] += 1
                        notes.append(f"{variant}: now supported: remove from EXPECTED_REFUSED "
                                     f"(listed as: {expected})")
                    else:
                        counts["matched"] += 1
    for f in failures:
        print(f"FAIL {f}")
    for n in notes:
        print(f"note: {n}")
    total = sum(counts.values()) + len(failures)
    print(f"torch_models: {counts['matched']} imported and matched, {counts['refused']} refused "
          f"as expected, {counts['now supported']} now supported, {len(failures)} failed "
          f"({total} variants; export {export_s:.1f} s, rowflow {rowflow_s:.1f} s)")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
