"""Session.run: what it accepts and returns, what it refuses, and how it
runs (no input copy, the GIL released, concurrent calls, Ctrl-C)."""

import gc
import os
import signal
import threading
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import rowflow
from conftest import assert_bitwise, example, mlp, rows

SEED_ROWS = [[3, 5], [1, -1], [0, 0], [8, 4]]
SEED_OUT = [182, 162, 0, 392]


@pytest.fixture
def session(seed_4_5):
    with rowflow.Session(seed_4_5, threads=2) as s:
        yield s


# ---- what run() accepts ------------------------------------------------------

def test_two_d_array_gives_rows_by_output_width(session):
    y = session.run(np.array(SEED_ROWS, dtype=np.float32))
    assert y.shape == (4, 1) and y.dtype == np.float32
    assert y[:, 0].tolist() == SEED_OUT


def test_one_row_gives_one_output_row(session):
    y = session.run(np.array([3, 5]))
    assert y.shape == (1,) and y.dtype == np.float32
    assert y.tolist() == [182]


@pytest.mark.parametrize("make", [
    lambda: SEED_ROWS,                                   # a list of lists
    lambda: [np.array(r) for r in SEED_ROWS],            # the seed's list of arrays
    lambda: tuple(tuple(r) for r in SEED_ROWS),
    lambda: np.array(SEED_ROWS, dtype=np.int64),         # ints convert as numpy does
    lambda: np.array(SEED_ROWS, dtype=np.int8),
    lambda: np.array(SEED_ROWS, dtype=np.float64),
    lambda: np.array(SEED_ROWS, dtype=np.float16),
    lambda: pd.DataFrame(SEED_ROWS, columns=["a", "b"]),
    lambda: pd.DataFrame({"a": [3, 1, 0, 8], "b": [5.0, -1.0, 0.0, 4.0]}),
], ids=["lists", "arrays", "tuples", "int64", "int8", "float64", "float16",
        "frame", "mixed_frame"])
def test_array_likes(session, make):
    y = session.run(make())
    assert y.shape == (4, 1) and y.dtype == np.float32
    assert y[:, 0].tolist() == SEED_OUT


def test_pandas_out(session):
    frame = pd.DataFrame(SEED_ROWS, columns=["a", "b"])
    out = pd.DataFrame(session.run(frame), columns=[o.name for o in session.model.outputs],
                       index=frame.index)
    assert out.iloc[:, 0].tolist() == SEED_OUT


def test_bools_convert(session):
    y = session.run(np.array([[True, False]]))
    want = session.run(np.array([[1.0, 0.0]]))
    assert_bitwise(y, want)


def test_f64_model_returns_f64():
    with rowflow.Session(rowflow.build(example("seed_3_3.pbtxt"))) as s:
        y = s.run([[-1, 2]])
    assert y.dtype == np.float64 and y.shape == (1, 1)
    assert y[0, 0] == 0.9901095378334199


def test_empty_inputs_give_zero_rows(session):
    for x in (np.empty((0, 2), np.float32), np.empty((0, 2)), [], np.array([])):
        y = session.run(x)
        assert y.shape == (0, 1) and y.dtype == np.float32, x


def test_non_contiguous_and_fortran_order_give_the_right_rows(session):
    x = rows(1000, 2, np.float32)
    want = session.run(np.ascontiguousarray(x))
    big = np.zeros((2000, 6), np.float32)
    big[::2, 1:5:2] = x                          # strided in both dimensions
    view = big[::2, 1:5:2]
    assert not view.flags.c_contiguous
    assert_bitwise(session.run(view), want)
    fortran = np.asfortranarray(x)
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    assert_bitwise(session.run(fortran), want)
    assert_bitwise(session.run(x[::-1])[::-1], want)      # negative strides
    # A misaligned float32 view (offset by one byte).
    raw = np.zeros(x.nbytes + 1, np.uint8)
    misaligned = raw[1:].view(np.float32).reshape(x.shape)
    misaligned[:] = x
    assert not misaligned.flags.aligned
    assert_bitwise(session.run(misaligned), want)
    # Big-endian input.
    assert_bitwise(session.run(x.astype(">f4")), want)


def test_input_is_not_modified(session):
    x = rows(100, 2, np.float32)
    keep = x.copy()
    session.run(x)
    assert_bitwise(x, keep)


def test_output_is_a_fresh_writable_array(session):
    x = np.array(SEED_ROWS, np.float32)
    y1, y2 = session.run(x), session.run(x)
    assert not np.shares_memory(y1, y2) and not np.shares_memory(y1, x)
    assert y1.flags.writeable and y1.flags.c_contiguous and y1.flags.owndata


@pytest.mark.parametrize("n_rows", [1, 64, 3000, 40000])
def test_outputs_from_the_warm_block_cache_are_ordinary_arrays(n_rows):
    # 1 row: 40 B (numpy's own small blocks); 64 and 3000 rows: 2.5 and
    # 117 KiB (rowflow's cache of warm blocks); 40000 rows: 1.6 MB (numpy's
    # allocator). Every one owns its data, resizes, pickles, and outlives
    # its session and other arrays from the same blocks.
    import pickle
    model = mlp([6, 16, 10], seed=5)
    x = rows(n_rows, 6, np.float32)
    with rowflow.Session(model, threads=1) as s:
        want = s.run(x).copy()
        held = [s.run(x) for _ in range(12)]        # more than the cache keeps
        # A result dropped before the next call gives its block back: the
        # calls reuse one block instead of fresh memory each.
        addresses = {s.run(x).ctypes.data for _ in range(20)}
    cached = 1024 < want.nbytes <= (1 << 20) - 64
    if cached:
        assert len(addresses) == 1, addresses
        assert all(y.ctypes.data % 64 == 0 for y in held)
    for y in held:
        assert y.flags.owndata and y.flags.writeable and y.flags.c_contiguous
        assert_bitwise(y, want)
    assert len({y.ctypes.data for y in held}) == len(held)
    view = held[3][1:]
    restored = pickle.loads(pickle.dumps(held[4]))
    y = held[5]
    del held
    gc.collect()
    assert_bitwise(view, want[1:])
    assert_bitwise(restored, want)
    y.resize((2 * n_rows, 10), refcheck=False)     # realloc through the cache
    assert_bitwise(y[:n_rows], want)
    assert not y[n_rows:].any()
    if cached:
        assert np.core.multiarray.get_handler_name(y) == "rowflow_output"
    # The cache is set only around the output's allocation.
    assert np.core.multiarray.get_handler_name() == "default_allocator"


# ---- what run() refuses ------------------------------------------------------

@pytest.mark.parametrize("x, message", [
    (np.zeros((4, 3)), "expected 2 columns per row, got 3"),
    ([1, 2, 3], "expected 2 columns per row, got 3"),
    (np.zeros((2, 2, 2)), "got shape (2, 2, 2)"),
    (np.float32(3), "got a scalar"),
    (np.array([[3, 5]], dtype=object), "dtype object"),
    (np.array([["3", "5"]]), "dtype <U1"),
    ("3,5", "dtype <U3"),
    (b"35", "dtype |S2"),
    ([[3, 5], [1]], "not rows of numbers"),
    ([[3, 5], "ab"], "not rows of numbers"),
    (np.array([1 + 2j, 3]), "dtype complex128"),
    (None, "dtype object"),
    (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "DataFrame column 'b' has dtype object"),
])
def test_bad_inputs_raise_input_error(session, x, message):
    with pytest.raises(rowflow.InputError) as e:
        session.run(x)
    assert message in str(e.value)
    assert isinstance(e.value, ValueError) and e.value.exit_code == 4
    assert session.run([3, 5]).tolist() == [182]      # still usable


def test_wrong_width_message_is_one_line(session):
    with pytest.raises(rowflow.InputError) as e:
        session.run(np.zeros((4, 3), np.float32))     # the zero-copy path
    assert str(e.value) == "expected 2 columns per row, got 3"


def test_nan_with_check_finite(session):
    x = np.array([[3, 5], [1, np.nan]], np.float32)
    y = session.run(x)                                 # IEEE pass-through by default
    assert y[0, 0] == 182 and np.isnan(y[1, 0])
    with pytest.raises(rowflow.InputError) as e:
        session.run(x, check_finite=True)
    assert str(e.value) == "input: row 2: column 2 is nan; expected finite values (check_finite)"
    inf = np.array([[3, 5], [np.inf, 0]])
    with pytest.raises(rowflow.InputError) as e:
        session.run(inf, check_finite=True)
    assert str(e.value) == "input: row 2: column 1 is inf; expected finite values (check_finite)"
    assert session.run(np.array(SEED_ROWS), check_finite=True)[:, 0].tolist() == SEED_OUT


def test_check_finite_on_outputs():
    # Finite inputs whose outputs overflow float32.
    b = rowflow.GraphBuilder("overflow")
    b.output(b.dense(b.input("x", [1]), "big", 1, [3e38]))
    with rowflow.Session(b.build()) as s:
        assert np.isinf(s.run([[10.0]])[0, 0])
        with pytest.raises(rowflow.InputError, match="row 1: output column 1 is inf"):
            s.run([[10.0]], check_finite=True)


def test_closed_session(seed_4_5):
    s = rowflow.Session(seed_4_5)
    s.close()
    assert s.closed
    for call in (lambda: s.run([3, 5]), lambda: s.threads, lambda: s.run_file("a", "b")):
        with pytest.raises(rowflow.UsageError) as e:
            call()
        assert "closed" in str(e.value)
    s.close()                                           # twice is fine
    with rowflow.Session(seed_4_5) as s2:
        pass
    assert s2.closed


def test_bad_session_options(seed_4_5):
    for kwargs in ({"threads": -1}, {"tile_rows": -5}, {"threads": 1 << 20},
                   {"max_tiles_in_flight": -1}):
        with pytest.raises(rowflow.UsageError):
            rowflow.Session(seed_4_5, **kwargs)


def test_session_from_path_and_bytes(seed_4_5, tmp_path):
    p = tmp_path / "seed.pb"
    seed_4_5.save(p)
    for source in (p, str(p), p.read_bytes()):
        with rowflow.Session(source, threads=1) as s:
            assert s.run([3, 5]).tolist() == [182]
    with pytest.raises(rowflow.ModelError):
        rowflow.Session(tmp_path / "missing.pb")


# ---- no copy of the input ----------------------------------------------------

def peak_traced_bytes(fn):
    """The peak of memory numpy and Python allocate while fn() runs
    (tracemalloc sees numpy's array buffers)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_c_contiguous_input_of_the_model_dtype_is_not_copied():
    model = mlp([64, 8, 1], seed=3)
    x = rows(1 << 16, 64, np.float32)                 # 16 MiB in, 256 KiB out
    with rowflow.Session(model, threads=2) as s:
        s.run(x[:10])
        peak = peak_traced_bytes(lambda: s.run(x))
        assert peak < x.nbytes / 4, f"run() allocated {peak} bytes for a {x.nbytes}-byte input"
        # The check can fail: a float64 input is converted, a copy the size
        # of the float32 rows (or more).
        x64 = x.astype(np.float64)
        peak64 = peak_traced_bytes(lambda: s.run(x64))
        assert peak64 >= x.nbytes, peak64
        # A one-row 1-D input is read in place too.
        one = peak_traced_bytes(lambda: s.run(x[0]))
        assert one < 4096, one


def misaligned_copy(x):
    """x's values in a C-contiguous array one byte off alignment, as pickle
    protocol 5 hands arrays received over the network (a Dask worker's)."""
    raw = np.zeros(x.nbytes + 1, np.uint8)
    out = raw[1:].view(x.dtype).reshape(x.shape)
    out[...] = x
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


def test_misaligned_input_of_the_model_dtype_is_not_copied():
    model = mlp([64, 8, 1], seed=3)
    x = rows(1 << 16, 64, np.float32)                 # 16 MiB in, 256 KiB out
    odd = misaligned_copy(x)
    with rowflow.Session(model, threads=2, tile_rows=1000) as s:
        want = s.run(x)
        # Many tiles (66), on 2 threads, the same bits as the aligned rows.
        assert_bitwise(s.run(odd), want)
        peak = peak_traced_bytes(lambda: s.run(odd))
        assert peak < x.nbytes / 4, f"run() allocated {peak} bytes for a {x.nbytes}-byte input"
        one = misaligned_copy(x[7])
        assert_bitwise(s.run(one), want[7])                        # one 1-D row
    # F64 model dtype: a misaligned float64 array is read in place too.
    with rowflow.Session(mlp([64, 8, 1], dtype="F64", seed=3), threads=2) as s64:
        x64 = x.astype(np.float64)
        assert_bitwise(s64.run(misaligned_copy(x64)), s64.run(x64))


def test_misaligned_input_with_check_finite_names_the_same_row():
    model = mlp([3, 4, 2], seed=5)
    x = rows(5000, 3, np.float32)
    x[4321, 2] = np.inf
    with rowflow.Session(model, threads=2, tile_rows=256) as s:
        for first_row in (0, 1000):
            with pytest.raises(rowflow.InputError) as aligned:
                s.run(x, check_finite=True, first_row=first_row)
            with pytest.raises(rowflow.InputError) as odd:
                s.run(misaligned_copy(x), check_finite=True, first_row=first_row)
            assert str(odd.value) == str(aligned.value)
            assert f"row {4322 + first_row}: column 3 is inf" in str(odd.value)
        x[4321, 2] = 0
        assert_bitwise(s.run(misaligned_copy(x), check_finite=True), s.run(x))


def test_output_is_allocated_once():
    model = mlp([4, 64, 32], seed=4)
    x = rows(1 << 14, 4, np.float32)
    with rowflow.Session(model, threads=2) as s:
        s.run(x[:10])
        out_bytes = x.shape[0] * 32 * 4
        peak = peak_traced_bytes(lambda: s.run(x))
        assert out_bytes <= peak < 1.5 * out_bytes, (peak, out_bytes)


# ---- the GIL is released, and calls run concurrently -------------------------

def long_input(session, width, min_seconds=0.3):
    """Rows that take at least `min_seconds` to run (doubling until so)."""
    n = 1024
    while True:
        x = rows(n, width, np.float32, seed=n)
        t = time.perf_counter()
        session.run(x)
        if time.perf_counter() - t >= min_seconds or n >= 1 << 24:
            return x
        n *= 2


def ticks_during(fn):
    """Runs fn() while another Python thread ticks every millisecond;
    returns the ticks that happened in the middle half of fn's run."""
    ticks, stop = [], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    fn()
    end = time.perf_counter()
    stop.set()
    t.join()
    quarter = (end - start) / 4
    return [x for x in ticks if start + quarter <= x <= end - quarter]


def test_gil_is_released_while_rows_run():
    model = mlp([64, 256, 256, 1], seed=5)
    with rowflow.Session(model, threads=1) as s:
        x = long_input(s, 64)
        # From the main thread (the path that also watches for Ctrl-C) ...
        assert len(ticks_during(lambda: s.run(x))) > 10
        # ... and from another thread.
        result = []
        worker = threading.Thread(target=lambda: result.append(s.run(x)))
        assert len(ticks_during(lambda: (worker.start(), worker.join()))) > 10
        assert result[0].shape == (x.shape[0], 1)


def test_gil_is_held_by_a_pure_python_loop():
    # The same measure sees a thread that holds the GIL: the check can fail.
    def spin():
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass

    assert len(ticks_during(spin)) < 100


def test_concurrent_runs_on_one_session_equal_serial_runs():
    model = mlp([16, 64, 64, 4], seed=6)
    inputs = [rows(5000 + 977 * i, 16, np.float32, seed=i) for i in range(6)]
    with rowflow.Session(model, threads=2, tile_rows=128) as s:
        serial = [s.run(x) for x in inputs]
        for _ in range(3):
            results = [None] * len(inputs)

            def work(i):
                for _ in range(3):
                    results[i] = s.run(inputs[i])

            threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for got, want in zip(results, serial):
                assert_bitwise(got, want)


# ---- Ctrl-C ------------------------------------------------------------------

def test_keyboard_interrupt_stops_a_long_run():
    model = mlp([64, 512, 512, 512, 1], seed=8)
    with rowflow.Session(model, threads=2, tile_rows=64) as s:
        x = long_input(s, 64, min_seconds=0.25)
        t = time.perf_counter()
        want = s.run(x)
        one = time.perf_counter() - t
        # 40 times that many rows: 10+ s to run through.
        big = np.tile(x, (40, 1))
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        t = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            s.run(big)
        elapsed = time.perf_counter() - t
        timer.join()
        assert elapsed < 10 * one, f"interrupted after {elapsed:.2f} s; the run takes {40 * one:.1f} s"
        # The session still works, bitwise as before.
        assert_bitwise(s.run(x), want)


# ---- fork ----------------------------------------------------------------------

def test_a_forked_child_runs_long_calls_from_its_main_thread():
    # A long call from the main thread runs on a helper thread kept for the
    # process; a fork()ed child (multiprocessing's default on Linux) has no
    # such thread and must start its own instead of waiting for it forever.
    model = mlp([8, 16, 1], seed=9)
    x = rows(5000, 8, np.float32)
    with rowflow.Session(model, threads=2, tile_rows=256) as s:
        want = s.run(x)                                # starts the helper thread
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:                                   # the child
            try:
                os.close(read)
                ok = bool(np.array_equal(s.run(x), want))
                ok &= bool(np.array_equal(rowflow.Session(model, tile_rows=256).run(x), want))
                os.write(write, b"ok" if ok else b"wrong")
            finally:
                os._exit(0)
        os.close(write)
        # Hang detection, not a timing check: the child takes milliseconds.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        answer = os.read(read, 16)
        os.close(read)
        assert answer == b"ok", "the forked child hung or got other rows"
        assert_bitwise(s.run(x), want)                  # the parent goes on


def test_nullable_frame_columns(session):
    # pandas' nullable dtypes: numbers run, a missing value is an InputError
    # naming the column and row (as the CLI refuses an empty field).
    frame = pd.DataFrame({"a": pd.array([3, 1], dtype="Int64"),
                          "b": pd.array([5.0, -1.0], dtype="Float64")})
    assert session.run(frame)[:, 0].tolist() == [182, 162]
    for column in ("Int64", "Float64", "boolean"):
        values = [1, None] if column != "boolean" else [True, None]
        frame = pd.DataFrame({"a": [3.0, 1.0], "b": pd.array(values, dtype=column)})
        with pytest.raises(rowflow.InputError) as e:
            session.run(frame)
        assert str(e.value).startswith(f"DataFrame column 'b' row 2 is missing ({column})")
        assert np.isnan(session.run(frame.astype(float))[1, 0])     # the hint works
