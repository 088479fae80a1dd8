// Streaming gzip (zlib) and zstd (libzstd) for the row files: a
// Decompressor pulls compressed bytes from a callback and hands out the
// plain ones, a Compressor takes plain bytes and pushes compressed ones to
// a callback, and OutputFile is an AtomicFile that compresses by the path's
// extension. Memory is bounded: a fixed buffer each way, plus zstd's window,
// which the decoder caps at 2^27 bytes (libzstd's default limit; frames
// written with `zstd --long=31` are refused rather than allocated).
//
// Input is recognised by its magic bytes (DetectCompression), so stdin
// works as a file does; InputFile (runtime/input_file.h) does that. Output
// is compressed by name only: "x.csv.gz", "x.npy.zst"; stdout never is.
//
// Corrupt or truncated compressed input throws Error(kInput) "<name>:
// corrupt gzip data (<zlib's reason>) after N bytes" or "<name>: truncated
// zstd data: ...". Concatenated gzip members and zstd frames are read as
// one stream, as gzip -d and zstd -d read them.
//
// Thread-safety: one thread at a time per object.
#ifndef ROWFLOW_RUNTIME_COMPRESS_H_
#define ROWFLOW_RUNTIME_COMPRESS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "graph/atomic_file.h"

namespace rowflow {

enum class Compression { kNone, kGzip, kZstd };

// Bytes DetectCompression needs to see (fewer when the input is shorter).
inline constexpr size_t kCompressionMagicBytes = 4;

// kGzip for 1f 8b, kZstd for 28 b5 2f fd, else kNone.
Compression DetectCompression(std::string_view head);

// kGzip for a path ending in ".gz", kZstd for ".zst", else kNone ("-").
Compression CompressionForPath(std::string_view path);

// `path` without a trailing ".gz" or ".zst", for picking the row format by
// the extension before it ("x.npy.gz" is .npy).
std::string_view StripCompressionSuffix(std::string_view path);

// "gzip", "zstd" or "none".
const char* CompressionName(Compression c);

// Plain bytes out of a compressed stream.
class Decompressor {
 public:
  // Reads up to `n` compressed bytes into `dst`; returns 0 only at the end.
  using RawRead = std::function<size_t(char* dst, size_t n)>;

  // A decoder for `c` (not kNone) over `raw`; `name` is for messages.
  static std::unique_ptr<Decompressor> Create(Compression c, RawRead raw,
                                              std::string name);

  virtual ~Decompressor() = default;

  // Reads up to `n` plain bytes into `dst`; returns 0 only at the end of
  // the last member/frame. Throws Error(kInput) on corrupt or truncated data.
  virtual size_t Read(char* dst, size_t n) = 0;
};

// Compressed bytes from plain ones.
class Compressor {
 public:
  // Takes `n` compressed bytes.
  using RawWrite = std::function<void(const char* data, size_t n)>;

  // An encoder for `c` (not kNone) into `raw`: gzip level 1, zstd level 3
  // with a checksum. Level 1, not gzip's 6: on prediction text it is within
  // 10% of level 6's size at about 8 times the speed, and level 6 would
  // make the writer the bottleneck of a run.
  static std::unique_ptr<Compressor> Create(Compression c, RawWrite raw);

  virtual ~Compressor() = default;

  // Compresses `n` bytes; output reaches `raw` in pieces of up to 256 KiB.
  virtual void Write(const char* data, size_t n) = 0;

  // Ends the stream (gzip trailer, zstd frame end); call once, last.
  virtual void Finish() = 0;
};

// An AtomicFile (graph/atomic_file.h) that gzip- or zstd-compresses what is
// written when its path ends in ".gz" or ".zst"; otherwise the same bytes.
// All of AtomicFile's rules hold: nothing appears before Commit(), and
// errors throw Error(kIo).
class OutputFile {
 public:
  // Opens `path` for writing ("-" = stdout, never compressed).
  explicit OutputFile(const std::string& path);

  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Appends `n` bytes.
  void Write(const void* data, size_t n);

  // Overwrites bytes written earlier; requires seekable().
  void WriteAt(int64_t offset, const void* data, size_t n) {
    file_.WriteAt(offset, data, n);
  }

  // Whether WriteAt() is available: never when compressing.
  bool seekable() const { return !compressor_ && file_.seekable(); }

  // Bytes written so far, before compression.
  int64_t size() const { return size_; }

  // Ends the compressed stream, then commits the file.
  void Commit();

  // Drops everything written; idempotent.
  void Abort() { file_.Abort(); }

  // Whether this is an uncompressed stream (stdout, a pipe, a device):
  // then Flush() hands the bytes written so far to the reader.
  bool streaming() const { return !compressor_ && !file_.seekable(); }
  void Flush() { file_.Flush(); }

  const std::string& path() const { return file_.path(); }
  const std::string& display_name() const { return file_.display_name(); }

 private:
  AtomicFile file_;
  std::unique_ptr<Compressor> compressor_;
  int64_t size_ = 0;
};

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_COMPRESS_H_
