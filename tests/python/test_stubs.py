"""The type stubs (rowflow/__init__.pyi) cover the whole API, and every
public callable has a docstring that help() shows."""

import ast
import inspect
import os

import rowflow


def stub_tree():
    path = os.path.join(os.path.dirname(rowflow.__file__), "__init__.pyi")
    assert os.path.isfile(path), "rowflow/__init__.pyi is not next to the package"
    assert os.path.isfile(os.path.join(os.path.dirname(rowflow.__file__), "py.typed"))
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read())


def stub_names():
    """{top-level name: set of member names (for classes) or None}."""
    names = {}
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                                else n.target.id for n in node.body
                                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.AnnAssign))}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = None
    return names


def public_members(cls):
    return {n for n, v in vars(cls).items()
            if not n.startswith("_") and (callable(v) or isinstance(v, property)
                                         or type(v).__name__ == "instancemethod")}


def test_every_public_name_has_a_stub():
    stubs = stub_names()
    missing = [n for n in rowflow.__all__ if n not in stubs]
    assert not missing, f"not in __init__.pyi: {missing}"
    extra = [n for n in stubs if not n.startswith("_") and n not in rowflow.__all__]
    assert not extra, f"in __init__.pyi but not in rowflow.__all__: {extra}"


def test_every_member_has_a_stub():
    stubs = stub_names()
    for name in ("Model", "GraphBuilder", "Session", "Value"):
        cls = getattr(rowflow, name)
        missing = public_members(cls) - stubs[name]
        assert not missing, f"{name}: not in __init__.pyi: {sorted(missing)}"
        extra = {m for m in stubs[name] if not m.startswith("_")} - public_members(cls)
        assert not extra, f"{name}: in __init__.pyi but not in the module: {sorted(extra)}"


def test_help_is_useful():
    text = inspect.getdoc(rowflow.Session)
    assert "threads" in text and "run(" in text
    for cls in (rowflow.Session, rowflow.Model, rowflow.GraphBuilder, rowflow.Value):
        for name in public_members(cls):
            doc = inspect.getdoc(getattr(cls, name))
            assert doc and len(doc) > 15, f"{cls.__name__}.{name} has no docstring"
    for fn in (rowflow.load, rowflow.build, rowflow.import_onnx):
        assert "Model" in fn.__doc__ or "model" in fn.__doc__
    assert "run_file" in rowflow.Session.run_file.__doc__.splitlines()[0]
    assert rowflow.__doc__ and "Session" in rowflow.__doc__


def test_sanitizer_runtime_matches_the_build():
    # In the ASan pass (ROWFLOW_SANITIZE builds) the instrumented module runs
    # with the preloaded sanitizer runtime, so these tests are checked by it;
    # in the Release pass no sanitizer is in the process.
    with open("/proc/self/maps", encoding="utf-8") as f:
        asan_loaded = "libasan" in f.read()
    assert asan_loaded == (os.environ.get("ROWFLOW_SANITIZED") == "1")
