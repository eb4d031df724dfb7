#!/usr/bin/env bash
# Builds Switchboard and runs every test: unit, integration (the real binary over HTTP and
# WebSocket), fault tests with real processes, the Node.js interoperability client and the
# browser. Installs what it needs first.
#
# By default the whole suite runs under AddressSanitizer and UndefinedBehaviorSanitizer (preset
# `sanitize`, clang), then the multi-threaded suites (label `threads`) again under
# ThreadSanitizer (preset `tsan`). In CI, or when SWITCHBOARD_FUZZ_SECONDS is set, every fuzz
# target then runs for a short while from the same sanitizer build.
#
#   ./scripts/test.sh                               # what CI runs, less the fuzzing
#   SWITCHBOARD_PRESET=debug ./scripts/test.sh      # a quicker plain debug build, no TSan pass
#   SWITCHBOARD_TSAN=0 ./scripts/test.sh            # skip the ThreadSanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
preset=${SWITCHBOARD_PRESET:-sanitize}

if [[ -f tests/interop/package-lock.json ]]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ -f tests/browser/package-lock.json ]]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

# ccache hits across clones of the project (CI builds a fresh clone each time).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

# Sanitizer options (a report fails the test that caused it, in every process the tests start)
# are in the test presets of CMakePresets.json.

stage() { printf '\n== %s (%(%H:%M:%S)T)\n' "$*" -1; }

stage "build and test, preset $preset"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j2 --timeout 600

if [[ $preset == sanitize && ${SWITCHBOARD_TSAN:-1} != 0 ]]; then
  stage "multi-threaded suites under ThreadSanitizer, preset tsan"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan
  ctest --preset tsan -j2 --timeout 900
fi

# A short fuzz run of every target (scripts/fuzz.sh). With the preset `sanitize` the fuzz targets
# are already built beside the tests; otherwise scripts/fuzz.sh builds the preset `fuzz`.
if [[ "${CI:-}" == "true" || -n "${SWITCHBOARD_FUZZ_SECONDS:-}" ]]; then
  stage "fuzzing"
  fuzz_preset=fuzz
  [[ $preset == sanitize ]] && fuzz_preset=sanitize
  SWITCHBOARD_FUZZ_PRESET=$fuzz_preset bash scripts/fuzz.sh "${SWITCHBOARD_FUZZ_SECONDS:-10}"
fi
stage "all tests passed"
