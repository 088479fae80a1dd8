// rowflow.Error and its subclasses, one per rowflow::ErrorKind; each
// carries the same one-line message the CLI prints, and `exit_code`, the
// CLI's exit code for it.
#include <pybind11/pybind11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <string>

#include "tools/python/binding.h"

namespace rowflow::python {
namespace {

struct ErrorTypes {
  py::object base, model, input, usage, io, internal;
};

ErrorTypes& Types() {
  // Made once at import and never destroyed: the interpreter owns them.
  static ErrorTypes* types = new ErrorTypes();
  return *types;
}

py::object MakeType(py::module_& m, const char* name, py::handle bases,
                    const char* doc) {
  const std::string full = std::string("rowflow.") + name;
  PyObject* type =
      PyErr_NewExceptionWithDoc(full.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  py::object t = py::reinterpret_steal<py::object>(type);
  m.attr(name) = t;
  return t;
}

py::handle TypeOf(ErrorKind kind) {
  ErrorTypes& t = Types();
  switch (kind) {
    case ErrorKind::kModel:
      return t.model;
    case ErrorKind::kInput:
      return t.input;
    case ErrorKind::kUsage:
      return t.usage;
    case ErrorKind::kIo:
      return t.io;
    case ErrorKind::kInternal:
    case ErrorKind::kInterrupted:
      break;
  }
  return t.internal;
}

// `text` (UTF-8, perhaps with a file name's other bytes) as a str.
py::str Decode(const std::string& text) {
  PyObject* s = PyUnicode_DecodeUTF8(
      text.data(), static_cast<Py_ssize_t>(text.size()), "surrogateescape");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

}  // namespace

void SetPythonError(const Error& e) {
  if (e.kind() == ErrorKind::kInterrupted) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    return;
  }
  py::handle type = TypeOf(e.kind());
  py::object instance;
  if (const auto* f = dynamic_cast<const FileError*>(&e)) {
    // rowflow/_errors.py makes the class that is also an OSError.
    instance = py::module_::import("rowflow._errors")
                   .attr("file_error")(type, Types().io, Decode(e.what()),
                                       f->err(), Decode(f->path()));
  } else {
    instance = type(Decode(e.what()));
  }
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())),
                  instance.ptr());
}

int FileErrno(const Error& e, const std::string& path) {
  if (e.kind() != ErrorKind::kModel && e.kind() != ErrorKind::kInput) return 0;
  if (path.empty() || path == "-") return 0;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (::access(path.c_str(), R_OK) != 0) return errno;
  return 0;
}

std::string FsPath(py::handle path) {
  py::object bytes = py::module_::import("os").attr("fsencode")(path);
  std::string p = py::bytes(bytes);
  // As open() refuses it: the C library would cut the name short.
  if (p.find('\0') != std::string::npos)
    Throw(ErrorKind::kUsage, "path: embedded null byte");
  return p;
}

void Throw(ErrorKind kind, const std::string& message) {
  throw Error(kind, message);
}

void BindErrors(py::module_& m) {
  ErrorTypes& t = Types();
  t.base = MakeType(m, "Error", PyExc_Exception,
                    "Base of every rowflow error; str(e) is the one line "
                    "the CLI prints, e.exit_code the CLI's exit code.");
  auto bases = [&](PyObject* builtin) {
    return py::make_tuple(t.base, py::handle(builtin));
  };
  t.model = MakeType(m, "ModelError", bases(PyExc_ValueError),
                     "An invalid model file, layer spec, ONNX model or "
                     "builder graph (CLI exit code 3).");
  t.input = MakeType(m, "InputError", bases(PyExc_ValueError),
                     "Invalid input rows: wrong width or shape, text that "
                     "is no number, NaN with check_finite (exit code 4).");
  t.usage = MakeType(m, "UsageError", bases(PyExc_ValueError),
                     "A bad argument or option, or a closed session (exit "
                     "code 2).");
  t.io = MakeType(m, "IoError", bases(PyExc_OSError),
                  "An output that could not be written (exit code 5); "
                  "nothing partial is left behind.");
  t.internal = MakeType(m, "InternalError", bases(PyExc_RuntimeError),
                        "A bug in rowflow (exit code 1): please report it.");
  // The CLI's exit code of each kind, as a class attribute.
  t.base.attr("exit_code") = ExitCode(ErrorKind::kInternal);
  t.internal.attr("exit_code") = ExitCode(ErrorKind::kInternal);
  t.model.attr("exit_code") = ExitCode(ErrorKind::kModel);
  t.input.attr("exit_code") = ExitCode(ErrorKind::kInput);
  t.usage.attr("exit_code") = ExitCode(ErrorKind::kUsage);
  t.io.attr("exit_code") = ExitCode(ErrorKind::kIo);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      SetPythonError(e);
    }
  });
}

}  // namespace rowflow::python
