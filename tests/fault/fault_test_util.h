// Helpers for the fault-injection and concurrency tests: a graph whose plan
// has several kinds of stage and a join, the exact error a stage_hook fault
// must produce, row sources and sinks that fail on cue, and a watchdog that
// turns a hang into a failure.
#ifndef ROWFLOW_TESTS_FAULT_FAULT_TEST_UTIL_H_
#define ROWFLOW_TESTS_FAULT_FAULT_TEST_UTIL_H_

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "graph/builder.h"
#include "graph/error.h"
#include "graph/ir.h"
#include "runtime/plan.h"
#include "runtime/row_io.h"

namespace rowflow::testing {

// x[6] -> dense 12 RELU -> {dense 5 TANH, dense 3 per-node} -> CONCAT ->
// scale, shift, SIGMOID: dense, elementwise and gather stages, two branches
// that meet in a tag-matching join.
inline ir::Graph BranchyGraph(ir::DType dtype = ir::DType::kF32) {
  GraphBuilder b("branchy", dtype);
  auto weights = [](int64_t n, double step) {
    std::vector<double> w(n);
    for (int64_t i = 0; i < n; ++i)
      w[i] = static_cast<double>((i * 7) % 11 - 5) * step;
    return w;
  };
  ValueRef x = b.Input("x", {6});
  DenseOptions relu;
  relu.activation = ir::Activation::kRelu;
  ValueRef h =
      b.Dense(x, "hidden", 12, weights(72, 0.125), weights(12, 0.25), relu);
  DenseOptions tanh;
  tanh.activation = ir::Activation::kTanh;
  ValueRef left = b.Dense(h, "left", 5, weights(60, 0.0625), {}, tanh);
  DenseOptions per_node;
  per_node.form = DenseForm::kPerNode;
  ValueRef right =
      b.Dense(h, "right", 3, weights(36, 0.5), weights(3, 1), per_node);
  ValueRef both = b.Concat({left, right}, -1, "both");
  ValueRef scaled = b.Multiply(both, b.Constant("scale", {8}, weights(8, 0.5)));
  ValueRef shifted = b.Add(scaled, b.Constant("shift", {8}, weights(8, 0.25)));
  b.Output(b.Activation(shifted, ir::Activation::kSigmoid));
  return b.Build();
}

// The name an error of `stage` gives: its last node's, as the Session does.
inline std::string StageNodeName(const ir::Graph& graph,
                                 const StageInfo& stage) {
  return stage.nodes.empty() ? std::string(StageKindName(stage.kind))
                             : graph.nodes[stage.nodes.back()].name;
}

// The one message a fault `what` in `stage` on the tile [first, first+rows)
// must produce, per the Session's contract.
inline std::string ExpectedFaultMessage(const ir::Graph& graph,
                                        const StageInfo& stage, int64_t first,
                                        int64_t rows, const std::string& what) {
  return fmt::format("node '{}' ({}): rows {}-{}: {}",
                     StageNodeName(graph, stage), stage.label, first,
                     first + rows - 1, what);
}

// Rows from memory that throws Error(kInput) once row `fail_at` is reached.
template <typename T>
class FailingSource final : public RowSource<T> {
 public:
  FailingSource(const std::vector<T>* data, int64_t cols, int64_t fail_at)
      : data_(data), cols_(cols), fail_at_(fail_at) {}
  int64_t cols() const override { return cols_; }
  int64_t Read(T* out, int64_t max_rows) override {
    const int64_t rows = static_cast<int64_t>(data_->size()) / cols_;
    const int64_t n = std::min(max_rows, rows - next_);
    if (next_ + n > fail_at_) {
      throw MakeError(ErrorKind::kInput, "source: row {}: injected", fail_at_);
    }
    std::copy(data_->begin() + next_ * cols_,
              data_->begin() + (next_ + n) * cols_, out);
    next_ += n;
    return n;
  }

 private:
  const std::vector<T>* data_;
  int64_t cols_;
  int64_t fail_at_;
  int64_t next_ = 0;
};

// A sink that keeps rows and throws Error(kIo) on write number `fail_write`
// (counting from 1; 0 never fails); it records whether Commit() ran.
template <typename T>
class FailingSink final : public RowSink<T> {
 public:
  FailingSink(int64_t cols, int fail_write)
      : cols_(cols), fail_write_(fail_write) {}
  void Write(const T* rows, int64_t n) override {
    if (++writes_ == fail_write_) throw Error(ErrorKind::kIo, "sink: injected");
    rows_.insert(rows_.end(), rows, rows + n * cols_);
  }
  void Commit() override { committed_ = true; }
  bool committed() const { return committed_; }
  const std::vector<T>& rows() const { return rows_; }

 private:
  int64_t cols_;
  int fail_write_;
  int writes_ = 0;
  bool committed_ = false;
  std::vector<T> rows_;
};

// Aborts the test binary with `what` if it is still alive `seconds` from
// construction: a hang fails (and names what hung) instead of blocking.
class Watchdog {
 public:
  Watchdog(double seconds, std::string what)
      : what_(std::move(what)), thread_([this, seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                                 [this] { return done_; })) {
            std::fprintf(stderr, "HANG: %s did not finish within %.0f s\n",
                         what_.c_str(), seconds);
            std::fflush(stderr);
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace rowflow::testing

#endif  // ROWFLOW_TESTS_FAULT_FAULT_TEST_UTIL_H_
