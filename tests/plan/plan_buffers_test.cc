// Tile buffer assignment (runtime/plan_buffers.h): on random stage graphs no
// two stages that may run concurrently ever share a buffer, checked against
// exact ancestor sets; on chains, fans and joins buffers are reused.
#include "runtime/plan_buffers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace rowflow::plan_internal {
namespace {

// Stages that each write one value; value 0 is the tile's input (buffer 0).
struct StageGraph {
  std::vector<std::vector<int>> reads, writes, deps;
  std::vector<int64_t> width;  // by value

  int AddStage(std::vector<int> in, int64_t w = 1) {
    const int v = static_cast<int>(width.size());
    width.push_back(w);
    std::vector<int> d;
    for (int u : in) {
      const int writer = u - 1;  // value u is written by stage u - 1
      if (writer >= 0 && std::find(d.begin(), d.end(), writer) == d.end())
        d.push_back(writer);
    }
    reads.push_back(std::move(in));
    writes.push_back({v});
    deps.push_back(std::move(d));
    return v;
  }

  StageGraph() { width.push_back(4); }

  // The assignment, buffer by value, and the widths; buffers 0 and 1 are
  // the tile's own.
  std::vector<int> Assign(std::vector<int64_t>* widths) const {
    std::vector<StageAccess> access;
    for (size_t s = 0; s < reads.size(); ++s)
      access.push_back({reads[s], writes[s], deps[s]});
    std::vector<int> buffer(width.size(), -1);
    buffer[0] = 0;
    *widths = {4, 0};
    AssignBuffers(access, width, buffer, *widths);
    return buffer;
  }
};

int OwnBuffers(const std::vector<int64_t>& widths) {
  return static_cast<int>(widths.size()) - 2;
}

// Every stage that touched an earlier value of a buffer is an ancestor of
// the writer of each later value there, and the buffer is wide enough.
void ExpectNoConcurrentSharing(const StageGraph& g) {
  const int n = static_cast<int>(g.reads.size());
  std::vector<std::vector<bool>> anc(n, std::vector<bool>(n));
  for (int s = 0; s < n; ++s) {
    for (int d : g.deps[s]) {
      anc[s][d] = true;
      for (int a = 0; a < n; ++a) anc[s][a] = anc[s][a] || anc[d][a];
    }
  }
  std::vector<int64_t> widths;
  const std::vector<int> buffer = g.Assign(&widths);
  std::vector<std::vector<int>> users(g.width.size());
  for (int s = 0; s < n; ++s) {
    for (int v : g.reads[s]) users[v].push_back(s);
    users[g.writes[s][0]].push_back(s);
  }
  for (int s = 0; s < n; ++s) {
    const int v = g.writes[s][0];
    ASSERT_GE(buffer[v], 2) << "stage " << s;
    EXPECT_GE(widths[buffer[v]], g.width[v]);
    for (int t = 0; t < s; ++t) {
      const int u = g.writes[t][0];
      if (buffer[u] != buffer[v]) continue;
      for (int user : users[u]) {
        EXPECT_TRUE(anc[s][user])
            << "stage " << s << " writes buffer " << buffer[v]
            << " while stage " << user << " may still use it for value " << u;
      }
    }
  }
}

TEST(PlanBuffersTest, RandomGraphsNeverShareABufferBetweenConcurrentStages) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    StageGraph g;
    const int n = 2 + static_cast<int>(rng() % 40);
    const int max_back = 1 + static_cast<int>(rng() % 8);  // locality
    for (int s = 0; s < n; ++s) {
      std::vector<int> in;
      const int k = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < k; ++i) {
        const int back = 1 + static_cast<int>(rng() % max_back);
        in.push_back(std::max(0, s + 1 - back));  // value s + 1 - back
      }
      g.AddStage(in, 1 + static_cast<int64_t>(rng() % 5));
    }
    ASSERT_NO_FATAL_FAILURE(ExpectNoConcurrentSharing(g)) << "trial " << trial;
  }
}

TEST(PlanBuffersTest, ChainPingPongsBetweenTwoBuffers) {
  StageGraph g;
  int v = 0;
  for (int i = 0; i < 1000; ++i) v = g.AddStage({v, 0});
  std::vector<int64_t> widths;
  g.Assign(&widths);
  EXPECT_EQ(OwnBuffers(widths), 2);
  ExpectNoConcurrentSharing(g);
}

TEST(PlanBuffersTest, LongBranchBesideAnEarlySideStageStillReuses) {
  // Stage 1 reads only the input and is joined at the very end: the chain
  // between is concurrent with it, yet reuses its own buffers.
  StageGraph g;
  const int head = g.AddStage({0});
  const int side = g.AddStage({0});
  int v = head;
  for (int i = 0; i < 100; ++i) v = g.AddStage({v});
  g.AddStage({v, side});
  std::vector<int64_t> widths;
  g.Assign(&widths);
  EXPECT_LE(OwnBuffers(widths), 4);
  ExpectNoConcurrentSharing(g);
}

TEST(PlanBuffersTest, ResidualBlocksReuseTheirBuffers) {
  // y = x + f(x), block after block: x has two readers, freed at the add.
  StageGraph g;
  int x = g.AddStage({0});
  for (int block = 0; block < 50; ++block) {
    const int f1 = g.AddStage({x});
    const int f2 = g.AddStage({f1});
    x = g.AddStage({x, f2});
  }
  std::vector<int64_t> widths;
  g.Assign(&widths);
  EXPECT_LE(OwnBuffers(widths), 4);
  ExpectNoConcurrentSharing(g);
}

TEST(PlanBuffersTest, DiamondsFreeTheSharedInputAtTheJoin) {
  // x -> (a, b) -> a + b, repeated: x's two readers are concurrent.
  StageGraph g;
  int x = g.AddStage({0});
  for (int i = 0; i < 50; ++i) {
    const int a = g.AddStage({x});
    const int b = g.AddStage({x});
    x = g.AddStage({a, b});
  }
  std::vector<int64_t> widths;
  g.Assign(&widths);
  EXPECT_LE(OwnBuffers(widths), 4);
  ExpectNoConcurrentSharing(g);
}

TEST(PlanBuffersTest, AddTreeOverAFanReusesTheLeavesBuffers) {
  // 512 concurrent leaves need 512 buffers, and each first-level add its
  // own (it reads two leaves, and the other leaves may still be running):
  // the exact rule's 768. The levels above reuse those.
  StageGraph g;
  std::vector<int> level;
  for (int i = 0; i < 512; ++i) level.push_back(g.AddStage({0}));
  while (level.size() > 1) {
    std::vector<int> next;
    for (size_t i = 0; i < level.size(); i += 2)
      next.push_back(g.AddStage({level[i], level[i + 1]}));
    level = next;
  }
  std::vector<int64_t> widths;
  g.Assign(&widths);
  EXPECT_LE(OwnBuffers(widths), 512 + 256);
  ExpectNoConcurrentSharing(g);
}

TEST(PlanBuffersTest, BufferWidensToItsWidestValue) {
  StageGraph g;
  const int a = g.AddStage({0}, 3);
  const int b = g.AddStage({a}, 7);
  g.AddStage({b}, 5);  // reuses a's buffer
  std::vector<int64_t> widths;
  const std::vector<int> buffer = g.Assign(&widths);
  EXPECT_EQ(buffer[a], buffer[3]);
  EXPECT_EQ(widths[buffer[a]], 5);
  EXPECT_EQ(widths[buffer[b]], 7);
}

}  // namespace
}  // namespace rowflow::plan_internal
