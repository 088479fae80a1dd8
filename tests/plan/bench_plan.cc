// Google Benchmark of loading and planning big generated graphs
// (tests/plan/big_graph.h): chains and wide fans of 1e4, 1e5 and 1e6 nodes.
// BM_Load is ParseGraph on the model bytes (protobuf parse, conversion to
// the IR, validation: topological sort, shape inference); BM_Plan is
// BuildPlan on the validated graph (pattern matching, buffer assignment,
// kernels); BM_LoadAndPlan is both, what `rowflow inspect` does. Each
// should grow about linearly with the nodes (counter nodes/s about flat).
//
//   bench_plan --benchmark_filter=LoadAndPlan
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>

#include "graph/serialize.h"
#include "runtime/plan.h"
#include "tests/plan/big_graph.h"

namespace rowflow {
namespace {

using testing::BigShape;

constexpr BigShape kShapes[] = {BigShape::kChain, BigShape::kFanConcat,
                                BigShape::kFanAddTree};
constexpr const char* kShapeNames[] = {"chain", "fan_concat", "fan_add"};

// The model bytes of each (shape, nodes), made once per process.
const std::string& ModelBytes(int shape, int64_t nodes) {
  static std::map<std::pair<int, int64_t>, std::string> cache;
  auto [it, inserted] = cache.try_emplace({shape, nodes});
  if (inserted) {
    it->second = SerializeGraph(
        testing::MakeBigGraph(kShapes[shape], nodes, ir::DType::kF32),
        Encoding::kBinary);
  }
  return it->second;
}

void Label(benchmark::State& state, int64_t nodes) {
  state.SetLabel(kShapeNames[state.range(0)]);
  state.counters["nodes/s"] =
      benchmark::Counter(static_cast<double>(nodes),
                         benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Load(benchmark::State& state) {
  const std::string& bytes = ModelBytes(state.range(0), state.range(1));
  for (auto _ : state) {
    ir::Graph g = ParseGraph(bytes, "model.pb");
    benchmark::DoNotOptimize(g.nodes.data());
  }
  Label(state, state.range(1));
}

void BM_Plan(benchmark::State& state) {
  const ir::Graph g =
      ParseGraph(ModelBytes(state.range(0), state.range(1)), "model.pb");
  for (auto _ : state) {
    Plan<float> plan = BuildPlan<float>(g);
    benchmark::DoNotOptimize(plan.stages.data());
  }
  Label(state, state.range(1));
}

void BM_LoadAndPlan(benchmark::State& state) {
  const std::string& bytes = ModelBytes(state.range(0), state.range(1));
  for (auto _ : state) {
    const ir::Graph g = ParseGraph(bytes, "model.pb");
    Plan<float> plan = BuildPlan<float>(g);
    benchmark::DoNotOptimize(plan.stages.data());
  }
  Label(state, state.range(1));
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "nodes"})->Unit(benchmark::kMillisecond);
  for (int shape = 0; shape < 3; ++shape) {
    for (int64_t nodes : {10'000, 100'000, 1'000'000}) b->Args({shape, nodes});
  }
}

BENCHMARK(BM_Load)->Apply(Sizes);
BENCHMARK(BM_Plan)->Apply(Sizes);
BENCHMARK(BM_LoadAndPlan)->Apply(Sizes);

}  // namespace
}  // namespace rowflow

BENCHMARK_MAIN();
