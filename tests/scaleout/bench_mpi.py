#!/usr/bin/python3
"""mpirun -np N rowflow run (N ranks x 1 thread) against one process of N
threads on the same .npy rows (README "Scale-out: Open MPI").

    /usr/bin/python3 tests/scaleout/bench_mpi.py [--rowflow build/tools/rowflow]
        [--workload mid] [--rows 4000000] [--ranks 2] [--pairs 5]
        [--mpirun-args "--bind-to core"]

Writes the workload's model and input rows into a temporary folder, then
runs the two commands in turn, A B A B ..., `pairs` times after one warm-up
pair, and prints per command the median wall time of the whole process
(launcher included) and the median of the rows/s its summary line reports
(every rank's rows over rank 0's wall time, set-up included, the launcher
not), then the medians of the pair-by-pair ratios. Both outputs must be the
same bytes. Benchmark only: it asserts nothing about speed.
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

SUMMARY = re.compile(r"rows in [0-9.]+ s \(([0-9.]+) ?([kMG]?) rows/s\)")
SCALE = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}


def run(cmd):
    start = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, check=False)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"bench_mpi: {shlex.join(cmd)} failed ({p.returncode}):\n"
                 f"{p.stderr}")
    m = SUMMARY.search(p.stderr)
    if m is None:
        sys.exit(f"bench_mpi: no summary line from {shlex.join(cmd)}:\n"
                 f"{p.stderr}")
    return wall, float(m.group(1)) * SCALE[m.group(2)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rowflow", default="build/tools/rowflow")
    p.add_argument("--workload", default="mid")
    p.add_argument("--rows", type=int, default=4_000_000)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--mpirun-args", default="--bind-to none",
                   help="extra mpirun options (default %(default)s)")
    a = p.parse_args()
    rowflow = os.path.abspath(a.rowflow)
    with tempfile.TemporaryDirectory(prefix="rowflow-bench-mpi-") as d:
        model, rows = os.path.join(d, "m.pb"), os.path.join(d, "x.npy")
        subprocess.run([rowflow, "bench", "--workload", a.workload,
                        "--rows", str(a.rows), "--save-model", model],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([rowflow, "bench", "--workload", a.workload,
                        "--rows", str(a.rows), "--save-input", rows],
                       check=True, stdout=subprocess.DEVNULL)
        out_a, out_b = os.path.join(d, "a.npy"), os.path.join(d, "b.npy")
        mpirun = ["mpirun", "--oversubscribe", *shlex.split(a.mpirun_args),
                  "-np", str(a.ranks)]
        if os.geteuid() == 0:
            mpirun.insert(1, "--allow-run-as-root")
        cmd_a = [*mpirun, rowflow, "run", model, "-i", rows, "-o", out_a,
                 "--threads", "1"]
        cmd_b = [rowflow, "run", model, "-i", rows, "-o", out_b,
                 "--threads", str(a.ranks)]
        walls = {"a": [], "b": []}
        rates = {"a": [], "b": []}
        for i in range(a.pairs + 1):
            for key, cmd in (("a", cmd_a), ("b", cmd_b)):
                wall, rate = run(cmd)
                if i > 0:  # the first pair warms the page cache
                    walls[key].append(wall)
                    rates[key].append(rate)
        with open(out_a, "rb") as fa, open(out_b, "rb") as fb:
            if fa.read() != fb.read():
                sys.exit("bench_mpi: the two outputs differ")
    names = {"a": f"mpirun -np {a.ranks} x 1 thread",
             "b": f"1 process x {a.ranks} threads"}
    print(f"{a.workload}, {a.rows} rows from .npy, {a.pairs} pairs, "
          f"medians (outputs identical)")
    for key in ("a", "b"):
        print(f"  {names[key]:28s} wall {statistics.median(walls[key]):6.3f} s"
              f"   summary {statistics.median(rates[key]) / 1e6:6.3f} M rows/s")
    wall_ratio = statistics.median(
        b / a for a, b in zip(walls["a"], walls["b"]))
    rate_ratio = statistics.median(
        a / b for a, b in zip(rates["a"], rates["b"]))
    print(f"  MPI throughput / one process: {wall_ratio:.3f} by wall time, "
          f"{rate_ratio:.3f} by the summary's rows/s")


if __name__ == "__main__":
    main()
