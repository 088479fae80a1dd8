// The rowflow Python package's C++ half, rowflow._rowflow: the C++ API in
// snake_case (tools/python/rowflow/__init__.py re-exports it).
#include <pybind11/pybind11.h>

#include "tools/python/binding.h"

#ifndef ROWFLOW_VERSION
#error "ROWFLOW_VERSION must be defined by the build"
#endif

PYBIND11_MODULE(_rowflow, m) {
  namespace py = pybind11;
  m.doc() = "rowflow: dataflow-graph neural network inference over rows";
  m.attr("__version__") = ROWFLOW_VERSION;
  rowflow::python::BindErrors(m);
  rowflow::python::BindModel(m);
  rowflow::python::BindBuilder(m);
  rowflow::python::BindSession(m);
  rowflow::python::BindBench(m);
}
