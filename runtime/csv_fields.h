// CSV records and columns beyond plain numbers: the RFC 4180 record
// scanner, field unquoting, column specs (`--columns`, `--keep`), header
// name matching and delimiter sniffing. Internal to rowflow_runtime (the
// CSV source in runtime/row_csv.cc); plain functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rowflow::csv {

// A field's bytes as read, quotes included; for a quoted field `quoted`.
struct RawField {
  const char* begin;
  const char* end;
  bool quoted;
};

enum class Scan {
  kRecord,    // a whole record is in *fields; *next is past its newline
  kNeedData,  // the record is not all in [p, e) and the input goes on
  kBadQuote,  // *next is where a quoted field went wrong
};

// Splits the record starting at `p` into fields separated by `delimiter`.
// A field whose first non-blank byte is '"' is quoted: it runs to the
// matching '"' ("" inside is one '"'), may hold delimiters and newlines,
// and only blanks may follow it before the delimiter or the line end. The
// record ends at '\n' outside quotes ("\r\n" too), or at `e` when `eof`.
// `*newlines` counts the '\n' inside quoted fields.
Scan ScanRecord(const char* p, const char* e, bool eof, char delimiter,
                std::vector<RawField>* fields, const char** next,
                int64_t* newlines);

// The field's text: without its quotes and "" read as '"' (in `scratch`
// when that changes bytes), and without blanks around it.
std::string_view FieldText(const RawField& field, std::string* scratch);

// The 0-based columns a spec names, in its order: comma-separated items,
// each a header name, a 1-based index, or a range "a-b" of either (names
// win over indices, as in csvkit). `columns` is the record's field count;
// `header` may be empty. Throws Error(kUsage) naming `option` and the item.
std::vector<int64_t> ResolveColumns(std::string_view spec,
                                    const std::vector<std::string>& header,
                                    int64_t columns, const char* option);

// The header columns of the model's inputs (name, width), in the model's
// order, when every input column is found by name, else empty. An input of
// width 1 is its name; a wider input `x` of width k is x0..x{k-1},
// x_0..x_{k-1}, x1..xk or x_1..x_k (the first naming scheme found whole),
// or its name alone for width 1.
std::vector<int64_t> MatchInputNames(
    const std::vector<std::pair<std::string, int64_t>>& inputs,
    const std::vector<std::string>& header);

// The delimiter of a first line: the most frequent of , ; tab | outside
// quotes (',' on ties and when none occurs); `exclude` is never chosen.
char SniffDelimiter(std::string_view line, char exclude);

// A kept field for comma-separated output: its bytes as read when they
// need no quotes there or are quoted already, else quoted (RFC 4180).
void AppendForCommaOutput(const RawField& field, std::string* out);

}  // namespace rowflow::csv
