"""A kernel for every environment: registered without a restart, visible to the server and to
command-line tools, running activated in the environment, following rollbacks and deletions."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import yaml

from conda_store_jupyter.kernels import KernelRegistry

from .test_api import Client

JUPYTER = os.path.join(os.path.dirname(sys.executable), "jupyter")
KERNEL_SPECS = ["python", "ipykernel", "csj-probe", "activate-probe"]


@pytest.fixture
def conda_store_config(store_dir, local_channel) -> dict:
    return {"store_dir": str(store_dir), "channels": [local_channel]}


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def kernelspecs(jp_fetch) -> dict:
    return json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]


async def wait_for_kernelspec(
    jp_fetch, name: str, present: bool = True, timeout: float = 10
) -> dict | None:
    deadline = time.monotonic() + timeout
    while True:
        specs = await kernelspecs(jp_fetch)
        if (name in specs) == present:
            return specs.get(name)
        assert time.monotonic() < deadline, (
            f"kernel {name} {'never appeared' if present else 'still there'}"
        )
        await asyncio.sleep(0.05)


async def execute(jp_ws_fetch, kernel_id: str, code: str) -> str:
    """Run `code` in a running kernel over its WebSocket; its stdout."""
    return await execute_over(await jp_ws_fetch("api", "kernels", kernel_id, "channels"), code)


async def execute_over(ws, code: str) -> str:
    """Run `code` over a kernel's open WebSocket (tornado's client), then close it; its stdout."""
    msg_id = uuid.uuid4().hex
    ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
        )
    )
    output, deadline = [], time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.read_message(), 60))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                output.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                raise AssertionError("\n".join(message["content"]["traceback"]))
            elif (
                message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
            ):
                return "".join(output)
        raise AssertionError("the kernel did not answer within 60 s")
    finally:
        ws.close()


async def run_in_kernel(jp_fetch, jp_ws_fetch, kernel_name: str, code: str) -> str:
    """Start a kernel through the REST API, run `code` over the WebSocket, return its stdout."""
    kernel = json.loads(
        (
            await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": kernel_name}))
        ).body
    )
    try:
        return await execute(jp_ws_fetch, kernel["id"], code)
    finally:
        await jp_fetch("api", "kernels", kernel["id"], method="DELETE")


def kernel_name_of(namespace: str, environment: str) -> str:
    return f"conda-store-{namespace}--{environment}"


async def test_kernel_registered_activated_and_following_rollback(
    api, jp_fetch, jp_ws_fetch, store_dir
):
    first = await api.wait(await api.submit("science", *KERNEL_SPECS))
    assert first["status"] == "COMPLETED", first["status_info"]
    name = kernel_name_of("default", "science")
    spec = await wait_for_kernelspec(jp_fetch, name, timeout=2)  # within 2 s of COMPLETED
    assert spec["spec"]["display_name"] == "science (default)"
    assert spec["spec"]["metadata"]["conda_store"]["build_id"] == first["id"]

    code = (
        "import csj_probe, os, sys; print(csj_probe.__file__); "
        'print(os.environ["CSJ_ACTIVATED"]); print(os.environ["CONDA_PREFIX"])'
    )
    out = (await run_in_kernel(jp_fetch, jp_ws_fetch, name, code)).split()
    first_dir = Path(out[2])
    assert Path(out[0]).is_relative_to(first_dir) and out[1] == "1"
    assert first_dir.parent == store_dir / "default" and str(first["id"]) in first_dir.name

    second = await api.wait(await api.submit("science", *KERNEL_SPECS, "gamma"))
    assert second["status"] == "COMPLETED"
    deadline = time.monotonic() + 2
    while (await wait_for_kernelspec(jp_fetch, name))["spec"]["metadata"]["conda_store"][
        "build_id"
    ] != second["id"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert str(second["id"]) in (await run_in_kernel(jp_fetch, jp_ws_fetch, name, code)).split()[2]

    await api.call("PUT", "environment", "default", "science", body={"build_id": first["id"]})
    deadline = time.monotonic() + 2
    while (await wait_for_kernelspec(jp_fetch, name))["spec"]["metadata"]["conda_store"][
        "build_id"
    ] != first["id"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    out = (await run_in_kernel(jp_fetch, jp_ws_fetch, name, code)).split()
    assert Path(out[0]).is_relative_to(first_dir)

    await api.call("DELETE", "environment", "default", "science")
    await wait_for_kernelspec(jp_fetch, name, present=False, timeout=2)


async def test_visible_to_command_line_tools(api, jp_fetch, jp_data_dir, tmp_path):
    build = await api.wait(
        await api.submit("cli", *KERNEL_SPECS, variables={"CSJ_GREETING": "hello"})
    )
    assert build["status"] == "COMPLETED", build["status_info"]
    name = kernel_name_of("default", "cli")
    await wait_for_kernelspec(jp_fetch, name)
    env = {**os.environ, "JUPYTER_DATA_DIR": str(jp_data_dir)}

    listing = await asyncio.to_thread(
        subprocess.run,
        [JUPYTER, "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert name in json.loads(listing.stdout)["kernelspecs"]

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import os, csj_probe; "
            'print(os.environ["CSJ_GREETING"], os.environ["CSJ_ACTIVATED"], csj_probe.hello())'
        )
    )
    notebook.metadata["kernelspec"] = {"name": name, "display_name": name, "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    await asyncio.to_thread(
        subprocess.run,
        [JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--inplace", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert outputs[0]["text"].split()[:2] == ["hello", "1"]


async def test_environment_without_ipykernel_registers_none(api, jp_fetch):
    build = await api.wait(await api.submit("plain", "gamma"))
    assert build["status"] == "COMPLETED"
    await asyncio.sleep(1.5)
    assert not [n for n in await kernelspecs(jp_fetch) if n.startswith("conda-store-")]


async def test_start_reconciles_and_leaves_other_kernels_alone(
    api, jp_fetch, jp_started_server, jp_data_dir
):
    build = await api.wait(await api.submit("kept", *KERNEL_SPECS))
    name = kernel_name_of("default", "kept")
    await wait_for_kernelspec(jp_fetch, name)
    kernels_dir = jp_data_dir / "kernels"
    # While the server is "down": a stale kernel of this store, a kernel of another tool, and
    # a missing one.
    stale = kernels_dir / "conda-store-default--gone"
    stale.mkdir()
    spec = json.loads((kernels_dir / name / "kernel.json").read_text())
    spec["metadata"]["conda_store"]["environment"] = "gone"
    (stale / "kernel.json").write_text(json.dumps(spec))
    foreign = kernels_dir / "conda-store-not-ours"
    foreign.mkdir()
    (foreign / "kernel.json").write_text(
        json.dumps({"argv": ["python"], "display_name": "other", "language": "python"})
    )
    shutil.rmtree(kernels_dir / name)

    app = next(iter(jp_started_server.extension_manager.extension_apps["conda_store_jupyter"]))
    registry: KernelRegistry = app.kernels
    await asyncio.to_thread(registry.sync)  # what a server start does
    names = set(await kernelspecs(jp_fetch))
    assert name in names and "conda-store-default--gone" not in names
    assert foreign.exists() and "conda-store-not-ours" in names
    assert (
        build["id"]
        == json.loads((kernels_dir / name / "kernel.json").read_text())["metadata"]["conda_store"][
            "build_id"
        ]
    )


def test_real_restart_reconciles_kernels_with_the_store(tmp_path, local_channel):
    from conda_store_jupyter.config import CondaStore
    from conda_store_jupyter.db import BuildStatus, open_database
    from conda_store_jupyter.service import CondaStoreService

    from .servers import StandaloneServer

    store_dir = tmp_path / "store"
    kernels_dir = tmp_path / "data" / "kernels"  # StandaloneServer's JUPYTER_DATA_DIR
    args = (
        f"--CondaStore.store_dir={store_dir}",
        f"--CondaStore.channels={local_channel}",
        "--BuildExecutor.poll_interval=0.1",
        # api/kernelspecs below: Jupyter Server's routes, closed by default here, opened.
        "--ServerApp.authorizer_class=jupyter_server.auth.authorizer.AllowAllAuthorizer",
    )
    config = CondaStore(store_dir=str(store_dir), channels=[local_channel])
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)

    def until(predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline
            time.sleep(0.05)

    server = StandaloneServer(tmp_path, *args).start()
    try:
        for name in ("kept", "doomed"):
            build = service.submit_specification(
                "default", yaml.safe_dump({"name": name, "dependencies": KERNEL_SPECS})
            )
            assert service.wait_for_build(build.id, timeout=120).status == BuildStatus.COMPLETED
        until(lambda: (kernels_dir / kernel_name_of("default", "doomed") / "kernel.json").exists())
    finally:
        server.stop()

    # By hand, while no server runs: an environment deleted, a kernel removed, a foreign one added.
    service.delete_environment("default", "doomed")
    shutil.rmtree(kernels_dir / kernel_name_of("default", "kept"))
    foreign = kernels_dir / "someone-elses"
    foreign.mkdir()
    (foreign / "kernel.json").write_text(
        json.dumps({"argv": ["python"], "display_name": "x", "language": "python"})
    )

    server = StandaloneServer(tmp_path, *args).start()
    try:
        until(
            lambda: (kernels_dir / kernel_name_of("default", "kept") / "kernel.json").exists(),
            timeout=5,
        )
        assert not (kernels_dir / kernel_name_of("default", "doomed")).exists()
        assert (foreign / "kernel.json").exists()
        assert (
            kernel_name_of("default", "kept") in server.get_json("api/kernelspecs")["kernelspecs"]
        )
    finally:
        server.stop()
        engine.dispose()


async def test_registry_stops_when_woken_as_it_stops(api, jp_started_server):
    """A build ending as the server stops wakes the registry in the same loop iteration as the
    stop's cancel: Python 3.11's wait_for then swallows the cancel, and a loop that relied on it
    alone ran on, so the server never finished stopping (seen as a 300 s hang in CI)."""
    app = next(iter(jp_started_server.extension_manager.extension_apps["conda_store_jupyter"]))
    for _ in range(5):
        registry = KernelRegistry(
            parent=app,
            sessions=app.kernels.sessions,
            store_dir=app.kernels.store_dir,
            poll_interval=30,
        )
        await registry.start()
        await asyncio.sleep(0.2)  # its first look is done: it waits for its event now
        registry._wakeup.set()  # what `wake` does, from a build's thread, at that moment
        stopping = asyncio.ensure_future(registry.stop())
        done, _ = await asyncio.wait({stopping}, timeout=10)  # (wait, unlike wait_for, never
        if not done:  # cancels what it waits for, so a stop that hangs is seen as one)
            registry._task.cancel()
        assert done, "the kernel registry did not stop"
