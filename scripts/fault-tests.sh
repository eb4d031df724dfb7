#!/usr/bin/env bash
# Runs the fault tests (docs/durability.md). The CI form crashes the exchange 3 times per crash
# test; --full crashes it 20 times.
#
#   scripts/fault-tests.sh [--full] [extra gtest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

kills=3
if [[ "${1:-}" == "--full" ]]; then
  kills=20
  shift
fi
build_dir="${BUILD_DIR:-build/fault}"

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C "$build_dir" fault_test
SB_FAULT_KILLS="$kills" "$build_dir/tests/fault_test" "$@"
