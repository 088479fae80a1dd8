// The layer norm PyTorch's exporters write below opset 17 (torch.onnx's
// native_layer_norm): mean = ReduceMean(x), d = Sub(x, mean), var =
// ReduceMean(Pow(d, 2) or Mul(d, d)), y = Div(d, Sqrt(Add(var, eps))), each
// ReduceMean over the last axis with keepdims, each intermediate read only
// inside the pattern. The scale and bias that follow are plain Mul and Add.
#include <map>
#include <string>
#include <vector>

#include "tools/onnx/activations.h"
#include "tools/onnx/nodes.h"

namespace rowflow::onnx_internal {
namespace {

class NormMatcher {
 public:
  NormMatcher(const onnx::GraphProto& g,
              const std::map<std::string, double>& scalars)
      : g_(g), scalars_(scalars), index_(g) {}

  // The node computing `v` as `op` with `arity` inputs, its output read
  // `reads` times; or nullptr.
  const onnx::NodeProto* Node(const std::string& v, std::string_view op,
                              int arity, int reads, int* index) const {
    auto it = index_.producer.find(v);
    if (it == index_.producer.end()) return nullptr;
    const onnx::NodeProto& n = g_.node(it->second);
    if (!IsDefaultDomain(n.domain()) || n.op_type() != op ||
        n.input_size() != arity || n.output_size() != 1) {
      return nullptr;
    }
    auto use = index_.uses.find(v);
    if (use == index_.uses.end() || use->second != reads) return nullptr;
    *index = it->second;
    return &n;
  }

  std::optional<double> Scalar(const std::string& v) const {
    auto it = scalars_.find(v);
    if (it == scalars_.end()) return std::nullopt;
    return it->second;
  }

  // A ReduceMean of one axis with keepdims (attribute axes before opset
  // 18, input from 18); sets *axis.
  const onnx::NodeProto* Mean(const std::string& v, int reads, int* index,
                              int64_t* axis) const {
    auto it = index_.producer.find(v);
    if (it == index_.producer.end()) return nullptr;
    const onnx::NodeProto& n = g_.node(it->second);
    if (n.op_type() != "ReduceMean" || n.input_size() < 1) return nullptr;
    std::optional<int64_t> found;
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.name() == "keepdims") {
        if (a.type() != onnx::AttributeProto::INT || a.i() != 1) return nullptr;
      } else if (a.name() == "axes") {
        if (a.type() != onnx::AttributeProto::INTS || a.ints_size() != 1)
          return nullptr;
        found = a.ints(0);
      } else {
        return nullptr;
      }
    }
    if (n.input_size() == 2) {
      const std::optional<double> a = Scalar(n.input(1));
      if (found || !a) return nullptr;
      found = static_cast<int64_t>(*a);
    }
    if (!found) return nullptr;
    const onnx::NodeProto* m =
        Node(v, "ReduceMean", n.input_size(), reads, index);
    if (m == nullptr) return nullptr;
    *axis = *found;
    return m;
  }

  // Whether Div node `i` is the end of the pattern; fills `found`.
  bool Match(int i, FoundExpansions::Found* found,
             std::vector<int>* nodes) const {
    const onnx::NodeProto& div = g_.node(i);
    if (div.op_type() != "Div" || div.input_size() != 2 ||
        div.output_size() != 1 || div.attribute_size() != 0) {
      return false;
    }
    const std::string& d = div.input(0);
    int sqrt_i, add_i, var_i, sq_i, sub_i, mean_i;
    const onnx::NodeProto* sqrt = Node(div.input(1), "Sqrt", 1, 1, &sqrt_i);
    if (sqrt == nullptr) return false;
    const onnx::NodeProto* add = Node(sqrt->input(0), "Add", 2, 1, &add_i);
    if (add == nullptr) return false;
    std::optional<double> eps = Scalar(add->input(1));
    std::string var = add->input(0);
    if (!eps) {
      eps = Scalar(add->input(0));
      var = add->input(1);
    }
    if (!eps) return false;
    int64_t var_axis = 0, mean_axis = 0;
    const onnx::NodeProto* vm = Mean(var, 1, &var_i, &var_axis);
    if (vm == nullptr) return false;
    // d is read by the square (twice for Mul(d, d)) and by the Div.
    const onnx::NodeProto* sq = nullptr;
    int d_reads = 0;
    auto p = index_.producer.find(vm->input(0));
    if (p != index_.producer.end()) {
      const onnx::NodeProto& n = g_.node(p->second);
      if (n.op_type() == "Pow" && n.input_size() == 2 && n.input(0) == d &&
          Scalar(n.input(1)) == 2.0) {
        sq = Node(vm->input(0), "Pow", 2, 1, &sq_i);
        d_reads = 2;
      } else if (n.op_type() == "Mul" && n.input_size() == 2 &&
                 n.input(0) == d && n.input(1) == d) {
        sq = Node(vm->input(0), "Mul", 2, 1, &sq_i);
        d_reads = 3;
      }
    }
    if (sq == nullptr || sq->attribute_size() != 0) return false;
    const onnx::NodeProto* sub = Node(d, "Sub", 2, d_reads, &sub_i);
    if (sub == nullptr || sub->attribute_size() != 0) return false;
    const std::string& x = sub->input(0);
    const onnx::NodeProto* mean = Mean(sub->input(1), 1, &mean_i, &mean_axis);
    if (mean == nullptr || mean->input(0) != x || mean_axis != var_axis)
      return false;
    found->act = ir::Activation::kLayerNorm;
    found->x = x;
    found->alpha = *eps;
    found->axis = mean_axis;
    *nodes = {sqrt_i, add_i, var_i, sq_i, sub_i, mean_i};
    return true;
  }

 private:
  const onnx::GraphProto& g_;
  const std::map<std::string, double>& scalars_;
  const ValueUses index_;
};

}  // namespace

void FindLayerNorms(const onnx::GraphProto& graph,
                    const std::map<std::string, double>& scalars,
                    FoundExpansions* found) {
  const NormMatcher matcher(graph, scalars);
  for (int i = 0; i < graph.node_size(); ++i) {
    if (found->roots.count(i) > 0 || found->absorbed.count(i) > 0) continue;
    FoundExpansions::Found f;
    std::vector<int> nodes;
    if (!matcher.Match(i, &f, &nodes)) continue;
    bool fresh = true;
    for (int n : nodes) {
      fresh =
          fresh && found->roots.count(n) == 0 && found->absorbed.count(n) == 0;
    }
    if (!fresh) continue;
    found->absorbed.insert(nodes.begin(), nodes.end());
    found->roots[i] = std::move(f);
  }
}

}  // namespace rowflow::onnx_internal
