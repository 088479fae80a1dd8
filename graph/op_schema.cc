#include "graph/op_schema.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "graph/activation.h"
#include "graph/error.h"
#include "graph/validate.h"

namespace rowflow::ir {
namespace {

// The schemas run on raw input, so even a rank the IR never allows must
// produce an error rather than an out-of-range index.
void CheckRank(std::span<const Shape* const> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->size() > static_cast<size_t>(kMaxRank)) {
      throw MakeError(ErrorKind::kModel,
                      "input {} has too many dims; expected rank at most {}, "
                      "got {}",
                      i, kMaxRank, inputs[i]->size());
    }
  }
}

Shape InferBroadcast(const Node&, std::span<const Shape* const> inputs) {
  CheckRank(inputs);
  return BroadcastShapes(*inputs[0], *inputs[1]);
}

Shape InferSum(const Node& node, std::span<const Shape* const> inputs) {
  CheckRank(inputs);
  const Shape& in = *inputs[0];
  if (in.empty()) {
    throw MakeError(ErrorKind::kModel,
                    "cannot reduce a scalar; expected an input of rank >= 1, "
                    "got shape []");
  }
  int64_t axis = NormalizeAxis(node.axis, static_cast<int64_t>(in.size()));
  Shape out = in;
  out.erase(out.begin() + axis);
  return out;
}

Shape InferActivation(const Node& node, std::span<const Shape* const> inputs) {
  CheckRank(inputs);
  const ActivationInfo* info = FindActivation(node.activation);
  if (info != nullptr && info->shape == ActivationShape::kLastAxis &&
      inputs[0]->empty()) {
    throw MakeError(ErrorKind::kModel,
                    "{} needs an axis to normalize over; expected an input of "
                    "rank >= 1, got shape []",
                    info->name);
  }
  return *inputs[0];
}

Shape InferConcat(const Node& node, std::span<const Shape* const> inputs) {
  CheckRank(inputs);
  const Shape& first = *inputs[0];
  if (first.empty()) {
    // Scalars stack into a vector, as np.array([a, b]) does.
    for (size_t i = 1; i < inputs.size(); ++i) {
      if (!inputs[i]->empty()) {
        throw MakeError(ErrorKind::kModel,
                        "cannot mix scalars and tensors; expected input {} "
                        "to be a scalar like input 0, got shape {}",
                        i, ShapeToString(*inputs[i]));
      }
    }
    NormalizeAxis(node.axis, 1);
    return Shape{static_cast<int64_t>(inputs.size())};
  }
  const int64_t rank = static_cast<int64_t>(first.size());
  const int64_t axis = NormalizeAxis(node.axis, rank);
  Shape out = first;
  for (size_t i = 1; i < inputs.size(); ++i) {
    const Shape& in = *inputs[i];
    bool same = static_cast<int64_t>(in.size()) == rank;
    for (int64_t d = 0; same && d < rank; ++d) {
      same = d == axis || in[d] == first[d];
    }
    if (!same) {
      throw MakeError(ErrorKind::kModel,
                      "input {} does not fit input 0 along axis {}; expected "
                      "rank {} with equal dims off the axis, got shapes {} "
                      "and {}",
                      i, node.axis, rank, ShapeToString(first),
                      ShapeToString(in));
    }
    if (in[axis] > std::numeric_limits<int64_t>::max() - out[axis]) {
      throw MakeError(ErrorKind::kModel,
                      "concatenated axis overflows int64 at input {}", i);
    }
    out[axis] += in[axis];
  }
  return out;
}

// The target shape is the node's own attribute, so it is checked here, in
// full, before anything prints or multiplies it.
Shape InferReshape(const Node& node, std::span<const Shape* const> inputs) {
  CheckRank(inputs);
  const Shape& to = node.shape;
  if (to.empty()) {
    throw MakeError(ErrorKind::kModel,
                    "attribute 'shape' is empty; expected rank 1 to {} (a "
                    "unit dim drops with a SUM over it)",
                    kMaxRank);
  }
  if (to.size() > static_cast<size_t>(kMaxRank)) {
    throw MakeError(ErrorKind::kModel,
                    "attribute 'shape' has rank {}; expected at most {}",
                    to.size(), kMaxRank);
  }
  int64_t count = 1;
  for (size_t d = 0; d < to.size(); ++d) {
    if (to[d] < 1) {
      throw MakeError(ErrorKind::kModel,
                      "attribute 'shape' {} has dim {} at {}; expected every "
                      "dim >= 1",
                      ShapeToString(to), to[d], d);
    }
    if (count > std::numeric_limits<int64_t>::max() / to[d]) {
      throw MakeError(ErrorKind::kModel,
                      "attribute 'shape' {} has more elements than int64 "
                      "holds",
                      ShapeToString(to));
    }
    count *= to[d];
  }
  const int64_t have = NumElements(*inputs[0]);
  if (count != have) {
    throw MakeError(ErrorKind::kModel,
                    "attribute 'shape' {} does not hold the input's elements; "
                    "expected {} elements (input shape {}), got {}",
                    ShapeToString(to), have, ShapeToString(*inputs[0]), count);
  }
  return to;
}

constexpr OpSchema kSchemas[] = {
    {OpKind::kMultiply, "MULTIPLY", 2, 2, 0, &InferBroadcast},
    {OpKind::kAdd, "ADD", 2, 2, 0, &InferBroadcast},
    {OpKind::kSum, "SUM", 1, 1, kAxisAttribute, &InferSum},
    {OpKind::kActivation, "ACTIVATION", 1, 1, kActivationAttribute,
     &InferActivation},
    {OpKind::kConcat, "CONCAT", 1, -1, kAxisAttribute, &InferConcat},
    {OpKind::kReshape, "RESHAPE", 1, 1, kShapeAttribute, &InferReshape},
};

}  // namespace

const OpSchema& GetOpSchema(OpKind op) {
  RF_CHECK(IsKnownOp(op));
  const OpSchema& schema = kSchemas[static_cast<size_t>(op)];
  RF_CHECK(schema.kind == op);
  return schema;
}

std::span<const OpSchema> AllOpSchemas() { return kSchemas; }

const OpSchema* FindOpSchema(std::string_view name) {
  for (const OpSchema& schema : kSchemas) {
    if (schema.name == name) return &schema;
  }
  return nullptr;
}

bool IsKnownOp(OpKind op) {
  return static_cast<size_t>(op) < std::size(kSchemas);
}

std::string OpNameList() {
  std::string list;
  for (const OpSchema& schema : kSchemas) {
    if (!list.empty()) list += ", ";
    list += schema.name;
  }
  return list;
}

Shape BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  // Align trailing dims; a missing leading dim acts as 1.
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      throw MakeError(ErrorKind::kModel,
                      "shapes {} and {} do not broadcast; expected equal "
                      "trailing dims or 1, got {} and {}",
                      ShapeToString(a), ShapeToString(b), da, db);
    }
    out[rank - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

int64_t NormalizeAxis(int64_t axis, int64_t rank) {
  if (rank <= 0) {
    throw MakeError(ErrorKind::kModel,
                    "axis {} given for a scalar; expected an input of rank "
                    ">= 1",
                    axis);
  }
  if (axis < -rank || axis >= rank) {
    throw MakeError(ErrorKind::kModel,
                    "axis out of range for rank {}; expected {}..{}, got {}",
                    rank, -rank, rank - 1, axis);
  }
  return axis < 0 ? axis + rank : axis;
}

}  // namespace rowflow::ir
