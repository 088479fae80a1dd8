#include "ops/registry.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "graph/error.h"
#include "ops/activation.h"

namespace rowflow::ops {
namespace {

using ir::Shape;

// A per-row shape padded to rank 2 with leading ones, and the element
// strides that broadcast it to `out` (0 along broadcast dimensions).
struct Strides2 {
  int64_t s0, s1;
};

Strides2 BroadcastStrides(const Shape& in, const Shape& out) {
  std::array<int64_t, 2> dims{1, 1};
  for (size_t i = 0; i < in.size(); ++i) dims[2 - in.size() + i] = in[i];
  std::array<int64_t, 2> odims{1, 1};
  for (size_t i = 0; i < out.size(); ++i) odims[2 - out.size() + i] = out[i];
  Strides2 s{dims[1], 1};
  if (dims[1] == 1 && odims[1] != 1) s.s1 = 0;
  if (dims[0] == 1 && odims[0] != 1) s.s0 = 0;
  return s;
}

template <typename T, typename F>
void Binary(std::span<const Operand<T>> in, const Shape& out_shape,
            int64_t rows, T* out, F f) {
  const Operand<T>& a = in[0];
  const Operand<T>& b = in[1];
  const int64_t n = ir::NumElements(out_shape);
  const int64_t a_row = a.per_row ? ir::NumElements(*a.shape) : 0;
  const int64_t b_row = b.per_row ? ir::NumElements(*b.shape) : 0;
  if (*a.shape == out_shape && *b.shape == out_shape) {  // no broadcast
    for (int64_t r = 0; r < rows; ++r) {
      const T* pa = a.data + r * a_row;
      const T* pb = b.data + r * b_row;
      T* po = out + r * n;
      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    }
    return;
  }
  const Strides2 sa = BroadcastStrides(*a.shape, out_shape);
  const Strides2 sb = BroadcastStrides(*b.shape, out_shape);
  const int64_t d1 = out_shape.empty() ? 1 : out_shape.back();
  const int64_t d0 = out_shape.size() == 2 ? out_shape[0] : 1;
  for (int64_t r = 0; r < rows; ++r) {
    const T* pa = a.data + r * a_row;
    const T* pb = b.data + r * b_row;
    T* po = out + r * n;
    for (int64_t i = 0; i < d0; ++i) {
      for (int64_t j = 0; j < d1; ++j) {
        po[i * d1 + j] =
            f(pa[i * sa.s0 + j * sa.s1], pb[i * sb.s0 + j * sb.s1]);
      }
    }
  }
}

template <typename T>
void MultiplyKernel(const ir::Node&, std::span<const Operand<T>> in,
                    const Shape& out_shape, int64_t rows, T* out) {
  Binary(in, out_shape, rows, out, [](T x, T y) { return x * y; });
}

template <typename T>
void AddKernel(const ir::Node&, std::span<const Operand<T>> in,
               const Shape& out_shape, int64_t rows, T* out) {
  Binary(in, out_shape, rows, out, [](T x, T y) { return x + y; });
}

// Sums in increasing index order, starting from the first element, as
// numpy's add.reduce does for short axes.
template <typename T>
void SumKernel(const ir::Node& node, std::span<const Operand<T>> in,
               const Shape& out_shape, int64_t rows, T* out) {
  const Operand<T>& a = in[0];
  const Shape& s = *a.shape;
  const int64_t axis =
      ir::NormalizeAxis(node.axis, static_cast<int64_t>(s.size()));
  // View the input row as (outer, len, inner) with `len` the reduced axis.
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t len = s[axis];
  const int64_t in_row = a.per_row ? ir::NumElements(s) : 0;
  const int64_t n = ir::NumElements(out_shape);
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = a.data + r * in_row;
    T* po = out + r * n;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < inner; ++k) {
        const T* q = p + o * len * inner + k;
        T acc = q[0];
        for (int64_t l = 1; l < len; ++l) acc += q[l * inner];
        po[o * inner + k] = acc;
      }
    }
  }
}

template <typename T>
void ActivationKernel(const ir::Node& node, std::span<const Operand<T>> in,
                      const Shape& out_shape, int64_t rows, T* out) {
  const Operand<T>& a = in[0];
  const int64_t n = ir::NumElements(out_shape);
  if (rows == 0) return;  // memcpy of nothing from a null buffer is UB
  if (a.per_row) {
    std::memcpy(out, a.data, sizeof(T) * n * rows);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(out + r * n, a.data, sizeof(T) * n);
  }
  if (IsLastAxis(node.activation)) {
    const int64_t len = out_shape.back();
    ActivateGroupsInPlace(node.activation, ParamsOf(node), out, rows * n / len,
                          len);
  } else {
    ActivateInPlace(node.activation, ParamsOf(node), out, rows * n);
  }
}

template <typename T>
void ConcatKernel(const ir::Node& node, std::span<const Operand<T>> in,
                  const Shape& out_shape, int64_t rows, T* out) {
  const Shape& first = *in[0].shape;
  // View each input row as (outer, inner_k); the output row as (outer, sum
  // inner_k).
  int64_t axis = 0, outer = 1;
  if (!first.empty()) {
    axis = ir::NormalizeAxis(node.axis, static_cast<int64_t>(first.size()));
    for (int64_t i = 0; i < axis; ++i) outer *= first[i];
  }
  const int64_t n = ir::NumElements(out_shape);
  const int64_t out_inner = n / outer;
  int64_t offset = 0;
  for (const Operand<T>& a : in) {
    const int64_t a_n = ir::NumElements(*a.shape);
    const int64_t inner = a_n / outer;
    const int64_t a_row = a.per_row ? a_n : 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T* p = a.data + r * a_row;
      T* po = out + r * n + offset;
      for (int64_t o = 0; o < outer; ++o) {
        std::copy_n(p + o * inner, inner, po + o * out_inner);
      }
    }
    offset += inner;
  }
}

// The same elements row-major under another per-row shape: a copy per row.
template <typename T>
void ReshapeKernel(const ir::Node&, std::span<const Operand<T>> in,
                   const Shape& out_shape, int64_t rows, T* out) {
  const Operand<T>& a = in[0];
  const int64_t n = ir::NumElements(out_shape);
  const int64_t a_row = a.per_row ? n : 0;
  for (int64_t r = 0; r < rows; ++r)
    std::copy_n(a.data + r * a_row, n, out + r * n);
}

#define ROWFLOW_KERNELS(name) &name<float>, &name<double>

const OpEntry kRegistry[] = {
    {&ir::GetOpSchema(ir::OpKind::kMultiply), ROWFLOW_KERNELS(MultiplyKernel)},
    {&ir::GetOpSchema(ir::OpKind::kAdd), ROWFLOW_KERNELS(AddKernel)},
    {&ir::GetOpSchema(ir::OpKind::kSum), ROWFLOW_KERNELS(SumKernel)},
    {&ir::GetOpSchema(ir::OpKind::kActivation),
     ROWFLOW_KERNELS(ActivationKernel)},
    {&ir::GetOpSchema(ir::OpKind::kConcat), ROWFLOW_KERNELS(ConcatKernel)},
    {&ir::GetOpSchema(ir::OpKind::kReshape), ROWFLOW_KERNELS(ReshapeKernel)},
};

}  // namespace

std::span<const OpEntry> AllOps() { return kRegistry; }

const OpEntry& GetOp(ir::OpKind op) {
  RF_CHECK(static_cast<size_t>(op) < std::size(kRegistry));
  const OpEntry& entry = kRegistry[static_cast<size_t>(op)];
  RF_CHECK(entry.schema->kind == op);
  return entry;
}

}  // namespace rowflow::ops
