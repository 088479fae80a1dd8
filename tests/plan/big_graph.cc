#include "tests/plan/big_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace rowflow::testing {
namespace {

class Maker {
 public:
  explicit Maker(ir::DType dtype) { g_.dtype = dtype; }

  int Input(ir::Shape shape) {
    const int id =
        NewValue(ir::ValueKind::kInput, static_cast<int>(g_.inputs.size()));
    g_.values[id].shape = std::move(shape);
    g_.inputs.push_back(id);
    return id;
  }

  int Constant(ir::Shape shape, std::vector<double> data) {
    const int id = NewValue(ir::ValueKind::kConstant,
                            static_cast<int>(g_.constants.size()));
    g_.constants.push_back({id, std::move(shape), std::move(data)});
    return id;
  }

  int Node(ir::OpKind op, std::vector<int> inputs) {
    ir::Node node;
    node.name = fmt::format("n{}", g_.nodes.size());
    node.op = op;
    node.inputs = std::move(inputs);
    node.output =
        NewValue(ir::ValueKind::kNode, static_cast<int>(g_.nodes.size()));
    g_.nodes.push_back(std::move(node));
    return g_.nodes.back().output;
  }

  // `shape`: the output's, as the file declares it.
  ir::Graph Finish(std::string name, int output, ir::Shape shape,
                   bool reverse) {
    g_.name = std::move(name);
    g_.outputs = {output};
    g_.values[output].shape = std::move(shape);
    if (reverse) {
      std::reverse(g_.nodes.begin(), g_.nodes.end());
      for (size_t i = 0; i < g_.nodes.size(); ++i)
        g_.values[g_.nodes[i].output].index = static_cast<int>(i);
    }
    return std::move(g_);
  }

 private:
  int NewValue(ir::ValueKind kind, int index) {
    ir::Value v;
    v.name = fmt::format("v{}", g_.values.size());
    v.kind = kind;
    v.index = index;
    g_.values.push_back(std::move(v));
    return static_cast<int>(g_.values.size()) - 1;
  }

  ir::Graph g_;
};

}  // namespace

std::optional<BigShape> ParseBigShape(std::string_view name) {
  if (name == "chain") return BigShape::kChain;
  if (name == "fan_concat") return BigShape::kFanConcat;
  if (name == "fan_add") return BigShape::kFanAddTree;
  if (name == "dense_units") return BigShape::kDenseUnits;
  if (name == "tiny_chain") return BigShape::kTinyChain;
  return std::nullopt;
}

ir::Graph MakeBigGraph(BigShape shape, int64_t nodes, ir::DType dtype,
                       bool reverse) {
  Maker m(dtype);
  nodes = std::max<int64_t>(nodes, 2);
  switch (shape) {
    case BigShape::kChain: {
      const int x = m.Input({2});
      int prev = x;
      for (int64_t i = 0; i < nodes; ++i)
        prev = m.Node(ir::OpKind::kMultiply, {prev, x});
      return m.Finish(fmt::format("chain_{}", nodes), prev, {2}, reverse);
    }
    case BigShape::kFanConcat: {
      const int x = m.Input({});
      std::vector<int> parts;
      for (int64_t i = 0; i + 1 < nodes; ++i)
        parts.push_back(m.Node(ir::OpKind::kMultiply, {x, x}));
      const int out = m.Node(ir::OpKind::kConcat, std::move(parts));
      return m.Finish(fmt::format("fan_concat_{}", nodes), out, {nodes - 1},
                      reverse);
    }
    case BigShape::kFanAddTree: {
      const int x = m.Input({});
      std::vector<int> level;
      for (int64_t i = 0; i < (nodes + 1) / 2; ++i)
        level.push_back(m.Node(ir::OpKind::kMultiply, {x, x}));
      while (level.size() > 1) {
        std::vector<int> next;
        for (size_t i = 0; i + 1 < level.size(); i += 2)
          next.push_back(m.Node(ir::OpKind::kAdd, {level[i], level[i + 1]}));
        if (level.size() % 2 == 1) next.push_back(level.back());
        level = std::move(next);
      }
      return m.Finish(fmt::format("fan_add_{}", nodes), level[0], {}, reverse);
    }
    case BigShape::kDenseUnits: {
      const int x = m.Input({2});
      std::vector<int> units;
      for (int64_t i = 0; i < (nodes - 1) / 2; ++i) {
        const int w = m.Constant({2}, {1, static_cast<double>(i % 3)});
        units.push_back(
            m.Node(ir::OpKind::kSum, {m.Node(ir::OpKind::kMultiply, {x, w})}));
      }
      const int64_t k = static_cast<int64_t>(units.size());
      const int out = m.Node(ir::OpKind::kConcat, std::move(units));
      return m.Finish(fmt::format("dense_units_{}", nodes), out, {k}, reverse);
    }
    case BigShape::kTinyChain: {
      // W = [[1, 0], [0, -1]]: every other layer flips the second column.
      int h = m.Input({2});
      for (int64_t i = 0; i < nodes / 2; ++i) {
        const int w = m.Constant({2, 2}, {1, 0, 0, -1});
        h = m.Node(ir::OpKind::kSum, {m.Node(ir::OpKind::kMultiply, {h, w})});
      }
      return m.Finish(fmt::format("tiny_chain_{}", nodes), h, {2}, reverse);
    }
  }
  return {};
}

}  // namespace rowflow::testing
