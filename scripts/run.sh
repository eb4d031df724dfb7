#!/usr/bin/env bash
# Builds Switchboard (optimised) and runs the demo: an exchange and two platforms ("Meta World" and
# "Shop") with a few users each, on http://127.0.0.1:8080, :8081 and :8082. It prints what to open
# and how to log in; Ctrl-C stops everything. Data goes to a temporary folder unless --data is
# given. Extra arguments go to `switchboard demo`, e.g. ./scripts/run.sh --base-port 9000
#
# In production run the exchange alone: build/release/src/switchboard serve --help
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target switchboard
exec build/release/src/switchboard demo "$@"
