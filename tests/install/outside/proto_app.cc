// The generated rowflow.pb.h as a user sees it: a model file's bytes parsed
// into the rowflow.Graph message, a constant edited there (w: 1 2 3 ->
// 1 2 4), written back and run. Prints the two rows' outputs ("7 9").
#include <cstdio>
#include <string>

#include "graph/builder.h"
#include "graph/serialize.h"
#include "proto/rowflow.pb.h"
#include "runtime/session.h"

int main() {
  rowflow::GraphBuilder b("weighted_sum");
  auto x = b.Input("x", {3});
  b.Output(b.Sum(b.Multiply(x, b.Constant("w", {3}, {1, 2, 3}))));
  const std::string bytes =
      rowflow::SerializeGraph(b.Build(), rowflow::Encoding::kBinary);
  rowflow::Graph message;
  if (!message.ParseFromString(bytes) || message.nodes_size() != 2 ||
      message.constants_size() != 1 ||
      message.constants(0).float_data_size() != 3) {
    std::fprintf(stderr, "proto_app: not the message that was written\n");
    return 1;
  }
  message.mutable_constants(0)->set_float_data(2, 4);
  rowflow::Session session(
      rowflow::ParseGraph(message.SerializeAsString(), "edited"),
      {.threads = 1});
  const auto out = session.Run(rowflow::RowMatrix<float>{{1, 1, 1}, {1, 0, 2}});
  std::printf("%g %g\n", static_cast<double>(out.data[0]),
              static_cast<double>(out.data[1]));
  return 0;
}
