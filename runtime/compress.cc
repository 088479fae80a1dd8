#include "runtime/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <utility>

#include "graph/error.h"

namespace rowflow {
namespace {

constexpr size_t kBufferBytes = 1 << 18;
constexpr int kGzipLevel = 1;  // why: Compressor::Create in the header
constexpr int kZstdLevel = 3;
// zlib's window bits for the gzip wrapper (not raw deflate, not zlib).
constexpr int kGzipWindowBits = 15 + 16;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// zlib counts in uInt; pieces larger than that are fed in turns.
uInt ClampUInt(size_t n) {
  return static_cast<uInt>(std::min<size_t>(n, UINT_MAX));
}

class GzipDecompressor final : public Decompressor {
 public:
  GzipDecompressor(RawRead raw, std::string name)
      : raw_(std::move(raw)),
        name_(std::move(name)),
        in_(new char[kBufferBytes]) {
    if (inflateInit2(&zs_, kGzipWindowBits) != Z_OK) throw std::bad_alloc();
  }
  ~GzipDecompressor() override { inflateEnd(&zs_); }

  // Returns what one refill's worth of input gives rather than waiting for
  // more, so that a filter on a pipe passes rows on as they come.
  size_t Read(char* dst, size_t n) override {
    zs_.next_out = reinterpret_cast<Bytef*>(dst);
    zs_.avail_out = ClampUInt(n);
    const uInt want = zs_.avail_out;
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0 && !eof_) {
        if (zs_.avail_out < want) break;
        Refill();
        continue;
      }
      if (zs_.avail_in == 0 && !in_member_) break;  // the end
      if (!in_member_) {
        // Another member follows (pigz, `cat a.gz b.gz`): a new header.
        inflateReset(&zs_);
        in_member_ = true;
      }
      const uInt before = zs_.avail_out;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
      } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
        // No progress with all input used: the member needs bytes that
        // the input does not have.
        if (eof_ && zs_.avail_in == 0 && zs_.avail_out == before) {
          throw MakeError(ErrorKind::kInput,
                          "{}: truncated gzip data: the input ends inside a "
                          "compressed member, after {} bytes of plain data",
                          name_, produced_ + (want - zs_.avail_out));
        }
      } else if (rc == Z_MEM_ERROR) {
        throw std::bad_alloc();
      } else {
        throw MakeError(ErrorKind::kInput,
                        "{}: corrupt gzip data ({}) after {} bytes of plain "
                        "data",
                        name_, zs_.msg != nullptr ? zs_.msg : "bad bytes",
                        produced_ + (want - zs_.avail_out));
      }
    }
    const size_t got = want - zs_.avail_out;
    produced_ += static_cast<int64_t>(got);
    return got;
  }

 private:
  void Refill() {
    const size_t got = raw_(in_.get(), kBufferBytes);
    zs_.next_in = reinterpret_cast<Bytef*>(in_.get());
    zs_.avail_in = static_cast<uInt>(got);
    if (got == 0) eof_ = true;
  }

  RawRead raw_;
  std::string name_;
  std::unique_ptr<char[]> in_;
  z_stream zs_ = {};
  bool eof_ = false;
  bool in_member_ = false;
  int64_t produced_ = 0;
};

class ZstdDecompressor final : public Decompressor {
 public:
  ZstdDecompressor(RawRead raw, std::string name)
      : raw_(std::move(raw)),
        name_(std::move(name)),
        buf_(new char[kBufferBytes]),
        ctx_(ZSTD_createDCtx()) {
    if (ctx_ == nullptr) throw std::bad_alloc();
  }
  ~ZstdDecompressor() override { ZSTD_freeDCtx(ctx_); }

  size_t Read(char* dst, size_t n) override {
    ZSTD_outBuffer out{dst, n, 0};
    while (out.pos < n) {
      if (in_.pos == in_.size && !eof_) {
        if (out.pos > 0) break;
        Refill();
        continue;
      }
      if (in_.pos == in_.size && !frame_open_) break;  // the end
      const size_t before = out.pos;
      const size_t r = ZSTD_decompressStream(ctx_, &out, &in_);
      if (ZSTD_isError(r)) {
        throw MakeError(ErrorKind::kInput,
                        "{}: corrupt zstd data ({}) after {} bytes of plain "
                        "data",
                        name_, ZSTD_getErrorName(r), produced_ + out.pos);
      }
      frame_open_ = r != 0;
      if (eof_ && in_.pos == in_.size && out.pos == before && frame_open_) {
        throw MakeError(ErrorKind::kInput,
                        "{}: truncated zstd data: the input ends inside a "
                        "frame, after {} bytes of plain data",
                        name_, produced_ + out.pos);
      }
    }
    produced_ += static_cast<int64_t>(out.pos);
    return out.pos;
  }

 private:
  void Refill() {
    const size_t got = raw_(buf_.get(), kBufferBytes);
    in_ = ZSTD_inBuffer{buf_.get(), got, 0};
    if (got == 0) eof_ = true;
  }

  RawRead raw_;
  std::string name_;
  std::unique_ptr<char[]> buf_;
  ZSTD_DCtx* ctx_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool eof_ = false;
  bool frame_open_ = true;  // the magic promised a frame
  int64_t produced_ = 0;
};

class GzipCompressor final : public Compressor {
 public:
  explicit GzipCompressor(RawWrite raw)
      : raw_(std::move(raw)), out_(new char[kBufferBytes]) {
    if (deflateInit2(&zs_, kGzipLevel, Z_DEFLATED, kGzipWindowBits, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::bad_alloc();
    }
  }
  ~GzipCompressor() override { deflateEnd(&zs_); }

  void Write(const char* data, size_t n) override {
    while (n > 0) {
      const uInt piece = ClampUInt(n);
      zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
      zs_.avail_in = piece;
      Pump(Z_NO_FLUSH);
      data += piece;
      n -= piece;
    }
  }

  void Finish() override {
    zs_.next_in = nullptr;
    zs_.avail_in = 0;
    Pump(Z_FINISH);
  }

 private:
  // Deflates until the input is taken (or, finishing, the stream ends).
  void Pump(int flush) {
    for (;;) {
      zs_.next_out = reinterpret_cast<Bytef*>(out_.get());
      zs_.avail_out = static_cast<uInt>(kBufferBytes);
      const int rc = deflate(&zs_, flush);
      RF_CHECK(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
      const size_t have = kBufferBytes - zs_.avail_out;
      if (have > 0) raw_(out_.get(), have);
      if (flush == Z_FINISH ? rc == Z_STREAM_END
                            : zs_.avail_in == 0 && zs_.avail_out > 0) {
        return;
      }
    }
  }

  RawWrite raw_;
  std::unique_ptr<char[]> out_;
  z_stream zs_ = {};
};

class ZstdCompressor final : public Compressor {
 public:
  explicit ZstdCompressor(RawWrite raw)
      : raw_(std::move(raw)),
        out_(new char[kBufferBytes]),
        ctx_(ZSTD_createCCtx()) {
    if (ctx_ == nullptr) throw std::bad_alloc();
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, kZstdLevel);
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_checksumFlag, 1);
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx_); }

  void Write(const char* data, size_t n) override {
    ZSTD_inBuffer in{data, n, 0};
    while (in.pos < in.size) Pump(&in, ZSTD_e_continue);
  }

  void Finish() override {
    ZSTD_inBuffer in{nullptr, 0, 0};
    while (Pump(&in, ZSTD_e_end) != 0) {
    }
  }

 private:
  size_t Pump(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{out_.get(), kBufferBytes, 0};
    const size_t r = ZSTD_compressStream2(ctx_, &out, in, mode);
    if (ZSTD_isError(r)) {
      // Only allocation can fail on a valid context with valid buffers.
      throw std::bad_alloc();
    }
    if (out.pos > 0) raw_(out_.get(), out.pos);
    return r;
  }

  RawWrite raw_;
  std::unique_ptr<char[]> out_;
  ZSTD_CCtx* ctx_;
};

}  // namespace

Compression DetectCompression(std::string_view head) {
  if (head.size() >= 2 && head[0] == '\x1f' && head[1] == '\x8b')
    return Compression::kGzip;
  if (head.size() >= 4 && head.substr(0, 4) == "\x28\xb5\x2f\xfd")
    return Compression::kZstd;
  return Compression::kNone;
}

Compression CompressionForPath(std::string_view path) {
  if (EndsWith(path, ".gz")) return Compression::kGzip;
  if (EndsWith(path, ".zst")) return Compression::kZstd;
  return Compression::kNone;
}

std::string_view StripCompressionSuffix(std::string_view path) {
  for (std::string_view suffix : {".gz", ".zst"}) {
    if (EndsWith(path, suffix))
      return path.substr(0, path.size() - suffix.size());
  }
  return path;
}

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kNone:
      break;
  }
  return "none";
}

std::unique_ptr<Decompressor> Decompressor::Create(Compression c, RawRead raw,
                                                   std::string name) {
  RF_CHECK(c != Compression::kNone);
  if (c == Compression::kGzip)
    return std::make_unique<GzipDecompressor>(std::move(raw), std::move(name));
  return std::make_unique<ZstdDecompressor>(std::move(raw), std::move(name));
}

std::unique_ptr<Compressor> Compressor::Create(Compression c, RawWrite raw) {
  RF_CHECK(c != Compression::kNone);
  if (c == Compression::kGzip)
    return std::make_unique<GzipCompressor>(std::move(raw));
  return std::make_unique<ZstdCompressor>(std::move(raw));
}

OutputFile::OutputFile(const std::string& path) : file_(path) {
  const Compression c =
      path == "-" ? Compression::kNone : CompressionForPath(path);
  if (c != Compression::kNone) {
    compressor_ = Compressor::Create(
        c, [this](const char* data, size_t n) { file_.Write(data, n); });
  }
}

void OutputFile::Write(const void* data, size_t n) {
  size_ += static_cast<int64_t>(n);
  if (compressor_) {
    compressor_->Write(static_cast<const char*>(data), n);
  } else {
    file_.Write(data, n);
  }
}

void OutputFile::Commit() {
  if (compressor_) compressor_->Finish();
  file_.Commit();
}

}  // namespace rowflow
