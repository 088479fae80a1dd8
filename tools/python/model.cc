// rowflow.Model and the functions that make one: load, build, import_onnx.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <string_view>
#include <vector>

#include "graph/activation.h"
#include "graph/serialize.h"
#include "graph/spec.h"
#include "graph/trace_lines.h"
#include "runtime/reference.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/frontend.h"
#include "tools/onnx/export.h"
#include "tools/onnx/import.h"
#include "tools/python/binding.h"

namespace rowflow::python {
namespace {

Model Wrap(ir::Graph graph) {
  return Model{std::make_shared<const ir::Graph>(std::move(graph))};
}

bool IsBytes(py::handle h) {
  return PyBytes_Check(h.ptr()) || PyByteArray_Check(h.ptr()) ||
         PyMemoryView_Check(h.ptr());
}

std::string Bytes(py::handle h) {
  return std::string(py::bytes(py::reinterpret_borrow<py::object>(h)));
}

Model LoadBytes(const std::string& bytes) {
  try {
    return Wrap(ParseGraph(bytes, "<bytes>"));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kModel || !IsOnnxModel(bytes)) throw;
    Throw(ErrorKind::kModel,
          "<bytes>: this is an ONNX model; use rowflow.import_onnx() first");
  }
}

// One row of value `v` as Python sees it: a float for one element, else
// an array of the value's per-row shape.
template <typename T>
py::object RowValue(const ir::Graph& g, const std::vector<T>& data, int v) {
  const ir::Shape& shape = g.values[static_cast<size_t>(v)].shape;
  if (ir::NumElements(shape) == 1)
    return py::float_(static_cast<double>(data[0]));
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::array_t<T> out(dims);
  std::copy(data.begin(), data.begin() + ir::NumElements(shape),
            out.mutable_data());
  return out;
}

// `row_like` as numpy reads it, refused unless it holds numbers (bool, int,
// float), as Session.run refuses it: None or text is no NaN.
py::object NumericArray(py::handle row_like, int64_t width) {
  py::object a;
  try {
    a = py::module_::import("numpy").attr("asarray")(row_like);
  } catch (const py::error_already_set& e) {
    if (!e.matches(PyExc_ValueError) && !e.matches(PyExc_TypeError)) throw;
    Throw(ErrorKind::kInput,
          fmt::format("trace takes one row of {} numbers", width));
  }
  const std::string kind = py::str(a.attr("dtype").attr("kind"));
  if (kind.size() != 1 || std::string("biuf").find(kind) == std::string::npos)
    Throw(ErrorKind::kInput,
          fmt::format("trace takes one row of {} numbers; got an array of "
                      "dtype {}",
                      width, std::string(py::str(a.attr("dtype")))));
  return a;
}

template <typename T>
py::dict TraceTyped(const ir::Graph& g, py::handle row_like, bool all) {
  auto row = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(
      NumericArray(row_like, g.InputWidth()));
  if (!row || row.size() != g.InputWidth()) {
    Throw(ErrorKind::kInput,
          fmt::format("trace takes one row of {} numbers{}", g.InputWidth(),
                      row ? fmt::format("; got {}", row.size()) : ""));
  }
  RowMatrix<T> in(1, g.InputWidth());
  std::copy(row.data(), row.data() + row.size(), in.data.begin());
  std::vector<std::vector<T>> values;
  {
    py::gil_scoped_release release;
    values = EvaluateAllValues(g, in);
  }
  py::dict out;
  if (all) {
    for (const ir::Node& n : g.nodes)
      out[py::str(n.name)] = RowValue(g, values[n.output], n.output);
    return out;
  }
  // The seed's variable names: node_0_0_input, node_0_0_output, ...
  for (const ir::TraceLine& line : ir::TraceLines(g)) {
    if (line.input >= 0) {
      out[py::str(line.name + "_input")] =
          RowValue(g, values[line.input], line.input);
      out[py::str(line.name + "_output")] =
          RowValue(g, values[line.output], line.output);
    } else {
      out[py::str(line.name)] = RowValue(g, values[line.output], line.output);
    }
  }
  for (int v : g.outputs)
    out[py::str(g.values[v].name)] = RowValue(g, values[v], v);
  return out;
}

py::list ValueInfos(const ir::Graph& g, const std::vector<int>& ids) {
  py::object info = py::module_::import("rowflow._rowflow").attr("ValueInfo");
  py::list out;
  for (int id : ids) {
    const ir::Value& v = g.values[static_cast<size_t>(id)];
    out.append(info(v.name, py::tuple(py::cast(v.shape))));
  }
  return out;
}

py::list Nodes(const ir::Graph& g) {
  py::list out;
  for (const ir::Node& n : g.nodes) {
    py::dict d;
    d["name"] = n.name;
    d["op"] = std::string(ir::OpName(n.op));
    py::list inputs;
    for (int v : n.inputs) inputs.append(g.values[static_cast<size_t>(v)].name);
    d["inputs"] = inputs;
    d["output"] = g.values[static_cast<size_t>(n.output)].name;
    if (n.op == ir::OpKind::kSum || n.op == ir::OpKind::kConcat)
      d["axis"] = n.axis;
    if (n.op == ir::OpKind::kActivation) {
      const ir::ActivationInfo& info = ir::GetActivation(n.activation);
      d["activation"] = std::string(info.name);
      if (info.alpha) d["alpha"] = n.alpha;
      if (info.beta) d["beta"] = n.beta;
    }
    if (n.op == ir::OpKind::kReshape) d["shape"] = py::tuple(py::cast(n.shape));
    out.append(d);
  }
  return out;
}

}  // namespace

Model ToModel(py::handle model) {
  if (py::isinstance<Model>(model)) return model.cast<Model>();
  if (IsBytes(model)) return LoadBytes(Bytes(model));
  const std::string path = FsPath(model);
  return WithFileErrors(path, [&] { return Wrap(cli::LoadModel(path)); });
}

void BindModel(py::module_& m) {
  py::module_ collections = py::module_::import("collections");
  py::object info = collections.attr("namedtuple")("ValueInfo", "name shape");
  info.attr("__module__") = "rowflow";
  info.attr("__doc__") =
      "A graph input or output: its name and per-row shape (a tuple).";
  m.attr("ValueInfo") = info;

  py::class_<Model>(m, "Model", R"(A validated rowflow model (immutable).

Made by rowflow.load, rowflow.build, rowflow.import_onnx or
GraphBuilder.build; run it with rowflow.Session. Models pickle (as their
binary model file), so they travel to worker processes.)")
      .def_property_readonly(
          "name", [](const Model& s) { return s.graph->name; },
          "The graph's name.")
      .def_property_readonly(
          "dtype",
          [](const Model& s) {
            return std::string(ir::DTypeName(s.graph->dtype));
          },
          "\"F32\" or \"F64\": the numbers it computes in and returns.")
      .def_property_readonly(
          "inputs",
          [](const Model& s) { return ValueInfos(*s.graph, s.graph->inputs); },
          "The inputs, as ValueInfo(name, shape), in row-column order.")
      .def_property_readonly(
          "outputs",
          [](const Model& s) { return ValueInfos(*s.graph, s.graph->outputs); },
          "The outputs, as ValueInfo(name, shape), in row-column order.")
      .def_property_readonly(
          "input_width", [](const Model& s) { return s.graph->InputWidth(); },
          "Numbers per input row.")
      .def_property_readonly(
          "output_width", [](const Model& s) { return s.graph->OutputWidth(); },
          "Numbers per output row.")
      .def_property_readonly(
          "metadata", [](const Model& s) { return s.graph->metadata; },
          "The model file's metadata entries (a dict of str).")
      .def_property_readonly(
          "nodes", [](const Model& s) { return Nodes(*s.graph); },
          "Every node in topological order, as a dict (name, op, inputs, "
          "output, and axis / activation / alpha / beta / shape where they "
          "apply).")
      .def_property_readonly(
          "parameters",
          [](const Model& s) {
            int64_t n = 0;
            for (const ir::Tensor& t : s.graph->constants)
              n += static_cast<int64_t>(t.data.size());
            return n;
          },
          "Numbers held in constants (weights and biases).")
      .def(
          "inspect",
          [](const Model& s) {
            const std::string json = cli::InspectJson("<model>", *s.graph);
            py::dict d = py::module_::import("json").attr("loads")(json);
            d.attr("pop")("file");
            d.attr("pop")("valid");
            return d;
          },
          "What `rowflow inspect --json` prints, as a dict: inputs, "
          "outputs, op and activation counts, parameters, flops_per_row, "
          "tile_rows and the fused execution plan.")
      .def_property_readonly(
          "flops_per_row",
          [](const Model& s) {
            return py::module_::import("json").attr("loads")(
                cli::InspectJson("<model>", *s.graph))["flops_per_row"];
          },
          "Floating-point operations per row of the fused plan.")
      .def(
          "dot",
          [](const Model& s, std::optional<bool> collapse) {
            return cli::DotText(*s.graph,
                                collapse.value_or(s.graph->nodes.size() >
                                                  cli::kAutoCollapseNodes));
          },
          py::arg("collapse") = py::none(),
          "The model as Graphviz DOT text (`rowflow dot`); collapse=True "
          "draws one box per fused layer (default above 200 nodes).")
      .def(
          "trace",
          [](const Model& s, py::handle row, bool all) {
            return s.graph->dtype == ir::DType::kF32
                       ? TraceTyped<float>(*s.graph, row, all)
                       : TraceTyped<double>(*s.graph, row, all);
          },
          py::arg("row"), py::arg("all") = false,
          R"(Every value for one input row, in the order the seed notebook
computes them: {"node_0_input": 5.0, "node_0_output": 5.0, ..., "output": 9.0}
(numbers for one-element values, arrays otherwise). all=True gives one entry
per node, by node name.)")
      .def(
          "save",
          [](const Model& s, py::handle path, std::optional<bool> text) {
            const std::string p = FsPath(path);
            const Encoding e =
                text ? (*text ? Encoding::kText : Encoding::kBinary)
                     : EncodingForPath(p);
            py::gil_scoped_release release;
            SaveGraph(*s.graph, p, e);
          },
          py::arg("path"), py::arg("text") = py::none(),
          "Writes the model file atomically: text for .pbtxt/.txt (or "
          "text=True), else binary.")
      .def(
          "to_bytes",
          [](const Model& s, bool text) {
            return py::bytes(SerializeGraph(
                *s.graph, text ? Encoding::kText : Encoding::kBinary));
          },
          py::arg("text") = false, "The model file's bytes (binary or text).")
      .def(
          "export_onnx",
          [](const Model& s, py::handle path) -> py::object {
            if (path.is_none()) return py::bytes(ExportOnnx(*s.graph));
            SaveOnnx(*s.graph, FsPath(path));
            return py::none();
          },
          py::arg("path") = py::none(),
          "Writes the model as ONNX to `path`, or returns the ONNX bytes.")
      .def("__repr__",
           [](const Model& s) {
             return fmt::format("<rowflow.Model '{}' {}: {} -> {}, {} nodes>",
                                s.graph->name, ir::DTypeName(s.graph->dtype),
                                s.graph->InputWidth(), s.graph->OutputWidth(),
                                s.graph->nodes.size());
           })
      .def(py::pickle(
          [](const Model& s) {
            return py::bytes(SerializeGraph(*s.graph, Encoding::kBinary));
          },
          [](const py::bytes& b) { return LoadBytes(std::string(b)); }));

  m.def(
      "load", [](py::handle source) { return ToModel(source); },
      py::arg("source"),
      R"(Loads a model file (binary .pb or text .pbtxt, detected from the bytes)
from a path, or from the file's bytes. Raises rowflow.ModelError.)");
  m.def(
      "build",
      [](py::handle spec, bool per_node) {
        const DenseForm form =
            per_node ? DenseForm::kPerNode : DenseForm::kLayer;
        if (IsBytes(spec)) {
          return Wrap(BuildGraphFromSpecText(Bytes(spec), "<spec>", ".", form));
        }
        const std::string text = FsPath(spec);
        if (py::isinstance<py::str>(spec) &&
            text.find_first_of("\n{") != std::string::npos) {
          return Wrap(BuildGraphFromSpecText(text, "<spec>", ".", form));
        }
        return WithFileErrors(
            text, [&] { return Wrap(BuildGraphFromSpec(text, form)); });
      },
      py::arg("spec"), py::arg("per_node") = false,
      R"(Builds a model from a layer spec (`rowflow build`): a path to a
.pbtxt spec, or the spec's text (weight files relative to the current
folder). per_node=True gives the seed's node-by-node form.)");
  m.def(
      "import_onnx",
      [](py::handle source) {
        if (IsBytes(source)) return Wrap(ImportOnnx(Bytes(source), "<bytes>"));
        const std::string path = FsPath(source);
        return WithFileErrors(path, [&] { return Wrap(ImportOnnxFile(path)); });
      },
      py::arg("source"),
      "Imports an ONNX model (`rowflow import-onnx`) from a path or bytes.");
}

}  // namespace rowflow::python
