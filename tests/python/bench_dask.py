"""rowflow.dask.predict on a LocalCluster against one in-process Session over
the same rows (README "Scale-out: Dask"), on the `mid` workload's shape
(64 -> 256 relu -> 256 relu -> 10, F32).

    PYTHONPATH=build/python /usr/bin/python3 tests/python/bench_dask.py \
        [--rows 1000000] [--workers 2] [--chunk 50000] [--repeat 5]

Prints rows/s of: one Session with `workers` threads; the cluster with the
rows already on the workers and the predictions left there (persist); the
same gathered back to the client (compute). The three take turns, round by
round (`repeat` rounds after one warm-up round), and each figure is the
median over the rounds, its ratio the median of the round-by-round ratios.
Benchmark only: it asserts nothing about speed.
"""

import argparse
import itertools
import statistics
import time

import dask.array as da
from dask.graph_manipulation import clone
import distributed
import numpy as np

import rowflow
import rowflow.dask

SPEC = """
name: "mid"
input { name: "x" width: 64 }
layer { units: 256 activation: RELU weights { init { kind: HE_UNIFORM seed: 1 } } }
layer { units: 256 activation: RELU weights { init { kind: HE_UNIFORM seed: 2 } } }
layer { units: 10 weights { init { kind: GLOROT_UNIFORM seed: 3 } } }
"""


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunk", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    model = rowflow.build(SPEC)
    rows = np.random.default_rng(0).standard_normal(
        (a.rows, 64)).astype(np.float32)
    with rowflow.Session(model, threads=a.workers) as s, \
            distributed.LocalCluster(
                n_workers=a.workers, processes=True, threads_per_worker=1,
                host="127.0.0.1", dashboard_address=None,
                silence_logs=40) as cluster, \
            distributed.Client(cluster) as c:
        want = s.run(rows)
        x = c.persist(da.from_array(rows, chunks=(a.chunk, 64)))
        distributed.wait(x)
        y = rowflow.dask.predict(x, model)
        distributed.wait(c.persist(y))  # loads and plans on each worker
        # Fresh keys per run (the rows' keys kept), so each run computes.
        seeds = itertools.count()
        got = None

        def on_workers():
            distributed.wait(c.persist(clone(y, omit=x, seed=next(seeds))))

        def gathered():
            nonlocal got
            got = clone(y, omit=x, seed=next(seeds)).compute()

        kinds = {"session": lambda: s.run(rows), "persist": on_workers,
                 "compute": gathered}
        times = {k: [] for k in kinds}
        for r in range(a.repeat + 1):
            for k, f in kinds.items():
                t = timed(f)
                if r > 0:
                    times[k].append(t)
        assert (got.view(np.uint32) == want.view(np.uint32)).all()
    names = {"session": f"Session threads={a.workers}",
             "persist": f"LocalCluster {a.workers}x1, persist",
             "compute": f"LocalCluster {a.workers}x1, compute"}
    print(f"{a.rows} rows, chunks of {a.chunk}, medians of {a.repeat} "
          "interleaved rounds (predictions bitwise equal)")
    for k, name in names.items():
        ratio = statistics.median(
            t / ts for t, ts in zip(times[k], times["session"]))
        print(f"{name:36s} {a.rows / statistics.median(times[k]):12,.0f} "
              f"rows/s ({ratio:.2f}x the Session's time)")


if __name__ == "__main__":
    main()
