#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine: npm packages (npm ci) and
# the Debian packages the sandbox and benchmarks use. Safe to run again: it installs only
# what is missing. `sandbox up` installs the server packages itself too.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node scripts/build.mjs
