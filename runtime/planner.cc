#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>

#include "graph/error.h"
#include "ops/tiny_mlp.h"
#include "runtime/plan.h"
#include "runtime/plan_buffers.h"
#include "runtime/plan_match.h"
#include "runtime/stage_kernels.h"

namespace rowflow {

using plan_internal::DenseLayer;
using plan_internal::Group;

const char* StageKindName(StageKind kind) {
  switch (kind) {
    case StageKind::kTinyMlp:
      return "tiny_mlp";
    case StageKind::kDense:
      return "dense";
    case StageKind::kElementwise:
      return "elementwise";
    case StageKind::kGeneric:
      return "generic";
    case StageKind::kSplit:
      return "split_inputs";
    case StageKind::kGather:
      return "gather_outputs";
  }
  return "?";
}

template <typename T>
int64_t Plan<T>::IntermediateBytesPerRow() const {
  int64_t bytes = 0;
  for (size_t b = 2; b < buffer_widths.size(); ++b)
    bytes += buffer_widths[b] * sizeof(T);
  return bytes;
}

namespace {

std::string LayerLabel(const DenseLayer& l) {
  const bool identity = l.activation == ir::Activation::kIdentity;
  return fmt::format(
      "{}->{}{}{}{}{}", l.width, l.units, identity ? "" : " ",
      identity ? "" : ir::ActivationName(l.activation),
      l.bias.empty() ? "" : " +bias",
      l.folded == 0 ? "" : fmt::format(" +folded affine x{}", l.folded));
}

// What one stage reads and writes, before buffers are assigned.
struct StageSketch {
  StageInfo info;
  const Group* group = nullptr;  // null for split / gather
  std::vector<int> reads;        // per-row value ids
  std::vector<int> writes;       // value ids
};

std::vector<StageSketch> Sketch(const ir::Graph& g,
                                const std::vector<Group>& groups,
                                bool* direct_output) {
  std::vector<StageSketch> stages;
  if (g.inputs.size() > 1) {
    StageSketch split;
    split.info = {StageKind::kSplit, "split inputs", {}, {}, 0};
    split.writes = g.inputs;
    stages.push_back(split);
  }
  for (const Group& group : groups) {
    StageSketch s;
    s.group = &group;
    s.info.kind = group.kind;
    s.info.nodes = group.nodes;
    s.writes = {group.output};
    const ir::Node& last = g.nodes[g.values[group.output].index];
    switch (group.kind) {
      case StageKind::kDense:
      case StageKind::kTinyMlp: {
        std::vector<std::string> layers;
        for (const DenseLayer& l : group.layers) {
          layers.push_back(LayerLabel(l));
          s.info.flops_per_row += 2 * l.units * l.width;
        }
        s.info.label = fmt::format("{} {}", StageKindName(group.kind),
                                   fmt::join(layers, ", "));
        s.reads = {group.input};
        break;
      }
      case StageKind::kElementwise:
        s.info.label = fmt::format("elementwise x{}", group.steps.size());
        s.info.flops_per_row = static_cast<int64_t>(group.steps.size()) *
                               ir::NumElements(g.values[group.output].shape);
        s.reads = {group.input};
        break;
      default:
        s.info.label = fmt::format("{} '{}'", ir::OpName(last.op), last.name);
        for (int v : last.inputs) {
          if (g.values[v].kind != ir::ValueKind::kConstant)
            s.reads.push_back(v);
          s.info.flops_per_row += ir::NumElements(g.values[v].shape);
        }
        break;
    }
    stages.push_back(std::move(s));
  }
  // The sole output goes straight into the output tile when its stage is
  // the only writer and nothing else reads it; otherwise a gather copies.
  *direct_output = false;
  if (g.outputs.size() == 1 &&
      g.values[g.outputs[0]].kind == ir::ValueKind::kNode) {
    int readers = 0;
    for (const StageSketch& s : stages) {
      readers += static_cast<int>(
          std::count(s.reads.begin(), s.reads.end(), g.outputs[0]));
    }
    *direct_output = readers == 0;
  }
  if (!*direct_output) {
    StageSketch gather;
    gather.info = {StageKind::kGather, "gather outputs", {}, {}, 0};
    for (int v : g.outputs) {
      if (g.values[v].kind != ir::ValueKind::kConstant)
        gather.reads.push_back(v);
    }
    stages.push_back(gather);
  }
  return stages;
}

}  // namespace

template <typename T>
Plan<T> BuildPlan(const ir::Graph& g, const PlanOptions& options) {
  if ((g.dtype == ir::DType::kF32) != (sizeof(T) == 4)) {
    throw MakeError(ErrorKind::kUsage,
                    "graph '{}' is {}; plan requested for f{}", g.name,
                    ir::DTypeName(g.dtype), sizeof(T) * 8);
  }
  const std::vector<Group> groups = plan_internal::MatchGroups(g, options);
  bool direct_output = false;
  std::vector<StageSketch> stages = Sketch(g, groups, &direct_output);
  const int n_stages = static_cast<int>(stages.size());

  // Dependencies: the stages whose outputs a stage reads, each once.
  std::vector<int> writer(g.values.size(), -1);
  for (int s = 0; s < n_stages; ++s) {
    for (int v : stages[s].writes) writer[v] = s;
  }
  std::vector<int> listed(n_stages, -1);  // listed[d] == s: d in s's deps
  for (int s = 0; s < n_stages; ++s) {
    for (int v : stages[s].reads) {
      const int d = writer[v];
      if (d < 0 || d == s || listed[d] == s) continue;
      RF_CHECK(d < s);
      listed[d] = s;
      stages[s].info.deps.push_back(d);
    }
  }

  Plan<T> plan;
  plan.input_width = g.InputWidth();
  plan.output_width = g.OutputWidth();
  plan.buffer_widths = {plan.input_width, plan.output_width};
  std::vector<TileLoc> loc(g.values.size());
  std::vector<int> buffer_of_value(g.values.size(), -1);
  std::vector<int64_t> value_width(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    value_width[v] = ir::NumElements(g.values[v].shape);
  if (g.inputs.size() == 1) {
    loc[g.inputs[0]] = {kInputBuffer, 0, plan.input_width};
    buffer_of_value[g.inputs[0]] = kInputBuffer;
  }
  if (direct_output) {
    loc[g.outputs[0]] = {kOutputBuffer, 0, plan.output_width};
    buffer_of_value[g.outputs[0]] = kOutputBuffer;
  }
  {
    std::vector<plan_internal::StageAccess> access;
    access.reserve(n_stages);
    for (const StageSketch& s : stages)
      access.push_back({s.reads, s.writes, s.info.deps});
    plan_internal::AssignBuffers(access, value_width, buffer_of_value,
                                 plan.buffer_widths);
  }
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (loc[v].buffer < 0 && buffer_of_value[v] >= 0)
      loc[v] = {buffer_of_value[v], 0, value_width[v]};
  }

  // Each constant is converted once, however many stages read it: a
  // small graph could otherwise make a copy per reading node.
  std::vector<std::shared_ptr<const std::vector<T>>> constants(
      g.constants.size());
  auto constant = [&](int v) {
    auto& c = constants[g.values[v].index];
    if (c == nullptr) {
      const ir::Tensor& t = g.constants[g.values[v].index];
      c = std::make_shared<const std::vector<T>>(t.data.begin(), t.data.end());
    }
    return c;
  };
  for (StageSketch& s : stages) {
    std::unique_ptr<StageKernel<T>> kernel;
    const Group* group = s.group;
    switch (s.info.kind) {
      case StageKind::kDense:
        kernel = std::make_unique<plan_internal::DenseStage<T>>(
            group->layers[0], loc[group->input], loc[group->output]);
        break;
      case StageKind::kTinyMlp:
        RF_CHECK(ops::TinyMlp<T>::Supports(
            plan_internal::TinyStage<T>::ToTiny(group->layers)));
        kernel = std::make_unique<plan_internal::TinyStage<T>>(
            group->layers, loc[group->input], loc[group->output]);
        break;
      case StageKind::kElementwise:
        kernel = std::make_unique<plan_internal::ElementwiseStage<T>>(
            group->steps, ir::NumElements(g.values[group->output].shape),
            loc[group->input], loc[group->output]);
        break;
      case StageKind::kGeneric: {
        const ir::Node& node = g.nodes[group->nodes[0]];
        std::vector<typename plan_internal::GenericStage<T>::Arg> args;
        for (int v : node.inputs) {
          const bool is_const = g.values[v].kind == ir::ValueKind::kConstant;
          args.push_back({is_const ? TileLoc{} : loc[v],
                          is_const ? constant(v) : nullptr,
                          &g.values[v].shape});
        }
        kernel = std::make_unique<plan_internal::GenericStage<T>>(
            node, std::move(args), g.values[node.output].shape,
            loc[node.output]);
        break;
      }
      case StageKind::kSplit:
      case StageKind::kGather: {
        const bool split = s.info.kind == StageKind::kSplit;
        std::vector<typename plan_internal::CopyStage<T>::Copy> copies;
        int64_t column = 0;
        for (int v : split ? g.inputs : g.outputs) {
          const int64_t width = ir::NumElements(g.values[v].shape);
          const bool is_const = g.values[v].kind == ir::ValueKind::kConstant;
          if (split) {
            copies.push_back(
                {{kInputBuffer, column, plan.input_width}, {}, loc[v], width});
          } else {
            copies.push_back({is_const ? TileLoc{} : loc[v],
                              is_const ? constant(v) : nullptr,
                              {kOutputBuffer, column, plan.output_width},
                              width});
          }
          column += width;
        }
        kernel =
            std::make_unique<plan_internal::CopyStage<T>>(std::move(copies));
        break;
      }
    }
    plan.flops_per_row += s.info.flops_per_row;
    plan.stages.push_back(std::move(s.info));
    plan.kernels.push_back(std::move(kernel));
  }
  plan.all_tiny = !plan.stages.empty() &&
                  std::all_of(plan.stages.begin(), plan.stages.end(),
                              [](const StageInfo& i) {
                                return i.kind == StageKind::kTinyMlp;
                              });
  return plan;
}

std::vector<StageInfo> DescribePlan(const ir::Graph& graph,
                                    const PlanOptions& options) {
  if (graph.dtype == ir::DType::kF32)
    return BuildPlan<float>(graph, options).stages;
  return BuildPlan<double>(graph, options).stages;
}

template struct Plan<float>;
template struct Plan<double>;
template Plan<float> BuildPlan(const ir::Graph&, const PlanOptions&);
template Plan<double> BuildPlan(const ir::Graph&, const PlanOptions&);

}  // namespace rowflow
