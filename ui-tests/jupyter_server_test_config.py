"""Server for the galata tests: galata's settings, a throw-away store and the local test channel."""

import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

from conda_store_jupyter.testing.channel import build_channel

configure_jupyter_server(c)  # noqa: F821 (c is the config object traitlets passes in)
c.ServerApp.allow_root = True  # noqa: F821

# A fixed place, whatever the checkout: the channel's URL shows in the specifications the panel
# displays, and the screenshot snapshots must not depend on where the repository lives.
channel_dir = os.environ.get("CSJ_UI_TEST_CHANNEL_DIR", "/tmp/conda-store-jupyter-ui-test-channel")
c.CondaStore.store_dir = tempfile.mkdtemp(prefix="csj-ui-tests-store-")  # noqa: F821
c.CondaStore.channels = [build_channel(channel_dir)]  # noqa: F821
