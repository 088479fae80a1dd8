#!/usr/bin/python3
"""Real-file CSV through `rowflow run`: files as pandas, Excel and R write
them (and tab-separated, quoted IDs, headers out of order), each scored with
one command that keeps the ID column, checked against a numpy reference of
the same network computed from what pandas reads.

Usage: dialects_test.py ROWFLOW_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

ROWFLOW = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="rowflow_csv_")
FAILS = []

# x (3) -> 4 RELU -> 2; f64, so the reference differs by summation order only.
W1 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 1.0],
               [0.125, 0.5, -0.5]])
B1 = np.array([0.1, -0.2, 0.3, 0.0])
W2 = np.array([[1.0, -2.0, 0.5, 3.0], [-0.25, 0.75, 1.25, -1.5]])
TOLERANCE = 1e-12  # relative, for the summation order of f64 dot products

SPEC = """name: "csv3"
dtype: F64
input { name: "x" width: 3 }
layer { units: 4 activation: RELU
  weights { values: [%s] } bias { values: [%s] } }
layer { units: 2 weights { values: [%s] } }
""" % (", ".join(map(repr, W1.ravel())), ", ".join(map(repr, B1)),
       ", ".join(map(repr, W2.ravel())))


def reference(x):
    return np.maximum(x @ W1.T + B1, 0) @ W2.T


def run(args, expect_rc=0):
    p = subprocess.run([ROWFLOW, "run", MODEL, "-q"] + args,
                       capture_output=True, text=True)
    if p.returncode != expect_rc:
        raise AssertionError("rowflow %s: exit %d, expected %d; stderr: %s" %
                             (" ".join(args), p.returncode, expect_rc,
                              p.stderr.strip()))
    return p


def check(name, fn):
    try:
        fn()
        print("ok", name)
    except Exception as e:  # one failing case must not hide the others
        FAILS.append(name)
        print("FAIL", name, "-", e)


def same(got, want):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise AssertionError("shape %s, expected %s" % (got.shape, want.shape))
    nan = np.isnan(want)
    if not np.array_equal(np.isnan(got), nan):
        raise AssertionError("NaN where not expected:\n%s\n%s" % (got, want))
    err = np.abs(got[~nan] - want[~nan])
    bound = TOLERANCE * np.maximum(1, np.abs(want[~nan]))
    if np.any(err > bound):
        raise AssertionError("values differ:\n%s\n%s" % (got, want))


def path(name):
    return os.path.join(TMP, name)


def frame(ids):
    rng = np.random.default_rng(len(ids))
    x = np.round(rng.uniform(-4, 4, size=(len(ids), 3)), 3)
    return pd.DataFrame({"id": ids, "x0": x[:, 0], "x1": x[:, 1],
                         "x2": x[:, 2]})


IDS = ["a-1", "b,2", 'say "hi"', "two\nlines", "z", "é€"]


def expect_scored(out, df, id_col="id", header=("id", "y_0", "y_1")):
    """out.csv has the header, the IDs as in df, and the reference."""
    got = pd.read_csv(out, keep_default_na=False, dtype={header[0]: str})
    if tuple(got.columns) != tuple(header):
        raise AssertionError("header %s, expected %s" % (list(got.columns),
                                                         list(header)))
    if list(got.iloc[:, 0]) != [str(v) for v in df[id_col]]:
        raise AssertionError("ids %s, expected %s" % (list(got.iloc[:, 0]),
                                                      list(df[id_col])))
    same(got.iloc[:, 1:].astype(float).values,
         reference(df[["x0", "x1", "x2"]].values.astype(float)))


def pandas_default():
    # to_csv(): the index first under an empty name, NaN as an empty field.
    df = frame(IDS).set_index("id")
    df.iloc[1, 2] = np.nan
    df.to_csv(path("pandas.csv"))
    run(["-i", path("pandas.csv"), "-o", path("out.csv"), "--header",
         "--keep", "1", "--na", ""])
    expect_scored(path("out.csv"), df.reset_index(), header=("id", "y_0",
                                                             "y_1"))


def pandas_range_index():
    # The common case: a RangeIndex, written as an unnamed first column.
    df = frame(IDS).drop(columns="id")
    df.to_csv(path("range.csv"))
    run(["-i", path("range.csv"), "-o", path("out.csv"), "--header",
         "--keep", "1"])
    got = pd.read_csv(path("out.csv"))
    if list(got.columns) != ["Unnamed: 0", "y_0", "y_1"]:
        raise AssertionError("header %s" % list(got.columns))
    if list(got.iloc[:, 0]) != list(range(len(df))):
        raise AssertionError("index %s" % list(got.iloc[:, 0]))
    same(got[["y_0", "y_1"]].values, reference(df.values))


def excel():
    # Excel in a decimal-comma locale: ';', ',' decimals, CRLF, UTF-8 BOM.
    df = frame(IDS[:3] + ["z"])
    df.to_csv(path("excel.csv"), sep=";", decimal=",", index=False,
              lineterminator="\r\n", encoding="utf-8-sig")
    assert open(path("excel.csv"), "rb").read(3) == b"\xef\xbb\xbf"
    for delimiter in (";", "auto"):
        run(["-i", path("excel.csv"), "-o", path("out.csv"), "--header",
             "--keep", "id", "--delimiter", delimiter, "--decimal", ","])
        expect_scored(path("out.csv"), df)


def r_write_csv():
    # write.csv(df): quoted header and strings, row names first, NA.
    df = frame(["r1", "r,2", "r3"])
    text = '"","id","x0","x1","x2"\n'
    for i, row in df.iterrows():
        vals = ["NA" if i == 1 and c == "x2" else repr(row[c])
                for c in ("x0", "x1", "x2")]
        text += '"%d","%s",%s\n' % (i + 1, row["id"], ",".join(vals))
    open(path("r.csv"), "w").write(text)
    df.loc[1, "x2"] = np.nan
    run(["-i", path("r.csv"), "-o", path("out.csv"), "--header", "--keep",
         "id", "--na", "NA"])
    expect_scored(path("out.csv"), df)


def tab_separated():
    df = frame(["t1", "t 2", "t3"])
    df.to_csv(path("tab.tsv"), sep="\t", index=False)
    run(["-i", path("tab.tsv"), "-o", path("out.csv"), "--header", "--keep",
         "id", "--delimiter", "tab"])
    expect_scored(path("out.csv"), df)


def quoted_ids_bytes_as_read():
    # The kept column is the bytes as read: quotes, "" and newlines too.
    df = frame(IDS)
    df.to_csv(path("quoted.csv"), index=False)
    run(["-i", path("quoted.csv"), "-o", path("out.csv"), "--header",
         "--keep", "id"])
    expect_scored(path("out.csv"), df)
    src = open(path("quoted.csv"), encoding="utf-8").read()
    out = open(path("out.csv"), encoding="utf-8").read()
    for field in ('"b,2"', '"say ""hi"""', '"two\nlines"'):
        if field not in src or field not in out:
            raise AssertionError("%r not passed through as read" % field)


def header_out_of_order():
    # Names decide: x2,x0,id,x1 reads x in the model's order.
    df = frame(IDS[:4])
    df[["x2", "x0", "id", "x1"]].to_csv(path("order.csv"), index=False)
    run(["-i", path("order.csv"), "-o", path("out.csv"), "--header",
         "--keep", "id"])
    expect_scored(path("out.csv"), df)
    # and --columns by name range and by 1-based index, same result
    df[["id", "x0", "x1", "x2"]].assign(target=1).to_csv(
        path("range2.csv"), index=False)
    for cols in ("x0-x2", "2-4", "x0,x1,4"):
        run(["-i", path("range2.csv"), "-o", path("out.csv"), "--header",
             "--keep", "id", "--columns", cols])
        expect_scored(path("out.csv"), df)


def headerless_keep_and_output_header():
    df = frame(["h1", "h2", "h3"])
    df.to_csv(path("noheader.csv"), index=False, header=False)
    run(["-i", path("noheader.csv"), "-o", path("out.csv"), "--keep", "1",
         "--output-header"])
    expect_scored(path("out.csv"), df, header=("col1", "y_0", "y_1"))


def comments_and_blank_lines():
    df = frame(["c1", "c2"])
    body = df.to_csv(index=False).splitlines()
    text = "# exported\n" + body[0] + "\n\n" + body[1] + "\n# mid\n\n" + \
        body[2] + "\n"
    open(path("comments.csv"), "w").write(text)
    run(["-i", path("comments.csv"), "-o", path("out.csv"), "--header",
         "--keep", "id", "--comment", "#", "--skip-blank"])
    expect_scored(path("out.csv"), df)


def refusals():
    frame(["a"]).to_csv(path("one.csv"), index=False)
    p = run(["-i", path("one.csv"), "-o", path("out.csv"), "--header",
             "--columns", "x0,x1,nope"], expect_rc=2)
    assert "--columns: no column 'nope'" in p.stderr, p.stderr
    open(path("na.csv"), "w").write("id,x0,x1,x2\na,1,NA,2\n")
    p = run(["-i", path("na.csv"), "-o", path("out.csv"), "--header",
             "--keep", "id"], expect_rc=4)
    assert ("na.csv:2:5: column 'x1': not a number 'NA'; --na 'NA' reads it "
            "as NaN") in p.stderr, p.stderr
    open(path("q.csv"), "w").write('id,x0,x1,x2\n"a"b,1,2,3\n')
    p = run(["-i", path("q.csv"), "-o", path("out2.csv"), "--header",
             "--keep", "id"], expect_rc=4)
    assert "q.csv:2:4: bad quoted field" in p.stderr, p.stderr
    assert not os.path.exists(path("out2.csv")), "partial output left"


open(os.path.join(TMP, "m.pbtxt"), "w").write(SPEC)
subprocess.run([ROWFLOW, "build", os.path.join(TMP, "m.pbtxt"), "-o",
                os.path.join(TMP, "m.pb")], check=True)
MODEL = os.path.join(TMP, "m.pb")
for case in (pandas_default, pandas_range_index, excel, r_write_csv,
             tab_separated, quoted_ids_bytes_as_read, header_out_of_order,
             headerless_keep_and_output_header, comments_and_blank_lines,
             refusals):
    check(case.__name__, case)
shutil.rmtree(TMP)
if FAILS:
    print("%d failed: %s" % (len(FAILS), ", ".join(FAILS)))
    sys.exit(1)
