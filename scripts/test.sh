#!/usr/bin/env bash
# Sets up the checkout and runs every test: the extension checks, lint, pytest, jest, then galata.
# Exits non-zero if anything failed. CSJ_REQUIRE_SERVICES=1 turns "PostgreSQL/Redis not reachable"
# skips into failures (CI sets it).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests || exit 1
# shellcheck disable=SC1091
. .venv/bin/activate

status=0
fail() { echo "FAILED: $*" >&2; status=1; }

echo "== extension checks"
server_list=$(jupyter server extension list 2>&1)
echo "$server_list" | grep -E "conda_store_jupyter.*enabled" >/dev/null &&
  echo "$server_list" | grep -E "conda_store_jupyter [0-9][^ ]* .*OK" >/dev/null ||
  fail "jupyter server extension list does not show conda_store_jupyter enabled and OK:
$server_list"
lab_list=$(jupyter labextension list 2>&1)
echo "$lab_list" | grep -E "@conda-store-jupyter/labextension .*enabled.*OK" >/dev/null ||
  fail "jupyter labextension list does not show @conda-store-jupyter/labextension enabled and OK:
$lab_list"
[ $status = 0 ] && echo "server extension and labextension: enabled, OK"

echo "== lint and format (ruff; eslint, prettier, stylelint)"
ruff check . || fail "ruff check"
ruff format --check . || fail "ruff format --check (run: ruff format .)"
jlpm lint:check || fail "front-end lint (run: jlpm lint)"

echo "== pytest"
python -m pytest -p no:cacheprovider -ra || fail "pytest"

echo "== jest (front-end unit tests)"
jlpm test --ci || fail "jest"

echo "== galata (ui-tests) in Chromium"
(cd ui-tests && CI=1 jlpm playwright test) || fail "galata"

exit $status
