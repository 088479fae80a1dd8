// How trace groups a graph's values into lines (graph/trace_lines.h).
#include "graph/trace_lines.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/builder.h"

namespace rowflow {
namespace {

using ir::Activation;

// "name<in,out>" per line, value names for the ids.
std::string Describe(const ir::Graph& g) {
  std::string out;
  for (const ir::TraceLine& line : ir::TraceLines(g)) {
    out += line.name + "<" +
           (line.input >= 0 ? g.values[line.input].name : "-") + "," +
           g.values[line.output].name + "> ";
  }
  return out;
}

ir::Graph Seed(DenseForm form) {
  GraphBuilder b("seed");
  ValueRef x = b.Input("x", {2});
  ValueRef h = b.Dense(x, "h", 2, {1, 2, 3, -4}, {1, 2},
                       {Activation::kRelu, 0.01, form});
  b.Output(
      b.Dense(h, "out", 1, {2, 3}, {}, {Activation::kIdentity, 0.01, form}));
  return b.Build();
}

TEST(TraceLinesTest, PerNodeUnitsPrintAsInputAndOutput) {
  EXPECT_EQ(Describe(Seed(DenseForm::kPerNode)),
            "h_0<h_0_input,h_0> h_1<h_1_input,h_1> h<-,h> "
            "out_0<out_0_input,out_0_input> ");
}

TEST(TraceLinesTest, ALayerPrintsItsPreActivationAndActivation) {
  // The last layer is the output, printed by trace after the lines.
  EXPECT_EQ(Describe(Seed(DenseForm::kLayer)), "h<h/bias,h> ");
}

TEST(TraceLinesTest, AProductThatIsNotAContractionHasItsOwnLine) {
  GraphBuilder b("axis0");
  ValueRef x = b.Input("x", {2});
  ValueRef w = b.Constant("w", {3, 2}, {1, 2, 3, 4, 5, 6});
  ValueRef cols = b.Sum(b.Multiply(x, w, "p"), 0, "cols");
  b.Output(b.Activation(cols, Activation::kTanh, 0.01, "t"));
  EXPECT_EQ(Describe(b.Build()), "p<-,p> t<cols,t> ");
}

}  // namespace
}  // namespace rowflow
