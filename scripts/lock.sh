#!/usr/bin/env bash
# Refreshes requirements/dev.txt, the lock file of the Python development and test environment:
# the newest releases within pyproject.toml's ranges, resolved by uv for every platform on
# Python >= 3.11, with hashes. (The JavaScript side is locked by yarn.lock and ui-tests/yarn.lock;
# `jlpm up NAME` refreshes a package there.) Run `bash scripts/test.sh` and commit what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || bash scripts/setup.sh >/dev/null
.venv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
  --generate-hashes --upgrade --no-header --quiet -o requirements/dev.txt
sed -i "1i # The Python development and test environment, locked. Refresh: bash scripts/lock.sh" \
  requirements/dev.txt
git --no-pager diff --stat -- requirements/dev.txt
