"""Cases for tests/sklearn/sklearn_test.sh (Debian's python3-sklearn, numpy).

  sklearn_cases.py make DIR F64|F32   train the MLPs, pickle them: DIR/<case>.pkl,
                                      <case>.rows.csv, <case>.want.npy, and
                                      DIR/cases.txt ("<case> <ext> <tile>" a line)
  sklearn_cases.py compare DIR F64|F32 SRC   rowflow's <case>.got.csv against
                                      predict_proba / predict; from_sklearn's text
                                      against the CLI's .pbtxt files
  sklearn_cases.py bad DIR            the pickles the converter must refuse

Each model is trained on synthetic data with a fixed random_state, so the
cases are the same on every run; the expected values are sklearn's own
predictions for the rows given to rowflow.
"""

import os
import sys
import warnings

import numpy as np

# F64: |got - want| <= 1e-12, absolute; rowflow's sums run in another order
# and its activations are within a few ulps of libm, so ~1e-14 is measured.
# F32: |got - want| <= 1e-5 * (1 + |want|): the weights and rows rounded to
# float32 and float32 arithmetic, against sklearn's float64 on the same
# (rounded) rows.
TOL = {"F64": 1e-12, "F32": 1e-5}
RELATIVE = {"F64": False, "F32": True}

ACTIVATIONS = ["identity", "relu", "tanh", "logistic"]
TASKS = ["binary", "multiclass", "multilabel", "reg1", "reg2"]
# Pipeline steps before the MLP: (sklearn.preprocessing class, kwargs).
SCALERS = {
    "std": [("StandardScaler", dict())],
    "mean": [("StandardScaler", dict(with_std=False))],
    "scale": [("StandardScaler", dict(with_mean=False))],
    "none": [("StandardScaler", dict(with_mean=False, with_std=False))],
    "two": [("StandardScaler", dict()), ("StandardScaler", dict(with_mean=False))],
    "minmax": [("MinMaxScaler", dict(feature_range=(-1, 2)))],
    # Rows outside the fitted range: clip=True cuts them to feature_range.
    "minmax_clip": [("MinMaxScaler", dict(clip=True))],
    "maxabs": [("MaxAbsScaler", dict())],
    "robust": [("RobustScaler", dict())],
    "robust_std": [("RobustScaler", dict(with_scaling=False)),
                   ("StandardScaler", dict(with_mean=False))],
}
HIDDEN = [(8,), (6, 5), (5, 4, 3)]
WIDTH = 4
ROWS = 1000


def _features(rng, n, scaled):
    x = rng.standard_normal((n, WIDTH))
    if scaled:  # what a StandardScaler is for: offsets and mixed scales
        x = x * [1.0, 20.0, 0.05, 3.0] + [5.0, -40.0, 0.5, 2.0]
    return x


def _targets(task, z):
    # z: standardized features, so the targets do not depend on the offsets.
    a = z[:, 0] + 0.5 * z[:, 1] - 0.3 * z[:, 2] * z[:, 3]
    b = np.sin(z[:, 1]) + z[:, 3]
    if task == "binary":
        return (a > 0.2).astype(int)
    if task == "multiclass":
        return np.digitize(a, [-0.5, 0.5])  # classes 0, 1, 2
    if task == "multilabel":
        return np.stack([a > 0, b > 0, a + b > 1], axis=1).astype(int)
    if task == "reg1":
        return 2 * a + 1
    return np.stack([a, 3 * b - 1], axis=1)  # reg2


def _model(task, activation, hidden, scalers, seed):
    from sklearn import preprocessing
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline

    cls = MLPRegressor if task.startswith("reg") else MLPClassifier
    mlp = cls(hidden_layer_sizes=hidden, activation=activation, max_iter=150,
              random_state=seed, tol=1e-6)
    if scalers is None:
        return mlp
    return make_pipeline(*[getattr(preprocessing, c)(**kw) for c, kw in scalers], mlp)


def cases(dtype):
    """(name, task, activation, hidden, scaler key or None, seed, ext, tile)."""
    out = []
    if dtype == "F64":
        for i, (t, a) in enumerate((t, a) for t in TASKS for a in ACTIVATIONS):
            ext = ".pbtxt" if i % 2 else ".pb"
            out.append((f"{t}_{a}", t, a, HIDDEN[i % 3], None, i, ext, 128 if i % 3 == 0 else 0))
        for i, t in enumerate(TASKS):
            a = ACTIVATIONS[(i + 1) % 4]
            out.append((f"{t}_{a}_std", t, a, HIDDEN[i % 3], "std", 40 + i, ".pb", 0))
        for i, (s, t) in enumerate([("mean", "binary"), ("scale", "multiclass"),
                                    ("none", "reg1"), ("two", "reg2"), ("mean", "multilabel")]):
            a = ACTIVATIONS[i % 4]
            out.append((f"{t}_{a}_{s}", t, a, HIDDEN[i % 3], s, 50 + i, ".pbtxt", 0))
        for i, (s, t) in enumerate([("minmax", "binary"), ("minmax_clip", "multiclass"),
                                    ("maxabs", "reg1"), ("robust", "reg2"),
                                    ("robust_std", "binary")]):
            a = ACTIVATIONS[(i + 1) % 4]
            out.append((f"{t}_{a}_{s}", t, a, HIDDEN[i % 3], s, 80 + i, ".pb", 0))
        # Wide enough for the GEMM path rather than the tiny-layer one.
        out.append(("multiclass_relu_wide", "multiclass", "relu", (64, 32), "std", 60, ".pb", 0))
    else:
        for i, t in enumerate(TASKS):
            for j, s in enumerate([None, "std"]):
                a = ACTIVATIONS[(i + 2 * j) % 4]
                tag = f"_{s}" if s else ""
                out.append((f"{t}_{a}{tag}", t, a, HIDDEN[(i + j) % 3], s, 70 + 2 * i + j,
                            ".pbtxt" if j else ".pb", 0))
        out.append(("multiclass_relu_wide", "multiclass", "relu", (64, 32), "std", 60, ".pb", 0))
    return out


def _predict(est, task, x):
    y = est.predict(x) if task.startswith("reg") else est.predict_proba(x)
    return np.asarray(y, np.float64).reshape(len(x), -1)


def _write_rows(path, x):
    with open(path, "w") as f:
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def make(folder, dtype):
    import pickle

    warnings.simplefilter("ignore")  # ConvergenceWarning: short training is fine here
    lines = []
    for name, task, act, hidden, scaler, seed, ext, tile in cases(dtype):
        rng = np.random.RandomState(seed)
        scaled = scaler is not None
        x = _features(rng, 300, scaled)
        z = (x - x.mean(axis=0)) / x.std(axis=0)
        est = _model(task, act, hidden, SCALERS.get(scaler), seed)
        est.fit(x, _targets(task, z))
        rows = _features(rng, ROWS, scaled)
        rows[:5] *= 6  # a few rows far out: saturated activations
        if dtype == "F32":  # rowflow reads F32 rows as float32
            rows = rows.astype(np.float32).astype(np.float64)
        with open(os.path.join(folder, name + ".pkl"), "wb") as f:
            pickle.dump(est, f)
        _write_rows(os.path.join(folder, name + ".rows.csv"), rows)
        np.save(os.path.join(folder, name + ".want.npy"), _predict(est, task, rows))
        lines.append(f"{name} {ext} {tile}\n")
    with open(os.path.join(folder, "cases.txt"), "w") as f:
        f.writelines(lines)


def _read_csv(path):
    with open(path) as f:  # float() reads the shortest round-trip form exactly
        return np.array([[float(v) for v in line.split(",")] for line in f], np.float64)


def compare(folder, dtype, src):
    import pickle

    sys.path.insert(0, os.path.join(src, "tools", "sklearn"))
    from rowflow_sklearn import from_sklearn

    tol = TOL[dtype]
    failures, worst, worst_rel = 0, 0.0, 0.0
    for name, task, *_, ext, _tile in cases(dtype):
        base = os.path.join(folder, name)
        want = np.load(base + ".want.npy")
        try:
            got = _read_csv(base + ".got.csv")
        except (OSError, ValueError) as e:
            print(f"FAIL {name}: no predictions ({e})")
            failures += 1
            continue
        if got.shape != want.shape:
            print(f"FAIL {name}: shape {got.shape}; expected {want.shape}")
            failures += 1
            continue
        diff = np.abs(got - want)
        rel = diff / (1 + np.abs(want)) if RELATIVE[dtype] else diff
        worst = max(worst, float(diff.max()))
        worst_rel = max(worst_rel, float(rel.max()))
        if not np.all(rel <= tol):  # also catches NaN
            r, c = np.unravel_index(np.nanargmax(np.where(np.isnan(rel), np.inf, rel)), rel.shape)
            print(f"FAIL {name}: row {r + 1} column {c + 1}: got {got[r, c]!r}, "
                  f"want {want[r, c]!r}; expected |diff| <= {tol:g}"
                  + (" * (1 + |want|)" if RELATIVE[dtype] else ""))
            failures += 1
        else:
            scaled = f", / (1 + |want|): {rel.max():.3g}" if RELATIVE[dtype] else ""
            print(f"ok   {name}: max |got - want| = {diff.max():.3g}{scaled}")
        if ext == ".pbtxt":  # the module function writes what the CLI wrote
            with open(base + ".pkl", "rb") as f:
                text = from_sklearn(pickle.load(f), dtype, name)
            with open(base + ".pbtxt") as f:
                if f.read() != text:
                    print(f"FAIL {name}: from_sklearn's text differs from {name}.pbtxt")
                    failures += 1
    scaled = f", / (1 + |want|): {worst_rel:.3g}" if RELATIVE[dtype] else ""
    print(f"{dtype}: max |got - want| over all cases = {worst:.3g}{scaled} "
          f"(tolerance {tol:g}{' * (1 + |want|)' if RELATIVE[dtype] else ''})")
    return 1 if failures else 0


def bad(folder):
    import pickle

    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler
    from sklearn.svm import SVC

    warnings.simplefilter("ignore")
    rng = np.random.RandomState(3)
    x = rng.standard_normal((60, 3))
    y = (x[:, 0] > 0).astype(int)

    def dump(name, obj):
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(obj, f)

    dump("svc.pkl", SVC().fit(x, y))
    dump("dict.pkl", {"coefs_": [1, 2]})
    dump("unfitted.pkl", MLPClassifier())
    # Normalizer scales each row by its own norm: no per-feature affine.
    dump("normalizer.pkl", make_pipeline(Normalizer(), MLPClassifier(max_iter=5)).fit(x, y))
    dump("scaler_svc.pkl", make_pipeline(StandardScaler(), SVC()).fit(x, y))
    huge = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5).fit(x, y)
    huge.coefs_[0][0, 0] = 1e39  # fine in F64, beyond float32
    dump("huge.pkl", huge)
    with open(os.path.join(folder, "text.pkl"), "w") as f:
        f.write("not a pickle\n")
    open(os.path.join(folder, "empty.pkl"), "w").close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif cmd == "bad":
        bad(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd!r}")
