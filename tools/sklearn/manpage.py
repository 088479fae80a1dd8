#!/usr/bin/python3
"""Writes rowflow-sklearn(1) from the command's own argparse definition
(rowflow_sklearn.parser()), so that the page lists exactly what --help
shows. The build runs it (tools/package/CMakeLists.txt):

    manpage.py VERSION OUT.1
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import rowflow_sklearn  # noqa: E402


def roff(text):
    """Plain text as roff: backslashes and hyphens escaped, no line that
    starts with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line
                     for line in text.split("\n"))


def option_lines(action):
    """One .TP entry: the option's names (and value) or the positional."""
    if action.option_strings:
        names = ", ".join(f"\\fB{roff(o)}\\fR" for o in action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or (
                "{" + ",".join(action.choices) + "}" if action.choices
                else action.dest.upper())
            names += f" \\fI{roff(metavar)}\\fR"
    else:
        names = f"\\fI{roff(action.metavar or action.dest)}\\fR"
    return [".TP", names, roff(action.help or "")]


def main(argv):
    version, out = argv[1], argv[2]
    p = rowflow_sklearn.parser()
    usage = " ".join(p.format_usage().split())
    usage = usage[len("usage: "):] if usage.startswith("usage: ") else usage
    lines = [
        f'.TH ROWFLOW\\-SKLEARN 1 "" "rowflow {version}" "User Commands"',
        ".SH NAME",
        f"{roff(p.prog)} \\- scikit\\-learn MLPs as rowflow model files",
        ".SH SYNOPSIS",
        roff(usage),
        ".SH DESCRIPTION",
        roff(p.description),
        ".SH OPTIONS",
    ]
    for action in p._actions:  # argparse has no public list of them
        lines += option_lines(action)
    lines += [".SH NOTES", ".nf", roff(p.epilog), ".fi",
              ".SH SEE ALSO", "\\fBrowflow\\fR(1), /usr/share/doc/rowflow/README.md"]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
