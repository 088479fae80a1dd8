"""The type stubs (rowflow/__init__.pyi) cover the whole API, and every
public callable has a docstring that help() shows."""

import ast
import inspect
import os

import pytest

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


# ---- the stubs' signatures are the module's -------------------------------------

def real_signature(fn):
    """(name, [(param, kind, default)]) from the signature line pybind11
    puts first in the docstring, e.g. 'run(self: Session, x: handle, *,
    check_finite: bool = False) -> numpy.ndarray'."""
    line = fn.__doc__.splitlines()[0]
    head = line.rsplit(" -> ", 1)[0]
    tree = ast.parse(f"def {head}: pass")
    return tree.body[0].name, params(tree.body[0].args)


def params(args):
    """[(name, kind, default)] of an ast.arguments, without `self`;
    default is a literal or `...` when there is none."""
    out = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for a, d in zip(positional, defaults):
        out.append((a.arg, "positional", ... if d is None else ast.literal_eval(d)))
    if args.vararg:
        out.append((args.vararg.arg, "*", ...))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        out.append((a.arg, "keyword", ... if d is None else ast.literal_eval(d)))
    if args.kwarg:
        out.append((args.kwarg.arg, "**", ...))
    return [p for p in out if p[0] != "self"]


def stub_functions(body):
    """{name: [params of each def]} (several for @overload)."""
    out = {}
    for node in body:
        if isinstance(node, ast.FunctionDef) and not any(
                isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
            out.setdefault(node.name, []).append(params(node.args))
    return out


def check(where, real, stubs):
    if len(stubs) == 1:
        stub = stubs[0]
        if real and real[-1][1] == "**":
            # **kwargs taken apart in C++ (run_file): the stub names them.
            real = real[:-1]
            stub = [p for p in stub if p[1] != "keyword"]
        assert stub == real, f"{where}: stub {stub} != module {real}"
    else:
        # Overloads: each is the real call with some arguments left out.
        for stub in stubs:
            names = [p[0] for p in stub]
            assert names == [p[0] for p in real][:len(names)], f"{where}: {stub} vs {real}"


def test_stub_signatures_match_the_module():
    tree = stub_tree()
    top = stub_functions(tree.body)
    for name in ("load", "build", "import_onnx"):
        real_name, real = real_signature(getattr(rowflow, name))
        assert real_name == name
        check(name, real, top[name])
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    checked = 0
    for cls_name in ("Model", "GraphBuilder", "Session"):
        cls = getattr(rowflow, cls_name)
        stubs = stub_functions(classes[cls_name].body)
        for name, value in vars(cls).items():
            if isinstance(value, property) or not callable(value):
                continue
            if name.startswith("_") and name != "__init__":
                continue
            if not (value.__doc__ or "").startswith(name + "("):
                continue                                  # Model() has no constructor
            real_name, real = real_signature(value)
            assert real_name == name
            assert name in stubs, f"{cls_name}.{name} has no stub"
            check(f"{cls_name}.{name}", real, stubs[name])
            checked += 1
    assert checked >= 20


def test_the_signature_check_can_fail():
    _, real = real_signature(rowflow.Session.run)
    stub = ast.parse("def run(self, x, check_finite=False): ...").body[0].args
    with pytest.raises(AssertionError):
        check("Session.run", real, [params(stub)])
