// Big generated graphs for the planner's scaling tests and benchmark:
// chains and wide fans of many nodes, built straight as IR (unvalidated) so
// that graphs over the structural limits can be written too.
//
// Thread-safety: pure functions.
#ifndef ROWFLOW_TESTS_PLAN_BIG_GRAPH_H_
#define ROWFLOW_TESTS_PLAN_BIG_GRAPH_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "graph/ir.h"

namespace rowflow::testing {

enum class BigShape {
  // x[2] -> MULTIPLY(x, x) -> MULTIPLY(prev, x) -> ...: one long chain, each
  // node reading the previous node and the input (the example).
  kChain,
  // x[] -> n-1 independent MULTIPLY(x, x) -> one CONCAT of all of them.
  kFanConcat,
  // x[] -> (n+1)/2 independent MULTIPLY(x, x) -> a balanced tree of ADDs.
  kFanAddTree,
  // x[2] -> (n-1)/2 one-unit dense layers in the seed's per-node form,
  // SUM(MULTIPLY(x, w_i)), all meeting in one CONCAT: one wide dense layer.
  kDenseUnits,
  // x[2] -> n/2 dense layers of 2 units, SUM(MULTIPLY(h, W)), each reading
  // the last: one long chain of tiny layers.
  kTinyChain,
};

// "chain", "fan_concat", "fan_add", "dense_units", "tiny_chain".
std::optional<BigShape> ParseBigShape(std::string_view name);

// A graph of about `nodes` nodes (exactly, except fan_add rounds to odd) in
// `dtype`; `reverse` lists the nodes in reverse topological order, so that
// validation has to sort them. Values are named "v<i>", nodes "n<i>".
ir::Graph MakeBigGraph(BigShape shape, int64_t nodes, ir::DType dtype,
                       bool reverse = false);

}  // namespace rowflow::testing

#endif  // ROWFLOW_TESTS_PLAN_BIG_GRAPH_H_
