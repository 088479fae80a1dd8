"""`rowflow run M -i - -o -` as a streaming filter, driven the way Spark's
RDD.pipe and Hadoop streaming drive one:

    filter_test.py ROWFLOW SOURCE_DIR

RDD.pipe starts one process per partition, writes the partition's lines to
its stdin from a thread, closes it, reads stdout line by line and fails the
task on a non-zero exit status. Checked: partitions (one process each) give
the one-file run's lines in order, with no header line; an empty partition
gives 0 lines and exit 0; a bad row is exit 4 with one stderr line; and one
long-lived process fed partition after partition, each read back before the
next is written (which needs the output flushed per tile and a tile handed
on when the pipe has no more bytes yet), gives the same lines.
"""
import os
import select
import subprocess
import sys
import tempfile
import threading

import numpy as np

ROWFLOW, SRC = sys.argv[1], sys.argv[2]
failures = []
checks = 0
# A guard against a hang (a filter that never answers), not a speed check.
STALL_SECONDS = 60


def check(name, ok, detail=""):
    global checks
    checks += 1
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures.append(name)
        if detail:
            print("     " + str(detail)[:2000])


def pipe_partition(lines, args=()):
    """What RDD.pipe does for one partition: (stdout lines, stderr, status)."""
    p = subprocess.Popen([ROWFLOW, "run", model, "-i", "-", "-o", "-", *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)

    def feed():
        try:
            for line in lines:
                p.stdin.write(line.encode() + b"\n")
        except BrokenPipeError:
            pass  # the process failed early; its status tells
        finally:
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed)
    writer.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()))
    reader.start()
    out = [l.decode().rstrip("\n") for l in p.stdout]
    status = p.wait(timeout=STALL_SECONDS)
    writer.join()
    reader.join()
    return out, err[0].decode(), status


def read_lines(p, count, buf):
    """`count` lines from p.stdout, waiting at most STALL_SECONDS for each."""
    fd = p.stdout.fileno()
    while buf.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], STALL_SECONDS)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        buf.extend(chunk)
    lines = []
    for _ in range(count):
        nl = buf.find(b"\n")
        if nl < 0:
            break
        lines.append(buf[:nl].decode())
        del buf[:nl + 1]
    return lines


with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, "m.pb")
    subprocess.run([ROWFLOW, "build", "-q",
                    os.path.join(SRC, "tools/examples/seed_4_5.pbtxt"),
                    "-o", model], check=True)
    x = np.random.default_rng(3).standard_normal((20000, 2)).astype(np.float32)
    rows = [",".join(np.format_float_positional(v) for v in r) for r in x]
    with open(os.path.join(tmp, "rows.csv"), "w") as f:
        f.write("".join(r + "\n" for r in rows))
    subprocess.run([ROWFLOW, "run", model, "-i", os.path.join(tmp, "rows.csv"),
                    "-o", os.path.join(tmp, "ref.csv"), "-q"], check=True)
    ref = open(os.path.join(tmp, "ref.csv")).read().split("\n")[:-1]
    check("reference has one line per row, no header", len(ref) == len(rows))

    # Partitions of uneven sizes, one process each, as RDD.pipe runs them.
    cuts = [0, 1, 700, 701, 5000, 13003, 20000]
    got, statuses, errs = [], [], []
    for a, b in zip(cuts, cuts[1:]):
        out, err, status = pipe_partition(rows[a:b])
        got += out
        statuses.append(status)
        errs.append(err)
    check("partitions, one process each: the one-file run's lines in order",
          got == ref, f"{len(got)} lines vs {len(ref)}")
    check("partitions: exit status 0 each", statuses == [0] * len(statuses),
          statuses)
    check("partitions: stderr only the summary line",
          all(e.count("\n") == 1 and e.startswith("rowflow: ") for e in errs),
          errs[:2])

    out, err, status = pipe_partition([])
    check("empty partition: 0 lines, exit 0", out == [] and status == 0,
          (out, status, err))
    out, err, status = pipe_partition([], ["-q"])
    check("empty partition, -q: no stderr", err == "" and status == 0, err)

    bad = rows[:3000] + ["1.5,oops"] + rows[3000:4000]
    out, err, status = pipe_partition(bad, ["-q"])
    check("bad row: exit 4", status == 4, (status, err))
    check("bad row: one line naming <stdin>:3001:5",
          err.count("\n") == 1 and "<stdin>:3001:5: not a number" in err, err)

    # One long-lived process fed interleaved: write a partition, read its
    # results back, then the next (a streaming job's executor).
    for threads in ("2", "1"):
        p = subprocess.Popen([ROWFLOW, "run", model, "-i", "-", "-o", "-", "-q",
                              "--threads", threads],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        buf = bytearray()
        ok, detail = True, ""
        for a, b in zip(cuts, cuts[1:]):
            p.stdin.write("".join(r + "\n" for r in rows[a:b]).encode())
            p.stdin.flush()
            lines = read_lines(p, b - a, buf)
            if lines is None:
                ok, detail = False, f"no answer for rows {a}-{b} in {STALL_SECONDS} s"
                break
            if lines != ref[a:b]:
                ok, detail = False, f"rows {a}-{b} differ"
                break
        p.stdin.close()
        rest = p.stdout.read() if ok else b""
        if not ok:
            p.kill()
        status = p.wait(timeout=STALL_SECONDS)
        check(f"one process fed interleaved, --threads {threads}",
              ok and rest == b"" and status == 0 and not buf,
              detail or (rest[:100], status, p.stderr.read()[:300]))

print(f"{checks - len(failures)} of {checks} checks passed")
sys.exit(1 if failures else 0)
