// The progress line `rowflow run` draws on a terminal.
//
// Thread-safety: used by one thread at a time.
#ifndef ROWFLOW_TOOLS_CLI_PROGRESS_LINE_H_
#define ROWFLOW_TOOLS_CLI_PROGRESS_LINE_H_

#include <chrono>
#include <cstdint>
#include <functional>

namespace rowflow::cli {

// A one-line progress report on stderr, redrawn at most 5 times a second:
// rows done, rows/s, and percent and ETA when the input's size is known.
class ProgressLine {
 public:
  // `fraction()` is the share of the input read so far, in [0, 1], or < 0
  // when unknown (RowSource::progress()); it is asked only when a line is
  // drawn. A disabled line prints nothing.
  ProgressLine(bool enabled, std::function<double()> fraction);
  // Erases the line, so that an error message starts on a clean line.
  ~ProgressLine() { Clear(); }

  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Reports `rows_done`; cheap when nothing is printed.
  void Update(int64_t rows_done);

  // Erases the line if one was drawn.
  void Clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool drawn_ = false;
  std::function<double()> fraction_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

}  // namespace rowflow::cli

#endif  // ROWFLOW_TOOLS_CLI_PROGRESS_LINE_H_
