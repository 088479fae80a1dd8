"""Python and `rowflow run` on the same model and rows give the same bits
(F32 and F64, several thread counts and tile sizes); run_file writes what
the CLI writes and fails with the CLI's line."""

import gzip
import os

import numpy as np
import pytest

import rowflow
from conftest import assert_bitwise, cli, cli_error, example, mlp, rows

THREADS = [1, 2, 4]


@pytest.fixture(scope="module", params=["F32", "F64"])
def model_and_rows(request, tmp_path_factory):
    dtype = request.param
    tmp = tmp_path_factory.mktemp(f"parity_{dtype}")
    m = mlp([16, 48, 24, 3], dtype=dtype, seed=11, activation="TANH", name=f"parity_{dtype}")
    path = tmp / "m.pb"
    m.save(path)
    np_dtype = np.float32 if dtype == "F32" else np.float64
    x = rows(3001, 16, np_dtype, seed=12)
    x[5, 3] = np.nan                        # NaN passes through both the same
    np.save(tmp / "in.npy", x)
    return m, path, x, tmp


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("tile_rows", [0, 7, 1000])
def test_run_equals_cli_bitwise(model_and_rows, threads, tile_rows):
    m, path, x, tmp = model_and_rows
    out = tmp / f"out_{threads}_{tile_rows}.npy"
    args = ["run", path, "-i", tmp / "in.npy", "-o", out, "--threads", threads, "-q"]
    if tile_rows:
        args += ["--tile", tile_rows]
    cli(*args)
    want = np.load(out)
    with rowflow.Session(m, threads=threads, tile_rows=tile_rows) as s:
        assert_bitwise(s.run(x), want)
    with rowflow.Session(path, threads=threads, tile_rows=tile_rows) as s:
        assert_bitwise(s.run(x), want)


def test_run_equals_cli_csv_output(model_and_rows):
    # The CLI's CSV prints each number so that it reads back to its bits.
    m, path, x, tmp = model_and_rows
    cli("run", path, "-i", tmp / "in.npy", "-o", tmp / "out.csv", "--format", "npy", "-q")
    cli("run", path, "-i", tmp / "in.npy", "-o", tmp / "out_csv.csv", "-q")
    want = np.loadtxt(tmp / "out_csv.csv", delimiter=",", dtype=x.dtype, ndmin=2)
    with rowflow.Session(m, threads=2) as s:
        assert_bitwise(s.run(x), want)


def test_seed_rows_through_cli_and_python(seed_4_5, tmp_path):
    seed_4_5.save(tmp_path / "seed.pb")
    r = cli("run", tmp_path / "seed.pb", "-i", example("seed_4_5_rows.csv"), "-o", "-", "-q")
    cli_out = [float(v) for v in r.stdout.split()]
    with rowflow.Session(seed_4_5) as s:
        x = np.loadtxt(example("seed_4_5_rows.csv"), delimiter=",")
        assert s.run(x)[:, 0].tolist() == cli_out == [182, 162, 0, 392]


# ---- run_file --------------------------------------------------------------

@pytest.fixture
def seed_files(seed_4_5, tmp_path):
    seed_4_5.save(tmp_path / "seed.pb")
    return tmp_path / "seed.pb", tmp_path


def run_both(model_path, tmp, inp, name, **kwargs):
    """run_file and the CLI with the same options; returns both outputs' bytes."""
    flags = []
    for k, v in kwargs.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            flags.append(flag)
        else:
            flags += [flag, v if isinstance(v, str) else ",".join(v)]
    cli_out = tmp / ("cli_" + name)
    cli("run", model_path, "-i", inp, "-o", cli_out, "-q", *flags)
    py_out = tmp / ("py_" + name)
    with rowflow.Session(model_path, threads=2) as s:
        result = s.run_file(inp, py_out, **kwargs)
    return cli_out.read_bytes(), py_out.read_bytes(), result


def test_run_file_csv(seed_files):
    model, tmp = seed_files
    c, p, result = run_both(model, tmp, example("seed_4_5_rows.csv"), "out.csv")
    assert p == c == b"182\n162\n0\n392\n"
    assert result["rows"] == 4 and result["threads_used"] >= 1 and result["seconds"] >= 0


def test_run_file_header_keep_na(seed_files):
    model, tmp = seed_files
    (tmp / "rows.csv").write_text(",x0,x1\n0,3,5\n1,1,-1\n2,,0\n3,8,4\n")
    c, p, _ = run_both(model, tmp, tmp / "rows.csv", "out.csv", header=True, keep="1", na="")
    assert p == c
    assert p.decode().splitlines()[0] == ",y" and p.decode().splitlines()[1] == "0,182"
    c, p, _ = run_both(model, tmp, tmp / "rows.csv", "out2.csv", header=True, keep="1",
                       na=["", "NA"])
    assert p == c


def test_run_file_dialect(seed_files):
    model, tmp = seed_files
    (tmp / "excel.csv").write_text('id;a;b\r\n"r1";3;5\r\n"r2";1,5;-1\r\n')
    c, p, _ = run_both(model, tmp, tmp / "excel.csv", "o.csv", header=True, keep="id",
                       delimiter=";", decimal=",")
    assert p == c and p.decode().splitlines()[1] == '"r1",182'


def test_run_file_npy_and_gz(seed_files):
    model, tmp = seed_files
    x = np.array([[3, 5], [1, -1], [0, 0], [8, 4]], np.float32)
    np.save(tmp / "rows.npy", x)
    c, p, _ = run_both(model, tmp, tmp / "rows.npy", "out.npy")
    assert p == c
    assert np.load(tmp / "py_out.npy")[:, 0].tolist() == [182, 162, 0, 392]
    with gzip.open(tmp / "rows.csv.gz", "wt") as f:
        f.write("3,5\n1,-1\n0,0\n8,4\n")
    run_both(model, tmp, tmp / "rows.csv.gz", "out.csv.gz")
    assert gzip.decompress((tmp / "py_out.csv.gz").read_bytes()) == \
        gzip.decompress((tmp / "cli_out.csv.gz").read_bytes()) == b"182\n162\n0\n392\n"


def test_run_file_pathlike_and_format(seed_files):
    model, tmp = seed_files
    np.save(tmp / "rows.bin", np.array([[3, 5]], np.float32))
    os.rename(tmp / "rows.bin.npy", tmp / "rows.bin")
    with rowflow.Session(model) as s:
        s.run_file(tmp / "rows.bin", tmp / "o.bin", format="npy")
    assert np.load(tmp / "o.bin").tolist() == [[182]]


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("content, kwargs", [
    ("3,5\n1,-1,7\n", {}),                                   # wrong width
    ("3,5\n1,x\n", {}),                                      # not a number
    ("3,5\n1,\n", {}),                                       # empty field, no --na
    ("3,5\n1,nan\n", {"check_finite": True}),
    ("a,b\n3,5\n", {"header": True, "columns": "a,zz"}),      # unknown column (usage)
    ("3,5\n", {"decimal": ",", "delimiter": ","}),
])
def test_run_file_errors_are_the_cli_line(seed_files, content, kwargs, monkeypatch):
    model, tmp = seed_files
    (tmp / "bad.csv").write_text(content)
    flags = []
    for k, v in kwargs.items():
        flags += ["--" + k.replace("_", "-")] + ([] if v is True else [v])
    before = files_in(tmp)
    monkeypatch.chdir(tmp)              # the same relative names in both messages
    message, code = cli_error("run", "seed.pb", "-i", "bad.csv", "-o", "out.csv", "-q", *flags)
    with rowflow.Session(model) as s:
        with pytest.raises(rowflow.Error) as e:
            s.run_file("bad.csv", "out.csv", **kwargs)
    assert str(e.value) == message
    assert e.value.exit_code == code
    assert files_in(tmp) == before, "an output or temp file was left behind"


def test_run_file_missing_input_and_unwritable_output(seed_files, monkeypatch):
    model, tmp = seed_files
    monkeypatch.chdir(tmp)
    with rowflow.Session(model) as s:
        message, code = cli_error("run", "seed.pb", "-i", "nope.csv", "-o", "out.csv")
        with pytest.raises(rowflow.Error) as e:
            s.run_file("nope.csv", "out.csv")
        assert str(e.value) == message and e.value.exit_code == code
        message, code = cli_error("run", "seed.pb", "-i", example("seed_4_5.csv"),
                                  "-o", "no/such/dir/out.csv")
        with pytest.raises(rowflow.IoError) as e:
            s.run_file(example("seed_4_5.csv"), "no/such/dir/out.csv")
        assert str(e.value) == message and code == 5 and isinstance(e.value, OSError)
        # The input is never the output.
        message, code = cli_error("run", "seed.pb", "-i", example("seed_4_5.csv"),
                                  "-o", example("seed_4_5.csv"))
        with pytest.raises(rowflow.UsageError) as e:
            s.run_file(example("seed_4_5.csv"), example("seed_4_5.csv"))
        assert str(e.value) == message


def test_run_file_bad_keywords(seed_files):
    model, tmp = seed_files
    with rowflow.Session(model) as s:
        with pytest.raises(rowflow.UsageError, match="unexpected keyword argument 'heade'"):
            s.run_file(example("seed_4_5.csv"), tmp / "o.csv", heade=True)
        with pytest.raises(rowflow.UsageError, match="format must be"):
            s.run_file(example("seed_4_5.csv"), tmp / "o.csv", format="xls")
    assert not (tmp / "o.csv").exists()


def test_run_file_progress(tmp_path):
    m = mlp([8, 16, 1], seed=13)
    m.save(tmp_path / "m.pb")
    np.save(tmp_path / "rows.npy", rows(200000, 8, np.float32))
    calls = []
    with rowflow.Session(tmp_path / "m.pb", threads=2, tile_rows=1000) as s:
        result = s.run_file(tmp_path / "rows.npy", tmp_path / "out.npy",
                            progress=lambda done, fraction: calls.append((done, fraction)))
    assert result["rows"] == 200000
    assert calls, "progress was never called"
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] <= 200000
    assert all(f is None or 0 <= f <= 1 for _, f in calls)


class Stop(Exception):
    pass


def test_run_file_progress_exception_stops_the_run(tmp_path):
    m = mlp([8, 16, 1], seed=13)
    m.save(tmp_path / "m.pb")
    np.save(tmp_path / "rows.npy", rows(200000, 8, np.float32))
    calls = []

    def progress(done, fraction):
        calls.append(done)
        raise Stop("enough")

    before = files_in(tmp_path)
    with rowflow.Session(tmp_path / "m.pb", threads=2, tile_rows=1000) as s:
        with pytest.raises(Stop, match="enough"):
            s.run_file(tmp_path / "rows.npy", tmp_path / "out.npy", progress=progress)
        assert len(calls) == 1
        assert files_in(tmp_path) == before, "an output or temp file was left behind"
        # The session still works.
        s.run_file(tmp_path / "rows.npy", tmp_path / "out.npy")
    assert np.load(tmp_path / "out.npy").shape == (200000, 1)


def test_run_file_progress_exception_on_a_short_file_leaves_no_output(tmp_path):
    # Four rows are one tile: the callback runs after every tile has been
    # read, and its exception must still leave no output behind.
    (tmp_path / "rows.csv").write_text("3,5\n1,-1\n0,0\n8,4\n")

    def progress(done, fraction):
        raise Stop(f"at {done}")

    before = files_in(tmp_path)
    with rowflow.Session(rowflow.build(example("seed_4_5.pbtxt")), threads=2) as s:
        with pytest.raises(Stop, match="at 4"):
            s.run_file(tmp_path / "rows.csv", tmp_path / "out.csv", progress=progress)
        assert files_in(tmp_path) == before, "an output or temp file was left behind"
        with pytest.raises(rowflow.UsageError, match="progress must be a callable"):
            s.run_file(tmp_path / "rows.csv", tmp_path / "out.csv", progress=5)
        assert files_in(tmp_path) == before


def test_run_file_keyword_types(seed_files):
    model, tmp = seed_files
    (tmp / "rows.csv").write_text("id,a,b\nr1,3,5\nr2,1,-1\n")
    with rowflow.Session(model) as s:
        # Lists of columns as the CLI's comma lists; numpy's bools and 0/1.
        s.run_file(tmp / "rows.csv", tmp / "a.csv", header=True, columns="a,b", keep="id")
        s.run_file(tmp / "rows.csv", tmp / "b.csv", header=np.True_, columns=["a", "b"],
                   keep=["id"], output_header=1)
        s.run_file(tmp / "rows.csv", tmp / "c.csv", header=True, columns=[2, 3], keep=[1],
                   output_header=True)
        assert (tmp / "b.csv").read_text() == (tmp / "c.csv").read_text() == "id,y\nr1,182\nr2,162\n"
        assert (tmp / "a.csv").read_text() == (tmp / "b.csv").read_text()
        # A value of the wrong type is a UsageError naming the keyword, not
        # pybind11's RuntimeError.
        for kwargs, what in [({"header": "yes"}, "header must be True or False"),
                             ({"check_finite": 2}, "check_finite must be True or False"),
                             ({"delimiter": 59}, "delimiter must be a str"),
                             ({"columns": 5}, "columns must be a str or a list"),
                             ({"max_line_bytes": "10"}, "max_line_bytes must be an int"),
                             ({"max_line_bytes": 1 << 70}, "max_line_bytes must be an int"),
                             ({"columns": ["a,b"]}, "token 'a,b' holds a comma")]:
            with pytest.raises(rowflow.UsageError, match=what):
                s.run_file(tmp / "rows.csv", tmp / "d.csv", **kwargs)
        assert not (tmp / "d.csv").exists()


def test_run_file_bytes_paths(seed_files):
    model, tmp = seed_files
    with rowflow.Session(model) as s:
        s.run_file(os.fsencode(example("seed_4_5_rows.csv")), os.fsencode(tmp / "o.csv"))
    assert (tmp / "o.csv").read_text() == "182\n162\n0\n392\n"
