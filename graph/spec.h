// Layer specs (rowflow.ModelSpec in protobuf text format; DESIGN.md "Layer
// specs") turned into validated graphs: what `rowflow build` does.
//
// Names: the input is `input.name` (default "x"). Layer i is named
// `layer.name`, else "node_<i>" for hidden layers and "output" for the last,
// so the per-node form names units as the seed does (node_0_0, node_0_1,
// node_1_0, ..., output_0). The graph's single output is the last layer's
// value; `output { name: "y" }` renames that value (and the node defining
// it) to "y", and without it the value keeps the last layer's name. The
// graph is named `name`, else the spec file's name without its extension.
//
// Errors are Error(kModel) (exit code 3), one line each:
//   "<spec>:LINE:COL: <protobuf's message>"              parse errors, typos
//   "<spec>:LINE:COL: layer <i> ('<name>'): <field>: ..." i counts from 1
// where LINE:COL (1-based) is the offending field's place in the spec.
//
// Thread-safety: free functions; concurrent calls are independent. A reader
// is called only from the calling thread.
#ifndef ROWFLOW_GRAPH_SPEC_H_
#define ROWFLOW_GRAPH_SPEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "graph/builder.h"
#include "graph/ir.h"
#include "graph/validate.h"
#include "graph/weights_file.h"

namespace rowflow {

// Largest spec file accepted, in bytes (large weights belong in .npy files).
inline constexpr int64_t kMaxSpecBytes = int64_t{256} << 20;

// Most layers a spec may have.
inline constexpr int64_t kMaxSpecLayers = 10000;

// Most units, over all layers, of a per-node graph (each unit is about
// four nodes); larger networks use the layer form.
inline constexpr int64_t kMaxPerNodeUnits = 65536;

// Reads the spec at `spec_path`, its weight files from the spec's folder,
// and returns the validated graph in `form`.
ir::Graph BuildGraphFromSpec(const std::string& spec_path, DenseForm form,
                             const ValidateOptions& options = {});

// As BuildGraphFromSpec for spec `text`, named `spec_name` in messages, with
// weight files under `base_dir`.
ir::Graph BuildGraphFromSpecText(std::string_view text,
                                 const std::string& spec_name,
                                 const std::string& base_dir, DenseForm form,
                                 const ValidateOptions& options = {});

// As above, with weight files read by `reader` (e.g. MemoryWeightReader).
ir::Graph BuildGraphFromSpecText(std::string_view text,
                                 const std::string& spec_name,
                                 const WeightFileReader& reader, DenseForm form,
                                 const ValidateOptions& options = {});

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_SPEC_H_
