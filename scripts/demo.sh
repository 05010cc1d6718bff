#!/usr/bin/env bash
# The main job on the sandbox: install, bring the local RDS IAM sandbox up, run one canary
# round against it, then show what was published (metrics and alerts). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec node bin/rds-iam-canary.mjs demo "$@"
