"""Watched specifications (CondaStore.watch_paths): a real server watches a directory; files
dropped, rewritten, broken and deleted there build, or don't, in `filesystem/`."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import yaml

from conda_store_jupyter.watch import SpecWatch

from .test_api import Client

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def watch_dir(tmp_path):
    directory = tmp_path / "specs"
    (directory / "nested").mkdir(parents=True)
    # There before the server starts: built by its first scan.
    (directory / "nested" / "early.yml").write_text(
        yaml.safe_dump({"name": "early", "dependencies": ["alpha"]})
    )
    return directory


@pytest.fixture
def conda_store_config(conda_store_config, watch_dir) -> dict:
    return {**conda_store_config, "watch_paths": [str(watch_dir)]}


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def environment(api: Client, name: str) -> dict | None:
    answer = await api.call("GET", "environment", namespace="filesystem")
    return next((e for e in answer["data"] if e["name"] == name), None)


async def builds_of(api: Client, environment_id: int) -> list[dict]:
    return (await api.call("GET", "build", environment_id=environment_id))["data"]


async def until(condition, within: float, what: str):
    deadline = time.monotonic() + within
    while not (result := await condition()):
        assert time.monotonic() < deadline, f"{what} within {within} s"
        await asyncio.sleep(0.05)
    return result


async def watched(api: Client) -> dict[str, dict]:
    return {w["path"]: w for w in (await api.call("GET", "watched"))["data"]}


async def completed(api: Client, name: str):
    found = await environment(api, name)
    build = found and found["current_build"]
    return found if build and build["status"] == "COMPLETED" else None


async def test_files_build_into_the_filesystem_namespace(api, watch_dir):
    await until(lambda: completed(api, "early"), 60, "early.yml, there at start, built")

    # A new file is COMPLETED in filesystem/ within 5 s.
    path = watch_dir / "demo.yaml"
    text = yaml.safe_dump({"name": "demo", "dependencies": ["alpha"]})
    path.write_text(text)
    first = await until(lambda: completed(api, "demo"), 5, "demo.yaml COMPLETED")
    assert first["namespace"]["name"] == "filesystem"

    # The same content again (rewritten, touched) makes no build.
    path.write_text(text)
    os.utime(path)
    await asyncio.sleep(1.5)
    assert len(await builds_of(api, first["id"])) == 1

    # Broken: the message is in the API, and what was built stays current.
    path.write_text("name: demo\ndependencies: [alpha\n")
    record = await until(
        lambda: _with_error(api, str(path)), 5, "the broken file's error in watched/"
    )
    assert record["environment"] == "demo" and record["build_id"] == first["current_build_id"]
    assert (await environment(api, "demo"))["current_build_id"] == first["current_build_id"]

    # Fixed with a change: a new build, and the error is gone.
    path.write_text(yaml.safe_dump({"name": "demo", "dependencies": ["alpha", "gamma"]}))

    async def rebuilt():
        found = await completed(api, "demo")
        return found if found and found["current_build_id"] != first["current_build_id"] else None

    second = await until(rebuilt, 10, "the changed file rebuilt")
    record = (await watched(api))[str(path)]
    assert record["error"] is None and record["build_id"] == second["current_build_id"]

    # Deleted: the environment is left as it is.
    path.unlink()
    await until(lambda: _gone(api, str(path)), 5, "the deleted file forgotten")
    assert (await environment(api, "demo"))["current_build_id"] == second["current_build_id"]


async def _with_error(api: Client, path: str):
    record = (await watched(api)).get(path)
    return record if record and record["error"] else None


async def _gone(api: Client, path: str):
    return path not in await watched(api)


async def test_one_process_watches(api, jp_started_server):
    await until(lambda: completed(api, "early"), 60, "early.yml built")
    app = next(iter(jp_started_server.extension_manager.extension_apps["conda_store_jupyter"]))
    server_watch: SpecWatch = app.watch
    assert server_watch.leading
    other = SpecWatch(server_watch.watched, server_watch.sessions)
    other.holder = "server elsewhere:1"
    assert not other.hold()  # another process of the deployment does not watch meanwhile
