#!/usr/bin/env bash
# Sets up the checkout and starts JupyterLab with conda-store-jupyter on its embedded defaults
# (SQLite and the store under the Jupyter data dir). No conda channel is reachable offline, so the
# local demo channel is built and configured; extra arguments go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate

channel_dir="${CSJ_DEMO_CHANNEL_DIR:-$HOME/.cache/conda-store-jupyter/demo-channel}"
echo "== building the local demo channel in $channel_dir (cached after the first time)" >&2
channel_url=$(python -m conda_store_jupyter.testing.channel "$channel_dir")

extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec jupyter lab "--CondaStore.channels=$channel_url" "${extra[@]}" "$@"
