#!/usr/bin/env bash
# The house style (.clang-format: Google) holds on every C++ file: lists the
# files clang-format-14 would change and fails if there are any.
# tools/setup/test.sh installs clang-format-14. Fix with:
#   clang-format-14 -i $(git ls-files '*.cc' '*.h')
#
#   check_format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
if ! command -v clang-format-14 >/dev/null; then
  echo "FAIL: clang-format-14 is not installed (apt-get install clang-format-14)"
  exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else
  mapfile -t files < <(find graph ops runtime tools tests \( -name '*.cc' -o -name '*.h' \) | sort)
fi
bad=()
for f in "${files[@]}"; do
  clang-format-14 --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "FAIL: ${#bad[@]} of ${#files[@]} files are not clang-formatted: ${bad[*]}"
  exit 1
fi
echo "ok: ${#files[@]} files follow .clang-format"
