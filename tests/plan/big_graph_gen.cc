// big_graph_gen SHAPE NODES OUT.pb [--f64] [--reverse]: writes a generated
// big model (tests/plan/big_graph.h) for the CLI's scaling tests. Exit 2 on
// bad arguments.
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "graph/error.h"
#include "graph/serialize.h"
#include "tests/plan/big_graph.h"

int main(int argc, char** argv) {
  using rowflow::testing::BigShape;
  auto usage = [] {
    fmt::print(stderr,
               "usage: big_graph_gen chain|fan_concat|fan_add NODES OUT.pb "
               "[--f64] [--reverse]\n");
    return 2;
  };
  if (argc < 4) return usage();
  const auto shape = rowflow::testing::ParseBigShape(argv[1]);
  int64_t nodes = 0;
  const std::string_view n = argv[2];
  if (!shape ||
      std::from_chars(n.data(), n.data() + n.size(), nodes).ec != std::errc()) {
    return usage();
  }
  auto dtype = rowflow::ir::DType::kF32;
  bool reverse = false;
  for (int i = 4; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--f64") {
      dtype = rowflow::ir::DType::kF64;
    } else if (flag == "--reverse") {
      reverse = true;
    } else {
      return usage();
    }
  }
  try {
    rowflow::SaveGraph(
        rowflow::testing::MakeBigGraph(*shape, nodes, dtype, reverse), argv[3],
        rowflow::Encoding::kBinary);
  } catch (const rowflow::Error& e) {
    fmt::print(stderr, "big_graph_gen: {}\n", e.what());
    return 5;
  }
  return 0;
}
