"""Models: load/build/import_onnx, save and pickle round trips, what a
model tells (inputs, nodes, inspect, dot, trace), the builder's refusals,
and the exception classes."""

import errno
import os
import pickle

import numpy as np
import pytest

import rowflow
from conftest import assert_bitwise, cli, cli_error, example, mlp, rows


def run(model, x, **kwargs):
    with rowflow.Session(model, **kwargs) as s:
        return s.run(x)


# ---- what a model tells --------------------------------------------------------

def test_model_properties(seed_4_5):
    m = seed_4_5
    assert m.name == "seed_4_5" and m.dtype == "F32"
    assert m.inputs == [rowflow.ValueInfo("input_data", (2,))]
    assert m.inputs[0].name == "input_data" and m.inputs[0].shape == (2,)
    assert len(m.outputs) == 1 and m.outputs[0].shape == (1,)
    assert m.input_width == 2 and m.output_width == 1
    assert m.parameters == 10
    assert "seed_4_5" in repr(m) and "F32" in repr(m)


def test_nodes(seed_4_5):
    nodes = seed_4_5.nodes
    assert all({"name", "op", "inputs", "output"} <= set(n) for n in nodes)
    ops = [n["op"] for n in nodes]
    assert "MULTIPLY" in ops and "SUM" in ops and "ACTIVATION" in ops
    acts = [n for n in nodes if n["op"] == "ACTIVATION"]
    assert len(acts) == 2 and {n["activation"] for n in acts} == {"RELU"}
    assert nodes[0]["inputs"][0] == "input_data"
    per_node = rowflow.build(example("seed_4_5.pbtxt"), per_node=True).nodes
    assert len([n for n in per_node if n["op"] == "ACTIVATION"]) == 4
    assert len(per_node) == 17


def test_inspect_matches_the_cli(seed_4_5, tmp_path):
    import json
    seed_4_5.save(tmp_path / "seed.pb")
    want = json.loads(cli("inspect", tmp_path / "seed.pb", "--json").stdout)
    got = seed_4_5.inspect()
    for key in ("file", "valid"):
        want.pop(key, None)
    assert got == want
    assert seed_4_5.flops_per_row == got["flops_per_row"] > 0


def test_dot_matches_the_cli(seed_4_5, tmp_path):
    seed_4_5.save(tmp_path / "seed.pb")
    assert rowflow.load(tmp_path / "seed.pb").dot() == cli("dot", tmp_path / "seed.pb").stdout
    assert seed_4_5.dot().startswith("digraph")
    assert seed_4_5.dot(collapse=True) != seed_4_5.dot(collapse=False)


def cli_trace(text):
    """`rowflow trace` output as the dict Model.trace gives: 'n: input a,
    output b' is n_input and n_output, 'n: [a, b]' a vector, 'n: a' one value."""
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(": ")
        if rest.startswith("input "):
            a, b = rest[len("input "):].split(", output ")
            values[name + "_input"], values[name + "_output"] = number(a), number(b)
        else:
            values[name] = number(rest)
    return values


def number(text):
    if text.startswith("["):
        return [float(v) for v in text.strip("[]").split(",")]
    return float(text)


@pytest.mark.parametrize("per_node", [False, True])
def test_trace_matches_the_cli(tmp_path, per_node):
    m = rowflow.build(example("seed_4_5.pbtxt"), per_node=per_node)
    m.save(tmp_path / "seed.pb")
    trace = m.trace([3, 5])
    want = cli_trace(cli("trace", tmp_path / "seed.pb", "--row", "3,5").stdout)
    got = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in trace.items()}
    assert list(got.items()) == list(want.items())
    assert list(trace.values())[-1] == 182
    every = m.trace(np.array([3, 5]), all=True)
    assert set(every) == {n["name"] for n in m.nodes}
    with pytest.raises(rowflow.InputError, match="trace takes one row of 2 numbers"):
        m.trace([1, 2, 3])


def test_trace_f64_and_vector_values():
    m = rowflow.build(example("seed_3_3.pbtxt"))
    t = m.trace([-1, 2])
    assert list(t.values())[-1] == 0.9901095378334199
    b = rowflow.GraphBuilder("vec")
    x = b.input("x", [2])
    b.output(b.multiply(x, b.constant("w", [2], [2, 3]), name="y"))
    t = b.build().trace([1, 1])
    assert isinstance(t["y"], np.ndarray) and t["y"].tolist() == [2, 3]


# ---- files, bytes and pickles ----------------------------------------------------

@pytest.mark.parametrize("name", ["m.pb", "m.pbtxt", "m.txt", "m.bin"])
def test_save_load_round_trip(name, tmp_path):
    m = mlp([5, 7, 2], dtype="F64", seed=21)
    m.save(tmp_path / name)
    data = (tmp_path / name).read_bytes()
    text = name.endswith((".pbtxt", ".txt"))
    assert data == m.to_bytes(text=text)
    loaded = rowflow.load(tmp_path / name)
    assert loaded.to_bytes() == m.to_bytes()
    x = rows(50, 5, np.float64)
    assert_bitwise(run(loaded, x), run(m, x))
    assert rowflow.load(data).to_bytes() == m.to_bytes()
    assert rowflow.load(str(tmp_path / name)).name == m.name
    # The CLI reads what Python saved.
    cli("inspect", tmp_path / name)


def test_save_text_flag(seed_4_5, tmp_path):
    seed_4_5.save(tmp_path / "m.pb", text=True)
    assert b'name: "seed_4_5"' in (tmp_path / "m.pb").read_bytes()
    assert rowflow.load(tmp_path / "m.pb").to_bytes() == seed_4_5.to_bytes()


def test_pickle_round_trip():
    m = mlp([4, 6, 1], seed=22)
    again = pickle.loads(pickle.dumps(m))
    assert isinstance(again, rowflow.Model) and again.to_bytes() == m.to_bytes()
    x = rows(20, 4)
    assert_bitwise(run(again, x), run(m, x))


def test_metadata(tmp_path):
    b = rowflow.GraphBuilder("meta")
    b.output(b.dense(b.input("x", [1]), "d", 1, [2]))
    b.metadata("trained_by", "me")
    m = b.build()
    m.save(tmp_path / "m.pb")
    assert rowflow.load(tmp_path / "m.pb").metadata["trained_by"] == "me"


def test_load_errors_are_the_cli_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.pb").write_bytes(b"\x00\xff garbage \x01")
    (tmp_path / "rows.csv").write_text("3,5\n1,2\n")
    cases = ["garbage.pb", "missing.pb", "rows.csv", example("seed_4_5.pbtxt")]
    for path in cases:
        message, code = cli_error("inspect", path)
        with pytest.raises(rowflow.ModelError) as e:
            rowflow.load(path)
        assert str(e.value) == message and code == 3 == e.value.exit_code, path


def test_build_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.pbtxt").write_text('name: "x"\ninput { name: "x" width: 2 }\nlayr {}\n')
    message, code = cli_error("build", "spec.pbtxt", "-o", "out.pb")
    with pytest.raises(rowflow.ModelError) as e:
        rowflow.build("spec.pbtxt")
    assert str(e.value) == message and code == 3
    with pytest.raises(rowflow.ModelError):
        rowflow.build('name: "x"\ninput { name: "x" width: 2 }\nlayer { units: 0 }\n')
    assert not (tmp_path / "out.pb").exists()


# ---- ONNX --------------------------------------------------------------------------

def test_import_onnx_from_torch(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                              torch.nn.Tanh(), torch.nn.Linear(16, 3)).eval()
    x = rows(257, 6, np.float32, seed=23)
    torch.onnx.export(net, torch.from_numpy(x[:1]), str(tmp_path / "net.onnx"),
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=13)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    m = rowflow.import_onnx(tmp_path / "net.onnx")
    assert m.input_width == 6 and m.output_width == 3 and m.dtype == "F32"
    got = run(m, x, threads=2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # From bytes, and the same model as the CLI's import.
    assert rowflow.import_onnx((tmp_path / "net.onnx").read_bytes()).to_bytes() == m.to_bytes()
    cli("import-onnx", tmp_path / "net.onnx", "-o", tmp_path / "cli.pb")
    assert rowflow.load(tmp_path / "cli.pb").to_bytes() == m.to_bytes()
    # An ONNX file given to load() gets the CLI's hint.
    with pytest.raises(rowflow.ModelError, match="import_onnx|import-onnx"):
        rowflow.load((tmp_path / "net.onnx").read_bytes())


def test_export_onnx_round_trip(tmp_path):
    m = mlp([4, 8, 2], seed=24)
    data = m.export_onnx()
    assert isinstance(data, bytes) and data
    m.export_onnx(tmp_path / "m.onnx")
    again = rowflow.import_onnx(tmp_path / "m.onnx")
    x = rows(30, 4)
    np.testing.assert_allclose(run(again, x), run(m, x), rtol=1e-6)


def test_import_onnx_errors(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(rowflow.ModelError):
        rowflow.import_onnx(tmp_path / "bad.onnx")


# ---- the builder's refusals ---------------------------------------------------------

def test_unknown_activation():
    b = rowflow.GraphBuilder("g")
    x = b.input("x", [2])
    with pytest.raises(rowflow.ModelError, match="unknown activation 'SWISHY'"):
        b.activation(x, "SWISHY")
    with pytest.raises(rowflow.ModelError, match="unknown activation"):
        b.dense(x, "d", 1, [1, 1], activation="nope")


@pytest.mark.parametrize("dtype", ["F16", "int32", np.int64, "float"])
def test_bad_dtype(dtype):
    with pytest.raises(rowflow.UsageError, match="dtype must be"):
        rowflow.GraphBuilder("g", dtype=dtype)


@pytest.mark.parametrize("dtype, want", [("F32", "F32"), ("f64", "F64"),
                                         (np.float32, "F32"), (np.dtype("float64"), "F64")])
def test_dtype_spellings(dtype, want):
    b = rowflow.GraphBuilder("g", dtype=dtype)
    b.output(b.dense(b.input("x", [1]), "d", 1, [1]))
    assert b.build().dtype == want


def test_builder_errors_name_the_node():
    b = rowflow.GraphBuilder("g")
    x = b.input("x", [2])
    with pytest.raises(rowflow.ModelError) as e:
        b.output(b.multiply(x, b.constant("w", [3], [1, 2, 3]), name="bad_mul"))
        b.build()
    assert "bad_mul" in str(e.value)
    other = rowflow.GraphBuilder("h")
    with pytest.raises(rowflow.ModelError, match="belongs to another GraphBuilder"):
        other.output(x)
    b2 = rowflow.GraphBuilder("g2")
    b2.output(b2.multiply(b2.input("x", [2]), b2.constant("c", [2], [1, 2, 3])))
    with pytest.raises(rowflow.ModelError, match="constant 'c': data length does not match"):
        b2.build()                                           # shape vs data
    with pytest.raises(rowflow.ModelError):
        b.constant("s", [2], "ab")
    with pytest.raises(rowflow.ModelError):
        rowflow.GraphBuilder("empty").build()                 # no outputs


def test_builder_takes_numpy_and_alpha():
    b = rowflow.GraphBuilder("g", dtype="F64")
    x = b.input("x", [3])
    c = b.constant("w", np.array([1.0, -2.0, 3.0]))          # shape from the array
    v = b.activation(b.multiply(x, c), "LEAKY_RELU", alpha=0.5)
    b.output(b.sum(b.add(v, b.constant("b", [3], np.zeros(3)))))
    m = b.build()
    assert run(m, [1, 1, 1]).tolist() == [1 - 1 + 3]
    assert m.nodes[[n["op"] for n in m.nodes].index("ACTIVATION")]["alpha"] == 0.5


# ---- the exception classes -----------------------------------------------------------

def test_exception_hierarchy():
    assert issubclass(rowflow.ModelError, rowflow.Error)
    assert issubclass(rowflow.ModelError, ValueError)
    assert issubclass(rowflow.InputError, ValueError)
    assert issubclass(rowflow.UsageError, ValueError)
    assert issubclass(rowflow.IoError, rowflow.Error)
    assert issubclass(rowflow.IoError, OSError)
    assert issubclass(rowflow.InternalError, RuntimeError)
    assert not issubclass(rowflow.ModelError, OSError)
    codes = {rowflow.InternalError: 1, rowflow.UsageError: 2, rowflow.ModelError: 3,
             rowflow.InputError: 4, rowflow.IoError: 5}
    for cls, code in codes.items():
        assert cls.exit_code == code
        assert cls.__module__ == "rowflow" and cls.__doc__


def test_errors_pickle_and_catch_as_builtins(seed_4_5):
    with rowflow.Session(seed_4_5) as s:
        try:
            s.run([1, 2, 3])
        except ValueError as e:                  # caught as a ValueError
            err = e
    assert type(err) is rowflow.InputError
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is rowflow.InputError and str(again) == str(err)


def test_version():
    assert isinstance(rowflow.__version__, str) and rowflow.__version__[0].isdigit()


# ---- files that cannot be opened, and names that are not UTF-8 ----------------------

def test_missing_files_are_the_cli_error_and_an_os_error(seed_4_5, tmp_path, monkeypatch):
    # The CLI's class and line (a model that cannot be opened is exit code 3,
    # rows exit code 4), and at once the OSError Python code catches.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.pb").mkdir()
    calls = {
        "load": (rowflow.load, "inspect"),
        "session": (rowflow.Session, "inspect"),
        "build": (rowflow.build, "build"),
        "import_onnx": (rowflow.import_onnx, "import-onnx"),
    }
    for name, (call, command) in calls.items():
        for path, os_error, err in [("missing.pb", FileNotFoundError, errno.ENOENT),
                                    ("folder.pb", IsADirectoryError, errno.EISDIR)]:
            args = [command, path] + ([] if command == "inspect" else ["-o", "out.pb"])
            message, code = cli_error(*args)
            with pytest.raises(os_error) as e:
                call(path)
            assert isinstance(e.value, rowflow.ModelError) and isinstance(e.value, rowflow.IoError)
            assert str(e.value) == message, name
            assert e.value.exit_code == code == 3
            assert e.value.errno == err and e.value.filename == path
            assert type(e.value).__name__ == "ModelError" and type(e.value).__module__ == "rowflow"
            # It pickles as the plain class (a Dask worker's error reaches the client).
            again = pickle.loads(pickle.dumps(e.value))
            assert type(again) is rowflow.ModelError and str(again) == message
    seed_4_5.save("seed.pb")
    message, code = cli_error("run", "seed.pb", "-i", "missing.csv", "-o", "out.csv")
    with rowflow.Session("seed.pb") as s, pytest.raises(FileNotFoundError) as e:
        s.run_file("missing.csv", "out.csv")
    assert isinstance(e.value, rowflow.InputError) and isinstance(e.value, rowflow.IoError)
    assert str(e.value) == message and e.value.exit_code == code == 4
    assert e.value.filename == "missing.csv"
    # A file that is there but bad is no OSError.
    (tmp_path / "bad.pb").write_bytes(b"\x00\xff")
    with pytest.raises(rowflow.ModelError) as e:
        rowflow.load("bad.pb")
    assert not isinstance(e.value, OSError)
    assert not list(tmp_path.glob("out.*"))


def test_paths_that_are_not_utf8(seed_4_5, tmp_path):
    # Names as Python gives undecodable bytes (surrogateescape), and as bytes.
    name = os.fsdecode(b"caf\xe9")
    folder = tmp_path / name
    folder.mkdir()
    seed_4_5.save(folder / "m.pb")
    assert os.path.exists(os.fsencode(folder / "m.pb"))
    assert rowflow.load(folder / "m.pb").to_bytes() == seed_4_5.to_bytes()
    assert rowflow.load(str(folder / "m.pb")).name == "seed_4_5"
    with rowflow.Session(folder / "m.pb") as s:          # (bytes are a model file's bytes)
        assert s.run([3, 5]).tolist() == [182]
        (folder / "in.csv").write_text("3,5\n")
        s.run_file(folder / "in.csv", folder / "out.csv")
        assert (folder / "out.csv").read_text() == "182\n"
    seed_4_5.export_onnx(folder / "m.onnx")
    assert rowflow.import_onnx(folder / "m.onnx").input_width == 2
    # The error names the path as the CLI prints it: os.fsencode(str(e))
    # gives its bytes back.
    with pytest.raises(FileNotFoundError) as e:
        rowflow.load(folder / "missing.pb")
    assert str(e.value) == f"{folder}/missing.pb: cannot open: No such file or directory"
    assert os.fsencode(str(e.value)).startswith(os.fsencode(folder))
    with pytest.raises(rowflow.UsageError, match="embedded null byte"):
        rowflow.load("seed\0.pb")


def test_trace_refuses_what_run_refuses(seed_4_5):
    for row in ([None, None], np.array([3, 5], dtype=object), ["3", "5"], [[3], [5, 1]]):
        with pytest.raises(rowflow.InputError, match="trace takes one row of 2 numbers"):
            seed_4_5.trace(row)
    assert seed_4_5.trace(np.array([3, 5], np.int8))["output"] == 182


def test_concat_takes_any_iterable():
    b = rowflow.GraphBuilder("g")
    x = b.input("x", [2])
    parts = (b.sum(b.multiply(x, b.constant(f"w{i}", [2], [i, 1]))) for i in range(3))
    b.output(b.concat(parts))
    assert run(b.build(), [1, 1]).tolist() == [1, 2, 3]
    with pytest.raises(TypeError, match="concat\\(\\): expected Values, got int"):
        b.concat([x, 3])
