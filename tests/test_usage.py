"""GET usage/: per namespace its environments, builds and bytes, as `du` counts them (each
hard-linked file once), and the store's bytes and free space."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conda_store_jupyter.service.usage import store_measurement

from .test_api import Client

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


def du_bytes(path: Path) -> int:
    """What `du` says the files and links under `path` take (apparent bytes, hard links once),
    without the directories themselves."""
    total = int(
        subprocess.run(
            ["du", "-sb", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )
    directories = subprocess.run(
        ["find", str(path), "-type", "d", "-printf", "%s\\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return total - sum(map(int, directories))


async def test_usage_counts_what_du_counts(api, store_dir):
    one = await api.wait(await api.submit("one", "alpha"))
    two = await api.wait(await api.submit("two", "alpha", "gamma"))
    other = await api.wait(await api.submit("elsewhere", "alpha", namespace="other"))
    assert {one["status"], two["status"], other["status"]} == {"COMPLETED"}
    rebuilt = (await api.call("PUT", "build", str(two["id"])))["data"]["build_id"]
    assert (await api.wait(rebuilt))["status"] == "COMPLETED"  # the same packages again

    usage = (await api.call("GET", "usage"))["data"]
    namespaces = {n["namespace"]: n for n in usage["namespaces"]}
    default = namespaces["default"]
    assert (default["environments"], default["builds"]) == (2, 3)
    assert (namespaces["other"]["environments"], namespaces["other"]["builds"]) == (1, 1)
    for name in ("default", "other"):
        assert namespaces[name]["bytes"] == du_bytes(store_dir / name)
    assert usage["store"]["bytes"] == du_bytes(store_dir)
    assert usage["store"]["package_cache_bytes"] == du_bytes(store_dir / ".pkgs")
    # Files the prefixes share (hard links from the package cache) count once, not per prefix:
    # less than what du says of each prefix alone.
    separately = sum(du_bytes(child) for child in (store_dir / "default").iterdir())
    assert 0 < default["bytes"] < separately
    free = shutil.disk_usage(store_dir).free
    assert abs(usage["store"]["free_bytes"] - free) < 100 * 2**20
    assert usage["store"]["storage_threshold"] == api.service.config.storage_threshold


async def test_one_walk_serves_every_caller_until_the_store_changes(api, store_dir):
    """Hundreds of panels ask for usage: an unchanged store is not walked again for each; a
    build that completed, or a deleted build, is counted at the next request."""
    first = await api.wait(await api.submit("walked", "alpha"))
    assert first["status"] == "COMPLETED"
    before = (await api.call("GET", "usage"))["data"]
    walks = store_measurement(api.service).walks
    for _ in range(3):
        assert (await api.call("GET", "usage"))["data"] == before
    assert store_measurement(api.service).walks == walks

    second = await api.wait(await api.submit("walked", "alpha", "gamma"))
    assert second["status"] == "COMPLETED"
    grown = (await api.call("GET", "usage"))["data"]
    assert store_measurement(api.service).walks == walks + 1
    assert grown["store"]["bytes"] == du_bytes(store_dir)

    await api.call("PUT", "environment", "default", "walked", body={"build_id": first["id"]})
    await api.call("DELETE", "build", str(second["id"]))
    after = (await api.call("GET", "usage"))["data"]
    assert store_measurement(api.service).walks == walks + 2
    assert after["store"]["bytes"] == du_bytes(store_dir)
    assert after["namespaces"][0]["bytes"] == du_bytes(store_dir / "default")
