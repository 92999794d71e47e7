#!/usr/bin/env bash
# Sets up a development checkout from nothing, idempotently: a virtualenv in .venv, the labextension
# built with jlpm, the project installed editable with its test extras and the server extension
# enabled. `--tests` also installs what the test suites need: Debian's Chromium and the galata
# project in ui-tests/.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--tests" ] && with_tests=1

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

log "installing JupyterLab (it brings jlpm, used to build the labextension)"
quiet_pip install -q -U pip
quiet_pip install -q "jupyterlab>=4.0,<5" "hatch-jupyter-builder>=0.5" "hatch-nodejs-version>=0.3.2" editables hatchling

log "building the labextension"
jlpm install >/dev/null
jlpm build >/dev/null

log "installing conda-store-jupyter (editable) with its test extras"
quiet_pip install -q --no-build-isolation -e ".[test]"
jupyter labextension develop --overwrite . >/dev/null 2>&1

if [ "$with_tests" = 1 ]; then
  log "installing the galata project in ui-tests/"
  (cd ui-tests && jlpm install >/dev/null)
fi
log "setup done"
