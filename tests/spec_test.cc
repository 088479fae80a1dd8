// Layer specs to graphs: names, weight sources, and every refusal with its
// message (RELIABILITY classes 15 and 16 among them).
#include "graph/spec.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "tests/spec_test_util.h"

namespace rowflow {
namespace {

using ::rowflow::testing::ErrorMessage;
using ::rowflow::testing::NpyFile;
using ::rowflow::testing::RawBytes;
using ::rowflow::testing::ScratchDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// The seed's 2 -> 2 relu -> 1 network with `layer0` as the first layer's
// body after "units: 2 activation: RELU".
std::string TwoLayers(const std::string& layer0) {
  return "input { width: 2 }\n"
         "layer { units: 2 activation: RELU " +
         layer0 +
         " }\n"
         "layer { units: 1 weights { values: [2, 7] } }\n";
}

ir::Graph Build(const std::string& text,
                std::map<std::string, std::string> files = {},
                DenseForm form = DenseForm::kLayer,
                const ValidateOptions& options = {}) {
  return BuildGraphFromSpecText(
      text, "spec.pbtxt", MemoryWeightReader(std::move(files)), form, options);
}

std::string BuildError(const std::string& text,
                       std::map<std::string, std::string> files = {},
                       DenseForm form = DenseForm::kLayer) {
  return ErrorMessage([&] { Build(text, files, form); });
}

// The data of the constant named `name`.
std::vector<double> ConstantData(const ir::Graph& g, const std::string& name) {
  const int id = g.FindValue(name);
  EXPECT_GE(id, 0) << name;
  if (id < 0) return {};
  return g.constants[g.values[id].index].data;
}

TEST(SpecTest, LayerFormNamesLayersAfterTheSeed) {
  ir::Graph g = Build(TwoLayers("weights { values: [2, 4, 4, -5] }"));
  EXPECT_EQ(g.name, "spec");
  EXPECT_EQ(g.dtype, ir::DType::kF32);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].name, "x");
  EXPECT_EQ(g.values[g.inputs[0]].shape, (ir::Shape{2}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.values[g.outputs[0]].name, "output");
  EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5));
  EXPECT_THAT(ConstantData(g, "output/w"), ElementsAre(2, 7));
}

TEST(SpecTest, PerNodeFormNamesUnitsAsTheSeed) {
  ir::Graph g = Build(
      "input { width: 2 }\n"
      "layer { units: 2 activation: RELU weights { values: [2, 4, 4, -5] } }\n"
      "layer { units: 2 activation: RELU weights { values: [-1, 2, 1, 2] } }\n"
      "layer { units: 1 weights { values: [2, 7] } }\n",
      {}, DenseForm::kPerNode);
  for (const char* name : {"node_0_0", "node_0_1", "node_1_0", "node_1_1",
                           "output_0_input", "output"}) {
    EXPECT_GE(g.FindNode(name), 0) << name;
  }
  EXPECT_THAT(ConstantData(g, "node_1_1/w"), ElementsAre(1, 2));
  EXPECT_EQ(g.values[g.outputs[0]].name, "output");
}

TEST(SpecTest, NamesComeFromTheSpecWhenGiven) {
  ir::Graph g = Build(
      "name: \"net\" dtype: F64 input { name: \"in\" width: 1 }\n"
      "layer { name: \"h\" units: 1 activation: LEAKY_RELU alpha: 0.5\n"
      "        weights { values: [3] } bias { values: [1] } }\n"
      "output { name: \"y\" }\n");
  EXPECT_EQ(g.name, "net");
  EXPECT_EQ(g.dtype, ir::DType::kF64);
  EXPECT_EQ(g.values[g.inputs[0]].name, "in");
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");
  EXPECT_GE(g.FindNode("y"), 0);
  EXPECT_LT(g.FindNode("h"), 0);  // renamed to the output's name
  EXPECT_THAT(ConstantData(g, "h/b"), ElementsAre(1));
  const ir::Node& act = g.nodes[g.FindNode("y")];
  EXPECT_EQ(act.activation, ir::Activation::kLeakyRelu);
  EXPECT_EQ(act.alpha, 0.5);
}

// A 2 -> 3 layer with `fields` ("activation: ELU alpha: 2") and a 3 -> 1
// one.
std::string ActivationSpec(const std::string& fields) {
  return "input { width: 2 }\n"
         "layer { units: 3 " +
         fields +
         " weights { values: [1, 2, 3, 4, 5, 6] } }\n"
         "layer { units: 1 weights { values: [1, 1, 1] } }\n";
}

// The one ACTIVATION node of the first layer.
ir::Node FirstActivation(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes) {
    if (n.op == ir::OpKind::kActivation) return n;
  }
  ADD_FAILURE() << "no activation";
  return {};
}

TEST(SpecTest, EveryActivationParsesWithItsParametersOrTheirDefaults) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    if (row.act == ir::Activation::kIdentity) continue;  // no node
    SCOPED_TRACE(std::string(row.name));
    std::string params;
    if (row.alpha) params += " alpha: 0.75";
    if (row.beta) params += " beta: 1.25";  // CLIP: alpha <= beta
    for (DenseForm form : {DenseForm::kLayer, DenseForm::kPerNode}) {
      const ir::Node plain = FirstActivation(Build(
          ActivationSpec(fmt::format("activation: {}", row.name)), {}, form));
      EXPECT_EQ(plain.activation, row.act);
      if (row.alpha) {
        EXPECT_EQ(plain.alpha, *row.alpha);
      }
      if (row.beta) {
        EXPECT_EQ(plain.beta, *row.beta);
      }
      const ir::Node given = FirstActivation(Build(
          ActivationSpec(fmt::format("activation: {}{}", row.name, params)), {},
          form));
      EXPECT_EQ(given.activation, row.act);
      if (row.alpha) {
        EXPECT_EQ(given.alpha, 0.75);
      }
      if (row.beta) {
        EXPECT_EQ(given.beta, 1.25);
      }
    }
  }
}

TEST(SpecTest, RefusesParametersAnActivationDoesNotTakeOrNonFinite) {
  for (const ir::ActivationInfo& row : ir::AllActivations()) {
    for (ir::ActivationParam param : ir::kActivationParams) {
      const std::string_view name = ir::ParamName(param);
      const std::string head = fmt::format("activation: {} ", row.name);
      // Column of the parameter: after "layer { units: 3 " and `head`.
      const size_t column = 18 + head.size();
      if (!row.Default(param)) {
        EXPECT_EQ(
            BuildError(ActivationSpec(head + std::string(name) + ": 1")),
            fmt::format("spec.pbtxt:2:{}: layer 1 ('node_0'): {}: "
                        "applies to {} only; activation is {}",
                        column, name, ir::ActivationsTaking(param), row.name));
        continue;
      }
      for (const char* bad : {"nan", "-inf", "inf"}) {
        const std::string spec =
            ActivationSpec(head + fmt::format("{}: {}", name, bad));
        if (row.rule == ir::ParamRule::kFinite) {
          EXPECT_EQ(BuildError(spec),
                    fmt::format("spec.pbtxt:2:{}: layer 1 ('node_0'): {}: "
                                "expected a finite number, got {}",
                                column, name, bad));
        } else if (row.rule == ir::ParamRule::kNonNegative) {
          EXPECT_EQ(BuildError(spec),
                    fmt::format("spec.pbtxt:2:{}: layer 1 ('node_0'): {}: {} "
                                "{} must be finite and >= 0, got {}",
                                column, name, row.name, name, bad));
        } else if (std::string_view(bad) == "nan") {  // CLIP: +-inf is none
          EXPECT_EQ(BuildError(spec),
                    fmt::format("spec.pbtxt:2:{}: layer 1 ('node_0'): {}: {} "
                                "{} must be a number or +-inf, got nan",
                                column, name, row.name, name));
        }
      }
    }
  }
  const size_t next = ir::AllActivations().size();  // first past the table
  EXPECT_EQ(BuildError(ActivationSpec(fmt::format("activation: {}", next))),
            fmt::format("spec.pbtxt:2:18: layer 1 ('node_0'): activation: "
                        "unknown value {}; expected one of {}",
                        next, ir::ActivationNameList()));
}

TEST(SpecTest, LayerNameClashingWithAMadeNameNamesTheLayer) {
  // Layer "a" makes the constant "a/w"; a later layer of that name, or an
  // input of it, clashes in both forms, and the error names that layer's
  // name field.
  const std::string after =
      "input { width: 2 }\n"
      "layer { name: \"a\" units: 2 weights { values: [1, 2, 3, 4] } }\n"
      "layer { name: \"a/w\" units: 1 weights { values: [1, 1] } }\n";
  EXPECT_THAT(
      BuildError(after),
      MatchesRegex("spec.pbtxt:3:9: layer 2 \\('a/w'\\): name: a name "
                   "this layer makes clashes: name 'a/w' is already "
                   "taken by a constant of the graph; expected a new name"));
  const std::string input =
      "input { name: \"x/w\" width: 2 }\n"
      "layer { name: \"x\" units: 1 weights { values: [1, 1] } }\n";
  EXPECT_THAT(
      BuildError(input),
      HasSubstr("spec.pbtxt:2:9: layer 1 ('x'): name: a name this layer "
                "makes clashes: name 'x/w' is already taken by an input"));
  // In the per-node form, unit 0 of layer "a" is "a_0".
  const std::string per_node =
      "input { width: 2 }\n"
      "layer { name: \"a\" units: 2 activation: RELU weights { values: [1, 2, "
      "3, 4] } }\n"
      "layer { name: \"a_0\" units: 1 weights { values: [1, 1] } }\n";
  EXPECT_THAT(
      BuildError(per_node, {}, DenseForm::kPerNode),
      HasSubstr("layer 2 ('a_0'): name: a name this layer makes clashes: "
                "name 'a_0' is already taken by a node"));
  EXPECT_NO_THROW(Build(per_node));  // the layer form makes no "a_0"
}

TEST(SpecTest, NamesWithControlCharactersOrBadUtf8NameTheirField) {
  EXPECT_EQ(
      BuildError(
          "input { width: 2 }\n"
          "layer { name: \"a\\tb\" units: 1 weights { values: [1, 1] } }\n"),
      "spec.pbtxt:2:9: layer 1 ('a\\x09b'): name: not valid UTF-8 or has "
      "control characters; expected printable text");
  EXPECT_EQ(BuildError("input { name: \"x\\001\" width: 2 }\n"
                       "layer { units: 1 weights { values: [1, 1] } }\n"),
            "spec.pbtxt:1:9: input: name: not valid UTF-8 or has control "
            "characters; expected printable text");
  EXPECT_EQ(BuildError("name: \"net\\377\"\ninput { width: 2 }\n"
                       "layer { units: 1 weights { values: [1, 1] } }\n"),
            "spec.pbtxt:1:1: name: not valid UTF-8 or has control characters; "
            "expected printable text");
}

TEST(SpecTest, UnknownFieldIsAParseErrorWithLineAndColumn) {  // class 16
  EXPECT_EQ(BuildError("input { widht: 2 }\n"),
            "spec.pbtxt:1:14: Message type \"rowflow.InputSpec\" has no field "
            "named \"widht\".");
  EXPECT_THAT(
      BuildError("input { width: 2 }\nlayer {\n  units: 1\n  weigths { values: "
                 "[1, 2] }\n}\n"),
      MatchesRegex("spec\\.pbtxt:4:11: .*no field named \"weigths\".*"));
  EXPECT_THAT(
      BuildError("input { width: 2 }\nlayer { units: 1 activation: RELUU }"),
      MatchesRegex("spec\\.pbtxt:2:36: .*RELUU.*"));
  EXPECT_THAT(BuildError("input { width: 2 } input { width: 3 }"),
              MatchesRegex("spec\\.pbtxt:1:.*input.*"));
  EXPECT_THAT(BuildError("input { width: \"2\" }"),
              MatchesRegex("spec\\.pbtxt:1:16: .*"));
}

TEST(SpecTest, RefusesMissingOrZeroShapes) {
  EXPECT_EQ(BuildError("layer { units: 1 weights { values: [1] } }"),
            "spec.pbtxt: input: missing; expected input { width: N }");
  EXPECT_EQ(
      BuildError(
          "input { width: 0 }\nlayer { units: 1 weights { values: [1] } }"),
      "spec.pbtxt:1:9: input: width: expected at least 1, got 0");
  EXPECT_EQ(BuildError("input { width: 2 }"),
            "spec.pbtxt: expected at least one layer { ... }, got none");
  EXPECT_EQ(
      BuildError("input { width: 2 }\nlayer { weights { values: [1] } }"),
      "spec.pbtxt:2:1: layer 1 ('output'): units: expected at least 1, got 0");
  EXPECT_EQ(
      BuildError(
          "input { width: 2 }\nlayer { units: -3 weights { values: [1] } }"),
      "spec.pbtxt:2:9: layer 1 ('output'): units: expected at least 1, got -3");
}

TEST(SpecTest, RefusesZeroOrSeveralWeightSources) {
  EXPECT_EQ(
      BuildError(TwoLayers("weights { values: [1, 2, 3, 4] npy: \"w.npy\" }")),
      "spec.pbtxt:2:35: layer 1 ('node_0'): weights: expected exactly one "
      "of values, npy, csv, init; got 2");
  EXPECT_EQ(BuildError(TwoLayers("")),
            "spec.pbtxt:2:1: layer 1 ('node_0'): weights: expected exactly one "
            "of values, npy, csv, init; got 0");
  EXPECT_THAT(
      BuildError(TwoLayers("weights { values: [1, 2, 3, 4] } bias { }")),
      HasSubstr("layer 1 ('node_0'): bias: expected exactly one of values, "
                "npy, csv, init; got 0"));
}

TEST(SpecTest, RefusesInlineValuesOfTheWrongCount) {
  EXPECT_EQ(BuildError(TwoLayers("weights { values: [1, 2, 3] }")),
            "spec.pbtxt:2:45: layer 1 ('node_0'): weights: values: expected "
            "(2, 2) = 4 values, got 3");
  EXPECT_THAT(
      BuildError(TwoLayers(
          "weights { values: [1, 2, 3, 4] } bias { values: [1, 2, 3] }")),
      HasSubstr(
          "layer 1 ('node_0'): bias: values: expected (2,) = 2 values, got 3"));
}

TEST(SpecTest, RefusesBadLayerFields) {
  EXPECT_THAT(
      BuildError(TwoLayers("alpha: 0.2 weights { values: [1, 2, 3, 4] }")),
      HasSubstr("layer 1 ('node_0'): alpha: applies to " +
                ir::ActivationsTaking(ir::ActivationParam::kAlpha) +
                " only; activation is RELU"));
  EXPECT_THAT(
      BuildError(TwoLayers("activation: 99 weights { values: [1, 2, 3, 4] }")),
      MatchesRegex("spec\\.pbtxt:2:.*"));
  EXPECT_EQ(
      BuildError("input { width: 1 }\n"
                 "layer { name: \"a\" units: 1 weights { values: [1] } }\n"
                 "layer { name: \"a\" units: 1 weights { values: [1] } }\n"),
      "spec.pbtxt:3:9: layer 2 ('a'): name: already used by layer 1");
  EXPECT_THAT(BuildError("input { width: 1 }\n"
                         "layer { units: 1 activation: LEAKY_RELU alpha: -nan "
                         "weights { values: [1] } }\n"),
              HasSubstr("alpha: expected a finite number, got nan"));
  EXPECT_THAT(
      BuildError("input { width: 1 }\n"
                 "layer { name: \"x\" units: 1 weights { values: [1] } }\n"),
      HasSubstr("layer 1 ('x'): name: same as the input's"));
  EXPECT_THAT(BuildError("input { width: 1 }\n"
                         "layer { units: 1 weights { values: [1] } }\n"
                         "output { name: \"x\" }\n"),
              HasSubstr("spec.pbtxt:3:10: output: name 'x' is already a name"));
}

TEST(SpecTest, RefusesWeightsOverTheMemoryBudgetBeforeAllocating) {
  EXPECT_THAT(BuildError("input { width: 4611686018427387904 }\n"
                         "layer { units: 4 weights { init { kind: ZEROS } } }"),
              HasSubstr("layer 1 ('output'): units: 4 units over "
                        "4611686018427387904 inputs make the weights exceed"));
  ValidateOptions small;
  small.memory_budget_bytes = 1000;
  EXPECT_THAT(ErrorMessage([&] {
                Build(
                    "input { width: 100 }\n"
                    "layer { units: 3 weights { init { kind: ZEROS } } }",
                    {}, DenseForm::kLayer, small);
              }),
              HasSubstr("memory budget of 1000 bytes"));
  EXPECT_THAT(
      BuildError("input { width: 1 }\n"
                 "layer { units: 70000 weights { init { kind: ZEROS } } }",
                 {}, DenseForm::kPerNode),
      HasSubstr(
          "units: 70000 units in all; the per-node form takes at most 65536"));
}

TEST(SpecTest, ReadsNpyWeightsOfEitherWidthAndByteOrder) {
  const std::vector<double> w = {2, 4, 4, -5};
  for (const auto& [descr, data] :
       std::vector<std::pair<std::string, std::string>>{
           {"<f8", RawBytes<double>(w)},
           {">f8", RawBytes<double>(w, true)},
           {"<f4", RawBytes<float>(w)},
           {">f4", RawBytes<float>(w, true)}}) {
    ir::Graph g = Build(TwoLayers("weights { npy: \"w.npy\" }"),
                        {{"w.npy", NpyFile(descr, "(2, 2)", data)}});
    EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5)) << descr;
  }
  // Fortran order stores columns first: converted, not misread.
  ir::Graph g =
      Build(TwoLayers("weights { npy: \"w.npy\" } bias { npy: \"b.npy\" }"),
            {{"w.npy",
              NpyFile("<f8", "(2, 2)", RawBytes<double>({2, 4, 4, -5}), true)},
             {"b.npy", NpyFile("<f8", "(2,)", RawBytes<double>({0.5, -1}))}});
  EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5));
  EXPECT_THAT(ConstantData(g, "node_0/b"), ElementsAre(0.5, -1));
}

TEST(SpecTest, RefusesNpyOfTheWrongShapeNamingBoth) {
  EXPECT_EQ(
      BuildError(TwoLayers("weights { npy: \"w.npy\" }"),
                 {{"w.npy", NpyFile("<f8", "(3, 2)",
                                    RawBytes<double>({1, 2, 3, 4, 5, 6}))}}),
      "spec.pbtxt:2:45: layer 1 ('node_0'): weights: npy: w.npy: expected "
      "shape (2, 2), got (3, 2)");
  EXPECT_THAT(
      BuildError(
          TwoLayers("weights { npy: \"w.npy\" }"),
          {{"w.npy", NpyFile("<f8", "(4,)", RawBytes<double>({1, 2, 3, 4}))}}),
      HasSubstr("w.npy: expected shape (2, 2), got (4,)"));
  EXPECT_THAT(
      BuildError(
          TwoLayers("weights { values: [1, 2, 3, 4] } bias { npy: \"b.npy\" }"),
          {{"b.npy", NpyFile("<f8", "(1, 2)", RawBytes<double>({1, 2}))}}),
      HasSubstr("bias: npy: b.npy: expected shape (2,), got (1, 2)"));
}

TEST(SpecTest, RefusesBrokenNpyAsAModelError) {
  const std::string spec = TwoLayers("weights { npy: \"w.npy\" }");
  EXPECT_THAT(BuildError(spec, {{"w.npy", "not numpy"}}),
              HasSubstr("w.npy: not a .npy file"));
  EXPECT_THAT(
      BuildError(spec,
                 {{"w.npy", NpyFile("<i4", "(2, 2)", std::string(16, '\0'))}}),
      HasSubstr("w.npy: unsupported .npy dtype"));
  EXPECT_THAT(
      BuildError(spec,
                 {{"w.npy", NpyFile("<f8", "(2, 2)", std::string(31, '\0'))}}),
      HasSubstr(
          "w.npy: expected 32 data bytes for shape (2, 2) of f8, got 31"));
  EXPECT_THAT(
      BuildError(spec,
                 {{"w.npy", NpyFile("<f8", "(2, 2)", std::string(33, '\0'))}}),
      HasSubstr("expected 32 data bytes"));
  EXPECT_THAT(BuildError(spec, {}),
              HasSubstr("w.npy: cannot open: No such file"));
}

TEST(SpecTest, ReadsCsvWeightsAndBiasAsRowOrColumn) {
  ir::Graph g =
      Build(TwoLayers("weights { csv: \"w.csv\" } bias { csv: \"b.csv\" }"),
            {{"w.csv", "# w\r\n2, 4\r\n4,-5e0\r\n\r\n"}, {"b.csv", "1\n-1"}});
  EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5));
  EXPECT_THAT(ConstantData(g, "node_0/b"), ElementsAre(1, -1));
  g = Build(TwoLayers("weights { csv: \"w.csv\" } bias { csv: \"b.csv\" }"),
            {{"w.csv", "2,4\n4,-5\n"}, {"b.csv", "+1.5,-1\n"}});
  EXPECT_THAT(ConstantData(g, "node_0/b"), ElementsAre(1.5, -1));
}

TEST(SpecTest, ReadsCsvWeightsWithAUtf8Bom) {
  // Spreadsheets save CSV with a BOM; row CSV ignores it, so do weights.
  const std::string bom = "\xEF\xBB\xBF";
  ir::Graph g =
      Build(TwoLayers("weights { csv: \"w.csv\" } bias { csv: \"b.csv\" }"),
            {{"w.csv", bom + "2,4\r\n4,-5\r\n"}, {"b.csv", bom + "1\n-1\n"}});
  EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5));
  EXPECT_THAT(ConstantData(g, "node_0/b"), ElementsAre(1, -1));
  g = Build(TwoLayers("weights { csv: \"w.csv\" }"),
            {{"w.csv", bom + "# (units, width)\n2,4\n4,-5\n"}});
  EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5));
  // Only a leading BOM: one further in is not part of a number.
  EXPECT_THAT(BuildError(TwoLayers("weights { csv: \"w.csv\" }"),
                         {{"w.csv", "2,4\n" + bom + "4,-5\n"}}),
              HasSubstr("w.csv:2:1: not a number: '\\xef\\xbb\\xbf4'"));
}

TEST(SpecTest, RefusesCsvOfTheWrongShapeOrText) {
  const std::string spec = TwoLayers("weights { csv: \"w.csv\" }");
  EXPECT_EQ(
      BuildError(spec, {{"w.csv", "2,4\n4,-5\n1,1\n"}}),
      "spec.pbtxt:2:45: layer 1 ('node_0'): weights: csv: w.csv: expected "
      "(2, 2): 2 rows of 2 values, got 3 rows and 6 values");
  EXPECT_EQ(
      BuildError(spec, {{"w.csv", "2,4\n4,-5,6\n"}}),
      "spec.pbtxt:2:45: layer 1 ('node_0'): weights: csv: w.csv:2: expected "
      "2 values in each row ((2, 2): 2 rows of 2 values), got 3");
  EXPECT_THAT(BuildError(spec, {{"w.csv", "2,4\n4, x5\n"}}),
              HasSubstr("w.csv:2:4: not a number: 'x5'"));
  EXPECT_THAT(BuildError(spec, {{"w.csv", "2,4\n4,,\n"}}),
              HasSubstr("w.csv:2:3: empty field; expected a number"));
  EXPECT_THAT(BuildError(spec, {{"w.csv", "2,4\n4,1e999\n"}}),
              HasSubstr("w.csv:2:3: number out of range: '1e999'"));
  EXPECT_THAT(
      BuildError(
          TwoLayers("weights { values: [1, 2, 3, 4] } bias { csv: \"b.csv\" }"),
          {{"b.csv", "1,2\n3,4\n"}}),
      HasSubstr("b.csv: expected one row or one column of 2 values, got 2 rows "
                "and 4 values"));
  EXPECT_THAT(BuildError(spec, {{"w.csv", std::string(5000, ' ')}}),
              HasSubstr("w.csv: file is 5000 bytes; expected at most 4352"));
}

TEST(SpecTest, RefusesPathsOutsideTheSpecFolder) {  // class 15
  EXPECT_EQ(
      BuildError(TwoLayers("weights { npy: \"../w.npy\" }")),
      "spec.pbtxt:2:45: layer 1 ('node_0'): weights: npy: ../w.npy: path has "
      "a '..' component; expected a path inside the spec's folder");
  EXPECT_THAT(BuildError(TwoLayers("weights { csv: \"a/../../w.csv\" }")),
              HasSubstr("a/../../w.csv: path has a '..' component"));
  EXPECT_THAT(BuildError(TwoLayers("weights { csv: \"a/..\" }")),
              HasSubstr("path has a '..' component"));
  EXPECT_EQ(BuildError(TwoLayers("weights { csv: \"/etc/passwd\" }")),
            "spec.pbtxt:2:45: layer 1 ('node_0'): weights: csv: /etc/passwd: "
            "absolute "
            "path; expected a path relative to the spec's folder");
  EXPECT_THAT(BuildError(TwoLayers("weights { csv: \"w\\000.csv\" }")),
              HasSubstr("w\\x00.csv: path contains a NUL byte"));
}

TEST(SpecTest, RefusesSymlinksLeavingTheSpecFolder) {  // class 15
  ScratchDir dir;
  const std::string outside = dir.Write("outside/w.csv", "2,4\n4,-5\n");
  dir.Write("spec/inner/w.csv", "2,4\n4,-5\n");
  const std::string spec_dir = dir.path() + "/spec";
  ASSERT_EQ(::symlink(outside.c_str(), (spec_dir + "/escape.csv").c_str()), 0);
  ASSERT_EQ(::symlink("../outside", (spec_dir + "/up").c_str()), 0);
  ASSERT_EQ(::symlink("inner/w.csv", (spec_dir + "/inside.csv").c_str()), 0);
  auto build = [&](const std::string& path) {
    return BuildGraphFromSpecText(
        TwoLayers("weights { csv: \"" + path + "\" }"), "spec.pbtxt", spec_dir,
        DenseForm::kLayer);
  };
  EXPECT_THAT(ErrorMessage([&] { build("escape.csv"); }),
              MatchesRegex(
                  "spec\\.pbtxt:2:45: layer 1 \\('node_0'\\): weights: csv: "
                  "escape\\.csv: resolves to '.*/outside/w\\.csv', outside the "
                  "spec's folder '.*/spec'; expected a file inside it"));
  EXPECT_THAT(ErrorMessage([&] { build("up/w.csv"); }),
              HasSubstr("outside the spec's folder"));
  EXPECT_THAT(ErrorMessage([&] { build("inner"); }),
              HasSubstr("inner: is a directory"));
  // A symlink that stays inside is followed.
  EXPECT_THAT(ConstantData(build("inside.csv"), "node_0/w"),
              ElementsAre(2, 4, 4, -5));
  EXPECT_THAT(ConstantData(build("inner/w.csv"), "node_0/w"),
              ElementsAre(2, 4, 4, -5));
}

TEST(SpecTest, ReadsTheSpecFileAndWeightsRelativeToIt) {
  ScratchDir dir;
  dir.Write("m/w.csv", "2,4\n4,-5\n");
  const std::string spec =
      dir.Write("m/net.pbtxt", TwoLayers("weights { csv: \"w.csv\" }"));
  ir::Graph g = BuildGraphFromSpec(spec, DenseForm::kLayer);
  EXPECT_EQ(g.name, "net");
  EXPECT_THAT(ConstantData(g, "node_0/w"), ElementsAre(2, 4, 4, -5));
  EXPECT_THAT(ErrorMessage([&] {
                BuildGraphFromSpec(dir.path() + "/nope.pbtxt",
                                   DenseForm::kLayer);
              }),
              HasSubstr("nope.pbtxt: cannot open: No such file or directory"));
  EXPECT_THAT(
      ErrorMessage([&] { BuildGraphFromSpec(dir.path(), DenseForm::kLayer); }),
      HasSubstr(": is a directory"));
}

}  // namespace
}  // namespace rowflow
