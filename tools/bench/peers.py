#!/usr/bin/python3
"""rowflow against its peers: numpy, PyTorch and ONNX Runtime, one sitting.

On the four `rowflow bench` workloads (seed, mid, wide, tanh), the same
network and the same input rows for everyone: the model and rows come out of
`rowflow bench --workload W --rows N --save-model W.pb --save-input W.npy`,
ONNX Runtime reads `rowflow export-onnx W.pb`, numpy and PyTorch the
planner's dense layers of W.pb (tools/python/bench.py's forms: one GEMM per
layer, then bias and activation). Each framework gets its best setting on
--threads (2) threads at most:

  rowflow       `rowflow bench --workload W --rows N --threads 2 --json`
  numpy         as it comes (Debian's OpenBLAS, its own thread count),
                rows per call in BATCHES
  PyTorch       torch.set_num_threads(1..2) x rows per call, inference mode
  ONNX Runtime  npm onnxruntime-node (installed by this script into
                tools/bench/.peers), intra-op threads 1..2 x rows per call,
                timed inside node (tools/bench/ort_driver.mjs)

The frameworks take turns, round-robin, for --rounds rounds (the first one
shifts each round); in a round each setting's figure is its best of --inner
passes over the rows, and the table gives each setting's median over the
rounds, a framework's best setting by that median. Every setting's output is
checked against rowflow's first: max |peer - rowflow| <= --tolerance x
max(1, max |rowflow|), else the script stops with exit 1. The machine's limits
(`rowflow bench --limits`, each round) say where rowflow stands: GFLOP/s
against the FMA loop's, and for seed the bytes in + out per row against
memcpy's read + write GB/s. The latency table is per-call time on `mid` for
1..4096 rows a call: rowflow through its Python package
(rowflow.Session.run, from --python-dir), the peers as above.

    PYTHONPATH=build/python /usr/bin/python3 tools/bench/peers.py \\
        --rowflow build/tools/rowflow
"""

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORKLOADS = ("seed", "mid", "wide", "tanh")
PEERS = ("numpy", "torch", "ort")
PEER_NAMES = {"numpy": "numpy", "torch": "PyTorch", "ort": "ONNX Runtime",
              "rowflow": "rowflow"}
NETWORKS = {"seed": "2→2→2→1", "mid": "64→256→256→10",
            "wide": "784→1024→1024→10", "tanh": "32→128 tanh→128 tanh→1 sigmoid"}
# Rows per workload: hundreds of rowflow tiles, and a round in seconds for
# the slowest peer.
ROWS = {"seed": 4_000_000, "mid": 262_144, "wide": 32_768, "tanh": 262_144}
QUICK_ROWS = {"seed": 20_000, "mid": 2_048, "wide": 256, "tanh": 2_048}
BATCHES = (4096, 65536, 0)  # peers' rows per call; 0: all rows in one call
LATENCY_ROWS = (1, 16, 256, 4096)


def fail(msg, code=1):
    print(f"peers.py: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rowflow", default="build/tools/rowflow",
                   help="the rowflow binary (default %(default)s)")
    p.add_argument("--python-dir", default=None,
                   help="rowflow's built Python package (default: "
                        "../python beside the binary's folder, build/python)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--peers", default=",".join(PEERS),
                   help="comma-separated, of numpy, torch, ort")
    p.add_argument("--threads", type=int, default=2,
                   help="the most threads anyone gets (default 2)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--inner", type=int, default=2,
                   help="timed passes per setting and round; the best counts")
    p.add_argument("--call-seconds", type=float, default=0.2,
                   help="time per latency figure and round")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="max |peer - rowflow| / max(1, max |rowflow|)")
    p.add_argument("--npm-dir", default=os.path.join(HERE, ".peers"),
                   help="where onnxruntime-node is installed (gitignored)")
    p.add_argument("--workdir", help="keep the models, rows and outputs here")
    p.add_argument("--quick", action="store_true",
                   help="tiny rows, one round: checks that it all runs")
    p.add_argument("--json", action="store_true",
                   help="print every figure as one JSON object too")
    a = p.parse_args(argv)
    a.workloads = a.workloads.split(",")
    a.peers = a.peers.split(",")
    for w in a.workloads:
        if w not in WORKLOADS:
            p.error(f"--workloads: unknown workload '{w}'")
    for x in a.peers:
        if x not in PEERS:
            p.error(f"--peers: unknown peer '{x}'; expected numpy, torch, ort")
    if a.threads < 1 or a.rounds < 1 or a.inner < 1:
        p.error("--threads, --rounds and --inner must be >= 1")
    if a.quick:
        a.rounds, a.inner, a.call_seconds = 1, 1, 0.01
    if a.python_dir is None:
        a.python_dir = os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(a.rowflow))), "python")
    return a


def load_bench_helpers():
    """tools/python/bench.py's numpy and PyTorch forms and timers."""
    path = os.path.join(ROOT, "tools", "python", "bench.py")
    spec = importlib.util.spec_from_file_location("rowflow_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ensure_ort(npm_dir):
    """The onnxruntime-node package folder, installed from npm if missing."""
    pkg = os.path.join(npm_dir, "node_modules", "onnxruntime-node")
    if os.path.exists(os.path.join(pkg, "package.json")):
        return pkg
    if not shutil.which("npm") or not shutil.which("node"):
        fail("ort: needs node and npm (Debian: nodejs, npm); "
             "or leave it out with --peers numpy,torch", 2)
    # The CPU binaries ship in the package; its install script would only
    # fetch optional GPU ones (from NuGet, off this machine's network).
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    r = subprocess.run(["npm", "install", "--prefix", npm_dir, "--no-audit",
                        "--no-fund", "onnxruntime-node"],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(pkg):
        fail(f"ort: npm install onnxruntime-node failed:\n{r.stderr.strip()}", 2)
    return pkg


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def batches(rows):
    return sorted({min(b, rows) if b else rows for b in BATCHES})


def max_error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    scale = max(1.0, float(np.max(np.abs(want))))
    return float(np.max(np.abs(got - want))) / scale


class Sitting:
    def __init__(self, a, bench, rowflow, rf):
        self.a, self.bench, self.rowflow, self.rf = a, bench, rowflow, rf
        self.rates = {}    # (workload, peer, setting) -> [rows/s per round]
        self.calls = {}    # (peer, setting, rows) -> [µs per round]
        self.limits = []   # [{"fma_gflops_f32": ..}, ...] per round
        self.errors = {}   # (workload, peer) -> max relative error
        self.rowflow_point = {}  # workload -> last `rowflow bench` JSON point
        self.torch = None
        if "torch" in a.peers:
            try:
                import torch
            except ImportError:
                fail("torch: PyTorch is not importable (Debian: python3-torch); "
                     "or leave it out with --peers numpy,ort", 2)
            self.torch = torch
        self.ort = ensure_ort(a.npm_dir) if "ort" in a.peers else None
        self.threads = list(range(1, a.threads + 1))

    # --- set-up: the same model and rows for everyone ---------------------
    def setup(self, workdir):
        a, sizes = self.a, QUICK_ROWS if self.a.quick else ROWS
        self.w = {}
        for name in a.workloads:
            rows = sizes[name]
            base = os.path.join(workdir, name)
            run([a.rowflow, "bench", "--workload", name, "--rows", str(rows),
                 "--save-model", base + ".pb", "--save-input", base + ".npy"])
            if self.ort:
                run([a.rowflow, "export-onnx", "-q", base + ".pb", "-o", base + ".onnx"])
            model = self.rowflow.load(base + ".pb")
            x = np.load(base + ".npy")
            dtype = x.dtype.type
            layers = self.rf._dense_layers(model)
            ref = self.rowflow.Session(model, threads=a.threads).run(x)
            self.w[name] = dict(rows=rows, base=base, model=model, x=x, ref=ref,
                                numpy=self.bench.numpy_forward(layers, dtype),
                                torch=(self.bench.torch_forward(self.torch, layers, dtype)
                                       if self.torch else None))
        lat = os.path.join(workdir, "mid_calls")
        run([a.rowflow, "bench", "--workload", "mid", "--rows", str(max(LATENCY_ROWS)),
             "--save-model", lat + ".pb", "--save-input", lat + ".npy"])
        if self.ort:
            run([a.rowflow, "export-onnx", "-q", lat + ".pb", "-o", lat + ".onnx"])
        self.lat = dict(base=lat, model=self.rowflow.load(lat + ".pb"),
                        x=np.load(lat + ".npy"))

    def check(self, name, peer, got):
        err = max_error(got, self.w[name]["ref"])
        self.errors[(name, peer)] = max(self.errors.get((name, peer), 0.0), err)
        if not err <= self.a.tolerance:
            fail(f"{name}: {PEER_NAMES[peer]}'s output differs from rowflow's: "
                 f"max |difference| / max(1, max |rowflow|) = {err:.3g} > "
                 f"--tolerance {self.a.tolerance:g}")

    # --- the in-process peers: numpy and PyTorch --------------------------
    def settings(self, peer, rows):
        ts = self.threads if peer in ("torch", "ort") else [None]
        return [(t, b) for t in ts for b in batches(rows)]

    def batched(self, fn, x, batch, out_width):
        y = np.empty((x.shape[0], out_width), x.dtype)
        for r in range(0, x.shape[0], batch):
            y[r:r + batch] = fn(x[r:r + batch])
        return y

    def in_process(self, name, peer, first):
        s = self.w[name]
        fn, width = s[peer], s["ref"].shape[1]
        for t, b in self.settings(peer, s["rows"]):
            if t is not None:
                self.torch.set_num_threads(t)
            if first:  # warm-up, and the check of this setting's output
                self.check(name, peer, self.batched(fn, s["x"], b, width))
            best = 0.0
            for _ in range(self.a.inner):
                start = time.perf_counter()
                self.batched(fn, s["x"], b, width)
                best = max(best, s["rows"] / (time.perf_counter() - start))
            self.rates.setdefault((name, peer, (t, b)), []).append(best)

    # --- the out-of-process ones: rowflow's CLI and ONNX Runtime ----------
    def rowflow_cli(self, name):
        s, a = self.w[name], self.a
        out = run([a.rowflow, "bench", "--workload", name, "--rows", str(s["rows"]),
                   "--threads", str(a.threads), "--repeat", str(a.inner),
                   "--json", "--no-limits"])
        p = json.loads(out.splitlines()[0])
        self.rowflow_point[name] = p
        self.rates.setdefault((name, "rowflow", (a.threads, 0)), []).append(
            p["rows_per_s_max"])

    def ort_driver(self, extra, base):
        cmd = ["node", os.path.join(HERE, "ort_driver.mjs"), "--ort", self.ort,
               "--model", base + ".onnx", "--input", base + ".npy",
               "--threads", ",".join(map(str, self.threads))] + extra
        return json.loads(run(cmd))

    def ort_run(self, name, first):
        s = self.w[name]
        out = s["base"] + ".ort.bin"
        r = self.ort_driver(["--batches", ",".join(map(str, batches(s["rows"]))),
                             "--repeat", str(self.a.inner), "--out", out], s["base"])
        self.ort_version = r["version"]
        if first:
            got = np.fromfile(out, s["x"].dtype).reshape(s["ref"].shape[0], -1)
            self.check(name, "ort", got)
            scale = max(1.0, float(np.max(np.abs(s["ref"]))))
            for p in r["points"]:  # each setting against the first one's
                err = p["max_abs_diff"] / scale
                self.errors[(name, "ort")] = max(self.errors[(name, "ort")], err)
                if not err <= self.a.tolerance:
                    fail(f"{name}: ONNX Runtime's output at {p['threads']} threads, "
                         f"{p['batch']} rows a call differs from its first setting's")
        for p in r["points"]:
            self.rates.setdefault((name, "ort", (p["threads"], p["batch"])),
                                  []).append(max(p["rows_per_s"]))

    # --- per-call latency on mid ------------------------------------------
    def latency(self, peer):
        x, secs = self.lat["x"], self.a.call_seconds
        if peer == "ort":
            r = self.ort_driver(["--latency", ",".join(map(str, LATENCY_ROWS)),
                                 "--seconds", str(secs)], self.lat["base"])
            for p in r["points"]:
                self.calls.setdefault(("ort", p["threads"], p["rows"]), []).append(p["us"])
            return
        if peer == "rowflow":
            for t in self.threads:
                session = self.rowflow.Session(self.lat["model"], threads=t)
                for rows in LATENCY_ROWS:
                    us = self.bench.per_call_us(session.run, x[:rows], secs)[0]
                    self.calls.setdefault(("rowflow", t, rows), []).append(us)
                session.close()
            return
        layers = self.rf._dense_layers(self.lat["model"])
        if peer == "numpy":
            fn = self.bench.numpy_forward(layers, x.dtype.type)
            for rows in LATENCY_ROWS:
                fn(x[:rows])
                us = self.bench.per_call_us(fn, x[:rows], secs)[0]
                self.calls.setdefault(("numpy", None, rows), []).append(us)
            return
        fn = self.bench.torch_forward(self.torch, layers, x.dtype.type)
        for t in self.threads:
            self.torch.set_num_threads(t)
            for rows in LATENCY_ROWS:
                fn(x[:rows])
                us = self.bench.per_call_us(fn, x[:rows], secs)[0]
                self.calls.setdefault(("torch", t, rows), []).append(us)

    def machine_limits(self):
        out = run([self.a.rowflow, "bench", "--limits", "--threads",
                   str(self.a.threads), "--json"])
        self.limits.append(json.loads(out.splitlines()[0]))

    # --- the rounds -----------------------------------------------------------
    def rounds(self):
        order = ["rowflow"] + self.a.peers
        for k in range(self.a.rounds):
            turn = order[k % len(order):] + order[:k % len(order)]
            self.machine_limits()
            for name in self.a.workloads:
                for peer in turn:
                    if peer == "rowflow":
                        self.rowflow_cli(name)
                    elif peer == "ort":
                        self.ort_run(name, k == 0)
                    else:
                        self.in_process(name, peer, k == 0)
            for peer in turn:
                self.latency(peer)


# --- the tables ---------------------------------------------------------------

def fmt_rate(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.3g}"


def describe(peer, setting, rows):
    t, b = setting
    parts = [] if t is None else [f"{t} thread{'s' if t > 1 else ''}"]
    if peer != "rowflow":
        parts.append("all rows in one call" if b == rows else f"{b} rows a call")
    return ", ".join(parts)


def best(rates, name, peer):
    """(median rows/s, setting) of the peer's best setting on `name`."""
    cands = [(statistics.median(v), s) for (w, p, s), v in rates.items()
             if w == name and p == peer]
    return max(cands) if cands else None


def tables(st, load_before, load_after, started):
    a, med = st.a, statistics.median
    lim = {k: med(l[k] for l in st.limits)
           for k in ("fma_gflops_f32", "fma_gflops_f64", "copy_gbytes_per_s")}
    vers = [f"numpy {np.__version__}"]
    if st.torch:
        vers.append(f"PyTorch {st.torch.__version__}")
    if st.ort:
        vers.append(f"ONNX Runtime {getattr(st, 'ort_version', '?')} (npm onnxruntime-node)")
    out = [f"{st.bench.cpu_model()}, {os.cpu_count()} cores; {started}, load average "
           f"{load_before:.1f} before, {load_after:.1f} after; {', '.join(vers)}; "
           f"at most {a.threads} threads each; {a.rounds} interleaved round"
           f"{'s' if a.rounds > 1 else ''}, medians (each round a setting's best of "
           f"{a.inner} pass{'es' if a.inner > 1 else ''}). Machine limits on {a.threads} "
           f"threads (`rowflow bench --limits`, {st.limits[0]['fma_isa']}): FMA "
           f"{lim['fma_gflops_f32']:.0f} GFLOP/s f32, {lim['fma_gflops_f64']:.0f} f64; "
           f"memcpy {lim['copy_gbytes_per_s']:.1f} GB/s read + write.", "",
           "| workload | rowflow | best peer | rowflow / best peer | where rowflow stands |",
           "|---|---|---|---|---|"]
    for name in a.workloads:
        s = st.w[name]
        r, _ = best(st.rates, name, "rowflow")
        peers = [(best(st.rates, name, p), p) for p in a.peers]
        (pr, ps), p = max(peers)
        point = st.rowflow_point[name]
        if name == "seed":
            gbs = r * point["bytes_per_row"] / 1e9
            stands = (f"{point['bytes_per_row']} B/row → {gbs:.1f} GB/s, "
                      f"{100 * gbs / lim['copy_gbytes_per_s']:.0f} % of the copy bandwidth")
        else:
            gf = r * s["model"].flops_per_row / 1e9
            stands = (f"{gf:.0f} GFLOP/s, {100 * gf / lim['fma_gflops_f32']:.0f} % "
                      "of the FMA limit")
        out.append(f"| {name} ({NETWORKS[name]}, {fmt_rate(s['rows'])} rows) "
                   f"| {fmt_rate(r)} rows/s | {PEER_NAMES[p]} {fmt_rate(pr)} "
                   f"({describe(p, ps, s['rows'])}) | {r / pr:.2f}× | {stands} |")
    out += ["", "Every peer at its best setting (rows/s):", "",
            "| workload | rowflow | " + " | ".join(PEER_NAMES[p] for p in a.peers) + " |",
            "|---|---:|" + "---:|" * len(a.peers)]
    for name in a.workloads:
        rows = st.w[name]["rows"]
        cells = [fmt_rate(best(st.rates, name, "rowflow")[0])]
        for p in a.peers:
            v, sett = best(st.rates, name, p)
            cells.append(f"{fmt_rate(v)} ({describe(p, sett, rows)})")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", f"`mid`, µs per call (wall, median over rounds; rowflow through "
            f"`rowflow.Session.run` from {a.python_dir}; PyTorch and ONNX Runtime "
            f"at their best of 1..{a.threads} threads, ONNX Runtime's awaited "
            "`session.run` in node):", "",
            "| rows per call | " + " | ".join(
                f"rowflow, {t} thread{'s' if t > 1 else ''}" for t in st.threads) +
            " | " + " | ".join(PEER_NAMES[p] for p in a.peers) + " |",
            "|---:|" + "---:|" * (len(st.threads) + len(a.peers))]
    for rows in LATENCY_ROWS:
        cells = [f"{med(st.calls[('rowflow', t, rows)]):.1f}" for t in st.threads]
        for p in a.peers:
            cands = [(med(v), t) for (q, t, r), v in st.calls.items() if q == p and r == rows]
            us, t = min(cands)
            cells.append(f"{us:.1f}" + (f" ({t}t)" if t is not None else ""))
        out.append(f"| {rows} | " + " | ".join(cells) + " |")
    worst = ", ".join(f"{PEER_NAMES[p]} {max(e for (w, q), e in st.errors.items() if q == p):.1g}"
                      for p in a.peers)
    out += ["", f"Outputs: every setting of every peer matched rowflow's within "
            f"{a.tolerance:g} × max(1, max |rowflow|) (largest seen: {worst})."]
    return "\n".join(out)


def main(argv):
    a = parse_args(argv)
    sys.path.insert(0, os.path.abspath(a.python_dir))
    try:
        import rowflow
        from rowflow import _rowflow as rf
    except ImportError as e:
        fail(f"the rowflow Python package is not in {a.python_dir} ({e}); "
             "build it or give --python-dir", 2)
    bench = load_bench_helpers()
    st = Sitting(a, bench, rowflow, rf)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = a.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        st.setup(workdir)
        st.rounds()
    text = tables(st, load_before, os.getloadavg()[0], started)
    print(text)
    if a.json:
        print(json.dumps({
            "rates": [dict(workload=w, peer=p, threads=s[0], batch=s[1], rows_per_s=v)
                      for (w, p, s), v in st.rates.items()],
            "calls_us": [dict(peer=p, threads=t, rows=r, us=v)
                         for (p, t, r), v in st.calls.items()],
            "limits": st.limits,
            "max_rel_error": {f"{w}/{p}": e for (w, p), e in st.errors.items()},
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
