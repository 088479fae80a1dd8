// Shared by the binding's files (tools/python/*.cc): the Python exception
// types of rowflow::Error, the Model object, and running C++ work with the
// GIL released.
//
// Thread-safety: every function here is called with the GIL held, except
// where it says otherwise.
#ifndef ROWFLOW_TOOLS_PYTHON_BINDING_H_
#define ROWFLOW_TOOLS_PYTHON_BINDING_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/ir.h"

namespace rowflow::python {

namespace py = pybind11;

// A validated model, shared by the sessions made from it (immutable).
struct Model {
  std::shared_ptr<const ir::Graph> graph;
};

// Creates rowflow.Error and its subclasses in `m` and registers the
// translation of rowflow::Error into them.
void BindErrors(py::module_& m);
// Sets the Python exception for `e` (with the GIL held). Its message is
// decoded from UTF-8 with surrogateescape, as Python decodes file names,
// so a path that is not UTF-8 survives into str(e).
void SetPythonError(const Error& e);

// An Error of a file that could not be opened or read as a file (missing,
// unreadable, a directory): raised as its kind's class (ModelError for a
// model, InputError for rows, exit codes as the CLI's) that is also an
// IoError and the OSError of `err` (FileNotFoundError, PermissionError,
// IsADirectoryError), with errno, strerror and filename set.
class FileError : public Error {
 public:
  FileError(const Error& e, int err, std::string path)
      : Error(e), err_(err), path_(std::move(path)) {}
  int err() const { return err_; }
  const std::string& path() const { return path_; }

 private:
  int err_;
  std::string path_;
};

// The errno that says why `path` cannot be read as a file, or 0 when it
// can (the error `e` is then about its content) or `e` is no model or
// input error.
int FileErrno(const Error& e, const std::string& path);

// Runs `load()`, which reads the file at `path`; a ModelError or
// InputError it throws while `path` cannot be opened as a file becomes a
// FileError.
template <typename F>
auto WithFileErrors(const std::string& path, F&& load) -> decltype(load()) {
  try {
    return load();
  } catch (const FileError&) {
    throw;
  } catch (const Error& e) {
    const int err = FileErrno(e, path);
    if (err != 0) throw FileError(e, err, path);
    throw;
  }
}

// A new C-contiguous array of `shape` for Session.run to write its rows
// into: from a cache of warm blocks when it is 1 KiB to 1 MiB
// (output_memory.cc), an ordinary numpy array that owns its data either
// way.
template <typename T>
py::array_t<T> NewOutputArray(const std::vector<py::ssize_t>& shape);

// A path argument (str, bytes or os.PathLike) as the file system's bytes:
// os.fsencode, so that a name that is not UTF-8 reaches the file.
std::string FsPath(py::handle path);

// A Python exception of `kind` carrying `message`, for errors the binding
// finds itself.
[[noreturn]] void Throw(ErrorKind kind, const std::string& message);

void BindModel(py::module_& m);
void BindBuilder(py::module_& m);
void BindSession(py::module_& m);
// Private helpers of tools/python/bench.py (bench.cc).
void BindBench(py::module_& m);

// The Model a Python argument names: a Model, a path (str or os.PathLike)
// or the model file's bytes.
Model ToModel(py::handle model);

// Runs `work(cancel)` with the GIL released. When `long_run` and on
// Python's main thread, the work runs on a helper thread while this thread
// checks for signals every 20 ms: Ctrl-C sets `cancel` (the run stops within
// the tiles in flight) and the KeyboardInterrupt is raised once the work has
// stopped. Exceptions of `work` are rethrown here.
void RunReleased(const std::function<void(std::atomic<bool>& cancel)>& work,
                 bool long_run);

}  // namespace rowflow::python

#endif  // ROWFLOW_TOOLS_PYTHON_BINDING_H_
