#!/usr/bin/python3
"""rowflow from Python against numpy and PyTorch, and against itself in C++.

In one process and one sitting, on the four bench workloads of
`rowflow bench --workload NAME` (seed, mid, wide, tanh; the same weights and
input rows), at 1 and 2 threads, with the frameworks interleaved round by
round and medians over the rounds:

  1. large-batch rows/s of rowflow.Session.run, numpy (its BLAS, threads set
     with threadpoolctl) and PyTorch (torch.set_num_threads, inference mode),
     their outputs cross-checked;
  2. the same rows/s of `rowflow bench --workload NAME --rows N` (the CLI,
     run from here in the same rounds): Session.run / CLI should be ~1;
  3. the per-call time of Session.run on 1 and 64 rows of `mid` against the
     C++ Session::Run on the same rows (tests/bench_session.cc, Google
     Benchmark, run from here in the same rounds).

Prints a markdown table (ratios first, then absolute figures, naming the CPU)
or, with --json, one JSON object. --merge FILE... prints the table of the
medians over several sittings' --json files (README "Speed").

    PYTHONPATH=build/python /usr/bin/python3 tools/python/bench.py \\
        --rowflow build/tools/rowflow --bench-session build/tests/bench_session
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

# This file sits beside the package's sources (tools/python/rowflow/, without
# the compiled module): import the built package from PYTHONPATH instead.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

# The batch each workload runs in the rows/s comparison: large enough for
# hundreds of rowflow tiles, small enough that numpy's intermediates stay
# within memory and a round takes seconds.
BATCH_ROWS = {"seed": 4_000_000, "mid": 262_144, "wide": 16_384, "tanh": 262_144}
SMOKE_ROWS = {"seed": 20_000, "mid": 2_048, "wide": 256, "tanh": 2_048}
CALL_ROWS = (1, 64)
WORKLOADS = ("seed", "mid", "wide", "tanh")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rowflow", default="build/tools/rowflow",
                   help="the rowflow binary (default %(default)s)")
    p.add_argument("--bench-session", default="build/tests/bench_session",
                   help="the C++ per-call benchmark (default %(default)s)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--threads", default="1,2", help="comma-separated")
    p.add_argument("--rounds", type=int, default=5,
                   help="interleaved rounds; medians over them")
    p.add_argument("--inner", type=int, default=3,
                   help="timed large-batch calls per framework and round")
    p.add_argument("--batch-seconds", type=float, default=0.25,
                   help="least time of the timed large-batch calls per framework and round")
    p.add_argument("--call-seconds", type=float, default=0.2,
                   help="time per per-call measurement and round")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, one round: checks that it all runs")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="print the table of the medians of these --json files")
    a = p.parse_args(argv)
    a.workloads = a.workloads.split(",")
    a.threads = [int(t) for t in a.threads.split(",")]
    if a.smoke:
        a.rounds, a.inner, a.batch_seconds, a.call_seconds = 1, 1, 0.0, 0.01
    return a


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# --- the same network in numpy and PyTorch -----------------------------------

def numpy_forward(layers, dtype):
    ws = [(l["weights"].astype(dtype).T,
           None if l["bias"] is None else l["bias"].astype(dtype),
           l["activation"]) for l in layers]

    def run(x):
        h = x
        for w, b, act in ws:
            h = h @ w
            if b is not None:
                h += b
            if act == "RELU":
                np.maximum(h, 0, out=h)
            elif act == "TANH":
                np.tanh(h, out=h)
            elif act == "SIGMOID":
                np.negative(h, out=h)
                np.exp(h, out=h)
                h += 1
                np.reciprocal(h, out=h)
            elif act != "IDENTITY":
                raise SystemExit(f"bench.py: no numpy form of {act}")
        return h
    return run


def torch_forward(torch, layers, dtype):
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    ws = [(torch.from_numpy(l["weights"]).to(tdtype),
           None if l["bias"] is None else torch.from_numpy(l["bias"]).to(tdtype),
           l["activation"]) for l in layers]
    acts = {"RELU": torch.relu_, "TANH": torch.tanh_,
            "SIGMOID": torch.sigmoid_, "IDENTITY": None}

    def run(x):
        with torch.inference_mode():
            h = torch.from_numpy(x)
            for w, b, act in ws:
                h = torch.nn.functional.linear(h, w, b)
                if acts[act] is not None:
                    acts[act](h)
            return h.numpy()
    return run


class Threads:
    """Sets numpy's BLAS and PyTorch to `n` threads while in the block."""

    def __init__(self, torch, n):
        self.torch, self.n = torch, n

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
            self.limits = threadpool_limits(limits=self.n)
        except ImportError:
            self.limits = None
        self.torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.limits is not None:
            self.limits.restore_original_limits()


def timed(fn, x, calls, seconds):
    """(wall, process CPU) seconds of each timed call of fn(x): at least
    `calls` calls and at least `seconds` of them, after untimed warm-up
    calls for a fifth of that. As `rowflow bench` times repeated runs after
    a warm-up, each framework is timed in a loop of its own, with its input,
    weights and output in cache and the machine's cores awake, not with
    what the framework timed before it left there: the seed's 4 M rows take
    ~2 ms, which the first calls after another framework's run more than
    double on this machine (its 48 MB in and out come from DRAM, not L3, and
    an idle virtual core takes calls to get up to speed)."""
    start = time.perf_counter()
    fn(x)
    while time.perf_counter() - start < seconds / 5:
        fn(x)
    out = []
    start = time.perf_counter()
    while len(out) < calls or time.perf_counter() - start < seconds:
        t, c = time.perf_counter(), time.process_time()
        fn(x)
        out.append((time.perf_counter() - t, time.process_time() - c))
    return out


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cli_cpu_per_run(binary, workload, rows, repeat):
    """Process CPU seconds of one timed run of `rowflow bench` at 1 thread:
    the difference between --repeat 1+repeat and --repeat 1 (the same input
    generation and warm-up), over `repeat`."""
    base = [binary, "bench", "--workload", workload, "--rows", str(rows),
            "--threads", "1", "--json", "--no-limits", "--repeat"]
    cpu = []
    for n in (1, 1 + repeat):
        c = children_cpu()
        subprocess.run(base + [str(n)], capture_output=True, check=True)
        cpu.append(children_cpu() - c)
    return max(cpu[1] - cpu[0], 1e-9) / repeat


def per_call_us(fn, x, seconds):
    """(wall, cpu) mean microseconds of fn(x) over a loop of about `seconds`;
    cpu is the calling thread's CPU time (all of a 1-thread Session's work),
    which a shared machine's other load disturbs much less than wall time.
    Timed after untimed calls for a fifth of `seconds`, as timed() does."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 5:
        fn(x)
    n = 1
    while True:
        t, c = time.perf_counter_ns(), time.thread_time_ns()
        for _ in range(n):
            fn(x)
        c, t = time.thread_time_ns() - c, time.perf_counter_ns() - t
        if t >= seconds * 1e9 or n >= 1 << 24:
            return t / n / 1e3, c / n / 1e3
        n = max(n * 2, int(n * seconds * 1e9 / max(t, 1) * 1.1))


def cli_rows_per_s(binary, workload, rows, threads, repeat):
    """{threads: rows/s} of `rowflow bench --json` (its median of `repeat`)."""
    cmd = [binary, "bench", "--workload", workload, "--rows", str(rows),
           "--threads", ",".join(map(str, threads)), "--repeat", str(repeat),
           "--json", "--no-limits"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    points = [json.loads(line) for line in r.stdout.splitlines() if line]
    return {p["threads"]: p["rows_per_s"] for p in points}, " ".join(cmd)


def cpp_call_us(binary, threads, seconds):
    """{(form, rows, threads): (wall, cpu) us per call} of bench_session
    (cpu: the calling thread's, as per_call_us)."""
    want = "|".join(f"rows:{r}/threads:{t}" for r in CALL_ROWS for t in threads)
    cmd = [binary, f"--benchmark_min_time={seconds}",
           f"--benchmark_filter=/({want})/", "--benchmark_format=json"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = {}
    for b in json.loads(r.stdout)["benchmarks"]:
        # "BM_MidSpan/rows:64/threads:2/real_time"
        parts = b["name"].split("/")
        form = parts[0].replace("BM_Mid", "").lower()
        rows = int(parts[1].split(":")[1])
        t = int(parts[2].split(":")[1])
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}[b["time_unit"]]
        out[(form, rows, t)] = (b["real_time"] * scale, b["cpu_time"] * scale)
    return out, " ".join(cmd[:1] + cmd[2:3])


def check_close(name, what, got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    err = float(np.max(np.abs(got - want))) / scale if want.size else 0.0
    if got.shape != want.shape or not err <= 1e-4:
        raise SystemExit(f"bench.py: {name}: {what} differs from rowflow "
                         f"(shape {got.shape} vs {want.shape}, error {err:.3g})")
    return err


# --- one sitting --------------------------------------------------------------

def sitting(a):
    import torch
    import rowflow
    from rowflow import _rowflow as rf

    sizes = SMOKE_ROWS if a.smoke else BATCH_ROWS
    setups = {}
    for name in a.workloads:
        model, _ = rf._workload(name)
        rows = sizes[name]
        x = rf._workload_rows(model, rows)
        dtype = np.float32 if model.dtype == "F32" else np.float64
        layers = rf._dense_layers(model)
        setups[name] = dict(
            model=model, rows=rows, x=x, numpy=numpy_forward(layers, dtype),
            torch=torch_forward(torch, layers, dtype),
            sessions={t: rowflow.Session(model, threads=t) for t in a.threads})

    # Warm-up and cross-check: every framework on every workload, once.
    max_err = {}
    for name, s in setups.items():
        for t in a.threads:
            with Threads(torch, t):
                want = s["sessions"][t].run(s["x"])
                max_err[name] = max(
                    max_err.get(name, 0.0),
                    check_close(name, "numpy", s["numpy"](s["x"]), want),
                    check_close(name, "torch", s["torch"](s["x"]), want))

    mid = setups.get("mid") or dict(model=rf._workload("mid")[0])
    call_x = {r: rf._workload_rows(mid["model"], r) for r in CALL_ROWS}
    call_sessions = {t: rowflow.Session(mid["model"], threads=t)
                     for t in a.threads}
    call_numpy = numpy_forward(rf._dense_layers(mid["model"]), np.float32)
    call_torch = torch_forward(torch, rf._dense_layers(mid["model"]),
                               np.float32)
    for t in a.threads:  # warm-up: the sessions' arenas and tile pools
        with Threads(torch, t):
            for x in call_x.values():
                for fn in (call_sessions[t].run, call_numpy, call_torch):
                    fn(x)

    rates = {}      # (workload, framework, threads) -> [rows/s per round]
    calls = {}      # (framework, rows, threads) -> [(wall, cpu) us per round]
    commands = {}
    for _ in range(a.rounds):
        for name, s in setups.items():
            # `rowflow bench` repeats as many runs as Session.run made.
            repeat = a.inner
            for t in a.threads:
                with Threads(torch, t):
                    for fw, fn in (("rowflow", s["sessions"][t].run),
                                   ("numpy", s["numpy"]),
                                   ("torch", s["torch"])):
                        times = timed(fn, s["x"], a.inner, a.batch_seconds)
                        if fw == "rowflow":
                            repeat = max(repeat, len(times))
                        secs = statistics.median(w for w, _ in times)
                        rates.setdefault((name, fw, t), []).append(
                            s["rows"] / secs)
                        if t == 1:
                            cpu = max(statistics.median(c for _, c in times), 1e-9)
                            rates.setdefault((name, fw + "_cpu", t), []).append(
                                s["rows"] / cpu)
            cli, commands[name] = cli_rows_per_s(a.rowflow, name, s["rows"],
                                                 a.threads, repeat)
            for t, r in cli.items():
                rates.setdefault((name, "cli", t), []).append(r)
            if 1 in a.threads:
                rates.setdefault((name, "cli_cpu", 1), []).append(
                    s["rows"] / cli_cpu_per_run(a.rowflow, name, s["rows"],
                                                repeat))
        for t in a.threads:
            with Threads(torch, t):
                for r in CALL_ROWS:
                    for fw, fn in (("python", call_sessions[t].run),
                                   ("numpy", call_numpy), ("torch", call_torch)):
                        calls.setdefault((fw, r, t), []).append(
                            per_call_us(fn, call_x[r], a.call_seconds))
                    # The C++ call again, from inside this process (the
                    # module's allocator and caches as Session.run sees them).
                    n = max(1, int(a.call_seconds * 1e6 /
                                   calls[("python", r, t)][-1][0]))
                    calls.setdefault(("inprocess", r, t), []).append(
                        rf._run_loop(mid["model"], t, call_x[r], n))
        cpp, commands["bench_session"] = cpp_call_us(
            a.bench_session, a.threads, a.call_seconds)
        for (form, r, t), us in cpp.items():
            calls.setdefault((form, r, t), []).append(us)

    try:
        from threadpoolctl import threadpool_info
        blas = sorted({f"{i['internal_api']} {i['version']} "
                       f"({i.get('architecture') or i.get('threading_layer')})"
                       for i in threadpool_info() if i["user_api"] == "blas"})
    except ImportError:
        blas = []
    median = statistics.median
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": ", ".join(blas) or "unknown",
        "torch": torch.__version__,
        "rowflow": rowflow.__version__,
        "rounds": a.rounds,
        "inner": a.inner,
        "commands": commands,
        "rows_per_s": [dict(workload=w, framework=f, threads=t, rows=setups[w]["rows"],
                            median=median(v), min=min(v), max=max(v))
                       for (w, f, t), v in sorted(rates.items())],
        "call_us": [dict(framework=f, rows=r, threads=t,
                         median=median(w for w, _ in v),
                         min=min(w for w, _ in v), max=max(w for w, _ in v),
                         cpu_median=median(c for _, c in v))
                    for (f, r, t), v in sorted(calls.items())],
        "max_rel_error": max_err,
    }


# --- the table ------------------------------------------------------------------

def fmt_rate(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.3g}"


def table(results):
    """Markdown of one sitting's figures, or of the medians over several."""
    first = results[0]
    med = statistics.median
    rate, call = {}, {}
    for res in results:
        for p in res["rows_per_s"]:
            rate.setdefault((p["workload"], p["framework"], p["threads"]),
                            []).append(p["median"])
        for p in res["call_us"]:
            call.setdefault((p["framework"], p["rows"], p["threads"]),
                            []).append((p["median"], p["cpu_median"]))
    rate = {k: med(v) for k, v in rate.items()}
    cpu = {k: med(c for _, c in v) for k, v in call.items()}
    call = {k: med(w for w, _ in v) for k, v in call.items()}
    workloads = [w for w in WORKLOADS if any(k[0] == w for k in rate)]
    threads = sorted({k[2] for k in rate})
    rows_of = {p["workload"]: p["rows"] for p in first["rows_per_s"]}
    n = len(results)
    rounds = "/".join(str(res["rounds"]) for res in results)
    src = (f"median of {n} sittings" if n > 1 else "one sitting") + \
        f", each the median of {rounds} interleaved rounds"
    out = [f"Ratios ({src}):", "",
           "| workload | rows | threads | rowflow / numpy | rowflow / PyTorch "
           "| Session.run / `rowflow bench`, wall | same, CPU time |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for w in workloads:
        for t in threads:
            r = rate[(w, "rowflow", t)]
            c = rate.get((w, "rowflow_cpu", t)), rate.get((w, "cli_cpu", t))
            # CPU time at 1 thread only: with 2, idle arena threads spin.
            by_cpu = f"{c[0] / c[1]:.3f}" if None not in c else "—"
            out.append(f"| {w} | {rows_of[w]} | {t} | {r / rate[(w, 'numpy', t)]:.2f} "
                       f"| {r / rate[(w, 'torch', t)]:.2f} "
                       f"| {r / rate[(w, 'cli', t)]:.3f} | {by_cpu} |")
    out += ["", "| `mid`, Session.run − C++ Session::Run | threads "
            "| wall, vs bench_session (span) | CPU, vs bench_session (span) "
            "| wall, vs in-process | CPU, vs in-process |",
            "|---|---:|---:|---:|---:|---:|"]
    for r in CALL_ROWS:
        for t in threads:
            # With 2 threads part of the work runs on the arena's worker:
            # the calling thread's CPU time is not the call's.
            def d(table, ref):
                return f"{table[('python', r, t)] - table[(ref, r, t)]:+.2f} µs"
            out.append(f"| {r} row{'s' if r > 1 else ''} | {t} "
                       f"| {d(call, 'span')} | {d(cpu, 'span') if t == 1 else '—'} "
                       f"| {d(call, 'inprocess')} "
                       f"| {d(cpu, 'inprocess') if t == 1 else '—'} |")
    out += ["", f"Absolute figures on {first['cpu']} ({first['cores']} cores); "
            f"Python {first['python']}, numpy {first['numpy']} "
            f"({first['numpy_blas']}), PyTorch {first['torch']}:", "",
            "| workload | threads | rowflow Session.run | `rowflow bench` "
            "| numpy | PyTorch |", "|---|---:|---:|---:|---:|---:|"]
    for w in workloads:
        for t in threads:
            out.append(f"| {w} | {t} | " + " | ".join(
                fmt_rate(rate[(w, f, t)]) + " rows/s"
                for f in ("rowflow", "cli", "numpy", "torch")) + " |")
    out += ["", "| `mid`, µs per call (wall; CPU time at 1 thread) | threads "
            "| Session.run | C++ Run (span) | C++ Run (RowMatrix) "
            "| C++ Run in-process | numpy | PyTorch |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in CALL_ROWS:
        for t in threads:
            out.append(f"| {r} row{'s' if r > 1 else ''} | {t} | " + " | ".join(
                f"{call[(f, r, t)]:.1f}" +
                (f" ({cpu[(f, r, t)]:.1f})" if t == 1 else "")
                for f in ("python", "span", "matrix", "inprocess", "numpy",
                          "torch")) + " |")
    return "\n".join(out)


def main(argv):
    a = parse_args(argv)
    if a.merge:
        results = []
        for path in a.merge:
            with open(path) as f:
                results.append(json.load(f))
        print(table(results))
        return 0
    res = sitting(a)
    if a.smoke:  # both outputs, the JSON read back as --merge reads it
        print(table([json.loads(json.dumps(res))]))
    print(json.dumps(res, indent=1) if a.json else table([res]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
