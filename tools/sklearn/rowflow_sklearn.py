#!/usr/bin/python3
"""scikit-learn MLPs as rowflow model files, with nothing but sklearn and numpy.

    from rowflow_sklearn import from_sklearn
    text = from_sklearn(pipeline, dtype="F64")   # the graph, protobuf text format

    rowflow-sklearn model.pkl -o model.pb [--dtype F32|F64] [--to text|binary]
                    [--rowflow PATH] [--name NAME] [-q]

Reads a fitted MLPClassifier or MLPRegressor, alone or as the last step of a
Pipeline whose other steps are per-feature scalers (StandardScaler,
MinMaxScaler, MaxAbsScaler, RobustScaler), and writes the rowflow graph
(proto/rowflow.proto) that computes its predict_proba (classifiers) or
predict (regressors) for each row. The text format is written here, numbers
in their shortest round-trip form; a binary .pb is that text passed through
`rowflow convert`, which also validates it with rowflow's own loader.

Exit codes are rowflow's (README, "Exit codes and errors"): 0 ok, 1 internal
error, 2 usage (also: no rowflow binary for a .pb), 3 model that cannot be
read or converted, 5 output that cannot be written. Every refusal is one
line on stderr, and the output file appears complete or not at all.
"""

import argparse
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np

EXIT_INTERNAL, EXIT_USAGE, EXIT_MODEL, EXIT_OUTPUT = 1, 2, 3, 5
PROG = "rowflow-sklearn"

# sklearn's hidden-layer activations (MLP* `activation`) as rowflow's.
_HIDDEN = {"identity": "IDENTITY", "relu": "RELU", "tanh": "TANH", "logistic": "SIGMOID"}


class ConversionError(ValueError):
    """An estimator this converter cannot express; the message says why."""


def from_sklearn(estimator, dtype="F64", name="sklearn_mlp"):
    """The rowflow graph (protobuf text format, str) of a fitted estimator.

    The graph's input `x` is one row of features; its output is
    predict_proba (`proba`) for a classifier, predict (`y`) for a regressor,
    always a vector. dtype "F64" keeps the weights exactly; "F32" rounds them
    to float32. Raises ConversionError for anything else.
    """
    if dtype not in ("F32", "F64"):
        raise ConversionError(f"dtype {dtype!r}: expected 'F32' or 'F64'")
    scalers, mlp = _split(estimator)
    return _Writer(dtype, name).graph(estimator, scalers, mlp)


def _kind(obj):
    return type(obj).__name__


_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")
_SUPPORTED = ("expected MLPClassifier, MLPRegressor, or a Pipeline of "
              "StandardScaler, MinMaxScaler, MaxAbsScaler or RobustScaler steps "
              "ending in one")


def _split(estimator):
    """(scalers in order, the MLP), or ConversionError."""
    from sklearn import preprocessing
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline

    scaler_types = tuple(getattr(preprocessing, n) for n in _SCALERS)
    steps = [estimator]
    if type(estimator) is Pipeline:
        steps = [s for _, s in estimator.steps if s is not None and s != "passthrough"]
        if not steps:
            raise ConversionError(f"Pipeline has no steps; {_SUPPORTED}")
    # Exact types: a subclass may compute something else.
    *pre, last = steps
    for step in pre:
        if type(step) not in scaler_types:
            raise ConversionError(f"Pipeline step {_kind(step)} is not supported; {_SUPPORTED}")
        if not hasattr(step, "n_features_in_"):
            raise ConversionError(f"{_kind(step)} is not fitted; expected a fitted estimator")
    if type(last) not in (MLPClassifier, MLPRegressor):
        what = f"Pipeline step {_kind(last)}" if pre or last is not estimator else _kind(last)
        raise ConversionError(f"{what} is not supported; {_SUPPORTED}")
    if not hasattr(last, "coefs_"):
        raise ConversionError(f"{_kind(last)} is not fitted; expected a fitted estimator")
    return pre, last


def _scaler_steps(s):
    """The per-feature steps of scaler `s`'s transform, in order: ("ADD", c)
    for x + c, ("MULTIPLY", c) for x * c, ("CLIP", lo, hi). A division x / d
    becomes x * (1 / d), within an ulp of sklearn's division."""
    kind = _kind(s)
    f64 = lambda v: np.asarray(v, np.float64)
    if kind == "StandardScaler":
        return ([("ADD", -f64(s.mean_))] if s.with_mean else []) + \
               ([("MULTIPLY", 1.0 / f64(s.scale_))] if s.with_std else [])
    if kind == "MinMaxScaler":  # X * scale_ + min_, then the optional clip
        steps = [("MULTIPLY", f64(s.scale_)), ("ADD", f64(s.min_))]
        if getattr(s, "clip", False):
            lo, hi = s.feature_range
            steps.append(("CLIP", float(lo), float(hi)))
        return steps
    if kind == "MaxAbsScaler":
        return [("MULTIPLY", 1.0 / f64(s.scale_))]
    # RobustScaler: X - center_, then X / scale_.
    return ([("ADD", -f64(s.center_))] if s.with_centering else []) + \
           ([("MULTIPLY", 1.0 / f64(s.scale_))] if s.with_scaling else [])


def _quote(text):
    """A protobuf text-format string literal (UTF-8 bytes, octal escapes)."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


class _Writer:
    def __init__(self, dtype, name):
        self.dtype = dtype
        self.name = name
        self.nodes = []
        self.constants = []

    def number(self, v):
        # repr is the shortest text that reads back to the same double; for
        # F32 the double is the float32 value itself, so the loader's
        # double -> float conversion is exact.
        v = float(v)
        if np.isfinite(v):
            return repr(v)
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")

    def constant(self, name, values, shape):
        values = np.asarray(values, dtype=np.float64)
        if self.dtype == "F32":
            with np.errstate(over="ignore"):
                rounded = values.astype(np.float32)
            if np.any(np.isinf(rounded) & np.isfinite(values)):
                raise ConversionError(
                    f"{name}: a value beyond float32's range "
                    f"({np.max(np.abs(values[np.isfinite(values)])):g}); "
                    "expected |value| < 3.4e38 for F32 (use --dtype F64)")
            values = rounded.astype(np.float64)
        field = "float_data" if self.dtype == "F32" else "double_data"
        flat = values.reshape(-1)
        # One line per unit's weight vector (per row of a matrix).
        per_line = shape[-1] if len(shape) == 2 else max(len(flat), 1)
        lines = [", ".join(self.number(v) for v in flat[i:i + per_line])
                 for i in range(0, len(flat), per_line)]
        dims = ", ".join(str(d) for d in shape)
        body = ",\n    ".join(lines)
        self.constants.append(
            f'constants {{\n  name: {_quote(name)}\n  shape: [{dims}]\n'
            f'  {field}: [\n    {body}\n  ]\n}}\n')
        return name

    def node(self, name, op, inputs, **attrs):
        parts = [f"name: {_quote(name)}", f"op: {op}"]
        parts.append("inputs: [" + ", ".join(_quote(i) for i in inputs) + "]")
        parts.append(f"output: {_quote(name)}")
        for key, value in attrs.items():
            parts.append(f"{key}: {value}")
        self.nodes.append("nodes { " + " ".join(parts) + " }\n")
        return name

    def dense(self, x, name, coef, intercept, activation):
        # The layer form of graph/builder.h's Dense (MULTIPLY by W (units,
        # width), SUM over the last axis, ADD bias, ACTIVATION), which the
        # planner's dense matcher (graph/dense_match.cc) fuses into one GEMM
        # with bias and activation in its epilogue. sklearn's coefs_ are
        # (width, units): W is their transpose.
        units = coef.shape[1]
        w = self.constant(f"{name}/w", coef.T, [units, coef.shape[0]])
        b = self.constant(f"{name}/b", intercept, [units])
        v = self.node(f"{name}/mul", "MULTIPLY", [x, w])
        v = self.node(f"{name}/sum", "SUM", [v], axis=-1)
        if activation == "IDENTITY":
            return self.node(name, "ADD", [v, b])
        v = self.node(f"{name}/bias", "ADD", [v, b])
        return self.node(name, "ACTIVATION", [v], activation=activation)

    def graph(self, estimator, scalers, mlp):
        from sklearn.neural_network import MLPClassifier

        width = int(mlp.n_features_in_)
        x = "x"
        # Each scaler as its own nodes, the same operations as its transform
        # (x - mean_, then / scale_ as * (1 / scale_), within an ulp), rather
        # than folded into the first layer: folding changes the rounding of
        # every product and cancels in the folded bias, and the planner folds
        # affine chains into the GEMM at plan time anyway.
        for i, s in enumerate(scalers):
            if int(s.n_features_in_) != width:
                raise ConversionError(
                    f"{_kind(s)} {i} has {s.n_features_in_} features; "
                    f"expected {width} ({_kind(mlp)}'s n_features_in_)")
            tag = "scaler" if len(scalers) == 1 else f"scaler_{i}"
            for j, step in enumerate(_scaler_steps(s)):
                node = f"{tag}/{j}"
                if step[0] == "CLIP":
                    x = self.node(node, "ACTIVATION", [x], activation="CLIP",
                                  alpha=self.number(step[1]), beta=self.number(step[2]))
                    continue
                c = self.constant(f"{node}/c", step[1], [width])
                x = self.node(node, step[0], [x, c])

        hidden = _HIDDEN.get(mlp.activation)
        if hidden is None:
            raise ConversionError(f"{_kind(mlp)} activation {mlp.activation!r} is not supported; "
                                  "expected identity, relu, tanh or logistic")
        out_act = {"identity": "IDENTITY", "logistic": "SIGMOID",
                   "softmax": "SOFTMAX"}.get(mlp.out_activation_)
        if out_act is None:
            raise ConversionError(f"{_kind(mlp)} out_activation_ {mlp.out_activation_!r} is not "
                                  "supported; expected identity, logistic or softmax")
        coefs = [np.asarray(c, np.float64) for c in mlp.coefs_]
        intercepts = [np.asarray(b, np.float64) for b in mlp.intercepts_]
        for i, (c, b) in enumerate(zip(coefs, intercepts)):
            want = width if i == 0 else coefs[i - 1].shape[1]
            if c.ndim != 2 or c.shape[0] != want or b.shape != (c.shape[1],):
                raise ConversionError(f"{_kind(mlp)} layer {i}: coefs_ {c.shape} and intercepts_ "
                                      f"{b.shape} do not chain; expected ({want}, k) and (k,)")
        for i in range(len(coefs) - 1):
            x = self.dense(x, f"hidden_{i}", coefs[i], intercepts[i], hidden)

        classifier = type(mlp) is MLPClassifier
        out = "proba" if classifier else "y"
        units = coefs[-1].shape[1]
        if classifier and out_act == "SIGMOID" and units == 1:
            # Binary: predict_proba is [1 - p, p]. 1 - p as p * -1 + 1: the
            # product is exact and the sum is the one rounding of 1 - p, so
            # the column is bitwise sklearn's (an FMA of the two is too).
            p = self.dense(x, "p", coefs[-1], intercepts[-1], out_act)
            neg = self.node("p/neg", "MULTIPLY", [p, self.constant("minus_one", [-1.0], [])])
            q = self.node("p/complement", "ADD", [neg, self.constant("one", [1.0], [])])
            self.node(out, "CONCAT", [q, p], axis=-1)
            units = 2
        else:
            self.dense(x, out, coefs[-1], intercepts[-1], out_act)

        meta = {
            "sklearn.estimator": _describe(estimator),
            "sklearn.output": "predict_proba" if classifier else "predict",
            "sklearn.version": _sklearn_version(),
        }
        if classifier:
            meta["sklearn.classes"] = json.dumps(np.asarray(mlp.classes_).tolist(), default=str)
        head = [
            "# Written by rowflow-sklearn (tools/sklearn/rowflow_sklearn.py).\n",
            "format_version: 1\n",
            f"name: {_quote(self.name)}\n",
            f"dtype: {self.dtype}\n",
            f'inputs {{ name: "x" shape: [{width}] }}\n',
            f"outputs {{ name: {_quote(out)} shape: [{units}] }}\n",
        ]
        tail = [f"metadata {{ key: {_quote(k)} value: {_quote(v)} }}\n" for k, v in meta.items()]
        return "".join(head + self.nodes + self.constants + tail)


def _describe(estimator):
    from sklearn.pipeline import Pipeline

    if type(estimator) is Pipeline:
        steps = [_kind(s) for _, s in estimator.steps if s is not None and s != "passthrough"]
        return "Pipeline(" + ", ".join(steps) + ")"
    return _kind(estimator)


def _sklearn_version():
    import sklearn

    return sklearn.__version__


# ---- The command line. ----


class _Fail(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class _Signal(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# How pickles (protocol 2 and later: pickle.dump's default) and joblib.dump's
# compressed files (zlib, gzip, bz2, xz, lzma, lz4) begin.
_PICKLE_MAGIC = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00",
                 b"\x04\x22\x4d\x18")


def _load(path):
    """The object pickled in `path` (joblib's files too)."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise _Fail(EXIT_MODEL, f"{path}: cannot open: {e.strerror}")
    if not head:
        raise _Fail(EXIT_MODEL, f"{path}: empty file; expected a pickled scikit-learn estimator")
    # joblib.load reads plain pickles and joblib.dump's files alike.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                import joblib
                obj = joblib.load(path)
            except ImportError:
                import pickle
                with open(path, "rb") as f:
                    obj = pickle.load(f)
        except Exception as e:  # whatever unpickling raises: the file is bad
            if not head.startswith(_PICKLE_MAGIC):
                # The unpickler's own complaint about bytes that never were
                # a pickle ("KeyError: 110") would only confuse.
                raise _Fail(EXIT_MODEL, f"{path}: not a pickle (starts with {head!r}); "
                                        "expected a pickled scikit-learn estimator")
            detail = " ".join(str(e).split()) or "no detail"
            raise _Fail(EXIT_MODEL, f"{path}: cannot unpickle ({type(e).__name__}: {detail}); "
                                    "expected a pickled scikit-learn estimator")
    for w in caught:
        # Typically "Trying to unpickle estimator ... from version X when
        # using version Y": worth seeing, not a refusal.
        print(f"{PROG}: warning: {path}: {' '.join(str(w.message).split())}", file=sys.stderr)
    return obj


def _find_rowflow(explicit):
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise _Fail(EXIT_USAGE, f"--rowflow {explicit}: not an executable file")
        return explicit
    # In the build tree this script sits in build/tools/, next to rowflow.
    here = os.path.join(os.path.dirname(os.path.realpath(__file__)), "rowflow")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("rowflow")
    if found:
        return found
    raise _Fail(EXIT_USAGE, "no rowflow binary next to this script or on PATH; expected "
                            "--rowflow PATH (needed for a binary .pb; .pbtxt needs none)")


def _is_text(path):
    return path.endswith((".pbtxt", ".txt"))


def _write_text(text, out):
    """Writes `text` to `out` through a temp file in its folder + rename."""
    if out == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as e:
            raise _Fail(EXIT_OUTPUT, f"stdout: cannot write: {e.strerror}")
        return
    target = os.path.realpath(out)  # a symlink stays a link
    if os.path.exists(target) and not os.path.isfile(target):
        # A device or a FIFO (/dev/stdout, /dev/full): written in place, as
        # rowflow does; renaming over it would replace the device.
        try:
            with open(target, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise _Fail(EXIT_OUTPUT, f"{out}: cannot write: {e.strerror}")
        return
    folder = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".rowflow-sklearn-",
                                   dir=folder)
    except OSError as e:
        raise _Fail(EXIT_OUTPUT, f"{out}: cannot create a file in {folder}: {e.strerror}")
    try:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, target)
    except OSError as e:
        raise _Fail(EXIT_OUTPUT, f"{out}: cannot write: {e.strerror}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_binary(text, out, rowflow):
    """`rowflow convert` of the text: validates it, writes `out` atomically."""
    with tempfile.TemporaryDirectory(prefix="rowflow-sklearn-") as scratch:
        src = os.path.join(scratch, "model.pbtxt")
        with open(src, "w", encoding="utf-8") as f:
            f.write(text)
        proc = subprocess.Popen([rowflow, "convert", src, out, "--to", "binary"],
                                stdin=subprocess.DEVNULL,
                                stdout=None if out == "-" else subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate()
        except BaseException:
            proc.terminate()  # convert removes its temp file on SIGTERM
            proc.wait()
            raise
    if proc.returncode == 0:
        return
    line = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    line = line.removeprefix("rowflow: error: ")
    if proc.returncode == EXIT_OUTPUT:
        raise _Fail(EXIT_OUTPUT, line)
    # Anything else means the graph written here is wrong: a bug.
    raise _Fail(EXIT_INTERNAL, f"internal error: {rowflow} convert refused the graph: {line}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as rowflow's own usage errors
        raise _Fail(EXIT_USAGE, f"{message}; see '{PROG} --help'")


def parser():
    """The command line's definition: parsed by main, and written as
    rowflow-sklearn(1) by manpage.py at build time."""
    p = _Parser(
        prog=PROG,
        description="Convert a pickled scikit-learn MLP (MLPClassifier, MLPRegressor, or a "
                    "Pipeline of per-feature scalers ending in one) into a rowflow model file.",
        epilog="Example:\n  rowflow-sklearn model.pkl -o model.pb\n"
               "  rowflow run model.pb -i rows.csv -o proba.csv\n\n"
               "Exit codes: 0 ok, 1 internal error, 2 usage, 3 unreadable or unsupported "
               "model, 5 output not written.\nOnly unpickle files you trust: a pickle runs code.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="pickled estimator (pickle.dump or joblib.dump)")
    p.add_argument("-o", "--output", required=True,
                   help="model file to write: text when it ends in .pbtxt or .txt, else "
                        "binary; '-' is stdout")
    p.add_argument("--dtype", default="F64", choices=["F32", "F64"],
                   help="element type of the graph (default F64: sklearn's own)")
    p.add_argument("--to", choices=["text", "binary"],
                   help="encoding to write, overriding OUTPUT's extension (as rowflow convert)")
    p.add_argument("--rowflow", metavar="PATH",
                   help="rowflow binary for writing .pb (default: next to this script, else PATH)")
    p.add_argument("--name", help="graph name (default: the output file's stem)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    return p


def _parse(argv):
    return parser().parse_args(argv)


def _raise_signal(signum, frame):
    raise _Signal(signum)


def main(argv=None):
    """The rowflow-sklearn command; returns its exit code."""
    caught = (signal.SIGTERM, signal.SIGHUP)
    for s in caught:
        if signal.getsignal(s) is not signal.SIG_IGN:  # nohup stays nohup
            signal.signal(s, _raise_signal)
    try:
        args = _parse(sys.argv[1:] if argv is None else argv)
        out = args.output
        if out != "-" and os.path.isdir(out):
            raise _Fail(EXIT_OUTPUT, f"{out}: is a folder; expected a model file to write")
        if os.path.realpath(out) == os.path.realpath(args.model):
            raise _Fail(EXIT_USAGE, f"{out}: -o is the input file; expected another path")
        text_out = args.to == "text" if args.to else _is_text(out)
        rowflow = None if text_out else _find_rowflow(args.rowflow)
        name = args.name or os.path.basename(out).split(".")[0] or "sklearn_mlp"
        estimator = _load(args.model)
        try:
            text = from_sklearn(estimator, args.dtype, name)
        except ConversionError as e:
            raise _Fail(EXIT_MODEL, f"{args.model}: {e}")
        if rowflow is None:
            _write_text(text, out)
        else:
            _write_binary(text, out, rowflow)
        if not args.quiet:
            print(f"{PROG}: {_describe(estimator)} ({args.dtype}) -> {out}", file=sys.stderr)
        return 0
    except _Fail as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.code
    except (KeyboardInterrupt, _Signal) as e:
        # Temp files are gone (finally blocks); die by the same signal, so
        # the exit status says which (as rowflow does).
        signum = getattr(e, "signum", signal.SIGINT)
        sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    except Exception as e:  # a bug here, not bad input
        print(f"{PROG}: error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
