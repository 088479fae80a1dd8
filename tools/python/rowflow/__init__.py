"""rowflow: neural-network forward propagation over many rows, in parallel,
at C++ speed (the same library as the `rowflow` command).

    import numpy as np, rowflow
    m = rowflow.load("seed.pb")            # or rowflow.build(spec), import_onnx(path)
    s = rowflow.Session(m, threads=2)
    y = s.run(np.array([[3, 5], [1, -1]]))

Errors are rowflow.Error subclasses (ModelError, InputError, UsageError,
IoError) whose message is the line the CLI prints.
"""

from rowflow._rowflow import (  # noqa: F401
    Error,
    GraphBuilder,
    InputError,
    InternalError,
    IoError,
    Model,
    ModelError,
    Session,
    UsageError,
    Value,
    ValueInfo,
    __version__,
    build,
    import_onnx,
    load,
)

__all__ = [
    "Error", "GraphBuilder", "InputError", "InternalError", "IoError", "Model",
    "ModelError", "Session", "UsageError", "Value", "ValueInfo", "build",
    "import_onnx", "load", "__version__",
]

# The classes are rowflow's to users (help(), repr, pickles): the C++
# module's name is an implementation detail.
for _cls in (GraphBuilder, Model, Session, Value):
    _cls.__module__ = "rowflow"
del _cls
