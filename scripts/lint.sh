#!/usr/bin/env bash
# Checks the C++ sources against .clang-format and, with --tidy, against .clang-tidy (slow: it
# compiles every file once more). Uses the compile database of the debug preset.
#   ./scripts/lint.sh            # formatting only
#   ./scripts/lint.sh --tidy     # formatting and clang-tidy
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'bench/*.h' 'fuzz/*.cpp' 'fuzz/*.h')
clang-format --dry-run -Werror "${files[@]}"
echo "lint: ${#files[@]} files formatted as .clang-format says"

if [[ ${1:-} == --tidy ]]; then
  [[ -f build/debug/compile_commands.json ]] || cmake --preset debug >/dev/null
  mapfile -t sources < <(git ls-files 'src/*.cpp')
  clang-tidy -p build/debug --quiet "${sources[@]}"
  echo "lint: clang-tidy clean on ${#sources[@]} sources"
fi
