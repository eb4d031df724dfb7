#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang, ASan, UBSan) and runs each one for a while,
# starting from its seed corpus in fuzz/corpus/<target>/. Stops at the first crash, leak or hang,
# leaving the input that caused it in build/<preset>/findings/<target>/. docs/fuzzing.md has more.
# SWITCHBOARD_FUZZ_PRESET=sanitize uses the targets of the sanitizer build that the tests use.
#
#   ./scripts/fuzz.sh                        # every target, 30 s each
#   ./scripts/fuzz.sh 10                     # every target, 10 s each (what CI runs)
#   ./scripts/fuzz.sh 600 fuzz_http_api      # one target, ten minutes
#
# New inputs the fuzzer finds go to build/<preset>/corpus/<target>/ (not committed); the committed
# seeds are only read.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${SWITCHBOARD_FUZZ_SECONDS:-30}}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(fuzz_client_frame fuzz_exchange_frame fuzz_token fuzz_jwks fuzz_topology fuzz_config
           fuzz_http_api fuzz_trace)
fi

preset=${SWITCHBOARD_FUZZ_PRESET:-fuzz}
build=build/$preset
cmake --preset "$preset" >/dev/null
started=$(date +%s)
cmake --build --preset "$preset" --target sb_fuzz_all
echo "fuzz build took $(($(date +%s) - started)) s"

for target in "${targets[@]}"; do
  work=$build/corpus/$target
  findings=$build/findings/$target
  mkdir -p "$work" "$findings"
  echo "== $target for ${seconds} s"
  # One job; -timeout flags an input that runs over 10 s as a hang; -rss_limit_mb bounds memory.
  status=0
  "$build/fuzz/$target" "$work" "fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$findings/log" 2>&1 || status=$?
  grep -E '^Done [0-9]+ runs' "$findings/log" || true
  if [[ $status -ne 0 ]]; then
    tail -n 60 "$findings/log" >&2
    echo "$target failed: the input is in $findings/, the whole log in $findings/log" >&2
    exit 1
  fi
done
echo "fuzzing passed"
