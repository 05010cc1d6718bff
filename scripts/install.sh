#!/usr/bin/env bash
# Installs the npm packages (npm ci, only when node_modules is missing or older than the
# lock) and builds dist/. The Debian packages the sandbox needs (PostgreSQL, MariaDB, gcc,
# libpam0g-dev, openssl) are installed by `sandbox up` itself when missing; those the
# benchmarks compare against, by scripts/install-bench-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node scripts/build.mjs
