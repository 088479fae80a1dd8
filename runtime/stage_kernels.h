// The kernels of plan stages: a thin layer binding ops/ kernels to tile
// locations. Internal to runtime/.
//
// Thread-safety: immutable after construction; Run is reentrant.
#ifndef ROWFLOW_RUNTIME_STAGE_KERNELS_H_
#define ROWFLOW_RUNTIME_STAGE_KERNELS_H_

#include <algorithm>
#include <memory>
#include <vector>

#include "graph/ir.h"
#include "ops/activation.h"
#include "ops/gemm.h"
#include "ops/registry.h"
#include "ops/tiny_mlp.h"
#include "runtime/plan.h"
#include "runtime/plan_match.h"

namespace rowflow::plan_internal {

template <typename T>
const T* At(T* const* buffers, const TileLoc& loc) {
  return buffers[loc.buffer] + loc.offset;
}

template <typename T>
std::vector<T> Cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// One dense layer: packed GEMM with bias and activation in its epilogue.
template <typename T>
class DenseStage final : public StageKernel<T> {
 public:
  DenseStage(const DenseLayer& l, TileLoc x, TileLoc y)
      : w_(Cast<T>(l.weights)),
        b_(Cast<T>(l.bias)),
        dense_(w_.data(), l.units, l.width, b_.empty() ? nullptr : b_.data(),
               l.activation, {l.alpha, l.beta}),
        x_(x),
        y_(y) {}
  void Run(T* const* buffers, int64_t rows) const override {
    dense_.Forward(At(buffers, x_), x_.ld, rows, buffers[y_.buffer] + y_.offset,
                   y_.ld);
  }

 private:
  std::vector<T> w_, b_;
  ops::PackedDense<T> dense_;
  TileLoc x_, y_;
};

// A chain of tiny layers in one fused loop over the rows.
template <typename T>
class TinyStage final : public StageKernel<T> {
 public:
  TinyStage(const std::vector<DenseLayer>& layers, TileLoc x, TileLoc y)
      : mlp_(ToTiny(layers)), x_(x), y_(y) {}
  static std::vector<ops::TinyLayer<T>> ToTiny(
      const std::vector<DenseLayer>& layers) {
    std::vector<ops::TinyLayer<T>> out;
    for (const DenseLayer& l : layers) {
      out.push_back({l.units, l.width, Cast<T>(l.weights), Cast<T>(l.bias),
                     l.activation, l.alpha, l.beta});
    }
    return out;
  }
  void Run(T* const* buffers, int64_t rows) const override {
    mlp_.Forward(At(buffers, x_), x_.ld, rows, buffers[y_.buffer] + y_.offset,
                 y_.ld);
  }

 private:
  ops::TinyMlp<T> mlp_;
  TileLoc x_, y_;
};

// A chain of elementwise steps, applied block by block while it is in cache.
template <typename T>
class ElementwiseStage final : public StageKernel<T> {
 public:
  ElementwiseStage(const std::vector<ElementwiseStep>& steps, int64_t width,
                   TileLoc in, TileLoc out)
      : steps_(steps), width_(width), in_(in), out_(out) {
    for (const ElementwiseStep& s : steps_)
      operands_.push_back(Cast<T>(s.operand));
  }
  void Run(T* const* buffers, int64_t rows) const override {
    const int64_t block = std::max<int64_t>(1, 2048 / width_);
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t n = std::min(block, rows - r0);
      T* out = buffers[out_.buffer] + out_.offset + r0 * out_.ld;
      const T* in = At(buffers, in_) + r0 * in_.ld;
      for (int64_t r = 0; r < n; ++r) {
        std::copy_n(in + r * in_.ld, width_, out + r * out_.ld);
      }
      for (size_t s = 0; s < steps_.size(); ++s) Apply(s, out, n);
    }
  }

 private:
  void Apply(size_t s, T* out, int64_t rows) const {
    const ElementwiseStep& step = steps_[s];
    const T* c = operands_[s].data();
    const ops::ActivationParams params{step.alpha, step.beta};
    if (step.op == ir::OpKind::kActivation &&
        !ops::IsLastAxis(step.activation) &&
        out_.ld == width_) {  // contiguous: one vectorized call for the block
      ops::ActivateInPlace(step.activation, params, out, width_ * rows);
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      T* p = out + r * out_.ld;
      if (step.op == ir::OpKind::kAdd) {
        for (int64_t j = 0; j < width_; ++j) p[j] = p[j] + c[j];
      } else if (step.op == ir::OpKind::kMultiply) {
        for (int64_t j = 0; j < width_; ++j) p[j] = p[j] * c[j];
      } else if (ops::IsLastAxis(step.activation)) {
        ops::ActivateGroupsInPlace(step.activation, params, p,
                                   width_ / step.softmax_len, step.softmax_len);
      } else {
        ops::ActivateInPlace(step.activation, params, p, width_);
      }
    }
  }

  std::vector<ElementwiseStep> steps_;
  std::vector<std::vector<T>> operands_;
  int64_t width_;
  TileLoc in_, out_;
};

// One node through its registry kernel; operands are contiguous.
template <typename T>
class GenericStage final : public StageKernel<T> {
 public:
  struct Arg {
    TileLoc loc;  // per-row operand, or
    // a constant (loc.buffer < 0), shared by every stage that reads it
    std::shared_ptr<const std::vector<T>> constant;
    const ir::Shape* shape;
  };
  GenericStage(const ir::Node& node, std::vector<Arg> args,
               const ir::Shape& out_shape, TileLoc out)
      : node_(node),
        args_(std::move(args)),
        out_shape_(out_shape),
        out_(out),
        kernel_(ops::GetOp(node.op).kernel<T>()) {}
  void Run(T* const* buffers, int64_t rows) const override {
    ops::Operand<T> operands[16];
    std::vector<ops::Operand<T>> many;
    ops::Operand<T>* p = operands;
    if (args_.size() > 16) {
      many.resize(args_.size());
      p = many.data();
    }
    for (size_t i = 0; i < args_.size(); ++i) {
      const Arg& a = args_[i];
      p[i] = a.loc.buffer < 0
                 ? ops::Operand<T>{a.constant->data(), a.shape, false}
                 : ops::Operand<T>{At(buffers, a.loc), a.shape, true};
    }
    kernel_(node_, {p, args_.size()}, out_shape_, rows,
            buffers[out_.buffer] + out_.offset);
  }

 private:
  ir::Node node_;
  std::vector<Arg> args_;
  ir::Shape out_shape_;
  TileLoc out_;
  ops::TileKernel<T> kernel_;
};

// Copies values between tile locations (splitting inputs, gathering
// outputs); a source without a buffer is a constant repeated on every row.
template <typename T>
class CopyStage final : public StageKernel<T> {
 public:
  struct Copy {
    TileLoc from;
    std::shared_ptr<const std::vector<T>> constant;  // when from.buffer < 0
    TileLoc to;
    int64_t width;
  };
  explicit CopyStage(std::vector<Copy> copies) : copies_(std::move(copies)) {}
  void Run(T* const* buffers, int64_t rows) const override {
    for (const Copy& c : copies_) {
      T* to = buffers[c.to.buffer] + c.to.offset;
      const T* from =
          c.from.buffer < 0 ? c.constant->data() : At(buffers, c.from);
      const int64_t ld = c.from.buffer < 0 ? 0 : c.from.ld;
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(from + r * ld, c.width, to + r * c.to.ld);
    }
  }

 private:
  std::vector<Copy> copies_;
};

}  // namespace rowflow::plan_internal

#endif  // ROWFLOW_RUNTIME_STAGE_KERNELS_H_
