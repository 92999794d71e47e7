"""A restarted kernel runs its environment's current build, and `kernels/` says which build each
running kernel runs and whether the environment has moved on since (issue 16)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from conda_store_jupyter.kernels import ACTIVATE_SCRIPT, running_prefix_file

from .test_api import Client
from .test_kernels import KERNEL_SPECS, execute, kernel_name_of, wait_for_kernelspec

PREFIX_CODE = "import os, sys; print(sys.prefix); print(os.environ['CONDA_PREFIX'])"


@pytest.fixture
def conda_store_config(store_dir, local_channel) -> dict:
    return {"store_dir": str(store_dir), "channels": [local_channel]}


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def running(api: Client) -> dict[str, dict]:
    return {k["kernel_id"]: k for k in (await api.call("GET", "kernels"))["data"]}


async def wait_for_spec_build(jp_fetch, name: str, build_id: int) -> dict:
    deadline = time.monotonic() + 10
    while True:
        spec = await wait_for_kernelspec(jp_fetch, name)
        if spec["spec"]["metadata"]["conda_store"]["build_id"] == build_id:
            return spec
        assert time.monotonic() < deadline, "the kernel spec did not follow the environment"
        await asyncio.sleep(0.05)


async def test_restart_runs_the_current_build_and_kernels_says_when_stale(
    api, jp_fetch, jp_ws_fetch, jp_started_server, store_dir
):
    first = await api.wait(await api.submit("follow", *KERNEL_SPECS))
    second = await api.wait(await api.submit("follow", *KERNEL_SPECS, "gamma"))
    assert first["status"] == second["status"] == "COMPLETED", second["status_info"]
    name = kernel_name_of("default", "follow")
    spec = (await wait_for_spec_build(jp_fetch, name, second["id"]))["spec"]
    link = str(store_dir / "default" / "envs" / "follow")
    # The spec names the environment's link, never a build's prefix.
    assert spec["argv"][1:4] == [f"{{resource_dir}}/{ACTIVATE_SCRIPT}", link, "{connection_file}"]
    assert spec["argv"][4] == f"{link}/bin/python"
    assert spec["display_name"] == "follow (default)"

    kernel = json.loads(
        (await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))).body
    )
    kernel_id = kernel["id"]
    try:
        prefix, conda_prefix = (await execute(jp_ws_fetch, kernel_id, PREFIX_CODE)).split()
        second_dir = Path(prefix)
        assert conda_prefix == prefix and second_dir.parent == store_dir / "default"
        assert store_dir.joinpath("default").resolve() / second_dir.name == second_dir.resolve()
        assert str(second["id"]) == second_dir.name.split("-")[2]
        assert (await running(api))[kernel_id] == {
            "kernel_id": kernel_id,
            "kernel_name": name,
            "namespace": "default",
            "environment": "follow",
            "build_id": second["id"],
            "current_build_id": second["id"],
            "stale": False,
        }

        # Make the first build current: the kernel keeps running the second, and says so.
        await api.call("PUT", "environment", "default", "follow", body={"build_id": first["id"]})
        await wait_for_spec_build(jp_fetch, name, first["id"])
        described = (await running(api))[kernel_id]
        assert (described["build_id"], described["current_build_id"], described["stale"]) == (
            second["id"],
            first["id"],
            True,
        )
        assert (await execute(jp_ws_fetch, kernel_id, PREFIX_CODE)).split()[0] == prefix

        # A restart (Jupyter Server's own route, as JupyterLab's restart button calls it) runs
        # the environment's current build.
        await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body=b"")
        first_prefix, first_conda = (await execute(jp_ws_fetch, kernel_id, PREFIX_CODE)).split()
        assert first_prefix == first_conda and Path(first_prefix).parent == second_dir.parent
        assert str(first["id"]) == Path(first_prefix).name.split("-")[2]
        described = (await running(api))[kernel_id]
        assert (described["build_id"], described["current_build_id"], described["stale"]) == (
            first["id"],
            first["id"],
            False,
        )
        record = running_prefix_file(
            jp_started_server.kernel_manager.get_kernel(kernel_id).connection_file
        )
        assert record.read_text() == first_prefix + "\n"
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")

    # A kernel shut down is no longer listed, and its record goes with it.
    assert kernel_id not in await running(api)
    assert not record.exists()


async def test_kernels_of_a_deleted_environment_are_not_stale(api, jp_fetch):
    build = await api.wait(await api.submit("gone", *KERNEL_SPECS))
    assert build["status"] == "COMPLETED", build["status_info"]
    name = kernel_name_of("default", "gone")
    await wait_for_spec_build(jp_fetch, name, build["id"])
    kernel_id = json.loads(
        (await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))).body
    )["id"]
    try:
        assert (await running(api))[kernel_id]["build_id"] == build["id"]
        await api.call("DELETE", "environment", "default", "gone")
        described = (await running(api))[kernel_id]
        assert (described["build_id"], described["current_build_id"], described["stale"]) == (
            build["id"],
            None,
            False,
        )
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
