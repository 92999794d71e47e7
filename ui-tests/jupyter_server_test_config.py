"""Server for the galata tests: galata's settings, a throw-away store and the local test channel."""

import os
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

from conda_store_jupyter.testing.channel import build_channel

configure_jupyter_server(c)  # noqa: F821 (c is the config object traitlets passes in)
c.ServerApp.allow_root = True  # noqa: F821

repo = Path(__file__).resolve().parent.parent
channel_dir = os.environ.get("CSJ_TEST_CHANNEL_DIR", str(repo / ".cache" / "test-channel"))
c.CondaStore.store_dir = tempfile.mkdtemp(prefix="csj-ui-tests-store-")  # noqa: F821
c.CondaStore.channels = [build_channel(channel_dir)]  # noqa: F821
