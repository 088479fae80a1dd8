#include "tools/cli/progress_line.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <utility>

#include "tools/cli/cli_util.h"

namespace rowflow::cli {

ProgressLine::ProgressLine(bool enabled, std::function<double()> fraction)
    : enabled_(enabled), fraction_(std::move(fraction)) {}

void ProgressLine::Update(int64_t rows_done) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate =
      seconds > 0 ? static_cast<double>(rows_done) / seconds : 0;
  std::string line =
      fmt::format("rowflow: {} rows, {} rows/s", rows_done, FormatSi(rate));
  // The share of the input read so far; the source runs at most the
  // tiles in flight ahead of rows_done.
  const double done = fraction_ ? fraction_() : -1;
  if (done > 0) {
    line += fmt::format(", {:.0f}%, ETA {:.1f} s", 100.0 * done,
                        seconds * (1 - done) / done);
  }
  // \r returns to the line start; ESC[K erases what a longer line left.
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace rowflow::cli
