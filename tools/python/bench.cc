// Private helpers of tools/python/bench.py (underscored: not the package's
// API): the built-in bench workloads of `rowflow bench --workload NAME` and
// their input rows, and a model's dense layers as the planner matched them,
// so numpy and PyTorch can run the very same weights.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/activation.h"
#include "runtime/plan_match.h"
#include "runtime/session.h"
#include "tools/cli/workloads.h"
#include "tools/python/binding.h"

namespace rowflow::python {
namespace {

template <typename T>
py::array RowsArray(const ir::Graph& g, int64_t rows, uint64_t seed) {
  // The rows move into a capsule the array keeps alive: no second copy of
  // a gigabyte of input.
  auto* m = new RowMatrix<T>(WorkloadRows<T>(g, rows, seed));
  py::capsule owner(m, [](void* p) { delete static_cast<RowMatrix<T>*>(p); });
  return py::array_t<T>({m->rows, m->cols}, m->data.data(), owner);
}

py::array Doubles(const std::vector<double>& v, std::vector<int64_t> shape) {
  py::array_t<double> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::list DenseLayers(const Model& model) {
  py::list out;
  const ir::Graph& g = *model.graph;
  for (const plan_internal::Group& group :
       plan_internal::MatchGroups(g, PlanOptions{})) {
    if (group.layers.empty()) {
      Throw(ErrorKind::kUsage,
            "_dense_layers: the model is not a chain of dense layers");
    }
    for (const plan_internal::DenseLayer& l : group.layers) {
      py::dict d;
      d["weights"] = Doubles(l.weights, {l.units, l.width});
      d["bias"] = l.bias.empty() ? py::object(py::none())
                                 : py::object(Doubles(l.bias, {l.units}));
      d["activation"] = std::string(ir::ActivationName(l.activation));
      d["alpha"] = l.alpha;
      d["beta"] = l.beta;
      out.append(d);
    }
  }
  return out;
}

int64_t Nanos(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// `calls` calls of the C++ Session::Run (span form) on the f32 rows `x`,
// in this process: the same call as tests/bench_session.cc, without Python
// around it. Returns (wall, calling thread's CPU) microseconds per call.
py::tuple RunLoop(const Model& model, int threads,
                  const py::array_t<float, py::array::c_style>& x,
                  int64_t calls) {
  if (x.ndim() != 2 || calls < 1)
    Throw(ErrorKind::kUsage, "_run_loop: (rows, width) rows and calls >= 1");
  SessionOptions o;
  o.threads = threads;
  Session s(*model.graph, o);
  std::vector<float> out(static_cast<size_t>(x.shape(0) * s.output_width()));
  const ConstRowSpan<float> in{x.data(), x.shape(0), x.shape(1)};
  const RowSpan<float> y{out.data(), x.shape(0), s.output_width()};
  double wall_us = 0, cpu_us = 0;
  {
    py::gil_scoped_release release;
    s.Run(in, y);  // warm-up: the arena and the tile pool
    const int64_t wall = Nanos(CLOCK_MONOTONIC);
    const int64_t cpu = Nanos(CLOCK_THREAD_CPUTIME_ID);
    for (int64_t k = 0; k < calls; ++k) s.Run(in, y);
    const double n = static_cast<double>(calls) * 1e3;
    wall_us = static_cast<double>(Nanos(CLOCK_MONOTONIC) - wall) / n;
    cpu_us = static_cast<double>(Nanos(CLOCK_THREAD_CPUTIME_ID) - cpu) / n;
  }
  return py::make_tuple(wall_us, cpu_us);
}

}  // namespace

void BindBench(py::module_& m) {
  m.def(
      "_workload",
      [](const std::string& name) {
        Workload w = MakeWorkload(name);
        return py::make_tuple(
            Model{std::make_shared<const ir::Graph>(std::move(w.graph))},
            w.default_rows);
      },
      py::arg("name"),
      "(Model, default_rows) of `rowflow bench --workload NAME` (private).");
  m.def(
      "_workload_rows",
      [](const Model& model, int64_t rows, uint64_t seed) {
        if (rows < 0) Throw(ErrorKind::kUsage, "rows must be >= 0");
        return model.graph->dtype == ir::DType::kF32
                   ? RowsArray<float>(*model.graph, rows, seed)
                   : RowsArray<double>(*model.graph, rows, seed);
      },
      py::arg("model"), py::arg("rows"), py::arg("seed") = 1,
      "The bench's input rows for `model` (WorkloadRows), a (rows, width) "
      "array of its dtype (private).");
  m.def("_run_loop", &RunLoop, py::arg("model"), py::arg("threads"),
        py::arg("x"), py::arg("calls"),
        "(wall, cpu) us per call of `calls` C++ Session::Run calls on f32 rows "
        "`x` (private).");
  m.def("_dense_layers", &DenseLayers, py::arg("model"),
        "The planner's dense layers of `model`, in order: dicts of weights "
        "(units, width), bias or None, activation, alpha, beta; UsageError "
        "when a stage is not dense (private).");
}

}  // namespace rowflow::python
