"""Kernels of one build, on demand (POST build/{id}/kernel/): a notebook recorded on an older
build runs on that build again, with its package versions; a collected build is restored
first; such a kernel is not "stale", and only the builds asked for get one."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from .test_api import Client
from .test_kernels import KERNEL_SPECS, execute, kernel_name_of, wait_for_kernelspec

pytestmark = pytest.mark.local_channel_only

READ_ALPHA = (
    "import pathlib, sys; "
    "print(sorted(p.name for p in pathlib.Path(sys.prefix, 'share/csj-test').iterdir()))"
)


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def test_a_kernel_of_an_older_build_runs_its_packages(api, jp_fetch, jp_ws_fetch):
    old = await api.wait(
        await api.submit("pinned", *KERNEL_SPECS, "alpha=1.0", variables={"CSJ_BUILD": "old"})
    )
    new = await api.wait(await api.submit("pinned", *KERNEL_SPECS, "alpha=2.0"))
    assert old["status"] == new["status"] == "COMPLETED"
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    assert not [name for name in specs if "--build-" in name], "none until asked for"

    answer = (await api.call("POST", "build", str(old["id"]), "kernel"))["data"]
    name = answer["kernel_name"]
    assert name == f"{kernel_name_of('default', 'pinned')}--build-{old['id']}"
    assert answer["restoring"] is False
    await wait_for_kernelspec(jp_fetch, name)
    kernel = json.loads(
        (await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))).body
    )
    assert "alpha-1.0.txt" in await execute(jp_ws_fetch, kernel["id"], READ_ALPHA)
    # With its own specification's variables, not the current build's (which has none).
    printed = await execute(jp_ws_fetch, kernel["id"], "import os; print(os.environ['CSJ_BUILD'])")
    assert printed.strip() == "old"
    running = (await api.call("GET", "kernels"))["data"]
    (mine,) = [k for k in running if k["kernel_id"] == kernel["id"]]
    assert (mine["build_id"], mine["current_build_id"], mine["stale"]) == (
        old["id"],
        new["id"],
        False,
    )
    await jp_fetch("api", "kernels", kernel["id"], method="DELETE")

    # Collected since: asked again, it is restored first, then its kernel comes back.
    deadline = time.monotonic() + 10
    while True:  # (the kernel's process may outlive the DELETE a moment)
        report = api.service.collector(keep_builds=1).run()
        if [b.build_id for b in report.builds] == [old["id"]]:
            break
        assert time.monotonic() < deadline, report
        await asyncio.sleep(0.2)
    await wait_for_kernelspec(jp_fetch, name, present=False)
    answer = (await api.call("POST", "build", str(old["id"]), "kernel"))["data"]
    assert answer["restoring"] is True
    restored = await api.wait(old["id"])
    assert restored["status"] == "COMPLETED" and restored["collected_on"] is None
    await wait_for_kernelspec(jp_fetch, name)
    environment = (await api.call("GET", "environment", "default", "pinned"))["data"]
    assert environment["current_build_id"] == new["id"], "the environment did not move"

    # Rolled back to that build: the environment's own kernel stays (it follows the link, now
    # to the same build), and so does the build's.
    await api.call("PUT", "environment", "default", "pinned", body={"build_id": old["id"]})
    await asyncio.sleep(1)  # the registry's next sync
    await wait_for_kernelspec(jp_fetch, name)
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    own = specs[kernel_name_of("default", "pinned")]["spec"]["metadata"]["conda_store"]
    assert "pinned" not in own and own["build_id"] == old["id"]
    assert specs[name]["spec"]["metadata"]["conda_store"]["pinned"] is True


async def test_a_notebook_run_with_nbclient_reruns_on_its_recorded_build(
    api, jp_fetch, jp_data_dir, tmp_path
):
    """The issue's scenario outside the browser: a notebook runs on default/demo (nbclient) and
    records its build; demo is rebuilt with another version; the notebook run again on its
    recorded build's kernel imports the old version, on the environment's the new one."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    first = await api.wait(await api.submit("demo", *KERNEL_SPECS, "alpha=1.0"))
    assert first["status"] == "COMPLETED", first["status_info"]
    environment_kernel = kernel_name_of("default", "demo")
    await wait_for_kernelspec(jp_fetch, environment_kernel)
    specs = KernelSpecManager(kernel_dirs=[str(jp_data_dir / "kernels")])

    async def run(kernel: str) -> str:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(READ_ALPHA)])
        client = NotebookClient(notebook, kernel_name=kernel, timeout=120)
        client.kernel_spec_manager = specs
        await client.async_execute()
        return notebook.cells[0].outputs[0]["text"]

    assert "alpha-1.0.txt" in await run(environment_kernel)
    record = (await api.call("GET", "build", str(first["id"]), "record"))["data"]

    second = await api.wait(await api.submit("demo", *KERNEL_SPECS, "alpha=2.0"))
    assert second["status"] == "COMPLETED"
    diff = await api.call("GET", "build", str(record["build_id"]), "diff", str(second["id"]))
    assert [c["name"] for c in diff["data"]["changed"]] == ["alpha"]
    # (the environment's kernel starts on whatever its link points at: the second build now)
    pinned = (await api.call("POST", "build", str(record["build_id"]), "kernel"))["data"]
    await wait_for_kernelspec(jp_fetch, pinned["kernel_name"])
    assert "alpha-1.0.txt" in await run(pinned["kernel_name"])
    assert "alpha-2.0.txt" in await run(environment_kernel)
