// Streaming row sources and sinks: where `rowflow run` gets its input rows
// and puts its predictions. CSV, NPY and memory, for T = float and double.
//
// A source reads a fixed number of columns per row in chunks with constant
// memory, however long the input; bad data throws Error(kInput) naming
// "<file>:<line>[:<col>]" ("<stdin>" for "-"). A sink writes through an
// AtomicFile: the output file appears only at Commit(), and destroying an
// uncommitted sink leaves nothing behind; write failures throw Error(kIo).
//
// CSV rules: one row per record, fields separated by ',' (or the
// delimiter option), each a decimal number (std::from_chars syntax plus a
// leading '+', spaces/tabs around it, "nan", "inf", "-inf"), optionally in
// RFC 4180 quotes ("1.5"; a kept field may hold delimiters, "" and
// newlines). Records end in "\n" or "\r\n"; the last may lack it; a UTF-8
// BOM is skipped. Empty lines at the end of the input are ignored; an empty
// line followed by data is an error ("empty row") unless skip_blank. Values
// that overflow T are errors; values that underflow become the nearest
// denormal or zero. An empty or non-numeric field is an error unless
// listed in `na`. Errors name file:line:col, and the column's header name.
// CSV output prints each value in the shortest form that reads back to the
// same T (std::to_chars): 182.0 prints "182".
//
// NPY rules: format versions 1.0-3.0, dtype f4 or f8 in either byte order
// (converted to T), C order (Fortran order only where it is the same bytes),
// shape (N, cols), or (N,) when cols == 1. The sink writes version 1.0 '<f4'
// or '<f8' with shape (N, cols); to stdout it spools the rows to an
// anonymous temp file first, because N is known only at the end.
//
// Thread-safety: a source or sink is used by one thread at a time, except
// RowSource::progress(), which any thread may call at any time. The CSV
// source and sink spread big batches (tens of KB) over the threads of the
// calling task arena (the Session's inside a run), isolated from the
// arena's other work; the result and the error reported do not depend on
// the thread count.
#ifndef ROWFLOW_RUNTIME_ROW_IO_H_
#define ROWFLOW_RUNTIME_ROW_IO_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rowflow {

// A stream of rows, each `cols()` numbers, read in chunks.
template <typename T>
class RowSource {
 public:
  virtual ~RowSource() = default;

  // Numbers per row.
  virtual int64_t cols() const = 0;

  // Reads up to `max_rows` rows into `out` (max_rows, cols), row-major;
  // returns the rows read, 0 only at the end. Throws Error(kInput).
  virtual int64_t Read(T* out, int64_t max_rows) = 0;

  // Total rows when known up front (NPY, memory), for progress; else -1.
  virtual int64_t total_rows() const { return -1; }

  // The share of the input taken by the rows read so far, in [0, 1], when
  // the input's size is known (NPY, memory, CSV from a regular file); else
  // -1. For progress reports: it changes once per Read, and another thread
  // may call it while Read runs.
  virtual double progress() const { return -1; }

  // Asks later Reads to note the input line of each row they return, for
  // messages that name a row by its line (`--check-finite`). Sources whose
  // rows are not lines (NPY, memory) ignore it.
  virtual void TrackLines() {}

  // After TrackLines(): the 1-based line (the first, for a record spanning
  // lines) of each row the last Read returned, counting every line of the
  // file (header, comments, skipped blank lines), global for a CsvPart, as
  // parse errors name them; nullptr when the source has no lines.
  virtual const int64_t* lines() const { return nullptr; }
};

// A destination for rows, each `cols` numbers.
template <typename T>
class RowSink {
 public:
  // Without Commit(), discards everything: no partial output file is left.
  virtual ~RowSink() = default;

  // Appends `n` rows (n, cols), row-major. Throws Error(kIo).
  virtual void Write(const T* rows, int64_t n) = 0;

  // Finishes the output; the file appears only now. Throws Error(kIo).
  virtual void Commit() = 0;
};

// The --keep columns of each row, handed from a CSV source to a CSV sink
// in row order (the Session writes rows in input order), as the sink
// writes them: comma-separated, each field's bytes as read (quoted when
// comma-separated output needs it and it was not). The source fills
// `names` when it opens; after that Push (source) and NextRow (sink) may
// run on different threads at once.
class CsvPassThrough {
 public:
  // The kept columns' header fields as read, or "col<N>" without a header.
  std::vector<std::string> names;

  // Appends rows held back to back in `text`, row i ending at ends[i].
  void Push(std::string text, std::vector<size_t> ends);

  // The next row's text, valid until the next call. Error(kInternal) when
  // the source has not pushed it.
  std::string_view NextRow();

 private:
  struct Block {
    std::string text;
    std::vector<size_t> ends;
  };
  std::mutex mu_;
  std::deque<Block> blocks_;
  size_t next_ = 0;  // row of blocks_.front() NextRow returns next
};

// One part of a CSV file, for one of several processes that read it
// (mpirun): the lines starting in bytes [begin, end), numbered after
// `lines_before` lines. The BOM, the delimiter sniff and the header come
// from the file's start whatever `begin` is. A record spanning lines (a
// quoted newline) is refused, since a part's edge may cut it.
struct CsvPart {
  int64_t begin = 0;
  int64_t end = -1;  // < 0: the file's end
  int64_t lines_before = 0;
  // A later part holds a record: empty lines at this part's end are then
  // an error ("empty row"), as in one pass over the file.
  bool data_after = false;
};

// How CSV input is read (`rowflow run` options in README).
struct CsvOptions {
  bool header = false;               // the first record names the columns
  int64_t max_line_bytes = 1 << 20;  // longer records are an error; 1..2^30
  // The model's columns (--columns): names, 1-based indices, ranges "a-b".
  // Empty: with a header, by the model's input names when all are found
  // (csv_fields.h MatchInputNames), else every column not kept, less an
  // unnamed first column (pandas' and R's row index) when that leaves the
  // model's width; without a header, every column not kept.
  std::string columns{};
  std::string keep{};             // --keep, as `columns`; needs pass_through
  char delimiter = ',';           // '\0': sniffed from the first line
  std::vector<std::string> na{};  // fields read as NaN (unquoted, trimmed)
  char decimal = '.';             // '.' or ','
  char comment = '\0';            // lines starting with it are skipped
  bool skip_blank = false;        // blank lines are skipped anywhere
  // The model's inputs (name, width), for matching header names.
  std::vector<std::pair<std::string, int64_t>> inputs{};
  std::shared_ptr<CsvPassThrough> pass_through{};  // receives the kept columns
  std::shared_ptr<CsvPart> part{};  // read only this part of a file
};

// How CSV output is written.
struct CsvSinkOptions {
  std::string header{};  // a first line (no newline), or "" for none
  // When set, each row starts with its kept columns from the source.
  std::shared_ptr<CsvPassThrough> pass_through{};
};

// Opens a CSV file ("-" = stdin) of `cols` numbers per row. With options
// beyond the plain case, the header and the first record are read here, so
// that column and header errors come before any output.
template <typename T>
std::unique_ptr<RowSource<T>> OpenCsvSource(const std::string& path,
                                            int64_t cols,
                                            const CsvOptions& options = {});

// Creates a CSV file ("-" = stdout) of `cols` numbers per line.
template <typename T>
std::unique_ptr<RowSink<T>> OpenCsvSink(const std::string& path, int64_t cols,
                                        const CsvSinkOptions& options = {});

// The output header line: the kept names, then the outputs (name, width):
// "y" for one output of width 1, "y_0".."y_{k-1}" for one of width k, the
// outputs' names (with "_j" when wider than 1) for several.
std::string CsvHeaderLine(
    const std::vector<std::string>& kept,
    const std::vector<std::pair<std::string, int64_t>>& outputs);

// Part `index` of `count` of a .npy file's rows, for one of several
// processes that read it (mpirun): rows [N*index/count, N*(index+1)/count),
// read at their byte offsets after every process has read the header.
struct NpyPart {
  int index = 0, count = 1;
  int64_t first_row = 0;   // set by OpenNpySource: the part's first row
  int64_t total_rows = 0;  // set by OpenNpySource: N
};

// Opens a .npy file ("-" = stdin) holding an (N, cols) array; with `part`,
// only that part's rows (messages name rows of the whole file).
template <typename T>
std::unique_ptr<RowSource<T>> OpenNpySource(const std::string& path,
                                            int64_t cols,
                                            NpyPart* part = nullptr);

// Creates a .npy file ("-" = stdout) holding an (N, cols) array of T.
template <typename T>
std::unique_ptr<RowSink<T>> OpenNpySink(const std::string& path, int64_t cols);

// One row of `cols` numbers written as CSV text ("3,5"), each field by the
// CSV rules above. Error(kInput) when it does not parse: "expected 2
// values, got 3", "value 2 is not a number: 'x'" or "value 1 is out of
// range for f32: '1e39'".
template <typename T>
std::vector<T> ParseCsvRow(std::string_view text, int64_t cols);

// Rows from caller-owned memory (rows, cols), which must outlive the source.
// Read copies with memcpy, so the memory may have any alignment (numpy
// arrays unpickled from the network need not be aligned for T).
template <typename T>
class MemorySource : public RowSource<T> {
 public:
  // Reads `data` (rows, cols); cols >= 1 and rows >= 0.
  MemorySource(const T* data, int64_t rows, int64_t cols)
      : MemorySource(static_cast<const void*>(data), rows, cols) {}
  // The same rows as bytes at any address: no T* to them is formed.
  MemorySource(const void* data, int64_t rows, int64_t cols);

  int64_t cols() const override { return cols_; }
  int64_t Read(T* out, int64_t max_rows) override;
  int64_t total_rows() const override { return rows_; }
  double progress() const override;

 private:
  const unsigned char* data_;
  int64_t rows_;
  int64_t cols_;
  std::atomic<int64_t> next_{0};  // read by progress() on any thread
};

// Rows appended to a caller-owned vector, which must outlive the sink.
template <typename T>
class MemorySink : public RowSink<T> {
 public:
  // Appends to `out`; without Commit() the destructor shrinks `out` back to
  // its size at construction.
  MemorySink(std::vector<T>* out, int64_t cols);
  ~MemorySink() override;

  MemorySink(const MemorySink&) = delete;
  MemorySink& operator=(const MemorySink&) = delete;

  void Write(const T* rows, int64_t n) override;
  void Commit() override { committed_ = true; }

 private:
  std::vector<T>* out_;
  int64_t cols_;
  size_t initial_size_;
  bool committed_ = false;
};

}  // namespace rowflow

#endif  // ROWFLOW_RUNTIME_ROW_IO_H_
