#include "graph/serialize.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <system_error>

#include "graph/atomic_file.h"
#include "graph/error.h"
#include "graph/proto_convert.h"
#include "proto/rowflow.pb.h"

namespace rowflow {
namespace {

namespace pbio = google::protobuf::io;

// The model message nests two levels deep; anything past this is hostile.
constexpr int kMaxNesting = 16;

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// Keeps the first error the text parser reports, as "<source>:line:col: ...".
class FirstErrorCollector : public pbio::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string_view source) : source_(source) {}

  void AddError(int line, pbio::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    // protobuf counts lines and columns from 0; editors count from 1.
    first_ = line < 0 ? fmt::format("{}: {}", source_, message)
                      : fmt::format("{}:{}:{}: {}", source_, line + 1,
                                    column + 1, message);
  }
  void AddWarning(int, pbio::ColumnNumber, const std::string&) override {}

  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

bool ParseText(std::string_view bytes, std::string_view source,
               rowflow::Graph* proto, std::string* error) {
  FirstErrorCollector errors(source);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.SetRecursionLimit(kMaxNesting);
  pbio::ArrayInputStream input(bytes.data(), static_cast<int>(bytes.size()));
  if (parser.Parse(&input, proto)) return true;
  *error = errors.first().empty()
               ? fmt::format("{}: not a valid text model file", source)
               : errors.first();
  return false;
}

bool ParseBinary(std::string_view bytes, std::string_view source,
                 rowflow::Graph* proto, std::string* error) {
  pbio::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                               static_cast<int>(bytes.size()));
  // The caller already refused larger inputs; the limit is set anyway so
  // that protobuf never trusts a length prefix beyond the bytes it has.
  input.SetTotalBytesLimit(static_cast<int>(bytes.size()));
  input.SetRecursionLimit(kMaxNesting);
  // protobuf logs a line to stderr for a string that is not UTF-8; the one
  // line below says it instead.
  google::protobuf::LogSilencer quiet;
  if (proto->ParseFromCodedStream(&input) && input.ConsumedEntireMessage()) {
    return true;
  }
  *error = fmt::format(
      "{}: not a valid binary model file (truncated or corrupt bytes, a name "
      "that is not UTF-8, or nested more than {} deep)",
      source, kMaxNesting);
  return false;
}

// A byte no text model holds: a control byte other than whitespace.
bool IsBinaryByte(unsigned char c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' &&
          c != '\f') ||
         c == 0x7f;
}

// Whether to report the binary parser's error when both fail. A text model
// starts (past whitespace) with a field name, '[' or a '#' comment; a
// binary model starts with a field tag, which is printable for fields 4 and
// up ('"' for `inputs` when format_version, name and dtype are unset), but
// its length prefixes are small numbers, so control bytes follow at once.
bool LooksBinary(std::string_view bytes) {
  size_t pos = bytes.find_first_not_of(" \t\n\r\v\f");
  if (pos == std::string_view::npos) return false;
  auto c = static_cast<unsigned char>(bytes[pos]);
  if (c < 0x20 || c >= 0x7f) return true;
  const bool letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  if (letter || c == '_' || c == '[' || c == '#') return false;
  const std::string_view head = bytes.substr(pos, 64);
  return std::any_of(head.begin(), head.end(), [](char b) {
    return IsBinaryByte(static_cast<unsigned char>(b));
  });
}

// Whether a binary reading of bytes that are not a text model is taken as
// the model, so that its own error (a missing format_version, ...) is
// reported: it says its version, or it reads as Graph fields only (no
// unknown field anywhere) and declares something. Text that happens to
// parse as binary almost always holds unknown fields.
bool PlausibleBinary(rowflow::Graph* proto) {
  if (proto->format_version() != 0) return true;
  const size_t with_unknown = proto->ByteSizeLong();
  proto->DiscardUnknownFields();
  if (proto->ByteSizeLong() != with_unknown) return false;
  return proto->inputs_size() + proto->outputs_size() + proto->nodes_size() +
             proto->constants_size() >
         0;
}

// Whether `line` holds only numbers and separators, as a CSV row does; no
// line of a text model does (every one names a field or closes a brace).
bool IsNumberRow(std::string_view line) {
  bool digit = false;
  for (const char c : line) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (std::string_view(" \t\r,;.+-eE\"").find(c) ==
               std::string_view::npos) {
      return false;
    }
  }
  return digit;
}

// A one-line hint for bytes that are another kind of file users mix up
// with a model (rows, a layer spec, a compressed file); empty when none.
// The magic-bytes kinds are checked before parsing, because a binary parse
// may accept them; the text kinds only once both parsers refused.
std::string MagicHint(std::string_view bytes, std::string_view source) {
  if (bytes.starts_with("\x93NUMPY")) {
    return fmt::format(
        "{}: holds .npy rows, not a model; rows go after -i, the model first",
        source);
  }
  const bool gzip = bytes.starts_with("\x1f\x8b");
  if (gzip || bytes.starts_with("\x28\xb5\x2f\xfd")) {
    return fmt::format(
        "{}: is {}-compressed; model files are read uncompressed: run `{} -d` "
        "on it first",
        source, gzip ? "gzip" : "zstd", gzip ? "gzip" : "zstd");
  }
  return "";
}

std::string TextHint(std::string_view text, std::string_view source) {
  rowflow::ModelSpec spec;
  google::protobuf::TextFormat::Parser parser;
  parser.SetRecursionLimit(kMaxNesting);
  FirstErrorCollector quiet(source);  // the spec parser's errors are not ours
  parser.RecordErrorsTo(&quiet);
  pbio::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (parser.Parse(&input, &spec) &&
      (spec.has_input() || spec.layer_size() > 0)) {
    return fmt::format(
        "{}: this is a layer spec; run `rowflow build` first (rowflow build "
        "{} -o model.pb)",
        source, source);
  }
  // The first line may be a header of column names.
  const size_t first_end = std::min(text.find('\n'), text.size());
  const std::string_view first = text.substr(0, first_end);
  const std::string_view rest =
      text.substr(std::min(first_end + 1, text.size()));
  const std::string_view second = rest.substr(0, rest.find('\n'));
  if (IsNumberRow(first) || IsNumberRow(second)) {
    return fmt::format(
        "{}: looks like CSV rows, not a model; rows go after -i, the model "
        "first",
        source);
  }
  return "";
}

rowflow::Graph ParseProto(std::string_view bytes, std::string_view source) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (std::string hint = MagicHint(bytes, source); !hint.empty())
    throw Error(ErrorKind::kModel, hint);
  std::string_view text = bytes;
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  rowflow::Graph proto;
  std::string error, ignored;
  // The guess decides which parser's error is reported; the other parser
  // still gets a chance, so an odd first byte does not refuse a good file.
  if (LooksBinary(text)) {
    if (ParseBinary(bytes, source, &proto, &error)) return proto;
    proto.Clear();
    if (ParseText(text, source, &proto, &ignored)) return proto;
  } else {
    if (ParseText(text, source, &proto, &error)) return proto;
    proto.Clear();
    // A plausible binary reading goes on to validation, which names what is
    // wrong with it; otherwise a typo in a text file is reported as such,
    // not as some accidental binary reading.
    if (ParseBinary(bytes, source, &proto, &ignored) &&
        PlausibleBinary(&proto)) {
      return proto;
    }
  }
  if (std::string hint = TextHint(text, source); !hint.empty())
    throw Error(ErrorKind::kModel, hint);
  throw Error(ErrorKind::kModel, error);
}

int64_t FileLimit(const LoadOptions& options) {
  if (options.max_file_bytes <= 0) {
    throw MakeError(ErrorKind::kUsage, "max_file_bytes must be > 0; got {}",
                    options.max_file_bytes);
  }
  // protobuf's streams count bytes in an int.
  return std::min<int64_t>(options.max_file_bytes, INT_MAX);
}

[[noreturn]] void FailTooBig(std::string_view source, int64_t size,
                             int64_t limit, bool at_least) {
  throw MakeError(ErrorKind::kModel,
                  "{}: file is {}{} bytes, over the size limit of {} bytes",
                  source, at_least ? "more than " : "", size, limit);
}

// Closes a file descriptor on every path out of LoadGraph.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

ir::Graph ParseGraph(std::string_view bytes, std::string_view source,
                     const LoadOptions& options) {
  const int64_t limit = FileLimit(options);
  if (bytes.empty()) {
    throw MakeError(ErrorKind::kModel, "{}: empty file; expected a model",
                    source);
  }
  if (static_cast<int64_t>(bytes.size()) > limit) {
    FailTooBig(source, static_cast<int64_t>(bytes.size()), limit, false);
  }
  rowflow::Graph proto = ParseProto(bytes, source);
  try {
    ir::Graph graph = internal::GraphFromProto(proto);
    Validate(graph, options.validate);
    internal::CheckDeclaredShapes(proto, graph);
    return graph;
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: {}", source, e.what()));
  }
}

ir::Graph LoadGraph(const std::string& path, const LoadOptions& options) {
  const int64_t limit = FileLimit(options);
  // A model that cannot be opened or read is an unusable model (exit 3),
  // as a directory or an empty file is: kIo is for outputs.
  // O_NONBLOCK so that opening a FIFO without a writer cannot hang; reads
  // below are blocking again.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw MakeError(ErrorKind::kModel, "{}: cannot open: {}", path,
                    ErrnoText(errno));
  }
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    throw MakeError(ErrorKind::kModel, "{}: cannot stat: {}", path,
                    ErrnoText(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw MakeError(ErrorKind::kModel,
                    "{}: is a directory; expected a model file", path);
  }
  if (S_ISREG(st.st_mode) && st.st_size > limit) {
    FailTooBig(path, st.st_size, limit, false);
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);

  // Read at most limit + 1 bytes: enough to tell that a device or pipe (or a
  // file that grew since fstat) is over the limit.
  std::string bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  constexpr int64_t kChunk = 1 << 16;
  char buffer[kChunk];
  while (static_cast<int64_t>(bytes.size()) <= limit) {
    const int64_t want =
        std::min(kChunk, limit + 1 - static_cast<int64_t>(bytes.size()));
    ssize_t n = ::read(fd, buffer, static_cast<size_t>(want));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw MakeError(ErrorKind::kModel, "{}: cannot read: {}", path,
                      ErrnoText(errno));
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  if (static_cast<int64_t>(bytes.size()) > limit) {
    FailTooBig(path, limit, limit, true);
  }
  return ParseGraph(bytes, path, options);
}

std::string SerializeGraph(const ir::Graph& graph, Encoding encoding) {
  rowflow::Graph proto = internal::GraphToProto(graph);
  std::string out;
  if (encoding == Encoding::kText) {
    google::protobuf::TextFormat::Printer printer;
    printer.SetUseShortRepeatedPrimitives(true);
    if (!printer.PrintToString(proto, &out)) {
      throw MakeError(ErrorKind::kInternal, "graph '{}': text printing failed",
                      graph.name);
    }
    return out;
  }
  const size_t size = proto.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    throw MakeError(ErrorKind::kModel,
                    "graph '{}' is {} bytes when serialized; expected at most "
                    "{} (protobuf's limit)",
                    graph.name, size, INT_MAX);
  }
  {
    pbio::StringOutputStream stream(&out);
    pbio::CodedOutputStream coded(&stream);
    // Map entries (metadata) in key order: the same graph, the same bytes.
    coded.SetSerializationDeterministic(true);
    proto.SerializeWithCachedSizes(&coded);
    RF_CHECK(!coded.HadError());
  }
  return out;
}

void SaveGraph(const ir::Graph& graph, const std::string& path,
               Encoding encoding) {
  const std::string bytes = SerializeGraph(graph, encoding);
  AtomicFile file(path);
  file.Write(bytes.data(), bytes.size());
  file.Commit();
}

Encoding EncodingForPath(std::string_view path) {
  return path.ends_with(".pbtxt") || path.ends_with(".txt") ? Encoding::kText
                                                            : Encoding::kBinary;
}

}  // namespace rowflow
