"""A prefix a kernel runs is not pulled from under it: deleting its environment (or its build)
keeps the prefix while the kernel lives (its imports keep working), and the sweep of orphan
prefixes removes it once the kernel has stopped."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import threading
import time

import pytest

from conda_store_jupyter.store import StoreLayout

from .test_api import Client
from .test_kernels import KERNEL_SPECS, execute, kernel_name_of, wait_for_kernelspec

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def test_deleting_an_environment_waits_for_its_kernel(
    api, jp_fetch, jp_ws_fetch, jp_started_server, store_dir
):
    build = await api.wait(await api.submit("inuse", *KERNEL_SPECS))
    assert build["status"] == "COMPLETED", build["status_info"]
    name = kernel_name_of("default", "inuse")
    await wait_for_kernelspec(jp_fetch, name)
    kernel = json.loads(
        (await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))).body
    )
    prefix = (await execute(jp_ws_fetch, kernel["id"], "import sys; print(sys.prefix)")).strip()
    assert str(build["id"]) in prefix

    await api.call("DELETE", "environment", "default", "inuse")
    app = next(iter(jp_started_server.extension_manager.extension_apps["conda_store_jupyter"]))
    maintenance = app.executor.maintenance
    maintenance.run_once()  # a sweep of orphan prefixes now (the deleted build's is one)
    maintenance._last_sweep = 0
    assert maintenance.run_once()
    # The kernel still imports from its prefix, which it had not imported from yet.
    assert "csj_probe" in await execute(
        jp_ws_fetch, kernel["id"], "import csj_probe; print(csj_probe.__name__)"
    )
    assert (store_dir / "default").exists() and any(
        str(path) == prefix for path in (store_dir / "default").iterdir()
    )

    await jp_fetch("api", "kernels", kernel["id"], method="DELETE")
    deadline = time.monotonic() + 10  # the kernel's process may outlive the DELETE a moment
    while any(str(path) == prefix for path in (store_dir / "default").iterdir()):
        assert time.monotonic() < deadline, "the prefix stayed after its kernel stopped"
        maintenance._last_sweep = 0
        maintenance.run_once()
        await asyncio.sleep(0.2)


def test_a_remover_looking_at_the_same_prefix_is_not_taken_for_a_kernel(tmp_path):
    """Two removers at once (a delete and a sweep, say): the one that finds the other holding the
    prefix's lock waits for it rather than keep the prefix as if a kernel ran it. A kernel's
    shared lock still keeps it."""
    layout = StoreLayout(tmp_path / "store")
    prefix = tmp_path / "store" / "default" / "prefix"
    (prefix / "conda-meta").mkdir(parents=True)
    fd = os.open(prefix / "conda-meta", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # the other remover, for a moment
    threading.Timer(0.3, os.close, (fd,)).start()
    assert layout.remove_unless_running(prefix) and not prefix.exists()

    (prefix / "conda-meta").mkdir(parents=True)
    kernel = subprocess.Popen(  # what the kernels' activation script does (kernels.py)
        ["flock", "-s", "-o", str(prefix / "conda-meta"), "sleep", "30"]
    )
    try:
        deadline = time.monotonic() + 10
        while not layout.in_use(prefix):
            assert time.monotonic() < deadline, "the kernel's lock was never seen"
            time.sleep(0.05)
        assert not layout.remove_unless_running(prefix) and prefix.exists()
    finally:
        kernel.kill()
        kernel.wait()
    assert not layout.in_use(prefix)
    assert layout.remove_unless_running(prefix) and not prefix.exists()
