"""Scoring Dask collections with rowflow: predict() maps every partition of a
dask.array or dask.dataframe through a rowflow Session, lazily, with the
same partitions, on any Dask scheduler (threads, a LocalCluster, a Client to
a remote scheduler).

    import dask.array as da, rowflow.dask
    x = da.from_zarr(...)                      # (rows, width), chunked on rows
    y = rowflow.dask.predict(x, "model.pb")    # lazy (rows, output_width)
    y.to_zarr(...)

The model travels in the task graph as its bytes (one key, fetched once per
worker), so workers need not see the client's files. Each process loads and
plans it once and keeps it (cache_info() says how often it did). Output is
bitwise the same as one in-process Session.run over the whole input: rows
are independent and a Session is deterministic for any thread count.

Importing rowflow does not import dask; importing rowflow.dask does.
"""

import collections
import hashlib
import itertools
import math
import operator
import sys
import threading

import dask
from dask.highlevelgraph import HighLevelGraph
import numpy as np

import rowflow

__all__ = ["predict", "cache_info", "clear_cache"]

# The per-process cache: model sha256 -> Model, (sha256, threads) -> Session.
# A few models at most are live at once; the oldest go first.
_MAX_MODELS = 8
_lock = threading.Lock()
_models = collections.OrderedDict()
_sessions = {}
# Counters the tests read on each worker (client.run(cache_info)).
loads = 0  # models parsed from bytes in this process
plans = 0  # Sessions made (each plans the model once)


def cache_info():
    """This process's cache: {"loads", "plans", "models"} (models parsed,
    Sessions made, models held now)."""
    with _lock:
        return {"loads": loads, "plans": plans, "models": len(_models)}


def clear_cache():
    """Drops this process's cached models and Sessions (counters stay); a
    call running on one finishes first, as the Session is freed after it."""
    with _lock:
        _sessions.clear()
        _models.clear()


def _process_threads():
    """The threads a Session in this process gets when the caller did not
    say: the Dask worker's nthreads inside a distributed worker, else 0 (all
    cores). The worker's task threads share that one Session, whose calls
    share its threads, so a Session of 1 thread under the threaded scheduler
    would run the partitions one at a time."""
    if "distributed" in sys.modules:  # never import it just to ask
        try:
            worker = sys.modules["distributed"].get_worker()
        except (ValueError, AttributeError):
            return 0
        state = getattr(worker, "state", worker)
        return int(getattr(state, "nthreads", 0) or 0)
    return 0


def _session(digest, model_bytes, threads):
    global loads, plans
    if threads is None:
        threads = _process_threads()
    key = (digest, threads)
    with _lock:
        s = _sessions.get(key)
        if s is not None:
            _models.move_to_end(digest)
            return s
        model = _models.get(digest)
        if model is None:
            model = rowflow.load(bytes(model_bytes))
            loads += 1
            _models[digest] = model
            while len(_models) > _MAX_MODELS:
                old, _ = _models.popitem(last=False)
                # Dropped, not closed: another thread may be about to run
                # on it; it is freed when the last one is done.
                for k in [k for k in _sessions if k[0] == old]:
                    del _sessions[k]
        _models.move_to_end(digest)
        s = rowflow.Session(model, threads=threads)
        plans += 1
        _sessions[key] = s
        return s


def _where(first, stop, part):
    """The prefix naming a partition's rows (0-based, inclusive)."""
    if first is None:
        return f"partition {part}"
    if stop <= first:
        return f"rows {first}-{first} (an empty partition)"
    return f"rows {first}-{stop - 1}"


def _run(session, rows, check_finite, where, first_row):
    try:
        # Row numbers inside the message are the whole input's.
        return session.run(rows, check_finite=check_finite,
                           first_row=first_row or 0)
    except rowflow.Error as e:
        # The same class, so `except rowflow.InputError` works on the client.
        raise type(e)(f"{where()}: {e}") from None


def _score_chunk(block, first, stop, part, digest, model_bytes, threads,
                 check_finite):
    """One chunk of a dask.array: `first`..`stop` are its global rows (None
    when the chunk sizes are unknown), `part` its index."""
    session = _session(digest, model_bytes, threads)
    return _run(session, block, check_finite,
                lambda: _where(first, stop, part), first)


def _score_partition(frame, first, digest, model_bytes, threads,
                     check_finite, feature_columns, out_columns, part):
    session = _session(digest, model_bytes, threads)
    y = _run(session, frame[feature_columns], check_finite,
             lambda: _where(first, first + len(frame), part), first)
    import pandas as pd
    return pd.DataFrame(y, index=frame.index, columns=out_columns)


def _as_model(model):
    """(Model, binary bytes, sha256 hex) for a path, bytes or Model; a path
    is read here, on the client."""
    if not isinstance(model, rowflow.Model):
        model = rowflow.load(model)
    data = model.to_bytes()
    return model, data, hashlib.sha256(data).hexdigest()


def _output_columns(model):
    """The output columns' names, as `rowflow run --output-header` writes
    them: "y" (or y_0..y_{k-1}) for one output, else each output's name
    (name_0.. when wider than one number)."""
    outputs = model.outputs
    names = []
    for out in outputs:
        width = int(np.prod(out.shape, dtype=np.int64))
        base = "y" if len(outputs) == 1 else out.name
        names += [base] if width == 1 else [f"{base}_{j}" for j in range(width)]
    return names


def _match_input_names(model, columns):
    """The frame's columns of the model's inputs, in the model's order, when
    all are found by name (as `rowflow run` matches a CSV header: an input
    of width 1 by its name, a wider `x` as x0.., x_0.., x1.. or x_1..),
    else None."""
    by_name = {str(c): c for c in columns}
    picked = []
    for inp in model.inputs:
        width = int(np.prod(inp.shape, dtype=np.int64))
        if width == 1 and inp.name in by_name:
            picked.append(by_name[inp.name])
            continue
        for sep in ("", "_"):
            for first in (0, 1):
                names = [f"{inp.name}{sep}{j + first}" for j in range(width)]
                if all(n in by_name for n in names):
                    picked += [by_name[n] for n in names]
                    break
            else:
                continue
            break
        else:
            return None
    return picked


def _feature_columns(model, frame, columns):
    width = model.input_width
    all_columns = list(frame.columns)
    if columns is not None:
        columns = list(columns)
        missing = [c for c in columns if c not in all_columns]
        if missing:
            raise rowflow.UsageError(
                f"columns: no column {missing[0]!r} in the dataframe")
        if len(columns) != width:
            raise rowflow.UsageError(
                f"columns: {len(columns)} columns given; the model takes "
                f"{width} numbers per row")
    else:
        columns = _match_input_names(model, all_columns)
        if columns is None:
            if len(all_columns) == width:
                columns = all_columns
            elif (len(all_columns) == width + 1
                  and str(all_columns[0]) in ("", "Unnamed: 0")):
                columns = all_columns[1:]  # pandas' written index column
            else:
                names = ", ".join(f"{i.name}{list(i.shape)}"
                                  for i in model.inputs)
                raise rowflow.UsageError(
                    f"the dataframe has {len(all_columns)} columns and the "
                    f"model takes {width} ({names}), not all found by name; "
                    "pass columns=[...] (the feature columns, in the model's "
                    "order)")
    for c in columns:
        dtype = frame.dtypes[c]
        if getattr(dtype, "kind", "O") not in "biuf":
            raise rowflow.InputError(
                f"dataframe column {str(c)!r} has dtype {dtype}; expected "
                "numbers (convert it, or select the feature columns)")
    return columns


def predict(collection, model, threads_per_worker=None, columns=None, *,
            check_finite=False):
    """The model's predictions for every row of `collection`, lazily, with
    the same partitions.

    collection: a dask.array of shape (rows, width), or a dask.dataframe
        (or Series) whose feature columns are picked as `rowflow run` picks
        them from a CSV header: `columns` when given; else the columns named
        after the model's inputs when all are found (x, or x0.. / x_0.. /
        x1.. / x_1.. for a wide input x); else every column when there are
        exactly `width`. An array chunked along columns is rechunked to one
        column chunk (its row chunks stay).
    model: a path, model-file bytes or a rowflow.Model; it is loaded here,
        on the client, and shipped to the workers as its binary bytes.
    threads_per_worker: the threads of each process's Session; None: the
        worker's nthreads in a distributed worker, else all cores (0).
    check_finite: raise rowflow.InputError at a NaN or infinity.

    Returns a dask.array (rows, output_width) of the model's dtype with the
    input's row chunks, or a dask.dataframe with the input's index and
    divisions and one column per output number ("y", or "y_0".."y_{k-1}",
    or the outputs' names: the CLI's --output-header).

    An error in a partition raises, on compute, the rowflow error's class
    with its message prefixed by the partition's global rows, 0-based and
    inclusive: "rows 120000-129999: ...". For a dataframe the offsets come
    from the partitions' lengths (a small len() task per partition), so
    partition i's predictions wait for the lengths of partitions 0..i-1.
    """
    if threads_per_worker is not None and (
            isinstance(threads_per_worker, bool)
            or not isinstance(threads_per_worker, int)
            or threads_per_worker < 0):
        raise rowflow.UsageError(
            "threads_per_worker must be None or an integer >= 0; got "
            f"{threads_per_worker!r}")
    m, data, digest = _as_model(model)
    # One key holding the bytes: each worker fetches it once per compute,
    # and predict() calls on the same model share it.
    model_key = dask.delayed(data, name=f"rowflow-model-{digest}", pure=True)
    dtype = np.dtype(np.float32 if m.dtype == "F32" else np.float64)

    import dask.array as da
    if isinstance(collection, da.Array):
        if columns is not None:
            raise rowflow.UsageError(
                "columns= selects dataframe columns; slice the array instead")
        return _predict_array(collection, m, digest, model_key, dtype,
                              threads_per_worker, check_finite)
    dd = sys.modules.get("dask.dataframe")
    if dd is not None and isinstance(collection, (dd.DataFrame, dd.Series)):
        return _predict_frame(collection, m, digest, model_key, dtype,
                              threads_per_worker, check_finite, columns)
    raise rowflow.UsageError(
        "rowflow.dask.predict takes a dask.array or a dask.dataframe; got "
        f"{type(collection).__module__}.{type(collection).__name__}")


def _predict_array(x, m, digest, model_key, dtype, threads, check_finite):
    import dask.array as da
    width, out_width = m.input_width, m.output_width
    if x.ndim != 2:
        raise rowflow.InputError(
            f"expected a 2-D dask array (rows, {width}); got shape {x.shape}")
    if x.shape[1] != width:
        raise rowflow.InputError(
            f"the dask array has {x.shape[1]} columns; the model takes "
            f"{width} numbers per row")
    if x.dtype.kind not in "biuf":
        raise rowflow.InputError(
            f"the dask array has dtype {x.dtype}; expected numbers")
    if len(x.chunks[1]) > 1:
        x = x.rechunk({1: -1})
    token = dask.base.tokenize(x, digest, threads, check_finite)
    name = f"rowflow-predict-{token}"
    # One task per chunk, depending only on its rows and the model key; the
    # chunk's global row range is a literal in the task. (map_blocks with
    # block_info adds a task per chunk that the scheduler places anywhere, so
    # a worker would wait on another for a tiny dict before scoring rows it
    # already holds.)
    sizes = x.chunks[0]
    if any(math.isnan(n) for n in sizes):
        starts = [None] * (len(sizes) + 1)
    else:
        starts = list(itertools.accumulate(sizes, initial=0))
    layer = {
        (name, i, 0): (_score_chunk, (x.name, i, 0), starts[i], starts[i + 1],
                       i, digest, model_key.key, threads, check_finite)
        for i in range(len(sizes))}
    graph = HighLevelGraph.from_collections(name, layer,
                                            dependencies=[x, model_key])
    return da.Array(graph, name, chunks=(sizes, (out_width,)),
                    meta=np.empty((0, out_width), dtype=dtype))


def _predict_frame(frame, m, digest, model_key, dtype, threads, check_finite,
                   columns):
    import pandas as pd
    import dask.dataframe as dd
    if isinstance(frame, dd.Series):
        frame = frame.to_frame()
    features = _feature_columns(m, frame, columns)
    out_columns = _output_columns(m)
    meta = pd.DataFrame(np.empty((0, len(out_columns)), dtype=dtype),
                        columns=out_columns, index=frame._meta.index)
    parts = frame.to_delayed(optimize_graph=False)
    token = dask.base.tokenize(frame, digest, threads, check_finite, features)
    score = dask.delayed(_score_partition, pure=True)
    length = dask.delayed(len, pure=True)
    add = dask.delayed(operator.add, pure=True)
    first = 0
    out = []
    for i, part in enumerate(parts):
        out.append(score(part, first, digest, model_key, threads,
                         check_finite, features, out_columns, i,
                         dask_key_name=(f"rowflow-predict-{token}", i)))
        if i + 1 < len(parts):
            first = add(first, length(part, dask_key_name=(
                f"rowflow-len-{token}", i)), dask_key_name=(
                    f"rowflow-offset-{token}", i + 1))
    return dd.from_delayed(out, meta=meta, divisions=frame.divisions,
                           verify_meta=False)
