// rowflow: the command-line tool. Subcommands arrive with the tools issue;
// for now it lists them.
#include <cstdio>

int main(int argc, char** argv) {
  (void)argv;
  if (argc < 2) {
    std::fputs(
        "usage: rowflow <command> ...\n"
        "commands: build run bench inspect dot trace convert (coming)\n",
        stderr);
    return 2;
  }
  std::fputs("rowflow: error: subcommands are not built yet\n", stderr);
  return 2;
}
