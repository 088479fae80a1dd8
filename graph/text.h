// Text helpers shared by every layer's messages and outputs: the one byte
// escaper for one-line messages and the one UTF-8 decoder. (The one number
// printer is ir::NumberToString / ir::WriteNumber in graph/ir.h.)
//
// Thread-safety: free functions without shared state.
#ifndef ROWFLOW_GRAPH_TEXT_H_
#define ROWFLOW_GRAPH_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace rowflow {

// At most `max_bytes` of `text` with bytes outside printable ASCII and '\'
// written as \xNN, "..." appended when cut, for one-line messages.
std::string EscapeForMessage(std::string_view text, size_t max_bytes = 200);

// Length of the valid UTF-8 sequence starting at s[i] (1 for ASCII), or 0
// when it is not one: a stray or truncated sequence, an overlong form, a
// UTF-16 surrogate or a code point past U+10FFFF.
size_t Utf8Length(std::string_view s, size_t i);

}  // namespace rowflow

#endif  // ROWFLOW_GRAPH_TEXT_H_
