"""rowflow.dask.predict on a LocalCluster against one in-process Session over
the same rows (README "Scale-out: Dask"), on the `mid` workload's shape
(64 -> 256 relu -> 256 relu -> 10, F32).

    PYTHONPATH=build/python /usr/bin/python3 tests/python/bench_dask.py \
        [--rows 1000000] [--workers 2] [--chunk 50000] [--repeat 3]

Prints rows/s of: one Session with `workers` threads; the cluster with the
rows already on the workers and the predictions left there (persist); the
same gathered back to the client (compute). Best of `repeat` runs each.
"""

import argparse
import time

import itertools

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


def best(f, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunk", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    model = rowflow.build(SPEC)
    rows = np.random.default_rng(0).standard_normal(
        (a.rows, 64)).astype(np.float32)
    with rowflow.Session(model, threads=a.workers) as s:
        want = s.run(rows)
        t_session = best(lambda: s.run(rows), a.repeat)
    with distributed.LocalCluster(
            n_workers=a.workers, processes=True, threads_per_worker=1,
            host="127.0.0.1", dashboard_address=None,
            silence_logs=40) as cluster, distributed.Client(cluster) as c:
        x = c.persist(da.from_array(rows, chunks=(a.chunk, 64)))
        distributed.wait(x)
        y = rowflow.dask.predict(x, model)
        distributed.wait(c.persist(y))  # loads and plans on each worker
        # Fresh keys per run (the rows' keys kept), so each run computes.
        seeds = itertools.count()

        def on_workers():
            distributed.wait(c.persist(clone(y, omit=x, seed=next(seeds))))

        t_persist = best(on_workers, a.repeat)
        got = None

        def gathered():
            nonlocal got
            got = clone(y, omit=x, seed=next(seeds)).compute()

        t_compute = best(gathered, a.repeat)
        assert (got.view(np.uint32) == want.view(np.uint32)).all()
    for name, t in [(f"Session threads={a.workers}", t_session),
                    (f"LocalCluster {a.workers}x1, persist", t_persist),
                    (f"LocalCluster {a.workers}x1, compute", t_compute)]:
        print(f"{name:36s} {a.rows / t:12,.0f} rows/s "
              f"({t / t_session:.2f}x the Session's time)")


if __name__ == "__main__":
    main()
