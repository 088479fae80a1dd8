// The seed notebook's networks (shared/seed/000_c2f955fe0cf8ca9e.txt), built
// through the C++ API, for the tests of every layer.
#ifndef ROWFLOW_TESTS_SEED_NETWORKS_H_
#define ROWFLOW_TESTS_SEED_NETWORKS_H_

#include <string>
#include <vector>

#include "graph/builder.h"
#include "graph/ir.h"

namespace rowflow::testing {

// One dense layer of a seed network: weights (units, width) row-major.
struct SeedLayer {
  int64_t units;
  std::vector<double> weights;
  ir::Activation activation;
  std::vector<double> bias = {};
};

// The seed's per-node code, line for line: node values are
// (input * weights).sum(), optionally an activation; CONCAT makes the
// hidden layer; the output node is (hidden * weights['output']).sum().
// The graph's outputs are the hidden layer then the output.
inline ir::Graph SeedTwoNodeNetwork(const std::string& name, ir::DType dtype,
                                    std::vector<double> node_0,
                                    std::vector<double> node_1,
                                    std::vector<double> output,
                                    ir::Activation act) {
  GraphBuilder b(name, dtype);
  ValueRef x = b.Input("input_data", {2});
  auto unit = [&](const std::string& n, std::vector<double> w) {
    ValueRef v = b.Sum(b.Multiply(x, b.Constant(n + "/w", {2}, std::move(w))),
                       -1, n + "_input");
    return act == ir::Activation::kIdentity
               ? v
               : b.Activation(v, act, 0.01, n + "_output");
  };
  ValueRef hidden = b.Concat({unit("node_0", node_0), unit("node_1", node_1)},
                             -1, "hidden_layer_values");
  ValueRef out =
      b.Sum(b.Multiply(hidden, b.Constant("output/w", {2}, std::move(output))),
            -1, "output");
  b.Output(hidden);
  b.Output(out);
  return b.Build();
}

// A chain of dense layers over an input of `width`, in either form.
inline ir::Graph SeedMlp(const std::string& name, ir::DType dtype,
                         int64_t width, const std::vector<SeedLayer>& layers,
                         DenseForm form) {
  GraphBuilder b(name, dtype);
  ValueRef v = b.Input("x", {width});
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool last = i + 1 == layers.size();
    DenseOptions options;
    options.activation = layers[i].activation;
    options.form = form;
    v = b.Dense(v, last ? "output" : "node_" + std::to_string(i),
                layers[i].units, layers[i].weights, layers[i].bias, options);
  }
  b.Output(v);
  return b.Build();
}

// Section 4.5: 2 -> 2 relu -> 2 relu -> 1; [3, 5] gives 182.
inline ir::Graph SeedDeepNetwork(ir::DType dtype = ir::DType::kF32,
                                 DenseForm form = DenseForm::kPerNode) {
  return SeedMlp("seed_4_5", dtype, 2,
                 {{2, {2, 4, 4, -5}, ir::Activation::kRelu},
                  {2, {-1, 2, 1, 2}, ir::Activation::kRelu},
                  {1, {2, 7}, ir::Activation::kIdentity}},
                 form);
}

// Section 3.4 with the output relu of predict_with_network: four rows give
// [52, 63, 0, 148].
inline ir::Graph SeedReluNetwork(
    ir::DType dtype = ir::DType::kF32, DenseForm form = DenseForm::kPerNode,
    ir::Activation output_act = ir::Activation::kRelu) {
  return SeedMlp(
      "seed_3_4", dtype, 2,
      {{2, {2, 4, 4, -5}, ir::Activation::kRelu}, {1, {2, 7}, output_act}},
      form);
}

}  // namespace rowflow::testing

#endif  // ROWFLOW_TESTS_SEED_NETWORKS_H_
