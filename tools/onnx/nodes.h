// The node structure of an ONNX graph, for the importer: how a node is
// named in messages and the order to lower nodes in. Internal to the
// rowflow_onnx library.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_TOOLS_ONNX_NODES_H_
#define ROWFLOW_TOOLS_ONNX_NODES_H_

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace rowflow::onnx_internal {

// Whether `domain` is ONNX's default operator domain ("" or "ai.onnx").
bool IsDefaultDomain(const std::string& domain);

// "node 'fc1' (Gemm, opset 13)" for messages: the node's name (its first
// output when unnamed), op type (with a custom domain) and the model's opset
// of that domain.
std::string NodeWhere(const onnx::ModelProto& model,
                      const onnx::NodeProto& node);

// The graph's node indices in an order where each node comes after the
// producers of its inputs (a graph already sorted keeps its order). `leaves`
// are the graph inputs and initializers. Throws Error(kModel) naming the
// node for an undefined input, an output defined twice, or a cycle.
std::vector<int> SortNodes(const onnx::ModelProto& model,
                           const std::set<std::string>& leaves);

// Which node writes each value of a graph, and how often each value is read
// (as a node input or a graph output): what the pattern matchers need to
// know that a subgraph's inner values are read only inside it.
struct ValueUses {
  explicit ValueUses(const onnx::GraphProto& g);
  std::map<std::string, int> producer;  // value -> node index
  std::map<std::string, int> uses;      // value -> reads
};

}  // namespace rowflow::onnx_internal

#endif  // ROWFLOW_TOOLS_ONNX_NODES_H_
