// InputFile: an unbuffered byte stream read from a path or stdin ("-"), for
// the row sources, and their shared column check. Read errors throw
// Error(kInput) "<name>: <strerror>".
//
// gzip and zstd input is recognised by its magic bytes and decompressed on
// the fly (runtime/compress.h), for files and stdin alike; the readers see
// the plain bytes. A text reader (npy == false) refuses plain bytes that
// start as a .npy file does, with a hint, rather than reporting them as a
// malformed first line.
//
// Thread-safety: one thread at a time per object.
#ifndef ROWFLOW_RUNTIME_INPUT_FILE_H_
#define ROWFLOW_RUNTIME_INPUT_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/compress.h"

namespace rowflow {

class InputFile {
 public:
  // Opens `path` for reading ("-" = stdin) and looks at its first bytes;
  // throws Error(kInput) when it cannot be opened or is a directory, and
  // when `npy` is false and it holds .npy data.
  explicit InputFile(const std::string& path, bool npy = false);

  // Closes the file (never stdin).
  ~InputFile();

  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to `n` bytes into `dst`; returns 0 only at the end.
  size_t ReadSome(char* dst, size_t n);

  // Reads `n` bytes unless the input ends first; returns the bytes read.
  size_t ReadFull(char* dst, size_t n);

  // Whether ReadSome would wait for a writer now: a pipe or terminal with
  // no bytes ready (never for a file, nor for compressed input).
  bool WouldBlock() const;

  // Moves reading to byte `begin` of the file and ends the input at byte
  // `end` (< 0: the file's end), for a process that reads one part of a
  // file (mpirun). Error(kUsage) for stdin and compressed input, which
  // cannot seek.
  void SeekTo(int64_t begin, int64_t end);

  // The name for messages: the path, or "<stdin>".
  const std::string& name() const { return name_; }

  // Bytes from where reading started to the end, when the input is a
  // regular file (also stdin redirected from one) and not compressed; -1
  // for pipes, terminals, devices and compressed input.
  int64_t size() const { return size_; }

  // How the bytes on disk are compressed.
  Compression compression() const { return compression_; }

 private:
  void Open(const std::string& path);
  // Reads from the descriptor, after the bytes peeked at first.
  size_t ReadRaw(char* dst, size_t n);
  // ReadRaw or, when compressed, the decompressor: what ReadSome returns
  // after the peeked plain bytes.
  size_t ReadPlain(char* dst, size_t n);
  // Fills `*head` with up to `n` bytes of `read`, fewer only at the end.
  template <typename Read>
  static void Peek(Read read, size_t n, std::string* head);
  void CheckNotNpy();

  std::string name_;
  int fd_ = -1;
  int64_t size_ = -1;
  Compression compression_ = Compression::kNone;
  std::unique_ptr<Decompressor> decoder_;
  std::string raw_head_;    // first bytes of the descriptor, not yet returned
  std::string plain_head_;  // first plain bytes, not yet returned
  int64_t left_ = -1;       // bytes before SeekTo's end; -1: no end set
};

// Throws Error(kUsage) unless rows of `cols` numbers have a column; the
// row files' Open* functions check it first.
void CheckCols(int64_t cols);

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_INPUT_FILE_H_
