// Shared by the binding's files (tools/python/*.cc): the Python exception
// types of rowflow::Error, the Model object, and running C++ work with the
// GIL released.
//
// Thread-safety: every function here is called with the GIL held, except
// where it says otherwise.
#ifndef ROWFLOW_TOOLS_PYTHON_BINDING_H_
#define ROWFLOW_TOOLS_PYTHON_BINDING_H_

#include <pybind11/pybind11.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "graph/error.h"
#include "graph/ir.h"

namespace rowflow::python {

namespace py = pybind11;

// A validated model, shared by the sessions made from it (immutable).
struct Model {
  std::shared_ptr<const ir::Graph> graph;
};

// Creates rowflow.Error and its subclasses in `m` and registers the
// translation of rowflow::Error into them.
void BindErrors(py::module_& m);
// Sets the Python exception for `e` (with the GIL held).
void SetPythonError(const Error& e);
// A Python exception of `kind` carrying `message`, for errors the binding
// finds itself.
[[noreturn]] void Throw(ErrorKind kind, const std::string& message);

void BindModel(py::module_& m);
void BindBuilder(py::module_& m);
void BindSession(py::module_& m);
// Private helpers of tools/python/bench.py (bench.cc).
void BindBench(py::module_& m);

// The Model a Python argument names: a Model, a path (str or os.PathLike)
// or the model file's bytes.
Model ToModel(py::handle model);

// Runs `work(cancel)` with the GIL released. When `long_run` and on
// Python's main thread, the work runs on a helper thread while this thread
// checks for signals every 20 ms: Ctrl-C sets `cancel` (the run stops within
// the tiles in flight) and the KeyboardInterrupt is raised once the work has
// stopped. Exceptions of `work` are rethrown here.
void RunReleased(const std::function<void(std::atomic<bool>& cancel)>& work,
                 bool long_run);

}  // namespace rowflow::python

#endif  // ROWFLOW_TOOLS_PYTHON_BINDING_H_
