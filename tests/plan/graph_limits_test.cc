// The structural limits (graph/validate.h): a graph over one is refused with
// Error(kModel) naming the count, from model bytes before any node is looked
// at and from hand-built IR before anything else; a chain at the node limit
// loads and plans.
#include <gtest/gtest.h>

#include <string>

#include "graph/error.h"
#include "graph/serialize.h"
#include "graph/validate.h"
#include "runtime/plan.h"
#include "tests/plan/big_graph.h"

namespace rowflow {
namespace {

// The message of the model error `f` throws, or "" when it throws nothing.
template <typename F>
std::string ModelError(F f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel) << e.what();
    return e.what();
  }
  return "";
}

std::string TooMany(const std::string& what, int64_t limit) {
  return "too many " + what + " for rowflow's limits; expected at most " +
         std::to_string(limit) + ", got " + std::to_string(limit + 1);
}

TEST(GraphLimitsTest, LoaderRefusesMoreNodesThanTheLimitBeforeReadingThem) {
  // format_version 1, then kMaxNodes + 1 empty nodes (tag 6, length 0):
  // 2 MB of bytes, refused for their count, not for their missing names.
  std::string bytes = "\x08\x01";
  for (int64_t i = 0; i <= kMaxNodes; ++i) bytes.append("\x32\x00", 2);
  EXPECT_EQ(ModelError([&] { ParseGraph(bytes, "big.pb"); }),
            "big.pb: " + TooMany("nodes", kMaxNodes));
}

TEST(GraphLimitsTest, ValidateRefusesMoreNodesThanTheLimitFirst) {
  ir::Graph g;
  g.nodes.resize(kMaxNodes + 1);  // no names, no outputs: counted first
  EXPECT_EQ(ModelError([&] { Validate(g); }), TooMany("nodes", kMaxNodes));
}

TEST(GraphLimitsTest, ValidateRefusesMoreValuesThanTheLimit) {
  ir::Graph g;
  g.values.resize(kMaxValues + 1);
  EXPECT_EQ(ModelError([&] { Validate(g); }),
            TooMany("values (inputs, constants and node outputs)", kMaxValues));
}

TEST(GraphLimitsTest, ValidateRefusesMoreNodeInputsThanTheLimit) {
  ir::Graph g;
  g.nodes.resize(2);
  g.nodes[0].inputs.assign(kMaxNodeInputs / 2, 0);
  g.nodes[1].inputs.assign(kMaxNodeInputs / 2 + 1, 0);
  EXPECT_EQ(ModelError([&] { Validate(g); }),
            TooMany("node inputs (summed over all nodes)", kMaxNodeInputs));
}

TEST(GraphLimitsTest, ValidateRefusesMoreOutputsThanTheLimit) {
  ir::Graph g;
  g.outputs.assign(kMaxOutputs + 1, 0);
  EXPECT_EQ(ModelError([&] { Validate(g); }),
            TooMany("graph outputs", kMaxOutputs));
}

// About 5 s in a release build; the sanitizer builds leave it to the
// 1e5-node cases (tests/plan/cli_scale_test.sh).
#if defined(__SANITIZE_ADDRESS__)
#define ROWFLOW_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ROWFLOW_SANITIZED 1
#endif
#endif

TEST(GraphLimitsTest, ChainAtTheNodeLimitLoadsAndPlans) {
#ifdef ROWFLOW_SANITIZED
  GTEST_SKIP() << "a million nodes take minutes under ASan";
#endif
  const std::string bytes =
      SerializeGraph(testing::MakeBigGraph(testing::BigShape::kChain, kMaxNodes,
                                           ir::DType::kF32, /*reverse=*/true),
                     Encoding::kBinary);
  const ir::Graph g = ParseGraph(bytes, "chain.pb");
  ASSERT_EQ(static_cast<int64_t>(g.nodes.size()), kMaxNodes);
  const std::vector<StageInfo> stages = DescribePlan(g);
  ASSERT_EQ(static_cast<int64_t>(stages.size()), kMaxNodes);
  EXPECT_TRUE(stages[0].deps.empty());
  for (size_t s = 1; s < stages.size(); ++s)
    ASSERT_EQ(stages[s].deps, std::vector<int>{static_cast<int>(s) - 1});
}

}  // namespace
}  // namespace rowflow
