// Tile buffer assignment for the planner: which buffer of a tile holds each
// value a stage writes, reusing buffers whose values are dead, in time and
// memory O(n log n) in the stages and their reads.
//
// The rule it keeps: the flow graph runs a stage on a tile once every stage
// it depends on is done with that tile, and stages that do not depend on
// each other run concurrently. So a buffer passes from one value to the
// next only when every stage that wrote or read the old value is an
// ancestor of the new writer; two stages that may run at the same time
// never share a buffer. It proves ancestry in two cheap ways, each
// sufficient, not necessary (a buffer it cannot prove free is not reused):
//  - along heir links: each stage's free buffers pass to its first child in
//    topological order, its heir; a value's buffer is freed to its last
//    reader when the readers before it lead there through heirs (always, for
//    a value read once);
//  - at prefix barriers: when every stage before index p is an ancestor of
//    a stage, the buffers last used before p are free for it.
// Chains of stages ping-pong between two buffers, as the exact rule does.
//
// Thread-safety: a pure function. Internal to runtime/.
#ifndef ROWFLOW_RUNTIME_PLAN_BUFFERS_H_
#define ROWFLOW_RUNTIME_PLAN_BUFFERS_H_

#include <cstdint>
#include <span>
#include <vector>

namespace rowflow::plan_internal {

// The values one stage reads and writes, and the stages it depends on.
struct StageAccess {
  std::span<const int> reads;   // value ids, repeats allowed
  std::span<const int> writes;  // value ids
  std::span<const int> deps;    // earlier stages, each once
};

// Gives every value some stage writes a buffer: `buffer_of_value[v]` >= 0
// on entry is kept (the tile's input and output buffers), the others get
// ids from `buffer_widths.size()` on. `buffer_widths` grows to hold each
// buffer's width, the widest value it holds (elements per row).
void AssignBuffers(std::span<const StageAccess> stages,
                   std::span<const int64_t> value_width,
                   std::vector<int>& buffer_of_value,
                   std::vector<int64_t>& buffer_widths);

}  // namespace rowflow::plan_internal

#endif  // ROWFLOW_RUNTIME_PLAN_BUFFERS_H_
