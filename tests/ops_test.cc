// Table-driven tests of the operator registry: every case runs each op's
// f32 and f64 tile kernels over random rows and compares them with a scalar
// reference written from the op's definition, element by element.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "graph/op_schema.h"
#include "ops/activation.h"
#include "ops/registry.h"

namespace rowflow::ops {
namespace {

using ir::Activation;
using ir::OpKind;
using ir::Shape;

struct OperandSpec {
  Shape shape;
  bool per_row = true;
};

struct OpCase {
  std::string label;
  OpKind op;
  std::vector<OperandSpec> inputs;
  int64_t axis = -1;
  Activation act = Activation::kIdentity;
  Shape shape = {};  // RESHAPE's target
};

// Element (i, j) of a rank <= 2 per-row shape padded to rank 2.
int64_t Dim(const Shape& s, int k) {
  const int pad = 2 - static_cast<int>(s.size());
  return k < pad ? 1 : s[k - pad];
}

// The scalar reference of one output row, from the op definitions in
// DESIGN.md, in double.
std::vector<double> ReferenceRow(const OpCase& c,
                                 const std::vector<const double*>& in,
                                 const Shape& out_shape) {
  const int64_t n = ir::NumElements(out_shape);
  std::vector<double> out(n);
  const Shape& a = c.inputs[0].shape;
  switch (c.op) {
    case OpKind::kMultiply:
    case OpKind::kAdd: {
      const Shape& b = c.inputs[1].shape;
      for (int64_t i = 0; i < Dim(out_shape, 0); ++i) {
        for (int64_t j = 0; j < Dim(out_shape, 1); ++j) {
          // numpy: a dimension of 1 repeats.
          double x = in[0][(Dim(a, 0) == 1 ? 0 : i) * Dim(a, 1) +
                           (Dim(a, 1) == 1 ? 0 : j)];
          double y = in[1][(Dim(b, 0) == 1 ? 0 : i) * Dim(b, 1) +
                           (Dim(b, 1) == 1 ? 0 : j)];
          out[i * Dim(out_shape, 1) + j] = c.op == OpKind::kAdd ? x + y : x * y;
        }
      }
      break;
    }
    case OpKind::kSum: {
      const int64_t axis =
          ir::NormalizeAxis(c.axis, static_cast<int64_t>(a.size()));
      if (a.size() == 1) {
        for (int64_t j = 0; j < a[0]; ++j) out[0] += in[0][j];
      } else {
        for (int64_t i = 0; i < a[0]; ++i)
          for (int64_t j = 0; j < a[1]; ++j)
            out[axis == 0 ? j : i] += in[0][i * a[1] + j];
      }
      break;
    }
    case OpKind::kActivation: {
      // The table's scalar definition, group by group for the last-axis kinds.
      const int64_t len =
          IsLastAxis(c.act) ? a.back() : std::max<int64_t>(n, 1);
      std::vector<long double> x(in[0], in[0] + n), y(n);
      for (int64_t g = 0; g < n; g += len) {
        ActivationReferenceGroup(c.act, {0.1, 0.5}, x.data() + g, len,
                                 y.data() + g);
      }
      for (int64_t j = 0; j < n; ++j) out[j] = static_cast<double>(y[j]);
      break;
    }
    case OpKind::kReshape:  // the same elements in the same order
      std::copy_n(in[0], n, out.begin());
      break;
    case OpKind::kConcat: {
      if (a.empty()) {  // scalars stack
        for (size_t k = 0; k < in.size(); ++k) out[k] = in[k][0];
        break;
      }
      const bool along_rows =
          a.size() == 2 && ir::NormalizeAxis(c.axis, 2) == 0;
      // Output as (rows_o, cols_o); walk it and find the source input.
      const int64_t cols_o = Dim(out_shape, 1);
      for (int64_t i = 0; i < Dim(out_shape, 0); ++i) {
        for (int64_t j = 0; j < cols_o; ++j) {
          int64_t ii = i, jj = j;
          size_t k = 0;
          for (;; ++k) {
            const Shape& s = c.inputs[k].shape;
            int64_t extent = along_rows ? Dim(s, 0) : Dim(s, 1);
            int64_t& idx = along_rows ? ii : jj;
            if (idx < extent) break;
            idx -= extent;
          }
          out[i * cols_o + j] = in[k][ii * Dim(c.inputs[k].shape, 1) + jj];
        }
      }
      break;
    }
  }
  return out;
}

template <typename T>
void RunCase(const OpCase& c) {
  SCOPED_TRACE(c.label + (sizeof(T) == 4 ? " f32" : " f64"));
  const int64_t rows = 7;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> dist(-4, 4);
  ir::Node node{"n", c.op, {}};
  node.axis = c.axis;
  node.activation = c.act;
  node.alpha = 0.1;
  node.shape = c.shape;
  std::vector<const Shape*> shapes;
  for (const OperandSpec& s : c.inputs) shapes.push_back(&s.shape);
  const Shape out_shape = ir::GetOpSchema(c.op).infer(node, shapes);
  // Values in T's precision, kept in double for the reference.
  std::vector<std::vector<T>> data;
  std::vector<std::vector<double>> data64;
  std::vector<Operand<T>> operands;
  for (const OperandSpec& s : c.inputs) {
    const int64_t count = ir::NumElements(s.shape) * (s.per_row ? rows : 1);
    std::vector<T> v(count);
    for (T& x : v) x = static_cast<T>(dist(rng));
    data64.emplace_back(v.begin(), v.end());
    data.push_back(std::move(v));
  }
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    operands.push_back(
        {data[k].data(), &c.inputs[k].shape, c.inputs[k].per_row});
  }
  const int64_t n = ir::NumElements(out_shape);
  std::vector<T> out(rows * n);
  GetOp(c.op).kernel<T>()(node, operands, out_shape, rows, out.data());
  // Relative, plus absolute; a RESHAPE only moves values, so exactly.
  const double tol = c.op == OpKind::kReshape ? 0
                     : sizeof(T) == 4         ? 1e-5
                                              : 1e-13;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<const double*> in;
    for (size_t k = 0; k < c.inputs.size(); ++k) {
      in.push_back(
          data64[k].data() +
          (c.inputs[k].per_row ? r * ir::NumElements(c.inputs[k].shape) : 0));
    }
    std::vector<double> want = ReferenceRow(c, in, out_shape);
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_NEAR(out[r * n + j], want[j], tol * (1 + std::abs(want[j])))
          << "row " << r << " element " << j;
    }
  }
}

const std::vector<OpCase>& Cases() {
  static const std::vector<OpCase> cases = {
      {"mul same shape", OpKind::kMultiply, {{{5}}, {{5}}}},
      {"mul vector by constant vector",
       OpKind::kMultiply,
       {{{5}}, {{5}, false}}},
      {"mul vector by weight matrix",
       OpKind::kMultiply,
       {{{4}}, {{3, 4}, false}}},
      {"mul column by row", OpKind::kMultiply, {{{3, 1}}, {{1, 4}}}},
      {"mul scalar by matrix", OpKind::kMultiply, {{{}}, {{2, 3}}}},
      {"mul constant scalar", OpKind::kMultiply, {{{2, 3}}, {{}, false}}},
      {"add bias", OpKind::kAdd, {{{3}}, {{3}, false}}},
      {"add broadcast rows", OpKind::kAdd, {{{2, 3}}, {{3}}}},
      {"add scalars", OpKind::kAdd, {{{}}, {{}}}},
      {"sum vector", OpKind::kSum, {{{6}}}},
      {"sum matrix last axis", OpKind::kSum, {{{3, 4}}}, -1},
      {"sum matrix axis 0", OpKind::kSum, {{{3, 4}}}, 0},
      {"sum constant", OpKind::kSum, {{{3, 4}, false}}, 1},
      {"concat scalars", OpKind::kConcat, {{{}}, {{}}, {{}}}},
      {"concat vectors", OpKind::kConcat, {{{2}}, {{3}, false}, {{1}}}},
      {"concat matrices axis 0", OpKind::kConcat, {{{1, 3}}, {{2, 3}}}, 0},
      {"concat matrices axis 1", OpKind::kConcat, {{{2, 1}}, {{2, 3}}}, -1},
      {"reshape matrix to vector",
       OpKind::kReshape,
       {{{2, 4}}},
       -1,
       Activation::kIdentity,
       {8}},
      {"reshape vector to matrix",
       OpKind::kReshape,
       {{{8}}},
       -1,
       Activation::kIdentity,
       {4, 2}},
      {"reshape matrix to matrix",
       OpKind::kReshape,
       {{{2, 3}}},
       -1,
       Activation::kIdentity,
       {3, 2}},
      {"reshape scalar to unit matrix",
       OpKind::kReshape,
       {{{}}},
       -1,
       Activation::kIdentity,
       {1, 1}},
      {"reshape constant",
       OpKind::kReshape,
       {{{6}, false}},
       -1,
       Activation::kIdentity,
       {2, 3}},
  };
  return cases;
}

std::vector<OpCase> ActivationCases() {
  std::vector<OpCase> cases;
  for (Activation act : AllActivations()) {
    for (Shape s : {Shape{5}, Shape{3, 4}, Shape{37}}) {
      cases.push_back(
          {std::string(ir::ActivationName(act)) + " " + ir::ShapeToString(s),
           OpKind::kActivation,
           {{s}},
           -1,
           act});
    }
  }
  cases.push_back(
      {"RELU scalar", OpKind::kActivation, {{{}}}, -1, Activation::kRelu});
  return cases;
}

TEST(OpRegistryTest, EveryOpMatchesItsScalarReference) {
  for (const OpCase& c : Cases()) {
    RunCase<float>(c);
    RunCase<double>(c);
  }
}

TEST(OpRegistryTest, EveryActivationMatchesItsScalarReference) {
  for (const OpCase& c : ActivationCases()) {
    RunCase<float>(c);
    RunCase<double>(c);
  }
}

TEST(OpRegistryTest, EntriesMatchTheirSchemas) {
  // One entry per schema, in OpKind order: an operator added to the graph's
  // table without kernels fails here.
  ASSERT_EQ(AllOps().size(), ir::AllOpSchemas().size());
  for (const ir::OpSchema& schema : ir::AllOpSchemas()) {
    const OpKind op = schema.kind;
    const OpEntry& entry = GetOp(op);
    EXPECT_EQ(entry.schema, &schema);
    EXPECT_EQ(entry.schema->kind, op);
    EXPECT_EQ(entry.schema->name, ir::OpName(op));
    EXPECT_NE(entry.f32, nullptr);
    EXPECT_NE(entry.f64, nullptr);
  }
}

}  // namespace
}  // namespace rowflow::ops
