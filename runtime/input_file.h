// InputFile: an unbuffered byte stream read from a path or stdin ("-"), for
// the row sources, and their shared column check. Read errors throw
// Error(kInput) "<name>: <strerror>".
//
// Thread-safety: one thread at a time per object.
#ifndef ROWFLOW_RUNTIME_INPUT_FILE_H_
#define ROWFLOW_RUNTIME_INPUT_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace rowflow {

class InputFile {
 public:
  // Opens `path` for reading ("-" = stdin); throws Error(kInput) when it
  // cannot be opened or is a directory.
  explicit InputFile(const std::string& path);

  // Closes the file (never stdin).
  ~InputFile();

  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to `n` bytes into `dst`; returns 0 only at the end.
  size_t ReadSome(char* dst, size_t n);

  // Reads `n` bytes unless the input ends first; returns the bytes read.
  size_t ReadFull(char* dst, size_t n);

  // The name for messages: the path, or "<stdin>".
  const std::string& name() const { return name_; }

  // Bytes from where reading started to the end, when the input is a
  // regular file (also stdin redirected from one); -1 for pipes, terminals
  // and devices.
  int64_t size() const { return size_; }

 private:
  std::string name_;
  int fd_ = -1;
  int64_t size_ = -1;
};

// Throws Error(kUsage) unless rows of `cols` numbers have a column; the
// row files' Open* functions check it first.
void CheckCols(int64_t cols);

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_INPUT_FILE_H_
