"""Benchmark: two one-thread sessions in two Python threads against one
session alone, on two cores; the GIL is released while rows run, so the
pair should take little more than one run (1.0x on two idle cores, 2.0x if
they ran one after the other). Prints the median of 5 tries:

    PYTHONPATH=build/python /usr/bin/python3 tests/python/bench_overlap.py

(That the GIL is released is tested without timing, by
test_run.py::test_gil_is_released_while_rows_run.)"""

import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rowflow  # noqa: E402
from conftest import mlp  # noqa: E402
from test_run import long_input  # noqa: E402


def main():
    model = mlp([64, 256, 256, 1], seed=7)
    sessions = [rowflow.Session(model, threads=1) for _ in range(2)]
    x = long_input(sessions[0], 64, min_seconds=0.2)
    ratios = []
    for _ in range(5):
        t = time.perf_counter()
        sessions[0].run(x)
        one = time.perf_counter() - t
        threads = [threading.Thread(target=s.run, args=(x,)) for s in sessions]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ratios.append((time.perf_counter() - t) / one)
    print(f"two sessions in two threads: {statistics.median(ratios):.2f}x one "
          f"run (median of 5; {len(os.sched_getaffinity(0))} cores)")


if __name__ == "__main__":
    main()
