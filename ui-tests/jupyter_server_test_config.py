"""Server for the galata tests: galata's settings, a throw-away store and the local test channel.

Run through run_test_server.py (`jlpm start`, or Playwright's webServer), which makes one root
directory per run, points JUPYTER_DATA_DIR, JUPYTER_CONFIG_DIR, JUPYTER_RUNTIME_DIR, IPYTHONDIR
and TMPDIR into it, and deletes it when the server exits. The store and the channel live there
too, so a run leaves nothing behind and two checkouts share nothing.
"""

import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from jupyterlab.galata import configure_jupyter_server

from conda_store_jupyter.testing.channel import build_channel

HERE = Path(__file__).resolve().parent
try:
    root = Path(os.environ["CSJ_UI_TEST_ROOT"])
except KeyError:
    raise SystemExit(
        "The galata test server runs in a directory of its own: start it with "
        "`python run_test_server.py` (jlpm start), not with this config file alone."
    ) from None
# The kernel specs the extension registers go to the Jupyter data dir, where the server's
# KernelSpecManager finds them: both must be the run's own.
if Path(jupyter_data_dir()) != root / "data":
    raise SystemExit(f"JUPYTER_DATA_DIR is {jupyter_data_dir()}, not under the run's root {root}")

configure_jupyter_server(c)  # noqa: F821 (c is the config object traitlets passes in)
c.ServerApp.allow_root = True  # noqa: F821

c.CondaStore.store_dir = str(root / "store")  # noqa: F821
# The channel is built (once, cached by content) where pytest builds it, in this checkout's
# .cache, and reached through a link in the run's root: its last path component shows in the
# Packages tab (snapshots), so it keeps that name. The rest of the URL differs between runs; the
# snapshots mask it where the specification shows it.
built = Path(os.environ.get("CSJ_TEST_CHANNEL_DIR", HERE.parent / ".cache" / "test-channel"))
build_channel(built)
channel = root / "conda-store-jupyter-ui-test-channel"
channel.symlink_to(built.resolve(), target_is_directory=True)
c.CondaStore.channels = [channel.as_uri()]  # noqa: F821
