// The shared text helpers: the number printer, the byte escaper and the
// UTF-8 decoder that messages, trace, dot and CSV output all use.
#include "graph/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "graph/ir.h"

namespace rowflow {
namespace {

TEST(NumberToStringTest, WritesTheShortestRoundTripFormAsToChars) {
  EXPECT_EQ(ir::NumberToString(182.0), "182");
  EXPECT_EQ(ir::NumberToString(-13.0), "-13");
  EXPECT_EQ(ir::NumberToString(1000000.0), "1e+06");
  EXPECT_EQ(ir::NumberToString(120000.0), "120000");
  EXPECT_EQ(ir::NumberToString(0.9901095378334199), "0.9901095378334199");
  EXPECT_EQ(ir::NumberToString(0.1f), "0.1");  // the float, not its double
  EXPECT_EQ(ir::NumberToString(static_cast<double>(0.1f)),
            "0.10000000149011612");
  EXPECT_EQ(ir::NumberToString(-0.0), "-0");
  EXPECT_EQ(ir::NumberToString(1e-7f), "1e-07");
}

TEST(NumberToStringTest, EveryNanIsNanAndInfinitiesKeepTheirSign) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(ir::NumberToString(nan), "nan");
  EXPECT_EQ(ir::NumberToString(std::copysign(nan, -1.0)), "nan");
  EXPECT_EQ(ir::NumberToString(std::copysign(static_cast<float>(nan), -1.f)),
            "nan");
  EXPECT_EQ(ir::NumberToString(-std::numeric_limits<double>::infinity()),
            "-inf");
  EXPECT_EQ(ir::NumberToString(std::numeric_limits<float>::infinity()), "inf");
}

TEST(NumberToStringTest, TheLongestDoubleFitsTheWriteBuffer) {
  char buf[ir::kMaxNumberChars];
  const double v = -2.2250738585072014e-308;
  char* end = ir::WriteNumber(buf, buf + sizeof(buf), v);
  EXPECT_EQ(std::string(buf, end), "-2.2250738585072014e-308");
}

TEST(EscapeForMessageTest, EscapesControlNonAsciiAndBackslashAndCuts) {
  EXPECT_EQ(EscapeForMessage("a b~"), "a b~");
  EXPECT_EQ(EscapeForMessage(std::string("\n\x7f\\\xc3\xa9\0", 6)),
            "\\x0a\\x7f\\x5c\\xc3\\xa9\\x00");
  EXPECT_EQ(EscapeForMessage("abcdef", 4), "abcd...");
  EXPECT_EQ(EscapeForMessage("abcd", 4), "abcd");
}

TEST(Utf8LengthTest, AcceptsWellFormedSequencesOnly) {
  EXPECT_EQ(Utf8Length("a", 0), 1u);
  EXPECT_EQ(Utf8Length("\xc3\xa9", 0), 2u);          // U+00E9
  EXPECT_EQ(Utf8Length("\xe2\x86\x92", 0), 3u);      // U+2192
  EXPECT_EQ(Utf8Length("\xf4\x8f\xbf\xbf", 0), 4u);  // U+10FFFF
  EXPECT_EQ(Utf8Length("x\xc3\xa9", 1), 2u);
  EXPECT_EQ(Utf8Length("\xc0\x80", 0), 0u);          // overlong NUL
  EXPECT_EQ(Utf8Length("\xe0\x80\x80", 0), 0u);      // overlong
  EXPECT_EQ(Utf8Length("\xed\xa0\x80", 0), 0u);      // surrogate U+D800
  EXPECT_EQ(Utf8Length("\xf4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(Utf8Length("\xe2\x86", 0), 0u);          // truncated
  EXPECT_EQ(Utf8Length("\xe2"
                       "a\x92",
                       0),
            0u);                         // bad continuation
  EXPECT_EQ(Utf8Length("\x80", 0), 0u);  // stray continuation
}

}  // namespace
}  // namespace rowflow
