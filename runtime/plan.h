// The plan: a validated graph rewritten into fused stages, each computing
// one value for a whole tile of rows. The planner matches dense layers
// (MULTIPLY+SUM contractions, per-node units meeting in a CONCAT) into GEMMs
// over pre-packed weights with bias and activation in the epilogue, chains
// of tiny layers into one fused loop, per-feature affine maps next to a
// dense layer into its weights and bias, and chains of elementwise ops into
// one pass; every other node runs its registry kernel.
//
// Thread-safety: a Plan is immutable once built; Stage::Run is reentrant and
// is called concurrently for different tiles.
#ifndef ROWFLOW_RUNTIME_PLAN_H_
#define ROWFLOW_RUNTIME_PLAN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace rowflow {

// Where a value lives inside a tile: a buffer, a column offset and the row
// stride (elements). Buffer 0 is the tile's input rows, 1 its output rows,
// 2.. the plan's intermediate buffers.
struct TileLoc {
  int buffer = -1;
  int64_t offset = 0;
  int64_t ld = 0;
};

inline constexpr int kInputBuffer = 0;
inline constexpr int kOutputBuffer = 1;

// What kind of kernel a stage runs.
enum class StageKind {
  kTinyMlp,
  kDense,
  kElementwise,
  kGeneric,
  kSplit,
  kGather
};

// The dtype-free description of a stage, for `rowflow inspect` and tests.
struct StageInfo {
  StageKind kind;
  std::string label;       // e.g. "dense 64->256 RELU"
  std::vector<int> nodes;  // graph node ids it covers
  std::vector<int> deps;   // stages whose outputs it reads
  int64_t flops_per_row = 0;
};

// One stage's kernel over a tile; `buffers[b]` points at row 0 of buffer b.
template <typename T>
class StageKernel {
 public:
  virtual ~StageKernel() = default;
  virtual void Run(T* const* buffers, int64_t rows) const = 0;
};

template <typename T>
struct Plan {
  std::vector<StageInfo> stages;                         // topological order
  std::vector<std::unique_ptr<StageKernel<T>>> kernels;  // one per stage
  std::vector<int64_t> buffer_widths;  // elements per row; [0], [1] external
  int64_t input_width = 0;
  int64_t output_width = 0;
  int64_t flops_per_row = 0;
  bool all_tiny = false;  // every stage is a tiny-layer stage

  // Bytes of intermediate buffers per row of a tile.
  int64_t IntermediateBytesPerRow() const;
};

// Options of the planner; the switches exist for tests of each pass.
struct PlanOptions {
  bool fuse_dense = true;        // contractions -> packed GEMM
  bool fuse_tiny = true;         // chains of tiny layers -> one loop
  bool fuse_elementwise = true;  // elementwise chains -> one pass
  // Per-feature affine maps (MULTIPLY / ADD by a constant) right before or
  // after a dense layer -> its packed weights and bias (runtime/plan_fold.h);
  // needs fuse_dense. Rounds differently from the graph as written.
  bool fold_affine = true;
};

// Builds the plan of a validated graph whose dtype matches T.
template <typename T>
Plan<T> BuildPlan(const ir::Graph& graph, const PlanOptions& options = {});

// Stage descriptions of the plan for `graph` (either dtype).
std::vector<StageInfo> DescribePlan(const ir::Graph& graph,
                                    const PlanOptions& options = {});

// Lower-case name of a stage kind ("dense", "tiny_mlp", ...).
const char* StageKindName(StageKind kind);

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_PLAN_H_
