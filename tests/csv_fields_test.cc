// The CSV record scanner and column rules (runtime/csv_fields.h), and the
// general path of the CSV source against the fast one: quoted, delimited,
// decimal-comma and NA forms of the same numbers read the same values.
#include "runtime/csv_fields.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "graph/error.h"
#include "runtime/row_io.h"
#include "tests/io_test_util.h"

namespace rowflow::csv {
namespace {

using ::rowflow::testing::ErrorOf;
using ::rowflow::testing::ReadAll;

// The fields of the first record of `text` as read, and the rest.
std::vector<std::string> Fields(const std::string& text, char delimiter = ',',
                                std::string* rest = nullptr,
                                int64_t* newlines = nullptr) {
  std::vector<RawField> fields;
  const char* next = nullptr;
  int64_t nl = 0;
  const Scan scan = ScanRecord(text.data(), text.data() + text.size(), true,
                               delimiter, &fields, &next, &nl);
  EXPECT_EQ(scan, Scan::kRecord) << text;
  std::vector<std::string> out;
  for (const RawField& f : fields) out.emplace_back(f.begin, f.end);
  if (rest) *rest = std::string(next, text.data() + text.size());
  if (newlines) *newlines = nl;
  return out;
}

TEST(CsvFieldsTest, ScansQuotedFieldsWithDelimitersAndNewlines) {
  std::string rest;
  int64_t newlines = 0;
  EXPECT_EQ(Fields("\"a,b\",\"x\ny\",3\r\nnext\n", ',', &rest, &newlines),
            (std::vector<std::string>{"\"a,b\"", "\"x\ny\"", "3"}));
  EXPECT_EQ(rest, "next\n");
  EXPECT_EQ(newlines, 1);
  EXPECT_EQ(Fields("\"say \"\"hi\"\"\";2", ';'),
            (std::vector<std::string>{"\"say \"\"hi\"\"\"", "2"}));
  EXPECT_EQ(Fields("1\t\t2", '\t'), (std::vector<std::string>{"1", "", "2"}));
  EXPECT_EQ(Fields(",,"), (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(Fields(" \"q\" ,1"), (std::vector<std::string>{" \"q\"", "1"}));
}

TEST(CsvFieldsTest, WaitsForTheRestOfAQuotedFieldAndRefusesBadQuotes) {
  std::vector<RawField> fields;
  const char* next = nullptr;
  int64_t newlines = 0;
  const std::string open = "1,\"a\nb";
  EXPECT_EQ(ScanRecord(open.data(), open.data() + open.size(), false, ',',
                       &fields, &next, &newlines),
            Scan::kNeedData);
  EXPECT_EQ(ScanRecord(open.data(), open.data() + open.size(), true, ',',
                       &fields, &next, &newlines),
            Scan::kBadQuote);
  const std::string junk = "\"a\"b,1\n";
  EXPECT_EQ(ScanRecord(junk.data(), junk.data() + junk.size(), true, ',',
                       &fields, &next, &newlines),
            Scan::kBadQuote);
  EXPECT_EQ(next - junk.data(), 3);
}

TEST(CsvFieldsTest, FieldTextUnquotesAndTrims) {
  std::string scratch;
  for (auto [raw, quoted, text] :
       std::vector<std::tuple<std::string, bool, std::string>>{
           {" 1.5 ", false, "1.5"},
           {"\"1.5\"", true, "1.5"},
           {" \"a \"\"b\"\"\" ", true, "a \"b\""},
           {"\"\"", true, ""}}) {
    const RawField f{raw.data(), raw.data() + raw.size(), quoted};
    EXPECT_EQ(FieldText(f, &scratch), text) << raw;
  }
}

TEST(CsvFieldsTest, ResolvesNamesIndicesAndRanges) {
  const std::vector<std::string> header = {"id", "x1", "x2", "x-3", "x5", "2"};
  EXPECT_EQ(ResolveColumns("x1,x2,x5", header, 6, "--columns"),
            (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(ResolveColumns("x2-x5", header, 6, "--columns"),
            (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(ResolveColumns("x-3,1", header, 6, "--columns"),
            (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(ResolveColumns("2", header, 6, "--columns"),  // the name wins
            (std::vector<int64_t>{5}));
  EXPECT_EQ(ResolveColumns("3-5", {}, 6, "--keep"),
            (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(ErrorOf(ErrorKind::kUsage,
                    [&] { ResolveColumns("x1,nope", header, 6, "--columns"); }),
            "--columns: no column 'nope' in the header; expected a name, a "
            "1-based index in 1..6 or a range of them");
  EXPECT_EQ(
      ErrorOf(ErrorKind::kUsage, [&] { ResolveColumns("7", {}, 6, "--keep"); }),
      "--keep: no column '7'; expected a 1-based index in 1..6 or a "
      "range of them (names need --header)");
  EXPECT_EQ(ErrorOf(ErrorKind::kUsage,
                    [&] { ResolveColumns("x5-x1", header, 6, "--columns"); }),
            "--columns: range 'x5-x1' runs backwards (column 5 to 2)");
  EXPECT_EQ(ErrorOf(ErrorKind::kUsage,
                    [&] { ResolveColumns("1,,2", header, 6, "--columns"); }),
            "--columns: empty item in '1,,2'");
}

TEST(CsvFieldsTest, MatchesInputNamesInEachNamingScheme) {
  const std::vector<std::pair<std::string, int64_t>> x3 = {{"x", 3}};
  EXPECT_EQ(MatchInputNames(x3, {"id", "x2", "x0", "x1"}),
            (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(MatchInputNames(x3, {"x_0", "x_1", "x_2"}),
            (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(MatchInputNames(x3, {"x3", "x2", "x1"}),  // 1-based
            (std::vector<int64_t>{2, 1, 0}));
  EXPECT_TRUE(MatchInputNames(x3, {"x0", "x1", "y2"}).empty());
  EXPECT_EQ(MatchInputNames({{"a", 1}, {"b", 2}}, {"b_1", "a", "b_0"}),
            (std::vector<int64_t>{1, 2, 0}));
}

TEST(CsvFieldsTest, SniffsTheMostFrequentDelimiterOutsideQuotes) {
  EXPECT_EQ(SniffDelimiter("id;x1;x2", '.'), ';');
  EXPECT_EQ(SniffDelimiter("a\tb\tc", '.'), '\t');
  EXPECT_EQ(SniffDelimiter("\"a;b;c\",x", '.'), ',');
  EXPECT_EQ(SniffDelimiter("a|b|c,d", '.'), '|');
  EXPECT_EQ(SniffDelimiter("single", '.'), ',');
  EXPECT_EQ(SniffDelimiter("1,5;2,5;3,5", ','), ';');
}

TEST(CsvFieldsTest, KeptFieldsAreQuotedOnlyWhereCommaOutputNeedsIt) {
  auto out = [](const std::string& raw, bool quoted) {
    std::string s;
    AppendForCommaOutput({raw.data(), raw.data() + raw.size(), quoted}, &s);
    return s;
  };
  EXPECT_EQ(out("abc", false), "abc");
  EXPECT_EQ(out("\"a;b\"", true), "\"a;b\"");
  EXPECT_EQ(out("1,5", false), "\"1,5\"");  // from a ';' file
  EXPECT_EQ(out("a\"b", false), "\"a\"\"b\"");
}

class CsvDialectSourceTest : public ::testing::Test {
 protected:
  std::vector<double> Read(const std::string& text, const CsvOptions& o,
                           int64_t cols = 2) {
    const std::string path = ::testing::TempDir() + "dialect.csv";
    std::ofstream(path, std::ios::binary) << text;
    auto source = OpenCsvSource<double>(path, cols, o);
    return ReadAll(*source, 3);
  }
};

TEST_F(CsvDialectSourceTest, DialectsReadTheSameValuesAsPlainCsv) {
  const std::string plain = "1.5,-2\n3e2,0.125\n7,8\n";
  const std::vector<double> want = Read(plain, {});
  ASSERT_EQ(want, (std::vector<double>{1.5, -2, 300, 0.125, 7, 8}));
  CsvOptions semicolon;
  semicolon.delimiter = ';';
  semicolon.decimal = ',';
  EXPECT_EQ(Read("1,5;-2\r\n3e2;0,125\r\n7;8\r\n", semicolon), want);
  EXPECT_EQ(Read("\"1.5\",\"-2\"\n3e2,0.125\n\"7\",8\n", {}), want);
  CsvOptions tab;
  tab.delimiter = '\0';
  EXPECT_EQ(Read("1.5\t-2\n3e2\t0.125\n7\t8\n", tab), want);
  CsvOptions comments;
  comments.comment = '#';
  comments.skip_blank = true;
  EXPECT_EQ(Read("# a\n1.5,-2\n\n3e2,0.125\n#b\n7,8\n\n", comments), want);
  CsvOptions na;
  na.na = {"NA", ""};
  const std::vector<double> got = Read("NA,1\n,\"NA\"\n", na);
  ASSERT_EQ(got.size(), 4u);
  for (double v : {got[0], got[2], got[3]}) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(got[1], 1);
}

TEST_F(CsvDialectSourceTest, KeepPassesFieldsThroughInRowOrder) {
  CsvOptions o;
  o.header = true;
  o.keep = "id";
  o.inputs = {{"x", 2}};
  o.pass_through = std::make_shared<CsvPassThrough>();
  const std::vector<double> got =
      Read("x1,\"id\",x0\n2,\"a,b\",1\n4,c,3\n6,\"d\ne\",5\n8,f,7\n", o);
  EXPECT_EQ(got, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(o.pass_through->names, (std::vector<std::string>{"\"id\""}));
  for (const char* id : {"\"a,b\"", "c", "\"d\ne\"", "f"})
    EXPECT_EQ(o.pass_through->NextRow(), id);
  EXPECT_EQ(ErrorOf(ErrorKind::kInternal, [&] { o.pass_through->NextRow(); }),
            "kept columns: a row was written before it was read");
}

TEST_F(CsvDialectSourceTest, RefusalsNameLineColumnAndHeaderName) {
  CsvOptions o;
  o.header = true;
  o.keep = "id";
  o.pass_through = std::make_shared<CsvPassThrough>();
  const std::string path = ::testing::TempDir() + "bad.csv";
  auto error = [&](const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
    return ErrorOf(ErrorKind::kInput, [&] {
      auto source = OpenCsvSource<double>(path, 2, o);
      ReadAll(*source, 3);
    });
  };
  EXPECT_EQ(error("id,a,b\n\"x\ny\",1,null\n"),
            path +
                ":3:6: column 'b': not a number 'null'; --na 'null' reads "
                "it as NaN");
  EXPECT_EQ(error("id,a,b\nx,1\n"), path + ":2: expected 3 columns, got 2");
  EXPECT_EQ(error("id,a,b\nx,\"1\n"),
            path +
                ":2:3: bad quoted field; expected a closing '\"' and then "
                "',' or the line end");
  EXPECT_EQ(error("id,a,b,c\nx,1,2,3\n"),
            path +
                ":1: 4 columns in the header, 1 kept; the model takes 2 "
                "and its input names are not all in the header; expected "
                "--columns naming them");
}

}  // namespace
}  // namespace rowflow::csv
