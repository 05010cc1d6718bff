#!/usr/bin/env bash
# Everything CI runs: install, then lint, types, build and every test (the vitest global
# setup brings the sandbox up). Run as root. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec npm test -- "$@"
