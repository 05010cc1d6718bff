#!/usr/bin/env bash
# Debian packages that `npm run bench` compares against: the AWS CLI (for
# `aws rds generate-db-auth-token`) and the engines' command-line clients.
set -euo pipefail
missing=()
for pkg in awscli postgresql-client mariadb-client; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
