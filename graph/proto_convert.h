// Conversion between the generated model-file message (rowflow::Graph in
// proto/rowflow.pb.h) and the IR. Internal to graph/: only the files that
// load and save models include it.
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_GRAPH_PROTO_CONVERT_H_
#define ROWFLOW_GRAPH_PROTO_CONVERT_H_

#include "graph/activation.h"
#include "graph/ir.h"
#include "proto/rowflow.pb.h"

namespace rowflow::internal {

// The activation numbered `act` in the file, or nullptr when no activation
// has that number.
const ir::ActivationInfo* ActivationFromProto(rowflow::Activation act);
// The file's number of `act`, a valid activation.
rowflow::Activation ActivationToProto(ir::Activation act);

// The unchecked IR of `proto`. Throws Error(kModel), without a file prefix,
// for what only the file shows: format_version, unknown enum numbers, unset
// fields, duplicate names, names that resolve to nothing, attributes that do
// not apply, constant data in the wrong field. Validate() does the rest.
ir::Graph GraphFromProto(const rowflow::Graph& proto);

// Checks the outputs' declared shapes in `proto` against the shapes Validate
// inferred for `graph` (which GraphFromProto made from it).
void CheckDeclaredShapes(const rowflow::Graph& proto, const ir::Graph& graph);

// The message of a validated graph; outputs carry their inferred shapes.
rowflow::Graph GraphToProto(const ir::Graph& graph);

}  // namespace rowflow::internal

#endif  // ROWFLOW_GRAPH_PROTO_CONVERT_H_
