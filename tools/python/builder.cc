// rowflow.GraphBuilder: the C++ GraphBuilder (graph/builder.h) in
// snake_case, taking numpy arrays or sequences wherever it takes numbers.
#include "graph/builder.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/activation.h"
#include "tools/python/binding.h"

namespace rowflow::python {
namespace {

// A value of one builder; `builder` tells builders apart, so that a value
// passed to another builder is refused instead of naming the wrong value.
struct Value {
  int id = -1;
  uint64_t builder = 0;
  std::string name;
};

using Numbers = py::array_t<double, py::array::c_style | py::array::forcecast>;

ir::DType ParseDType(py::handle dtype) {
  std::string text;
  if (py::isinstance<py::str>(dtype)) {
    text = dtype.cast<std::string>();
  } else {
    // np.float32, np.dtype("float64"), ...
    text =
        py::str(py::module_::import("numpy").attr("dtype")(dtype).attr("name"));
  }
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (text == "F32" || text == "FLOAT32") return ir::DType::kF32;
  if (text == "F64" || text == "FLOAT64") return ir::DType::kF64;
  Throw(ErrorKind::kUsage,
        fmt::format("dtype must be \"F32\" or \"F64\"; got '{}'", text));
}

ir::Activation ParseActivation(const std::string& name) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  const ir::ActivationInfo* info = ir::FindActivation(upper);
  if (info == nullptr) {
    Throw(ErrorKind::kModel,
          fmt::format("unknown activation '{}'; expected one of {}", name,
                      ir::ActivationNameList()));
  }
  return info->act;
}

// Numbers from an array-like, flattened row-major; refuses what numpy
// cannot read as numbers.
std::vector<double> ToNumbers(py::handle data, const char* what) {
  Numbers a = Numbers::ensure(data);
  if (!a) {
    PyErr_Clear();
    Throw(
        ErrorKind::kModel,
        fmt::format("{}: expected numbers (a sequence or array), got {}", what,
                    std::string(py::str(py::type::of(data).attr("__name__")))));
  }
  return std::vector<double>(a.data(), a.data() + a.size());
}

ir::Shape ToShape(py::handle shape, const char* what) {
  try {
    return shape.cast<std::vector<int64_t>>();
  } catch (const py::cast_error&) {
    Throw(ErrorKind::kModel,
          fmt::format("{}: a shape is a sequence of ints, e.g. [2]", what));
  }
}

class Builder {
 public:
  Builder(const std::string& name, py::handle dtype)
      : b_(std::make_unique<GraphBuilder>(name, ParseDType(dtype))) {
    static std::atomic<uint64_t> next{1};
    tag_ = next++;
  }

  Value Make(ValueRef r, std::string name) {
    return Value{r.id, tag_, std::move(name)};
  }

  ValueRef Ref(const Value& v) const {
    if (v.builder != tag_) {
      Throw(ErrorKind::kModel,
            fmt::format("value '{}' belongs to another GraphBuilder", v.name));
    }
    return ValueRef{v.id};
  }

  Value Input(const std::string& name, py::handle shape) {
    return Make(b_->Input(name, ToShape(shape, name.c_str())), name);
  }

  Value Constant(const std::string& name, py::handle shape, py::handle data) {
    if (data.is_none()) {
      // constant(name, data): the shape is the data's.
      std::vector<double> numbers = ToNumbers(shape, name.c_str());
      Numbers a = Numbers::ensure(shape);
      std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
      return Make(b_->Constant(name, dims, std::move(numbers)), name);
    }
    return Make(b_->Constant(name, ToShape(shape, name.c_str()),
                             ToNumbers(data, name.c_str())),
                name);
  }

  GraphBuilder& b() { return *b_; }

 private:
  std::unique_ptr<GraphBuilder> b_;
  uint64_t tag_ = 0;
};

}  // namespace

void BindBuilder(py::module_& m) {
  py::class_<Value>(m, "Value", "A value of a GraphBuilder's graph.")
      .def_readonly("id", &Value::id, "Its number in the graph being built.")
      .def_readonly("name", &Value::name,
                    "The name it was given, or '' when picked by the builder.")
      .def("__repr__", [](const Value& v) {
        return fmt::format("<rowflow.Value #{} '{}'>", v.id, v.name);
      });

  py::class_<Builder>(
      m, "GraphBuilder",
      R"(Builds a model in code, node by node as the seed does or a layer at a time.

    b = rowflow.GraphBuilder("seed_2_2", dtype="F32")
    x = b.input("input_data", [2])
    n0 = b.sum(b.multiply(x, b.constant("w0", [2], [1, 1])))
    n1 = b.sum(b.multiply(x, b.constant("w1", [2], [-1, 1])))
    h = b.concat([n0, n1])
    b.output(b.sum(b.multiply(h, b.constant("w_out", [2], [2, -1]))))
    m = b.build()      # validated; raises rowflow.ModelError

Names left empty are picked fresh ("mul_3"); every name must be unique.)")
      .def(py::init<const std::string&, py::handle>(), py::arg("name"),
           py::arg("dtype") = "F32")
      .def("input", &Builder::Input, py::arg("name"), py::arg("shape"),
           "A graph input with per-row `shape` (e.g. [2]); inputs fill a "
           "row's columns in order.")
      .def("constant", &Builder::Constant, py::arg("name"), py::arg("shape"),
           py::arg("data") = py::none(),
           "A constant (weights) of `shape` from `data` (any array-like, "
           "row-major), rounded to the graph's dtype; constant(name, array) "
           "takes the array's shape.")
      .def(
          "multiply",
          [](Builder& b, const Value& x, const Value& y,
             const std::string& name) {
            return b.Make(b.b().Multiply(b.Ref(x), b.Ref(y), name), name);
          },
          py::arg("a"), py::arg("b"), py::arg("name") = "",
          "Elementwise product (broadcasting a vector over a matrix's rows).")
      .def(
          "add",
          [](Builder& b, const Value& x, const Value& y,
             const std::string& name) {
            return b.Make(b.b().Add(b.Ref(x), b.Ref(y), name), name);
          },
          py::arg("a"), py::arg("b"), py::arg("name") = "", "Elementwise sum.")
      .def(
          "sum",
          [](Builder& b, const Value& x, int64_t axis,
             const std::string& name) {
            return b.Make(b.b().Sum(b.Ref(x), axis, name), name);
          },
          py::arg("a"), py::arg("axis") = -1, py::arg("name") = "",
          "The sum over `axis` (default the last), as numpy's .sum().")
      .def(
          "activation",
          [](Builder& b, const Value& x, const std::string& act,
             std::optional<double> alpha, std::optional<double> beta,
             const std::string& name) {
            return b.Make(b.b().Activation(b.Ref(x), ParseActivation(act),
                                           alpha, beta, name),
                          name);
          },
          py::arg("v"), py::arg("activation"), py::arg("alpha") = py::none(),
          py::arg("beta") = py::none(), py::arg("name") = "",
          "An activation by name (\"RELU\", \"TANH\", \"LEAKY_RELU\", ...); "
          "alpha/beta default to the activation's own.")
      .def(
          "concat",
          [](Builder& b, const py::iterable& parts, int64_t axis,
             const std::string& name) {
            // Any iterable of Values (a list, a tuple, a generator).
            std::vector<ValueRef> refs;
            for (py::handle part : parts) {
              if (!py::isinstance<Value>(part)) {
                throw py::type_error(fmt::format(
                    "concat(): expected Values, got {}",
                    std::string(py::str(py::type::of(part).attr("__name__")))));
              }
              refs.push_back(b.Ref(part.cast<const Value&>()));
            }
            return b.Make(b.b().Concat(refs, axis, name), name);
          },
          py::arg("parts"), py::arg("axis") = -1, py::arg("name") = "",
          "The parts joined along `axis` (scalars become a vector).")
      .def(
          "reshape",
          [](Builder& b, const Value& x, py::handle shape,
             const std::string& name) {
            return b.Make(
                b.b().Reshape(b.Ref(x), ToShape(shape, "reshape"), name), name);
          },
          py::arg("v"), py::arg("shape"), py::arg("name") = "",
          "The value's elements, row-major, as per-row `shape`.")
      .def(
          "dense",
          [](Builder& b, const Value& x, const std::string& name, int64_t units,
             py::handle weights, py::handle bias,
             std::optional<std::string> act, bool per_node,
             std::optional<double> alpha, std::optional<double> beta) {
            DenseOptions o;
            if (act) o.activation = ParseActivation(*act);
            o.alpha = alpha;
            o.beta = beta;
            o.form = per_node ? DenseForm::kPerNode : DenseForm::kLayer;
            std::vector<double> bias_values;
            if (!bias.is_none()) bias_values = ToNumbers(bias, name.c_str());
            return b.Make(b.b().Dense(b.Ref(x), name, units,
                                      ToNumbers(weights, name.c_str()),
                                      std::move(bias_values), o),
                          name);
          },
          py::arg("x"), py::arg("name"), py::arg("units"), py::arg("weights"),
          py::arg("bias") = py::none(), py::arg("activation") = py::none(),
          py::arg("per_node") = false, py::arg("alpha") = py::none(),
          py::arg("beta") = py::none(),
          R"(A dense layer: `weights` is (units, width) row-major (row i is unit
i's weights, as the seed's weights['node_i']), `bias` has `units` entries or
is None. per_node=True builds the seed's form: one SUM(MULTIPLY) per unit,
named <name>_<i>.)")
      .def(
          "output", [](Builder& b, const Value& v) { b.b().Output(b.Ref(v)); },
          py::arg("v"), "Marks `v` as a graph output.")
      .def(
          "metadata",
          [](Builder& b, const std::string& key, const std::string& value) {
            b.b().SetMetadata(key, value);
          },
          py::arg("key"), py::arg("value"),
          "Sets a metadata entry of the model file.")
      .def(
          "build",
          [](Builder& b) {
            return Model{std::make_shared<const ir::Graph>(b.b().Build())};
          },
          "The validated Model; raises rowflow.ModelError naming the faulty "
          "node.");
}

}  // namespace rowflow::python
