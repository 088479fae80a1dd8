// The structural checks Validate() runs first, on loaded and hand-built IR
// alike: enum ranges, value ids and the value table's back-references (each
// value defined exactly once), and names (non-empty, unique, UTF-8).
// Internal to graph/.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_GRAPH_VALIDATE_STRUCTURE_H_
#define ROWFLOW_GRAPH_VALIDATE_STRUCTURE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "graph/ir.h"

namespace rowflow::internal {

// Throws Error(kModel) when a count is over its limit (graph/validate.h):
// nodes, values, node inputs summed over the nodes, graph outputs.
void CheckGraphSize(int64_t nodes, int64_t values, int64_t node_inputs,
                    int64_t outputs);

// Throws Error(kModel) naming the first structural fault of `graph`. After
// it returns, every id in `graph` indexes what it should.
void CheckStructure(const ir::Graph& graph);

// Whether `s` may be a name: UTF-8 (what proto3 strings must hold) without
// control characters (which would break one-line messages). Free text
// (`multiline`) may also hold tabs and line breaks.
bool IsValidName(std::string_view s, bool multiline = false);

// "node '<name>' (<OP>)" for messages; without the op when it is unknown.
std::string NodeWhere(const ir::Node& node);

}  // namespace rowflow::internal

#endif  // ROWFLOW_GRAPH_VALIDATE_STRUCTURE_H_
