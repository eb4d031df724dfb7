#!/usr/bin/env bash
# Builds Switchboard and runs every test: unit, integration (the real binary over HTTP and
# WebSocket) and the Node.js interoperability client. Installs what it needs first.
#
#   ./scripts/test.sh                 # debug build
#   SWITCHBOARD_PRESET=sanitize ./scripts/test.sh   # with AddressSanitizer and UBSan
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
preset=${SWITCHBOARD_PRESET:-debug}

if [[ -f tests/interop/package-lock.json ]]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ -f tests/browser/package-lock.json ]]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j2 --timeout 600

# A short fuzz run of every target (scripts/fuzz.sh), in CI or when asked for with
# SWITCHBOARD_FUZZ_SECONDS. Its build is separate (preset `fuzz`, clang).
if [[ "${CI:-}" == "true" || -n "${SWITCHBOARD_FUZZ_SECONDS:-}" ]]; then
  bash scripts/fuzz.sh "${SWITCHBOARD_FUZZ_SECONDS:-10}"
fi
