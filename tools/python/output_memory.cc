// The memory of the arrays Session.run returns, through numpy's own
// allocator interface (NEP 49, PyDataMem_SetHandler): the arrays are
// ordinary numpy arrays that own their data (resize, pickling, views all
// as usual), whose blocks come from, and go back to, a small cache of warm
// blocks rather than straight from and to malloc.
//
// Why: a loop of run() calls on batches of a few KiB (64 rows of `mid` is
// 2.5 KiB out) frees each result before the next call, and glibc may hand
// the top of its heap back to the kernel on every free(); the next call
// then faults its output pages in again. In tools/python/bench.py that
// cost 2.3-2.9 us per 64-row call (of ~74 us) on top of the C++
// Session::Run, and 0.4 us with MALLOC_TRIM_THRESHOLD_ set, which is what
// this cache gives without touching the process's malloc settings.
// Outputs up to 1 KiB use numpy's own small-block cache; beyond 1 MiB, the
// run itself dwarfs the pages' cost and numpy's allocator (with its huge
// page advice) is used as it is.
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "tools/python/binding.h"

namespace rowflow::python {
namespace {

// Each block starts with a header (its size class and capacity) one cache
// line long, so the data that follows is 64-byte aligned.
constexpr size_t kHeader = 64;
constexpr int kMinShift = 11;  // 2 KiB blocks, the smallest class
constexpr int kMaxShift = 20;  // 1 MiB blocks, the largest
constexpr int kClasses = kMaxShift - kMinShift + 1;
constexpr size_t kKeep = 4;  // free blocks kept per class: 4 x 2 MiB at most

struct Header {
  int size_class;   // -1: not from a class, freed to the C library
  size_t capacity;  // data bytes after the header
};

struct Cache {
  std::mutex mutex;
  std::array<std::vector<char*>, kClasses> free;
};

Cache& TheCache() {
  // Never destroyed: arrays may outlive static destructors at exit.
  static Cache* cache = new Cache();
  return *cache;
}

Header& HeaderOf(void* data) {
  return *reinterpret_cast<Header*>(static_cast<char*>(data) - kHeader);
}

void* Allocate(void*, size_t bytes) {
  if (bytes > SIZE_MAX / 2) return nullptr;
  const size_t total = bytes + kHeader;
  int size_class = -1;
  for (int c = 0; c < kClasses; ++c) {
    if (total <= size_t{1} << (kMinShift + c)) {
      size_class = c;
      break;
    }
  }
  char* block = nullptr;
  size_t size = (total + 63) / 64 * 64;
  if (size_class >= 0) {
    size = size_t{1} << (kMinShift + size_class);
    Cache& cache = TheCache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto& list = cache.free[static_cast<size_t>(size_class)];
    if (!list.empty()) {
      block = list.back();
      list.pop_back();
    }
  }
  if (block == nullptr) {
    block = static_cast<char*>(std::aligned_alloc(64, size));
    if (block == nullptr) return nullptr;  // numpy raises MemoryError
  }
  auto* h = reinterpret_cast<Header*>(block);
  h->size_class = size_class;
  h->capacity = size - kHeader;
  return block + kHeader;
}

void Release(void*, void* data, size_t) {
  if (data == nullptr) return;
  char* block = static_cast<char*>(data) - kHeader;
  const int size_class = HeaderOf(data).size_class;
  if (size_class >= 0) {
    Cache& cache = TheCache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto& list = cache.free[static_cast<size_t>(size_class)];
    if (list.size() < kKeep) {
      list.push_back(block);
      return;
    }
  }
  std::free(block);
}

void* AllocateZeroed(void* ctx, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return nullptr;
  void* data = Allocate(ctx, count * size);
  if (data != nullptr) std::memset(data, 0, count * size);
  return data;
}

void* Reallocate(void* ctx, void* data, size_t bytes) {
  if (data == nullptr) return Allocate(ctx, bytes);
  const size_t capacity = HeaderOf(data).capacity;
  if (bytes <= capacity) return data;
  void* grown = Allocate(ctx, bytes);
  if (grown == nullptr) return nullptr;  // `data` stays valid, as realloc
  std::memcpy(grown, data, capacity);
  Release(ctx, data, capacity);
  return grown;
}

PyDataMem_Handler handler = {
    "rowflow_output",
    1,
    {nullptr, Allocate, AllocateZeroed, Reallocate, Release},
};

// The handler as numpy takes it: a capsule named "mem_handler".
PyObject* HandlerCapsule() {
  static PyObject* capsule = [] {
    if (PyArray_API == nullptr && _import_array() < 0) {
      throw py::error_already_set();
    }
    PyObject* c = PyCapsule_New(&handler, "mem_handler", nullptr);
    if (c == nullptr) throw py::error_already_set();
    return c;  // kept for the life of the process
  }();
  return capsule;
}

// Makes `capsule` numpy's allocator for this context while it lives.
class HandlerScope {
 public:
  explicit HandlerScope(PyObject* capsule)
      : previous_(PyDataMem_SetHandler(capsule)) {
    if (previous_ == nullptr) throw py::error_already_set();
  }
  ~HandlerScope() {
    PyObject* ours = PyDataMem_SetHandler(previous_);
    Py_DECREF(previous_);
    Py_XDECREF(ours);
  }
  HandlerScope(const HandlerScope&) = delete;
  HandlerScope& operator=(const HandlerScope&) = delete;

 private:
  PyObject* previous_;
};

}  // namespace

template <typename T>
py::array_t<T> NewOutputArray(const std::vector<py::ssize_t>& shape) {
  size_t bytes = sizeof(T);
  for (py::ssize_t n : shape) bytes *= static_cast<size_t>(n);
  if (bytes <= 1024 || bytes + kHeader > size_t{1} << kMaxShift) {
    return py::array_t<T>(shape);
  }
  HandlerScope scope(HandlerCapsule());
  return py::array_t<T>(shape);
}

template py::array_t<float> NewOutputArray(const std::vector<py::ssize_t>&);
template py::array_t<double> NewOutputArray(const std::vector<py::ssize_t>&);

}  // namespace rowflow::python
