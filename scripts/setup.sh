#!/usr/bin/env bash
# Sets up a development checkout from nothing, idempotently: a virtualenv in .venv with exactly the
# packages of the lock file requirements/dev.txt (installed by uv), the labextension built with jlpm
# from yarn.lock, the project installed editable and the server extension enabled. `--tests` also
# installs what the test suites need: Debian's Chromium and the galata project in ui-tests/.
# CSJ_LATEST=1 ignores the Python lock file and takes the newest releases within pyproject.toml's
# ranges instead: that is how a break from upstream is found on purpose (scripts/lock.sh then
# records them).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--tests" ] && with_tests=1
lock=requirements/dev.txt

log() { printf '\n== %s\n' "$*" >&2; }
# pip on these machines warns about a missing find-links folder on every call: keep the rest.
quiet_pip() {
  local out rc=0
  out=$(pip "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -v "^WARNING: Location" || true
  return $rc
}

if [ "$with_tests" = 1 ] && [ ! -x "${CSJ_CHROMIUM:-/usr/bin/chromium}" ]; then
  log "installing Debian's chromium for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with ${PYTHON:-python3}"
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

# uv at the version the lock file names installs everything else.
uv_version=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$lock")
if [ "$(uv --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]; then
  log "installing uv $uv_version"
  quiet_pip install -q "uv==$uv_version"
fi
if [ "${CSJ_LATEST:-0}" = 1 ]; then
  log "resolving the newest releases within pyproject.toml's ranges (CSJ_LATEST=1: lock file ignored)"
  lock=$(mktemp)
  trap 'rm -f "$lock"' EXIT
  uv pip compile -q --python .venv/bin/python --upgrade --extra dev -o "$lock" pyproject.toml
fi
log "installing the Python environment from ${lock}"
uv pip sync -q --python .venv/bin/python "$lock"

log "building the labextension"
jlpm install --immutable >/dev/null
jlpm build >/dev/null

log "installing conda-store-jupyter (editable)"
uv pip install -q --python .venv/bin/python --no-deps --no-build-isolation -e .
jupyter-builder develop --overwrite . >/dev/null

if [ "$with_tests" = 1 ]; then
  log "installing the galata project in ui-tests/"
  (cd ui-tests && jlpm install --immutable >/dev/null)
fi
log "setup done"
