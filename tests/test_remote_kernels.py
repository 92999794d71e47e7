"""Remote mode's kernels: a user's server (pytest-jupyter's, pointed at a real central
`jupyter conda-store` as user alice) offers a kernel for every environment alice may read on
the central store, run from the central store's prefixes, following builds, rollbacks,
deletions and sharing, with nothing written on the user's side."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from .test_kernels import KERNEL_SPECS, execute, kernel_name_of, kernelspecs, run_in_kernel
from .test_remote import api

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def conda_store_config(conda_store_config, central) -> dict:
    return {**conda_store_config, "remote_url": central.url, "remote_token": "user-alice"}


def as_user(
    central, user: str, method: str, path: str, body=None, headers=(), **kwargs
) -> httpx.Response:
    return httpx.request(
        method,
        f"{central.url}/conda-store/api/v1/{path}",
        headers={"Authorization": f"token user-{user}", **dict(headers)},
        json=body,
        timeout=60,
        **kwargs,
    )


async def build(jp_fetch, namespace: str, name: str, *dependencies: str) -> dict:
    """Submit through alice's own server (forwarded to the central service) and wait."""
    text = yaml.safe_dump({"name": name, "dependencies": list(dependencies)})
    answer = await api(
        jp_fetch, "POST", "specification", body={"namespace": namespace, "specification": text}
    )
    build_id = answer["data"]["build_id"]
    deadline = time.monotonic() + 180
    while True:
        record = (await api(jp_fetch, "GET", "build", str(build_id)))["data"]
        if record["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            return record
        assert time.monotonic() < deadline, f"build {build_id} still {record['status']}"
        await asyncio.sleep(0.1)


async def spec_becomes(jp_fetch, name: str, build_id: int | None, within: float) -> dict:
    """Wait until kernel `name` runs `build_id` (None: until it is gone), at most `within` s."""
    deadline = time.monotonic() + within
    while True:
        spec = (await kernelspecs(jp_fetch)).get(name)
        current = spec and spec["spec"]["metadata"]["conda_store"]["build_id"]
        if current == build_id:
            return spec
        assert time.monotonic() < deadline, f"kernel {name}: build {current}, not {build_id}"
        await asyncio.sleep(0.05)


async def test_kernels_of_the_central_store_follow_its_builds(
    jp_fetch, jp_ws_fetch, jp_started_server, central, store_dir, tmp_path
):
    name = kernel_name_of("alice", "analysis")
    assert name not in await kernelspecs(jp_fetch)
    first = await build(jp_fetch, "alice", "analysis", *KERNEL_SPECS)
    assert first["status"] == "COMPLETED", first["status_info"]
    spec = await spec_becomes(jp_fetch, name, first["id"], within=2)  # within 2 s of COMPLETED
    assert spec["spec"]["display_name"] == "analysis (alice)"
    central_store = (tmp_path / "central" / "store").resolve()
    # Its directory (activation script, logos) is the central one's, read where it is.
    resource_dir = jp_started_server.kernel_spec_manager.get_kernel_spec(name).resource_dir
    assert Path(resource_dir).is_relative_to(tmp_path / "central")

    # The kernel runs here, from the central store's prefix of that build.
    code = 'import csj_probe, os; print(os.environ["CONDA_PREFIX"]); print(csj_probe.__file__)'
    prefix, module = (await run_in_kernel(jp_fetch, jp_ws_fetch, name, code)).split()
    assert Path(prefix).parent == central_store / "alice" and str(first["id"]) in prefix
    assert Path(module).is_relative_to(prefix)

    # A kernel left running on the first build: this server says which build it runs, and
    # that it is stale once the environment has moved on (the panel's notebook status).
    started = json.loads(
        (await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))).body
    )
    await execute(jp_ws_fetch, started["id"], "print(1)")  # its activation has run
    running = (await api(jp_fetch, "GET", "kernels"))["data"]
    assert [(k["kernel_id"], k["build_id"], k["stale"]) for k in running] == [
        (started["id"], first["id"], False)
    ]

    second = await build(jp_fetch, "alice", "analysis", *KERNEL_SPECS, "gamma")
    await spec_becomes(jp_fetch, name, second["id"], within=2)
    (running,) = (await api(jp_fetch, "GET", "kernels"))["data"]
    assert (running["build_id"], running["current_build_id"], running["stale"]) == (
        first["id"],
        second["id"],
        True,
    )
    await jp_fetch("api", "kernels", started["id"], method="DELETE")
    await api(jp_fetch, "PUT", "environment", "alice", "analysis", body={"build_id": first["id"]})
    await spec_becomes(jp_fetch, name, first["id"], within=2)
    await api(jp_fetch, "DELETE", "environment", "alice", "analysis")
    await spec_becomes(jp_fetch, name, None, within=2)

    # Nothing was kept or written on this side: no store, no kernel spec directory.
    assert not store_dir.exists()
    assert not any(Path(jp_started_server.data_dir).glob("kernels/conda-store-*"))


async def test_only_readable_environments_and_sharing_shows_them(
    jp_fetch, jp_started_server, central
):
    for user, namespace in (("alice", "alice"), ("bob", "bob")):
        text = yaml.safe_dump({"name": "tools", "dependencies": KERNEL_SPECS})
        answer = as_user(
            central,
            user,
            "POST",
            "specification/",
            {"namespace": namespace, "specification": text},
        )
        assert answer.status_code == 200, answer.text
    alices, bobs = kernel_name_of("alice", "tools"), kernel_name_of("bob", "tools")
    deadline = time.monotonic() + 180
    while not {alices, bobs} <= set(central.get("kernelspecs/")["data"]["kernelspecs"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)

    # bob reads his own only; a long poll of his answers as soon as alice shares hers with him.
    first = as_user(central, "bob", "GET", "kernelspecs/")
    assert set(first.json()["data"]["kernelspecs"]) == {bobs}
    etag = first.headers["ETag"]
    unchanged = as_user(
        central, "bob", "GET", "kernelspecs/", headers={"If-None-Match": etag}, params={"wait": 1}
    )
    assert unchanged.status_code == 304

    async def share_soon():
        await asyncio.sleep(1)
        await api(
            jp_fetch,
            "POST",
            "namespace",
            "alice",
            "role",
            body={"other_namespace": "bob", "role": "viewer"},
        )

    sharing = asyncio.create_task(share_soon())
    started = time.monotonic()
    held = await asyncio.to_thread(
        as_user,
        central,
        "bob",
        "GET",
        "kernelspecs/",
        headers={"If-None-Match": etag},
        params={"wait": 30},
    )
    await sharing
    assert held.status_code == 200 and time.monotonic() - started < 10
    assert set(held.json()["data"]["kernelspecs"]) == {alices, bobs}
    assert held.headers["ETag"] != etag

    # alice's own server: bob shared nothing with her.
    assert alices in await kernelspecs(jp_fetch)
    assert bobs not in await kernelspecs(jp_fetch)


async def test_narrowed_to_the_users_namespace(jp_fetch, jp_started_server, central):
    # As `c.RemoteKernelSpecManager.conda_store_namespaces = ["{username}"]` would: only
    # alice's own namespace gets kernels in her server (applied to the listings that follow).
    jp_started_server.kernel_spec_manager.conda_store_namespaces = ["{username}"]
    text = yaml.safe_dump({"name": "shared", "dependencies": KERNEL_SPECS})
    for namespace in ("default", "alice"):
        answer = as_user(
            central,
            "alice",
            "POST",
            "specification/",
            {"namespace": namespace, "specification": text},
        )
        # alice may not write default/: the store's administrator builds it.
        if answer.status_code == 403:
            central.call("POST", "specification/", {"namespace": namespace, "specification": text})
    deadline = time.monotonic() + 180
    wanted = {kernel_name_of("default", "shared"), kernel_name_of("alice", "shared")}
    while not wanted <= set(
        as_user(central, "alice", "GET", "kernelspecs/").json()["data"]["kernelspecs"]
    ):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    specs = await spec_becomes_present(jp_fetch, kernel_name_of("alice", "shared"))
    assert kernel_name_of("default", "shared") not in specs


async def spec_becomes_present(jp_fetch, name: str, within: float = 5) -> dict:
    deadline = time.monotonic() + within
    while name not in (specs := await kernelspecs(jp_fetch)):
        assert time.monotonic() < deadline, f"kernel {name} never appeared"
        await asyncio.sleep(0.05)
    return specs
