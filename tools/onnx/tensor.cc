#include "tools/onnx/tensor.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <limits>

#include "graph/error.h"

namespace rowflow::onnx_internal {
namespace {

using onnx::TensorProto;

// ONNX stores raw_data little-endian; memcpy decoding relies on the host
// being so too (every platform rowflow builds on).
static_assert(std::endian::native == std::endian::little);

int64_t ElemSize(int32_t type) {
  switch (type) {
    case TensorProto::BOOL:  // Dropout's training_mode
      return 1;
    case TensorProto::FLOAT:
    case TensorProto::INT32:
      return 4;
    case TensorProto::DOUBLE:
    case TensorProto::INT64:
      return 8;
    default:
      return 0;
  }
}

template <typename Stored, typename Out>
void DecodeRaw(const std::string& raw, int64_t count, std::vector<Out>* out) {
  out->resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    Stored v;
    std::memcpy(&v, raw.data() + i * static_cast<int64_t>(sizeof(Stored)),
                sizeof(Stored));
    (*out)[static_cast<size_t>(i)] = static_cast<Out>(v);
  }
}

template <typename Field, typename Out>
void CopyTyped(const Field& field, std::vector<Out>* out) {
  out->assign(field.begin(), field.end());
}

// The element count of the typed field matching `type`.
int64_t TypedCount(const TensorProto& t, int32_t type) {
  switch (type) {
    case TensorProto::FLOAT:
      return t.float_data_size();
    case TensorProto::DOUBLE:
      return t.double_data_size();
    case TensorProto::INT64:
      return t.int64_data_size();
    default:
      return t.int32_data_size();
  }
}

}  // namespace

int64_t CheckedCount(const std::vector<int64_t>& dims) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    if (d != 0 && count > std::numeric_limits<int64_t>::max() / d) return -1;
    count *= d;
  }
  return count;
}

std::string ElemTypeName(int32_t elem_type) {
  if (TensorProto::DataType_IsValid(elem_type) && elem_type != 0) {
    return TensorProto::DataType_Name(
        static_cast<TensorProto::DataType>(elem_type));
  }
  return fmt::format("type {}", elem_type);
}

int32_t ElemType(ir::DType dtype) {
  return dtype == ir::DType::kF32 ? TensorProto::FLOAT : TensorProto::DOUBLE;
}

HostTensor ReadTensor(const TensorProto& t, const std::string& what,
                      int64_t* budget_bytes) {
  if (t.data_location() == TensorProto::EXTERNAL ||
      t.external_data_size() > 0) {
    std::string location = "?";
    for (const auto& entry : t.external_data()) {
      if (entry.key() == "location") location = entry.value();
    }
    Fail(
        "{} keeps its data in an external file ('{}'); rowflow imports "
        "self-contained models only (save with onnx.save_model(model, path, "
        "save_as_external_data=False))",
        what, location);
  }
  if (t.has_segment()) Fail("{} is segmented; expected one whole tensor", what);
  const int32_t type = t.data_type();
  const int64_t elem_size = ElemSize(type);
  if (elem_size == 0) {
    Fail("{} has element type {}; expected FLOAT or DOUBLE (INT64 for axes)",
         what, ElemTypeName(type));
  }
  HostTensor out;
  out.dims.assign(t.dims().begin(), t.dims().end());
  const int64_t count = CheckedCount(out.dims);
  if (count < 0) {
    Fail("{} has shape {}: a negative dim, or more elements than int64 holds",
         what, ir::ShapeToString(out.dims));
  }
  const bool raw = t.has_raw_data();
  if (raw && TypedCount(t, type) > 0) {
    Fail("{} has both raw_data and typed data; expected one of them", what);
  }
  // Compare the data present with the shape before allocating anything: a
  // shape alone may claim any size.
  if (raw) {
    const auto have = static_cast<int64_t>(t.raw_data().size());
    if (count > std::numeric_limits<int64_t>::max() / elem_size ||
        have != count * elem_size) {
      Fail(
          "{}: raw_data does not match shape {} of {}; expected {} x {} bytes, "
          "got {} bytes",
          what, ir::ShapeToString(out.dims), ElemTypeName(type), count,
          elem_size, have);
    }
  } else if (TypedCount(t, type) != count) {
    Fail(
        "{}: data length does not match shape {}; expected {} {} values, got "
        "{}",
        what, ir::ShapeToString(out.dims), count, ElemTypeName(type),
        TypedCount(t, type));
  }
  if (count > *budget_bytes / 8) {
    Fail("{} has {} elements, over the memory budget ({} bytes left)", what,
         count, *budget_bytes);
  }
  *budget_bytes -= count * 8;
  out.is_int = type == TensorProto::INT64 || type == TensorProto::INT32 ||
               type == TensorProto::BOOL;
  out.dtype = type == TensorProto::DOUBLE ? ir::DType::kF64 : ir::DType::kF32;
  switch (type) {
    case TensorProto::FLOAT:
      raw ? DecodeRaw<float>(t.raw_data(), count, &out.values)
          : CopyTyped(t.float_data(), &out.values);
      break;
    case TensorProto::DOUBLE:
      raw ? DecodeRaw<double>(t.raw_data(), count, &out.values)
          : CopyTyped(t.double_data(), &out.values);
      break;
    case TensorProto::INT64:
      raw ? DecodeRaw<int64_t>(t.raw_data(), count, &out.ints)
          : CopyTyped(t.int64_data(), &out.ints);
      break;
    case TensorProto::BOOL:  // typed data in int32_data
      raw ? DecodeRaw<uint8_t>(t.raw_data(), count, &out.ints)
          : CopyTyped(t.int32_data(), &out.ints);
      break;
    default:
      raw ? DecodeRaw<int32_t>(t.raw_data(), count, &out.ints)
          : CopyTyped(t.int32_data(), &out.ints);
      break;
  }
  return out;
}

void WriteFloatTensor(const std::string& name, const ir::Shape& dims,
                      const std::vector<double>& data, ir::DType dtype,
                      TensorProto* t) {
  t->set_name(name);
  t->set_data_type(ElemType(dtype));
  for (int64_t d : dims) t->add_dims(d);
  if (dtype == ir::DType::kF32) {
    t->mutable_float_data()->Reserve(static_cast<int>(data.size()));
    for (double v : data) t->add_float_data(static_cast<float>(v));
  } else {
    t->mutable_double_data()->Add(data.begin(), data.end());
  }
}

void WriteInt64Tensor(const std::string& name, const std::vector<int64_t>& data,
                      TensorProto* t) {
  t->set_name(name);
  t->set_data_type(TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(data.size()));
  t->mutable_int64_data()->Add(data.begin(), data.end());
}

}  // namespace rowflow::onnx_internal
