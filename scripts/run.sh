#!/usr/bin/env bash
# Builds Switchboard (optimised) and runs the exchange on its embedded store:
# http://127.0.0.1:8080, data (and the generated operator token) in ./switchboard-data.
# Extra arguments go to `switchboard serve`, e.g. ./scripts/run.sh --listen 127.0.0.1:9000
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target switchboard
exec build/release/src/switchboard serve "$@"
