#include "graph/spec.h"

#include <fmt/format.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/npy_format.h"
#include "graph/proto_convert.h"
#include "graph/serialize.h"
#include "graph/text.h"
#include "graph/validate_structure.h"
#include "graph/weight_init.h"
#include "proto/rowflow.pb.h"

namespace rowflow {
namespace {

namespace pb = google::protobuf;
using Tree = pb::TextFormat::ParseInfoTree;

// ModelSpec nests three levels deep; anything past this is hostile.
constexpr int kMaxNesting = 8;
constexpr const char* kBadName =
    "not valid UTF-8 or has control characters; expected printable text";

// Keeps the first error the text parser reports, as "<spec>:line:col: ...".
class FirstErrorCollector : public pb::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(const std::string& source) : source_(source) {}

  void AddError(int line, pb::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    // protobuf counts lines and columns from 0; editors count from 1.
    first_ = line < 0 ? fmt::format("{}: {}", source_, message)
                      : fmt::format("{}:{}:{}: {}", source_, line + 1,
                                    column + 1, message);
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}

  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

// Whether `bytes` load as a model: given to `build`, a common mix-up.
bool IsModel(std::string_view bytes) {
  try {
    ParseGraph(bytes, "");
    return true;
  } catch (const Error&) {
    return false;
  }
}

rowflow::ModelSpec ParseSpec(std::string_view text, const std::string& name,
                             Tree* tree) {
  if (static_cast<int64_t>(text.size()) > kMaxSpecBytes) {
    throw MakeError(ErrorKind::kModel,
                    "{}: spec is {} bytes; expected at most {}", name,
                    text.size(), kMaxSpecBytes);
  }
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  FirstErrorCollector errors(name);
  pb::TextFormat::Parser parser;  // unknown fields are errors by default
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(tree);
  parser.SetRecursionLimit(kMaxNesting);
  pb::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  rowflow::ModelSpec spec;
  if (!parser.Parse(&input, &spec)) {
    if (IsModel(text)) {
      throw MakeError(ErrorKind::kModel,
                      "{}: this is a model, not a layer spec; it runs as it "
                      "is (rowflow run, rowflow inspect)",
                      name);
    }
    throw Error(ErrorKind::kModel, errors.first().empty()
                                       ? name + ": not a valid layer spec"
                                       : errors.first());
  }
  return spec;
}

// "seed_4_5" for "tools/examples/seed_4_5.pbtxt".
std::string StemOf(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  const size_t dot = base.find_last_of('.');
  if (dot != std::string::npos && dot > 0) base.resize(dot);
  return base.empty() ? "model" : base;
}

// The checked facts about one layer, gathered before any weight is read.
struct LayerPlan {
  std::string name;
  int64_t units = 0;
  int64_t width = 0;
  ir::Activation activation = ir::Activation::kIdentity;
  std::optional<double> alpha;  // unset: the activation's default
  std::optional<double> beta;
};

// Turns a parsed spec into a graph; every message says where in the spec.
class SpecBuilder {
 public:
  SpecBuilder(const rowflow::ModelSpec& spec, const Tree& tree,
              const std::string& spec_name, const WeightFileReader& reader)
      : spec_(spec), tree_(tree), spec_name_(spec_name), reader_(reader) {}

  ir::Graph Build(DenseForm form, const ValidateOptions& options);

 private:
  // "<spec>:line:col" of `field` (index -1 unless repeated) in `tree`, or
  // `fallback` when the field is not written there.
  std::string Where(const Tree* tree, const pb::Descriptor* type,
                    std::string_view field, int index,
                    const std::string& fallback) const;
  std::string TopWhere(std::string_view field, int index = -1) const;
  // Where `field` of the singular message field `top` is.
  std::string NestedWhere(std::string_view top, const pb::Descriptor* type,
                          std::string_view field) const;
  const Tree* LayerTree(int i) const;
  // "<spec>:line:col: layer <i> ('<name>')" for `field` of layer i.
  std::string LayerWhere(int i, std::string_view field) const;
  // Checks layer i's scalars and running totals; appends its plan.
  void PlanLayer(int i, DenseForm form, int64_t limit,
                 const ValidateOptions& options);
  std::vector<double> LoadSource(int i, bool bias);
  std::vector<double> LoadFile(const std::string& path, bool npy, int i,
                               bool bias, const std::string& where);

  const rowflow::ModelSpec& spec_;
  const Tree& tree_;
  const std::string& spec_name_;
  const WeightFileReader& reader_;
  std::vector<LayerPlan> plans_;
  std::map<std::string, int> names_;  // layer (or input: -1) of each name
  int64_t total_values_ = 0;
  int64_t total_units_ = 0;
};

[[noreturn]] void Fail(const std::string& where, const std::string& what) {
  throw Error(ErrorKind::kModel, where + ": " + what);
}

std::string SpecBuilder::Where(const Tree* tree, const pb::Descriptor* type,
                               std::string_view field, int index,
                               const std::string& fallback) const {
  const pb::FieldDescriptor* fd = type->FindFieldByName(std::string(field));
  if (tree == nullptr || fd == nullptr) return fallback;
  const pb::TextFormat::ParseLocation at = tree->GetLocation(fd, index);
  if (at.line < 0) return fallback;
  return fmt::format("{}:{}:{}", spec_name_, at.line + 1, at.column + 1);
}

std::string SpecBuilder::TopWhere(std::string_view field, int index) const {
  return Where(&tree_, rowflow::ModelSpec::descriptor(), field, index,
               spec_name_);
}

std::string SpecBuilder::NestedWhere(std::string_view top,
                                     const pb::Descriptor* type,
                                     std::string_view field) const {
  const Tree* nested = tree_.GetTreeForNested(
      rowflow::ModelSpec::descriptor()->FindFieldByName(std::string(top)), -1);
  return Where(nested, type, field, -1, TopWhere(top));
}

const Tree* SpecBuilder::LayerTree(int i) const {
  return tree_.GetTreeForNested(
      rowflow::ModelSpec::descriptor()->FindFieldByName("layer"), i);
}

std::string SpecBuilder::LayerWhere(int i, std::string_view field) const {
  const std::string layer_at = TopWhere("layer", i);
  const std::string at = Where(LayerTree(i), rowflow::LayerSpec::descriptor(),
                               field, -1, layer_at);
  return fmt::format("{}: layer {} ('{}')", at, i + 1,
                     EscapeForMessage(plans_[i].name));
}

std::vector<double> SpecBuilder::LoadFile(const std::string& path, bool npy,
                                          int i, bool bias,
                                          const std::string& where) {
  const LayerPlan& p = plans_[i];
  const int64_t count = bias ? p.units : p.units * p.width;
  const std::string shown = EscapeForMessage(path);
  try {
    CheckWeightPath(path);
    const std::string bytes =
        reader_(path, WeightFileByteBound(npy ? "npy" : "csv", count));
    if (npy) {
      return DecodeNpyWeights(bytes, shown,
                              bias ? std::vector<int64_t>{p.units}
                                   : std::vector<int64_t>{p.units, p.width});
    }
    return bias ? DecodeCsvWeights(bytes, shown, 1, p.units, true)
                : DecodeCsvWeights(bytes, shown, p.units, p.width, false);
  } catch (const Error& e) {
    Fail(where, e.what());
  }
}

std::vector<double> SpecBuilder::LoadSource(int i, bool bias) {
  const LayerPlan& p = plans_[i];
  const char* field = bias ? "bias" : "weights";
  const rowflow::LayerSpec& layer = spec_.layer(i);
  const rowflow::WeightSource& src = bias ? layer.bias() : layer.weights();
  const std::string at = LayerWhere(i, field) + ": " + field;
  const int sources = (src.values_size() > 0) + !src.npy().empty() +
                      !src.csv().empty() + src.has_init();
  if (sources != 1) {
    Fail(at, fmt::format("expected exactly one of values, npy, csv, init; "
                         "got {}",
                         sources));
  }
  const Tree* layer_tree = LayerTree(i);
  const Tree* src_tree =
      layer_tree == nullptr
          ? nullptr
          : layer_tree->GetTreeForNested(
                rowflow::LayerSpec::descriptor()->FindFieldByName(field), -1);
  auto sub_at = [&](std::string_view sub, int index = -1) {
    const std::string where =
        Where(src_tree, rowflow::WeightSource::descriptor(), sub, index,
              TopWhere("layer", i));
    return fmt::format("{}: layer {} ('{}'): {}: {}", where, i + 1,
                       EscapeForMessage(p.name), field, sub);
  };
  const std::vector<int64_t> shape =
      bias ? std::vector<int64_t>{p.units}
           : std::vector<int64_t>{p.units, p.width};
  const int64_t count = bias ? p.units : p.units * p.width;
  if (src.values_size() > 0) {
    if (src.values_size() != count) {
      Fail(sub_at("values", 0),
           fmt::format("expected {} = {} values, got {}", NpyShapeString(shape),
                       count, src.values_size()));
    }
    return std::vector<double>(src.values().begin(), src.values().end());
  }
  if (!src.npy().empty())
    return LoadFile(src.npy(), true, i, bias, sub_at("npy"));
  if (!src.csv().empty())
    return LoadFile(src.csv(), false, i, bias, sub_at("csv"));
  const rowflow::InitSpec& init = src.init();
  if (!rowflow::InitSpec::Kind_IsValid(init.kind())) {
    Fail(sub_at("init"), fmt::format("unknown kind {}; expected HE_UNIFORM, "
                                     "GLOROT_UNIFORM, UNIFORM or ZEROS",
                                     static_cast<int>(init.kind())));
  }
  return InitWeights(static_cast<InitKind>(init.kind()), init.seed(), p.units,
                     p.width, count);
}

void SpecBuilder::PlanLayer(int i, DenseForm form, int64_t limit,
                            const ValidateOptions& options) {
  const rowflow::LayerSpec& layer = spec_.layer(i);
  const bool last = i + 1 == spec_.layer_size();
  LayerPlan& p = plans_.emplace_back();
  p.name = !layer.name().empty() ? layer.name()
           : last                ? "output"
                                 : "node_" + std::to_string(i);
  p.width = i == 0 ? spec_.input().width() : plans_[i - 1].units;
  if (!internal::IsValidName(p.name)) {
    Fail(LayerWhere(i, "name"), std::string("name: ") + kBadName);
  }
  auto [it, fresh] = names_.emplace(p.name, i);
  if (!fresh) {
    Fail(LayerWhere(i, "name"),
         it->second < 0
             ? "name: same as the input's; expected a new name"
             : fmt::format("name: already used by layer {}", it->second + 1));
  }
  p.units = layer.units();
  if (p.units < 1) {
    Fail(LayerWhere(i, "units"),
         fmt::format("units: expected at least 1, got {}", p.units));
  }
  // Weights and a bias, in values; `limit` keeps every sum below overflow.
  int64_t count = 0;
  if (__builtin_mul_overflow(p.units, p.width, &count) || count > limit ||
      p.units > limit - count || (total_values_ += count + p.units) > limit) {
    Fail(LayerWhere(i, "units"),
         fmt::format("units: {} units over {} inputs make the weights "
                     "exceed the memory budget of {} bytes",
                     p.units, p.width, options.memory_budget_bytes));
  }
  total_units_ += p.units;
  if (form == DenseForm::kPerNode && total_units_ > kMaxPerNodeUnits) {
    Fail(LayerWhere(i, "units"),
         fmt::format("units: {} units in all; the per-node form takes at "
                     "most {} (use the layer form)",
                     total_units_, kMaxPerNodeUnits));
  }
  const ir::ActivationInfo* act =
      internal::ActivationFromProto(layer.activation());
  if (act == nullptr) {
    Fail(LayerWhere(i, "activation"),
         fmt::format("activation: unknown value {}; expected one of {}",
                     static_cast<int>(layer.activation()),
                     ir::ActivationNameList()));
  }
  p.activation = act->act;
  const std::optional<double> given[] = {
      layer.has_alpha() ? std::optional(layer.alpha()) : std::nullopt,
      layer.has_beta() ? std::optional(layer.beta()) : std::nullopt};
  for (ir::ActivationParam param : ir::kActivationParams) {
    const std::optional<double>& v = given[static_cast<int>(param)];
    if (!v) continue;
    const std::string_view field = ir::ParamName(param);
    if (!act->Default(param)) {
      Fail(LayerWhere(i, field),
           fmt::format("{}: applies to {} only; activation is {}", field,
                       ir::ActivationsTaking(param), act->name));
    }
    const std::string_view problem = ir::ParamProblem(*act, *v);
    if (!problem.empty()) {
      Fail(LayerWhere(i, field),
           problem == "finite"
               ? fmt::format("{}: expected a finite number, got {}", field,
                             ir::NumberToString(*v))
               : fmt::format("{}: {} {} must be {}, got {}", field, act->name,
                             field, problem, ir::NumberToString(*v)));
    }
  }
  p.alpha = given[0];
  p.beta = given[1];
}

ir::Graph SpecBuilder::Build(DenseForm form, const ValidateOptions& options) {
  if (!rowflow::DType_IsValid(spec_.dtype())) {
    Fail(TopWhere("dtype"), fmt::format("dtype: unknown value {}; expected F32 "
                                        "or F64",
                                        static_cast<int>(spec_.dtype())));
  }
  const ir::DType dtype =
      spec_.dtype() == rowflow::F64 ? ir::DType::kF64 : ir::DType::kF32;
  if (!spec_.has_input()) {
    Fail(spec_name_, "input: missing; expected input { width: N }");
  }
  if (spec_.input().width() < 1) {
    Fail(NestedWhere("input", rowflow::InputSpec::descriptor(), "width"),
         fmt::format("input: width: expected at least 1, got {}",
                     spec_.input().width()));
  }
  const int n = spec_.layer_size();
  if (n < 1) Fail(spec_name_, "expected at least one layer { ... }, got none");
  if (n > kMaxSpecLayers) {
    Fail(TopWhere("layer", static_cast<int>(kMaxSpecLayers)),
         fmt::format("{} layers; expected at most {}", n, kMaxSpecLayers));
  }
  const std::string input_name =
      spec_.input().name().empty() ? "x" : spec_.input().name();
  if (!internal::IsValidName(input_name)) {
    Fail(NestedWhere("input", rowflow::InputSpec::descriptor(), "name"),
         std::string("input: name: ") + kBadName);
  }
  if (!internal::IsValidName(spec_.name())) {
    Fail(TopWhere("name"), std::string("name: ") + kBadName);
  }

  // Check every layer's scalars and the total size before reading weights.
  names_ = {{input_name, -1}};
  const int64_t limit =
      std::max<int64_t>(options.memory_budget_bytes, 0) / ir::DTypeSize(dtype);
  for (int i = 0; i < n; ++i) PlanLayer(i, form, limit, options);

  const std::string graph_name =
      spec_.name().empty() ? StemOf(spec_name_) : spec_.name();
  GraphBuilder b(graph_name, dtype);
  ValueRef v = b.Input(input_name, {spec_.input().width()});
  for (int i = 0; i < n; ++i) {
    std::vector<double> weights = LoadSource(i, false);
    std::vector<double> bias;
    if (spec_.layer(i).has_bias()) bias = LoadSource(i, true);
    DenseOptions dense;
    dense.activation = plans_[i].activation;
    dense.alpha = plans_[i].alpha;
    dense.beta = plans_[i].beta;
    dense.form = form;
    try {
      v = b.Dense(v, plans_[i].name, plans_[i].units, std::move(weights),
                  std::move(bias), dense);
    } catch (const Error& e) {
      // The layer's derived names ("<name>/w", "<name>_0", ...) met a name
      // already in the graph: the spec is valid text, but not this name.
      Fail(LayerWhere(i, "name"),
           fmt::format("name: a name this layer makes clashes: {}", e.what()));
    }
  }
  b.Output(v);
  ir::Graph graph;
  try {
    graph = b.Build(options);
  } catch (const Error& e) {
    Fail(spec_name_, e.what());
  }
  const std::string& out_name = spec_.output().name();
  if (!out_name.empty() && out_name != graph.values[v.id].name) {
    if (graph.FindValue(out_name) >= 0 || graph.FindNode(out_name) >= 0) {
      Fail(NestedWhere("output", rowflow::OutputSpec::descriptor(), "name"),
           fmt::format("output: name '{}' is already a name in the graph; "
                       "expected a new name",
                       EscapeForMessage(out_name)));
    }
    ir::Value& out = graph.values[v.id];
    RF_CHECK(out.kind == ir::ValueKind::kNode);
    graph.nodes[out.index].name = out_name;
    out.name = out_name;
    // The new name gets the checks every name gets (UTF-8, no control
    // characters), or the graph would not load back once saved.
    try {
      Validate(graph, options);
    } catch (const Error& e) {
      Fail(NestedWhere("output", rowflow::OutputSpec::descriptor(), "name"),
           e.what());
    }
  }
  return graph;
}

}  // namespace

ir::Graph BuildGraphFromSpecText(std::string_view text,
                                 const std::string& spec_name,
                                 const WeightFileReader& reader, DenseForm form,
                                 const ValidateOptions& options) {
  Tree tree;
  const rowflow::ModelSpec spec = ParseSpec(text, spec_name, &tree);
  return SpecBuilder(spec, tree, spec_name, reader).Build(form, options);
}

ir::Graph BuildGraphFromSpecText(std::string_view text,
                                 const std::string& spec_name,
                                 const std::string& base_dir, DenseForm form,
                                 const ValidateOptions& options) {
  return BuildGraphFromSpecText(text, spec_name, FolderWeightReader(base_dir),
                                form, options);
}

ir::Graph BuildGraphFromSpec(const std::string& spec_path, DenseForm form,
                             const ValidateOptions& options) {
  const size_t slash = spec_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                       : spec_path.substr(0, slash);
  const std::string text =
      ReadRegularFile(spec_path, EscapeForMessage(spec_path), kMaxSpecBytes,
                      /*no_follow=*/false);
  return BuildGraphFromSpecText(text, EscapeForMessage(spec_path),
                                FolderWeightReader(dir), form, options);
}

}  // namespace rowflow
