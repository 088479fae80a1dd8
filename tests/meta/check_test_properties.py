#!/usr/bin/env python3
"""Fails when a ctest test of the build tree lacks a label or a timeout.

    check_test_properties.py CTEST BUILD_DIR

Reads `ctest --show-only=json-v1` (every test ctest would run, with its
properties) and lists each test without a LABELS or a TIMEOUT property.
A test without a timeout runs under ctest's 1500 s default, so a hang
stalls CI for 25 minutes; a test without a label is skipped by every
`ctest -L` selection.
"""
import json
import subprocess
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    ctest, build_dir = sys.argv[1], sys.argv[2]
    shown = subprocess.run([ctest, "--show-only=json-v1"], cwd=build_dir,
                           capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        print(f"FAIL: ctest --show-only=json-v1 exited {shown.returncode}: "
              f"{shown.stderr.strip()}")
        return 1
    tests = json.loads(shown.stdout).get("tests", [])
    if not tests:
        print("FAIL: ctest lists no tests")
        return 1
    bad = []
    for test in tests:
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        labels = props.get("LABELS") or []
        timeout = props.get("TIMEOUT")
        missing = []
        if not labels:
            missing.append("a label")
        if timeout is None or float(timeout) <= 0:
            missing.append("a timeout")
        # A label list that gtest_discover_tests split wrongly shows up as
        # property names that are not ctest's (e.g. "unit" = "TIMEOUT").
        odd = sorted(k for k in props if not k.isupper())
        if odd:
            missing.append(f"well-formed properties (stray {', '.join(odd)})")
        if test["name"].endswith("_NOT_BUILT"):
            bad.append(f"{test['name']}: its executable is not built, so its "
                       "tests are unknown (build every target first)")
        elif missing:
            bad.append(f"{test['name']}: lacks {' and '.join(missing)}")
    for line in bad:
        print("FAIL:", line)
    if bad:
        print(f"{len(bad)} of {len(tests)} tests lack a label or a timeout")
        return 1
    print(f"ok: all {len(tests)} tests have a label and a timeout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
