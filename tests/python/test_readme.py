"""README's Python examples, cut out of README.md as tests/consumer/run.sh
cuts the C++ one: every ```python block under "## Python", run in order in
one namespace, from a scratch folder that has the repository's tools/.
An expression statement ending in `# -> VALUE` must evaluate to an object
whose repr is VALUE."""

import ast
import os
import re

import pytest

from conftest import SOURCE_DIR

MARK = re.compile(r"#\s*->\s*(.*?)\s*$")


def python_blocks():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Python\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end >= 0 else len(text)]
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```", section, re.S | re.M):
        first_line = text[:start].count("\n") + section[:m.start()].count("\n") + 3
        blocks.append((first_line, m.group(1)))
    return blocks


def checked(source, first_line):
    """The block's AST with each `expr  # -> want` statement replaced by
    `__check(expr, want, line)`."""
    lines = source.splitlines()
    tree = ast.parse(source)
    count = 0

    class Rewrite(ast.NodeTransformer):
        def visit_Expr(self, node):
            nonlocal count
            m = MARK.search(lines[node.end_lineno - 1])
            if not m:
                return node
            count += 1
            call = ast.Call(func=ast.Name("__check", ast.Load()),
                            args=[node.value, ast.Constant(m.group(1)),
                                  ast.Constant(first_line + node.end_lineno - 1)],
                            keywords=[])
            return ast.copy_location(ast.Expr(call), node)

    tree = ast.fix_missing_locations(Rewrite().visit(tree))
    marks = sum(1 for line in lines if MARK.search(line))
    assert count == marks, "a `# ->` comment is not on an expression statement"
    return tree, count


def check(value, want, line):
    got = repr(value)
    assert got == want, f"README.md:{line}: got {got}, README says {want}"


def test_readme_python_examples(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 5, "README's Python section lost its examples"
    os.symlink(os.path.join(SOURCE_DIR, "tools"), tmp_path / "tools")
    monkeypatch.chdir(tmp_path)
    namespace = {"__check": check, "__name__": "__readme__"}
    total = 0
    for first_line, source in blocks:
        tree, count = checked(source, first_line)
        total += count
        code = compile(tree, f"README.md:{first_line}", "exec")
        exec(code, namespace)  # noqa: S102 - the README's own examples
    assert total >= 10, f"only {total} checked values in README's examples"


def test_readme_install_commands_are_the_tested_ones():
    # The sh block names the commands tests/python/test_install.py runs.
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("\n## Python\n"):]
    section = section[:section.find("\n## ", 1)]
    for command in ("PYTHONPATH=build/python /usr/bin/python3",
                    "cmake --install build",
                    "/usr/bin/python3 -m venv --system-site-packages",
                    "pip install --no-build-isolation ."):
        assert command in section, command
