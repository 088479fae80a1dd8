// CSV records and columns (rules in runtime/csv_fields.h).
#include "runtime/csv_fields.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "graph/error.h"
#include "graph/text.h"

namespace rowflow::csv {
namespace {

bool Blank(char c) { return c == ' ' || c == '\t'; }

// A 1-based index: digits only, no sign.
bool ParseIndex(std::string_view s, int64_t* index) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *index);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// A header name, else a 1-based index within `columns`; -1 when neither.
int64_t ResolveOne(std::string_view item,
                   const std::vector<std::string>& header, int64_t columns) {
  auto it = std::find(header.begin(), header.end(), item);
  if (it != header.end()) return it - header.begin();
  int64_t index;
  if (ParseIndex(item, &index) && index >= 1 && index <= columns)
    return index - 1;
  return -1;
}

}  // namespace

Scan ScanRecord(const char* p, const char* e, bool eof, char delimiter,
                std::vector<RawField>* fields, const char** next,
                int64_t* newlines) {
  fields->clear();
  *newlines = 0;
  for (;;) {
    const char* start = p;
    const char* q = p;
    while (q < e && Blank(*q) && *q != delimiter) ++q;
    if (q < e && *q == '"') {
      for (++q;;) {
        const char* quote =
            static_cast<const char*>(std::memchr(q, '"', e - q));
        if (quote == nullptr) {
          if (!eof) return Scan::kNeedData;
          *next = start;
          return Scan::kBadQuote;
        }
        *newlines += std::count(q, quote, '\n');
        if (quote + 1 < e && quote[1] == '"') {
          q = quote + 2;
          continue;
        }
        if (quote + 1 == e && !eof) return Scan::kNeedData;
        q = quote + 1;
        break;
      }
      const char* field_end = q;
      while (q < e && Blank(*q) && *q != delimiter) ++q;
      const char* after = nullptr;  // where the record ends, if it does
      if (q == e) {
        if (!eof) return Scan::kNeedData;
        after = e;
      } else if (*q == '\n') {
        after = q + 1;
      } else if (*q == '\r') {
        if (q + 1 == e && !eof) return Scan::kNeedData;
        if (q + 1 == e) {
          after = e;
        } else if (q[1] == '\n') {
          after = q + 2;
        }
      }
      if (after == nullptr && *q != delimiter) {
        *next = q;
        return Scan::kBadQuote;
      }
      fields->push_back({start, field_end, true});
      if (after != nullptr) {
        *next = after;
        return Scan::kRecord;
      }
      p = q + 1;  // the delimiter
      continue;
    }
    while (q < e && *q != delimiter && *q != '\n') ++q;
    if (q == e && !eof) return Scan::kNeedData;
    const char* field_end = q;
    if (q == e || *q == '\n') {
      if (field_end > start && field_end[-1] == '\r') --field_end;
      fields->push_back({start, field_end, false});
      *next = q == e ? e : q + 1;
      return Scan::kRecord;
    }
    fields->push_back({start, field_end, false});
    p = q + 1;
  }
}

std::string_view FieldText(const RawField& field, std::string* scratch) {
  const char* b = field.begin;
  const char* e = field.end;
  while (b < e && Blank(*b)) ++b;
  while (e > b && Blank(e[-1])) --e;
  if (!field.quoted) return std::string_view(b, static_cast<size_t>(e - b));
  ++b;  // the quotes: "..."
  --e;
  const std::string_view inner(b, static_cast<size_t>(e - b));
  if (inner.find('"') == std::string_view::npos) return inner;
  scratch->clear();
  for (size_t i = 0; i < inner.size(); ++i) {
    scratch->push_back(inner[i]);
    if (inner[i] == '"') ++i;  // "" is one '"'
  }
  return *scratch;
}

std::vector<int64_t> ResolveColumns(std::string_view spec,
                                    const std::vector<std::string>& header,
                                    int64_t columns, const char* option) {
  std::vector<int64_t> picked;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string_view item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) {
      throw MakeError(ErrorKind::kUsage, "{}: empty item in '{}'", option,
                      EscapeForMessage(spec, 80));
    }
    int64_t one = ResolveOne(item, header, columns);
    if (one >= 0) {
      picked.push_back(one);
      continue;
    }
    // A range: the first '-' whose two sides both resolve, so that names
    // holding '-' still work ("a-1-a-5").
    bool found = false;
    for (size_t dash = item.find('-'); dash != std::string_view::npos;
         dash = item.find('-', dash + 1)) {
      const int64_t from = ResolveOne(item.substr(0, dash), header, columns);
      const int64_t to = ResolveOne(item.substr(dash + 1), header, columns);
      if (from < 0 || to < 0) continue;
      if (from > to) {
        throw MakeError(ErrorKind::kUsage,
                        "{}: range '{}' runs backwards (column {} to {})",
                        option, EscapeForMessage(item, 80), from + 1, to + 1);
      }
      for (int64_t c = from; c <= to; ++c) picked.push_back(c);
      found = true;
      break;
    }
    if (found) continue;
    if (header.empty()) {
      throw MakeError(ErrorKind::kUsage,
                      "{}: no column '{}'; expected a 1-based index in 1..{} "
                      "or a range of them (names need --header)",
                      option, EscapeForMessage(item, 80), columns);
    }
    throw MakeError(ErrorKind::kUsage,
                    "{}: no column '{}' in the header; expected a name, a "
                    "1-based index in 1..{} or a range of them",
                    option, EscapeForMessage(item, 80), columns);
  }
  return picked;
}

std::vector<int64_t> MatchInputNames(
    const std::vector<std::pair<std::string, int64_t>>& inputs,
    const std::vector<std::string>& header) {
  std::vector<int64_t> picked;
  auto find = [&](const std::string& name) -> int64_t {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : it - header.begin();
  };
  for (const auto& [name, width] : inputs) {
    if (width == 1) {
      const int64_t c = find(name);
      if (c < 0) return {};
      picked.push_back(c);
      continue;
    }
    bool matched = false;
    for (const char* sep : {"", "_"}) {
      for (int first : {0, 1}) {
        std::vector<int64_t> cols;
        for (int64_t j = 0; j < width; ++j) {
          const int64_t c = find(name + sep + std::to_string(j + first));
          if (c < 0) break;
          cols.push_back(c);
        }
        if (static_cast<int64_t>(cols.size()) == width) {
          picked.insert(picked.end(), cols.begin(), cols.end());
          matched = true;
          break;
        }
      }
      if (matched) break;
    }
    if (!matched) return {};
  }
  return picked;
}

char SniffDelimiter(std::string_view line, char exclude) {
  const char candidates[] = {',', ';', '\t', '|'};
  int64_t counts[4] = {0, 0, 0, 0};
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    for (int i = 0; i < 4; ++i) counts[i] += c == candidates[i];
  }
  int best = -1;
  for (int i = 0; i < 4; ++i) {
    if (candidates[i] == exclude || counts[i] == 0) continue;
    if (best < 0 || counts[i] > counts[best]) best = i;
  }
  if (best >= 0) return candidates[best];
  return exclude == ',' ? ';' : ',';
}

void AppendForCommaOutput(const RawField& field, std::string* out) {
  const std::string_view bytes(field.begin,
                               static_cast<size_t>(field.end - field.begin));
  if (field.quoted ||
      bytes.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(bytes);
    return;
  }
  out->push_back('"');
  for (char c : bytes) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace rowflow::csv
