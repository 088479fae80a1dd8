// rowflow.Session: runs a Model over numpy rows with the GIL released, and
// streams files with `rowflow run`'s semantics (run_file).
#include "runtime/session.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "runtime/row_check.h"
#include "runtime/row_io.h"
#include "tools/cli/frontend.h"
#include "tools/python/binding.h"

namespace rowflow::python {
namespace {

// Python's main thread (the one that gets signals), looked up again in a
// child after fork(): there the forking thread is the main thread. Called
// with the GIL held, which guards the cache.
unsigned long MainThreadId() {
  static unsigned long id = 0;
  static pid_t owner = 0;
  if (owner != getpid()) {
    id = py::module_::import("threading")
             .attr("main_thread")()
             .attr("ident")
             .cast<unsigned long>();
    owner = getpid();
  }
  return id;
}

class PySession {
 public:
  PySession(py::handle model, int threads, int64_t tile_rows,
            int max_tiles_in_flight)
      : model_(ToModel(model)) {
    SessionOptions o;
    o.threads = threads;
    o.tile_rows = tile_rows;
    o.max_tiles_in_flight = max_tiles_in_flight;
    session_ = std::make_shared<Session>(*model_.graph, o);
    dtype_ = py::module_::import("numpy").attr("dtype")(
        model_.graph->dtype == ir::DType::kF32 ? "float32" : "float64");
  }

  py::array Run(py::handle x, bool check_finite, int64_t first_row) {
    std::shared_ptr<Session> s = Live();
    if (first_row < 0)
      Throw(ErrorKind::kUsage,
            fmt::format("first_row must be >= 0; got {}", first_row));
    return model_.graph->dtype == ir::DType::kF32
               ? RunTyped<float>(*s, x, check_finite, first_row)
               : RunTyped<double>(*s, x, check_finite, first_row);
  }

  py::dict RunFile(const py::object& input, const py::object& output,
                   const py::kwargs& kwargs);

  void Close() { session_.reset(); }
  bool closed() const { return session_ == nullptr; }
  const Model& model() const { return model_; }
  std::shared_ptr<Session> Live() const {
    if (!session_) Throw(ErrorKind::kUsage, "the session is closed");
    return session_;
  }

 private:
  template <typename T>
  py::array RunTyped(Session& s, py::handle x, bool check_finite,
                     int64_t first_row);

  Model model_;
  std::shared_ptr<Session> session_;
  py::object dtype_;
};

// `x` itself when run() reads it in place: a C-contiguous numpy array of T
// of the model's width (2-D rows, or one 1-D row), aligned or not.
template <typename T>
std::optional<py::array> InPlace(py::handle x, int64_t width) {
  if (!py::isinstance<py::array>(x)) return std::nullopt;
  auto a = py::reinterpret_borrow<py::array>(x);
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  if ((flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) != 0 &&
      a.dtype().is(py::dtype::of<T>()) &&
      ((a.ndim() == 2 && a.shape(1) == width) ||
       (a.ndim() == 1 && a.shape(0) == width && width > 0)))
    return a;
  return std::nullopt;
}

bool IsAligned(const py::array& a) {
  return (py::detail::array_proxy(a.ptr())->flags &
          py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
}

// `x` as (rows, 1-D?): in place when it can be, else as the C-contiguous,
// aligned rows of T that rowflow._convert.as_rows makes of it.
template <typename T>
std::pair<py::array, bool> AsRows(py::handle x, int64_t width,
                                  const py::object& dtype) {
  if (std::optional<py::array> a = InPlace<T>(x, width))
    return {*a, a->ndim() == 1};
  py::tuple r =
      py::module_::import("rowflow._convert").attr("as_rows")(x, dtype, width);
  return {r[0].cast<py::array>(), r[1].cast<bool>()};
}

// Whether a run() call is long enough to need Ctrl-C handling on Python's
// main thread (RunReleased hands it to a helper thread and polls for
// signals every 20 ms). Below ~20 ms of work, at a modest 10 GFLOP/s and
// 5 GB/s, the call runs on the main thread with the GIL released: it ends
// about as soon as the next poll would have come, and the hand-off's two
// thread wake-ups (tens of microseconds) were 5-7 % of a 4 M-row `seed`
// call (1.5 ms; tools/python/bench.py).
bool NeedsInterruptWatch(const Session& s, int64_t rows,
                         int64_t bytes_per_row) {
  constexpr double kFlops = 2e8, kBytes = 1e8;
  return rows > s.tile_rows() &&
         (static_cast<double>(rows) * static_cast<double>(s.flops_per_row()) >
              kFlops ||
          static_cast<double>(rows) * static_cast<double>(bytes_per_row) >
              kBytes);
}

// Rows written in order into caller-owned (rows, cols) memory.
template <typename T>
class SpanRows final : public RowSink<T> {
 public:
  SpanRows(T* data, int64_t cols) : at_(data), cols_(cols) {}
  void Write(const T* rows, int64_t n) override {
    std::memcpy(at_, rows, static_cast<size_t>(n * cols_) * sizeof(T));
    at_ += n * cols_;
  }
  void Commit() override {}

 private:
  T* at_;
  int64_t cols_;
};

template <typename T>
py::array PySession::RunTyped(Session& s, py::handle x, bool check_finite,
                              int64_t first_row) {
  const int64_t width = s.input_width(), out_width = s.output_width();
  const RowLocator where{"input", false, false, first_row};
  const int64_t bytes_per_row =
      static_cast<int64_t>(sizeof(T)) * (width + out_width);
  auto [in, one_row] = AsRows<T>(x, width, dtype_);
  // Numpy arrays unpickled from the network (a Dask worker's partitions,
  // pickle protocol 5) can sit at any byte offset: those are read a tile at
  // a time by memcpy rather than copied whole first.
  const bool aligned = IsAligned(in);
  const int64_t rows = in.ndim() == 1 ? 1 : in.shape(0);
  py::array_t<T> out = one_row ? NewOutputArray<T>({out_width})
                               : NewOutputArray<T>({rows, out_width});
  const void* in_bytes = in.data();
  T* out_data = out.mutable_data();
  RunReleased(
      [&](std::atomic<bool>& cancel) {
        RunControl control;
        control.cancel = &cancel;
        control.first_row = first_row;
        if (aligned) {
          const T* in_data = static_cast<const T*>(in_bytes);
          if (check_finite)
            CheckFinite(in_data, rows, width, 0, where, false, "check_finite");
          s.Run(ConstRowSpan<T>{in_data, rows, width},
                RowSpan<T>{out_data, rows, out_width}, control);
        } else {
          MemorySource<T> memory(in_bytes, rows, width);
          std::optional<FiniteCheckSource<T>> checked;
          if (check_finite) checked.emplace(memory, where, "check_finite");
          SpanRows<T> sink(out_data, out_width);
          s.Run<T>(checked ? static_cast<RowSource<T>&>(*checked) : memory,
                   sink, control);
        }
        if (check_finite)
          CheckFinite(out_data, rows, out_width, 0, where, true,
                      "check_finite");
      },
      NeedsInterruptWatch(s, rows, bytes_per_row));
  return out;
}

// The keyword arguments of run_file, as `rowflow run`'s flags; a value of
// the wrong type is a UsageError naming the keyword.
cli::RunFileOptions FileOptions(const py::kwargs& kw) {
  cli::RunFileOptions o;
  for (auto [key, value] : kw) {
    const std::string k = py::str(key);
    auto wrong = [&](const char* expected) {
      Throw(ErrorKind::kUsage,
            fmt::format("run_file(): {} must be {}; got {}", k, expected,
                        std::string(py::repr(value))));
    };
    auto text = [&] {
      if (!py::isinstance<py::str>(value)) wrong("a str");
      return value.cast<std::string>();
    };
    auto flag = [&] {
      // True/False (numpy's too) and the ints 0 and 1, as `if` would.
      const int truth = PyObject_IsTrue(value.ptr());
      if (truth < 0) throw py::error_already_set();
      if (!PyBool_Check(value.ptr()) &&
          !py::isinstance(value, py::module_::import("numpy").attr("bool_")) &&
          !(PyLong_Check(value.ptr()) &&
            (value.equal(py::int_(0)) || value.equal(py::int_(1))))) {
        wrong("True or False");
      }
      return truth == 1;
    };
    // A str as it is, or a list of tokens (str or int) joined with commas
    // as the CLI takes them; `empty_ok`: an empty token counts (--na '').
    auto tokens = [&](bool empty_ok) {
      if (py::isinstance<py::str>(value)) return value.cast<std::string>();
      if (!py::isinstance<py::iterable>(value) ||
          py::isinstance<py::bytes>(value)) {
        wrong("a str or a list of str");
      }
      std::string joined;
      bool first = true;
      for (py::handle t : value) {
        if (!py::isinstance<py::str>(t) && !PyLong_Check(t.ptr()))
          wrong("a str or a list of str");
        const std::string token = py::str(t);
        if (token.find(',') != std::string::npos)
          Throw(ErrorKind::kUsage,
                fmt::format("{}: token '{}' holds a comma", k, token));
        if (token.empty() && !empty_ok)
          Throw(ErrorKind::kUsage, fmt::format("{}: an empty name", k));
        joined += (first ? "" : ",") + token;
        first = false;
      }
      return joined;
    };
    if (value.is_none()) continue;
    if (k == "format") {
      o.format = text();
    } else if (k == "header") {
      o.header = flag();
    } else if (k == "output_header") {
      o.output_header = flag();
    } else if (k == "columns") {
      o.columns = tokens(false);
    } else if (k == "keep") {
      o.keep = tokens(false);
    } else if (k == "delimiter") {
      o.delimiter = text();
    } else if (k == "decimal") {
      o.decimal = text();
    } else if (k == "comment") {
      o.comment = text();
    } else if (k == "skip_blank") {
      o.skip_blank = flag();
    } else if (k == "check_finite") {
      o.check_finite = flag();
    } else if (k == "max_line_bytes") {
      if (!PyLong_Check(value.ptr()) || PyBool_Check(value.ptr()))
        wrong("an int");
      try {
        o.max_line_bytes = value.cast<int64_t>();
      } catch (const py::cast_error&) {
        wrong("an int of 64 bits");
      }
    } else if (k == "na") {
      o.na_given = true;
      o.na = tokens(true);
    } else if (k == "progress") {
      if (!PyCallable_Check(value.ptr())) wrong("a callable or None");
    } else {
      Throw(
          ErrorKind::kUsage,
          fmt::format("run_file() got an unexpected keyword argument '{}'", k));
    }
  }
  if (!o.format.empty() && o.format != "csv" && o.format != "npy")
    Throw(ErrorKind::kUsage,
          fmt::format("format must be 'csv' or 'npy'; got '{}'", o.format));
  return o;
}

py::dict PySession::RunFile(const py::object& input, const py::object& output,
                            const py::kwargs& kwargs) {
  std::shared_ptr<Session> s = Live();
  cli::RunFileOptions o = FileOptions(kwargs);
  o.input = FsPath(input);
  o.output = FsPath(output);
  o.threads = s->threads();
  o.tile_rows = s->tile_rows();
  py::object progress =
      kwargs.contains("progress")
          ? py::reinterpret_borrow<py::object>(kwargs["progress"])
          : py::none();
  // The progress callback runs on the thread that drains tiles: it takes
  // the GIL, and an exception it raises stops the run and is re-raised.
  std::exception_ptr callback_error;
  std::atomic<bool>* cancel_flag = nullptr;
  if (!progress.is_none()) {
    o.progress = [&](int64_t rows, double fraction) {
      py::gil_scoped_acquire gil;
      if (callback_error) return;
      try {
        progress(rows,
                 fraction < 0 ? py::object(py::none()) : py::float_(fraction));
      } catch (...) {
        callback_error = std::current_exception();
        if (cancel_flag) cancel_flag->store(true);
      }
    };
  }
  cli::RunFileResult r;
  try {
    WithFileErrors(o.input, [&] {
      RunReleased(
          [&](std::atomic<bool>& cancel) {
            cancel_flag = &cancel;
            o.cancel = &cancel;
            r = cli::RunFile(*model_.graph, o);
          },
          true);
    });
  } catch (const Error& e) {
    if (callback_error && e.kind() == ErrorKind::kInterrupted)
      std::rethrow_exception(callback_error);
    throw;
  }
  if (callback_error) std::rethrow_exception(callback_error);
  py::dict d;
  d["rows"] = r.rows;
  d["seconds"] = r.seconds;
  d["threads_used"] = r.threads_used;
  d["tile_rows"] = r.tile_rows;
  return d;
}

py::dict StatsDict(const RunStats& st) {
  py::dict d;
  d["rows"] = st.rows;
  d["tiles"] = st.tiles;
  d["threads_used"] = st.threads_used;
  d["seconds"] = st.seconds;
  return d;
}

}  // namespace

namespace {

// The one thread that runs long calls made on Python's main thread (only
// that thread gets signals, so calls never overlap here). It lives as long
// as the process: a fresh thread per call cost oneTBB a new external
// thread's set-up each time (4-6 ms on a 4 M-row seed call, measured by
// tools/python/bench.py).
class MainCallThread {
 public:
  // Called with the GIL held, which guards `thread`. A child of fork()
  // has none of its parent's threads: it starts a thread of its own (the
  // parent's object is left as it is, its mutex perhaps held at the fork).
  static MainCallThread& Get() {
    static MainCallThread* thread = nullptr;  // never destroyed
    static pid_t owner = 0;
    if (thread == nullptr || owner != getpid()) {
      thread = new MainCallThread();
      owner = getpid();
    }
    return *thread;
  }

  // Runs `job` on the thread after the jobs posted before it; `job`
  // signals its own completion. (A second job is posted only by Python code
  // that a signal handler runs while the main thread waits for the first.)
  void Post(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
    cv_.notify_one();
  }

 private:
  MainCallThread() {
    std::thread([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [this] { return !jobs_.empty(); });
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    }).detach();
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
};

}  // namespace

void RunReleased(const std::function<void(std::atomic<bool>& cancel)>& work,
                 bool long_run) {
  std::atomic<bool> cancel{false};
  if (!long_run || PyThread_get_thread_ident() != MainThreadId()) {
    py::gil_scoped_release release;
    work(cancel);
    return;
  }
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false, interrupted = false;
  std::exception_ptr error;
  MainCallThread::Get().Post([&] {
    try {
      work(cancel);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
    cv.notify_one();
  });
  {
    py::gil_scoped_release release;
    std::unique_lock<std::mutex> lock(mutex);
    while (!cv.wait_for(lock, std::chrono::milliseconds(20),
                        [&] { return done; })) {
      if (interrupted) continue;
      lock.unlock();
      {
        py::gil_scoped_acquire gil;
        // Runs Python's signal handlers: Ctrl-C sets KeyboardInterrupt.
        if (PyErr_CheckSignals() != 0) interrupted = true;
      }
      if (interrupted) cancel = true;
      lock.lock();
    }
  }
  if (interrupted) throw py::error_already_set();
  if (error) std::rethrow_exception(error);
}

void BindSession(py::module_& m) {
  py::class_<PySession>(
      m, "Session",
      R"(Runs a model over rows in parallel (oneTBB), in order, bitwise the same
for any thread count or tile size.

    s = rowflow.Session("seed.pb", threads=2)
    y = s.run(x)              # (rows, width) -> (rows, output_width)
    s.run_file("in.csv", "out.csv", header=True)

run() takes any array-like numpy accepts (2-D rows, one 1-D row, lists,
DataFrames, ints), releases the GIL while rows run, and reads C-contiguous
arrays of the model's dtype without a copy. Several threads may call run()
on one Session at once; each call has its own tiles. Usable as a context
manager; close() frees it.)")
      .def(
          py::init<py::handle, int, int64_t, int>(), py::arg("model"),
          py::arg("threads") = 0, py::arg("tile_rows") = 0,
          py::arg("max_tiles_in_flight") = 0,
          R"(`model` is a Model, a path or model-file bytes. threads=0 uses every
core; tile_rows=0 and max_tiles_in_flight=0 let the plan choose.)")
      .def(
          "run", &PySession::Run, py::arg("x"), py::kw_only(),
          py::arg("check_finite") = false, py::arg("first_row") = 0,
          R"(The model's outputs for rows `x`: a (rows, output_width) array of the
model's dtype, or (output_width,) for one 1-D row. check_finite=True raises
rowflow.InputError at the first NaN or infinity in the input or output.
Raises InputError for a wrong width or shape, or values that are no numbers;
KeyboardInterrupt stops a long run within a tile. first_row: the number of
x's first row in messages when x is a part of a bigger input (a Dask
partition): errors then read as one run over the whole input's.)")
      .def("run_file", &PySession::RunFile, py::arg("input"), py::arg("output"),
           R"(Streams rows from file `input` into file `output` as `rowflow run`
does: CSV or .npy by extension (or format="csv"/"npy"), gzip/zstd input
detected, .gz/.zst output compressed, "-" for stdin/stdout, the output
written atomically only on success. Keyword arguments are the CLI's flags:
format, header, output_header, columns and keep (str or list), delimiter,
na (str or list), decimal, comment, skip_blank, max_line_bytes,
check_finite, and progress=callable(rows_done, fraction_or_None); an
exception progress raises stops the run, leaves no output and is raised
again. Returns a dict of rows, seconds, threads_used and tile_rows.)")
      .def("close", &PySession::Close,
           "Frees the session; later calls raise UsageError.")
      .def_property_readonly("closed", &PySession::closed,
                             "Whether close() was called.")
      .def_property_readonly("model", &PySession::model, "The Model it runs.")
      .def_property_readonly(
          "threads", [](const PySession& p) { return p.Live()->threads(); },
          "Worker threads the session runs rows on (threads=0 resolved).")
      .def_property_readonly(
          "tile_rows", [](const PySession& p) { return p.Live()->tile_rows(); },
          "Rows per tile, the unit of parallel work (tile_rows=0 resolved).")
      .def_property_readonly(
          "max_tiles_in_flight",
          [](const PySession& p) { return p.Live()->max_tiles_in_flight(); },
          "Tiles one run keeps in flight at most (bounds its memory).")
      .def_property_readonly(
          "input_width",
          [](const PySession& p) { return p.Live()->input_width(); },
          "Numbers per input row.")
      .def_property_readonly(
          "output_width",
          [](const PySession& p) { return p.Live()->output_width(); },
          "Numbers per output row.")
      .def_property_readonly(
          "stages",
          [](const PySession& p) {
            py::list out;
            for (const StageInfo& st : p.Live()->stages()) {
              py::dict d;
              d["kind"] = std::string(StageKindName(st.kind));
              d["label"] = st.label;
              d["flops_per_row"] = st.flops_per_row;
              d["deps"] = st.deps;
              out.append(d);
            }
            return out;
          },
          "The fused execution plan, one dict per stage.")
      .def_property_readonly(
          "last_run",
          [](const PySession& p) { return StatsDict(p.Live()->last_run()); },
          "What the run that finished last did: rows, tiles, threads_used, "
          "seconds.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PySession& p, py::args) { p.Close(); })
      .def("__repr__", [](const PySession& p) {
        if (p.closed()) return std::string("<rowflow.Session (closed)>");
        return fmt::format("<rowflow.Session '{}' threads={} tile_rows={}>",
                           p.model().graph->name, p.Live()->threads(),
                           p.Live()->tile_rows());
      });
}

}  // namespace rowflow::python
