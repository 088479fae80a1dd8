"""rowflow.dask.predict on the threaded scheduler and on a LocalCluster of 2
worker processes (loopback only): bitwise the same predictions as one
in-process Session, the input's partitions kept, errors as the rowflow class
with the partition's global rows, the model loaded once per worker.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python/test_dask.py
(ctest -L scaleout). One cluster serves the whole module: workers start slowly.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import dask
import dask.array as da
import dask.dataframe as dd
import distributed

import rowflow
import rowflow.dask

ROWS, WIDTH = 200_000, 16
SPEC = """
name: "dask_mlp"
input { name: "x" width: 16 }
layer { units: 24 activation: TANH
        weights { init { kind: HE_UNIFORM seed: %d } }
        bias { init { kind: UNIFORM seed: 2 } } }
layer { units: 3 weights { init { kind: GLOROT_UNIFORM seed: 3 } } }
"""


def make_model(seed=1):
    return rowflow.build(SPEC % seed)


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(16)
    return rng.standard_normal((ROWS, WIDTH)).astype(np.float32)


@pytest.fixture(scope="module")
def expected(model, rows):
    with rowflow.Session(model, threads=1) as s:
        return s.run(rows)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1,
            host="127.0.0.1", dashboard_address=None,
            silence_logs=40) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    # set_as_default=False: the threaded-scheduler tests stay on threads.
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def frame_of(rows, start=10**6):
    pdf = pd.DataFrame(rows, columns=[f"x{i}" for i in range(WIDTH)])
    pdf.insert(0, "id", np.arange(len(rows)) * 7)  # not a feature: by name
    pdf.index = pd.RangeIndex(start, start + len(rows))
    return pdf


def same_bits(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def partition_ranges(ddf):
    lengths = ddf.map_partitions(len).compute(scheduler="threads")
    ends = np.cumsum(lengths)
    return [(int(e - n), int(e - 1)) for n, e in zip(lengths, ends)]


# The threaded (default) scheduler.

def test_import_rowflow_does_not_import_dask():
    code = ("import sys, rowflow; assert 'dask' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith('dask'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_array_threads_bitwise_same_chunks(model, rows, expected):
    x = da.from_array(rows, chunks=(30_001, WIDTH))  # does not divide 200 k
    y = rowflow.dask.predict(x, model)
    assert isinstance(y, da.Array)
    assert y.chunks == (x.chunks[0], (3,)) and y.dtype == np.float32
    same_bits(y.compute(scheduler="threads"), expected)
    same_bits(y.compute(scheduler="sync"), expected)


def test_array_chunked_on_columns_is_rechunked(model, rows, expected):
    x = da.from_array(rows[:5000], chunks=(777, 5))
    y = rowflow.dask.predict(x, model.to_bytes(), threads_per_worker=2)
    assert y.chunks[0] == x.chunks[0]
    same_bits(y.compute(scheduler="threads"), expected[:5000])


def test_float64_rows_convert_as_session_run(model, rows, expected):
    x = da.from_array(rows[:3000].astype(np.float64), chunks=1000)
    same_bits(rowflow.dask.predict(x, model).compute(scheduler="threads"),
              expected[:3000])


def test_dataframe_threads_bitwise_index_kept(model, rows, expected):
    pdf = frame_of(rows[:20_000])
    ddf = dd.from_pandas(pdf, npartitions=6)
    pred = rowflow.dask.predict(ddf, model)
    assert isinstance(pred, dd.DataFrame)
    assert pred.npartitions == ddf.npartitions
    assert pred.divisions == ddf.divisions
    assert list(pred.columns) == ["y_0", "y_1", "y_2"]
    got = pred.compute(scheduler="threads")
    assert got.index.equals(pdf.index)
    same_bits(got.to_numpy(), expected[:20_000])


def test_dataframe_columns_by_name_in_model_order(model, rows, expected):
    pdf = frame_of(rows[:1000])
    shuffled = pdf[["id"] + [f"x{i}" for i in reversed(range(WIDTH))]]
    got = rowflow.dask.predict(dd.from_pandas(shuffled, npartitions=3),
                               model).compute(scheduler="threads")
    same_bits(got.to_numpy(), expected[:1000])
    # Explicit columns, and a frame of exactly the model's width.
    plain = pd.DataFrame(rows[:1000], columns=[f"f{i}" for i in range(WIDTH)])
    for ddf, cols in [(dd.from_pandas(plain, npartitions=2), None),
                      (dd.from_pandas(pdf, npartitions=2), list(pdf)[1:])]:
        got = rowflow.dask.predict(ddf, model, columns=cols).compute(
            scheduler="threads")
        same_bits(got.to_numpy(), expected[:1000])


def test_refusals_before_compute(model, rows):
    with pytest.raises(rowflow.InputError, match="has 15 columns; the model "
                       "takes 16"):
        rowflow.dask.predict(da.zeros((10, 15), chunks=5), model)
    unnamed = pd.DataFrame(rows[:10], columns=[f"f{i}" for i in range(WIDTH)])
    unnamed["extra"] = 1.0
    with pytest.raises(rowflow.UsageError, match=r"17 columns .* pass "
                       r"columns=\[\.\.\.\]"):
        rowflow.dask.predict(dd.from_pandas(unnamed, npartitions=1), model)
    text = frame_of(rows[:10])
    text["x3"] = "a"
    with pytest.raises(rowflow.InputError, match="column 'x3' has dtype "
                       "object"):
        rowflow.dask.predict(dd.from_pandas(text, npartitions=1), model)
    with pytest.raises(rowflow.ModelError):
        rowflow.dask.predict(da.zeros((10, 16)), b"not a model")
    with pytest.raises(rowflow.UsageError, match="threads_per_worker"):
        rowflow.dask.predict(da.zeros((10, 16)), model, threads_per_worker=-1)
    with pytest.raises(rowflow.UsageError, match="dask.array or a dask"):
        rowflow.dask.predict(rows, model)
    with pytest.raises(rowflow.UsageError, match="columns= selects"):
        rowflow.dask.predict(da.zeros((10, 16)), model, columns=["x0"])


def test_cache_keeps_the_newest_models(rows):
    x = da.from_array(rows[:100], chunks=50)
    before = rowflow.dask.cache_info()["loads"]
    for seed in range(100, 110):  # 10 new models; the cache holds 8
        m = make_model(seed)
        with rowflow.Session(m, threads=1) as s:
            want = s.run(rows[:100])
        same_bits(rowflow.dask.predict(x, m).compute(scheduler="threads"),
                  want)
    info = rowflow.dask.cache_info()
    assert info["loads"] - before == 10 and info["models"] == 8, info


def test_bad_partition_threads(model, rows):
    bad = rows[:10_000].copy()
    bad[6543, 5] = np.nan
    y = rowflow.dask.predict(da.from_array(bad, chunks=3000), model,
                             check_finite=True)
    with pytest.raises(rowflow.InputError) as e:
        y.compute(scheduler="threads")
    assert type(e.value) is rowflow.InputError
    assert str(e.value).startswith("rows 6000-8999: "), str(e.value)
    # After the prefix, Session.run's message over the whole array.
    with rowflow.Session(model, threads=1) as s:
        with pytest.raises(rowflow.InputError) as whole:
            s.run(bad, check_finite=True)
    assert str(e.value) == f"rows 6000-8999: {whole.value}", str(e.value)
    assert "row 6544:" in str(e.value)
    # Without check_finite NaN passes through (IEEE) as Session.run does.
    out = rowflow.dask.predict(da.from_array(bad, chunks=3000), model)
    assert np.isnan(out.compute(scheduler="threads")[6543]).all()


def test_one_task_per_chunk_depending_on_its_rows_and_the_model(model, rows):
    # No per-chunk helper tasks (map_blocks' block_info made one per chunk,
    # placed anywhere, so a worker fetched it from another before scoring).
    x = da.from_array(rows[:10_000], chunks=3000)
    y = rowflow.dask.predict(x, model)
    graph = dict(y.__dask_graph__())
    own = [k for k in graph if k not in dict(x.__dask_graph__())]
    model_keys = [k for k in own if str(k).startswith("rowflow-model-")]
    assert len(model_keys) == 1
    assert sorted(set(own) - set(model_keys)) == sorted(
        y.__dask_keys__()[i][0] for i in range(4))
    deps = y.__dask_graph__().get_all_dependencies()
    for i, key in enumerate(k[0] for k in y.__dask_keys__()):
        assert deps[key] == {(x.name, i, 0), model_keys[0]}, (key, deps[key])


def test_unknown_chunk_sizes_name_the_partition(model, rows, expected):
    keep = rows[:10_000, 0] > -np.inf  # all rows; dask cannot know it
    x = da.from_array(rows[:10_000], chunks=3000)[da.from_array(keep, 3000)]
    assert np.isnan(x.chunks[0][0])
    y = rowflow.dask.predict(x, model)
    same_bits(y.compute(scheduler="threads"), expected[:10_000])
    bad = rows[:10_000].copy()
    bad[6543, 5] = np.nan
    x = da.from_array(bad, chunks=3000)[da.from_array(keep, 3000)]
    with pytest.raises(rowflow.InputError) as e:
        rowflow.dask.predict(x, model, check_finite=True).compute(
            scheduler="threads")
    # Rows are counted from the partition's start, as the sizes are unknown.
    assert str(e.value).startswith("partition 2: "), str(e.value)
    assert "row 544:" in str(e.value), str(e.value)


def test_model_path_read_on_client(model, rows, expected, tmp_path):
    path = tmp_path / "m.pb"
    model.save(path)
    y = rowflow.dask.predict(da.from_array(rows[:2000], chunks=500), path)
    path.unlink()  # the graph holds the bytes, not the path
    same_bits(y.compute(scheduler="threads"), expected[:2000])
    with pytest.raises(rowflow.ModelError, match="m.pb"):
        rowflow.dask.predict(da.zeros((10, 16)), path)


def test_float64_model_threads(rows):
    m = rowflow.build(SPEC.replace('input {', 'dtype: F64 input {') % 5)
    x = rows[:4000].astype(np.float64)
    with rowflow.Session(m, threads=1) as s:
        want = s.run(x)
    y = rowflow.dask.predict(da.from_array(x, chunks=999), m)
    assert y.dtype == np.float64
    got = y.compute(scheduler="threads")
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


# A LocalCluster of 2 worker processes, 1 thread each.

def test_array_cluster_bitwise(client, model, rows, expected):
    x = da.from_array(rows, chunks=(30_001, WIDTH))
    y = rowflow.dask.predict(x, model)
    same_bits(client.compute(y).result(), expected)


def test_dataframe_cluster_bitwise(client, model, rows, expected):
    pdf = frame_of(rows)
    ddf = dd.from_pandas(pdf, npartitions=7)
    pred = rowflow.dask.predict(ddf, model)
    assert pred.npartitions == 7 and pred.divisions == ddf.divisions
    got = client.compute(pred).result()
    assert got.index.equals(pdf.index)
    assert list(got.columns) == ["y_0", "y_1", "y_2"]
    same_bits(got.to_numpy(), expected)


def test_empty_partition_cluster(client, model, rows, expected):
    x = da.from_array(rows[:1999], chunks=((1000, 0, 999), (WIDTH,)))
    y = rowflow.dask.predict(x, model)
    assert y.chunks[0] == (1000, 0, 999)
    same_bits(client.compute(y).result(), expected[:1999])
    pdf = frame_of(rows[:1000])
    parts = [pdf.iloc[:400], pdf.iloc[400:400], pdf.iloc[400:]]
    ddf = dd.from_delayed([dask.delayed(p) for p in parts], meta=pdf.iloc[:0])
    got = client.compute(rowflow.dask.predict(ddf, model)).result()
    assert got.index.equals(pdf.index)
    same_bits(got.to_numpy(), expected[:1000])


def test_bad_partition_cluster(client, model, rows):
    bad = rows.copy()
    bad[123_457, 5] = np.inf
    y = rowflow.dask.predict(da.from_array(bad, chunks=(30_001, WIDTH)),
                             model, check_finite=True)
    with pytest.raises(rowflow.InputError) as e:
        client.compute(y).result()
    assert type(e.value) is rowflow.InputError
    assert str(e.value).startswith("rows 120004-150004: "), str(e.value)
    assert "input: row 123458: column 6 is inf" in str(e.value), str(e.value)

    ddf = dd.from_pandas(frame_of(bad), npartitions=7)
    first, last = next(r for r in partition_ranges(ddf)
                       if r[0] <= 123_457 <= r[1])
    pred = rowflow.dask.predict(ddf, model, check_finite=True)
    with pytest.raises(rowflow.InputError) as e:
        client.compute(pred).result()
    assert type(e.value) is rowflow.InputError
    assert str(e.value).startswith(f"rows {first}-{last}: "), str(e.value)


def test_model_loaded_once_per_worker(client, rows, expected):
    fresh = make_model(seed=99)  # a model no test has shipped yet
    with rowflow.Session(fresh, threads=1) as s:
        want = s.run(rows)
    before = client.run(rowflow.dask.cache_info)
    x = da.from_array(rows, chunks=10_000)  # 20 chunks over 2 workers
    for _ in range(2):
        y = client.persist(rowflow.dask.predict(x, fresh.to_bytes()))
        client.gather(distributed.futures_of(y))  # all chunks done
        ran_on = {w for ws in client.who_has(y).values() for w in ws}
        same_bits(client.compute(y).result(), want)
    after = client.run(rowflow.dask.cache_info)
    assert ran_on == set(after), "both workers should have scored chunks"
    for w in after:
        assert after[w]["loads"] - before[w]["loads"] == 1, (w, before, after)
        assert after[w]["plans"] - before[w]["plans"] == 1, (w, before, after)


def test_client_by_scheduler_address(cluster, model, rows, expected):
    with distributed.Client(cluster.scheduler_address,
                            set_as_default=False) as c:
        x = da.from_array(rows[:50_000], chunks=7_001)
        same_bits(c.compute(rowflow.dask.predict(x, model)).result(),
                  expected[:50_000])
        # The worker's Session got the worker's nthreads (1).
        info = c.run(lambda: {k[1] for k in rowflow.dask._sessions})
        assert list(info.values()) == [{1}, {1}], info


def test_client_to_separate_scheduler_and_worker(model, rows, expected,
                                                 tmp_path):
    """`dask scheduler` and `dask worker` as their own processes (as on a
    real cluster, here on 127.0.0.1); the worker runs in a folder of its own
    and has 2 threads, which its Session takes by default."""
    sched_file = tmp_path / "scheduler.json"
    # The worker imports rowflow from where this process did (PYTHONPATH
    # may be relative to a folder the worker is not in).
    package_dir = os.path.dirname(os.path.dirname(rowflow.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_dir] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    work = tmp_path / "worker"
    work.mkdir()
    cli = "distributed.cli."
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    procs = [subprocess.Popen(
        [sys.executable, "-m", cli + "dask_scheduler", "--port", "0",
         "--scheduler-file", str(sched_file)] + common,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", cli + "dask_worker", "--nthreads", "2",
             "--scheduler-file", str(sched_file)] + common,
            cwd=work, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        # The worker waits for the scheduler file; the client too.
        with distributed.Client(scheduler_file=str(sched_file), timeout=60,
                                set_as_default=False) as c:
            c.wait_for_workers(1, timeout=60)
            x = da.from_array(rows[:60_000], chunks=9_999)
            # A worker that cannot run the tasks dies and the result never
            # comes: the timeout turns that hang into a failure.
            y = c.compute(rowflow.dask.predict(x, model))
            same_bits(y.result(timeout=120), expected[:60_000])
            threads = c.run(lambda: {k[1] for k in rowflow.dask._sessions})
            assert list(threads.values()) == [{2}], threads
            cwd = c.run(os.getcwd)
            assert [pathlib.Path(p) for p in cwd.values()] == [work], cwd
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
