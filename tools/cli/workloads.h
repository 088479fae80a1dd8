// The built-in benchmark workloads of `rowflow bench --workload NAME` and the
// throughput tests: fixed networks with seeded weights, f32 or f64.
//
//   seed  the seed's 4.5 network (2->2 relu->2 relu->1, its own weights)
//   mid   64->256 relu->256 relu->10, with bias
//   wide  784->1024 relu->1024 relu->10, with bias
//   tanh  32->128 tanh->128 tanh->1 sigmoid, with bias
//
// Weights are uniform in +-1/sqrt(fan_in), inputs uniform in [-10, 10],
// from fixed seeds, identical on every machine; an f32 workload holds the
// f64 one's numbers rounded to float.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_TOOLS_CLI_WORKLOADS_H_
#define ROWFLOW_TOOLS_CLI_WORKLOADS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "runtime/rows.h"

namespace rowflow {

struct Workload {
  std::string name;
  ir::Graph graph;
  int64_t default_rows;
};

// Names of the built-in workloads, in table order.
std::vector<std::string> WorkloadNames();

// The workload called `name` in `dtype`; throws Error(kUsage) for an
// unknown name.
Workload MakeWorkload(const std::string& name,
                      ir::DType dtype = ir::DType::kF32);

// `rows` input rows for `graph`, uniform in [-10, 10], seeded; T (float or
// double) is the graph's dtype.
template <typename T = float>
RowMatrix<T> WorkloadRows(const ir::Graph& graph, int64_t rows,
                          uint64_t seed = 1);

}  // namespace rowflow

#endif  // ROWFLOW_TOOLS_CLI_WORKLOADS_H_
