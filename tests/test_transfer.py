"""Environments moved between stores and copied or renamed within one, through real servers:
export then import into a second, empty store gives the same builds, lock files and current
build; a copy of an environment of 40-odd packages adds less than 5 % of its size to the disk;
a rename moves the environment's link and kernel; bad archives are refused."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.request

import pytest

from .servers import StandaloneServer, isolated_dirs
from .test_api import Client
from .test_kernels import KERNEL_SPECS, kernel_name_of, wait_for_kernelspec

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


def post(server: StandaloneServer, path: str, body: bytes) -> dict:
    request = urllib.request.Request(
        f"{server.url}/conda-store/api/v1/{path}",
        data=body,
        method="POST",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/gzip"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def fetch_text(server: StandaloneServer, path: str) -> str:
    request = urllib.request.Request(
        f"{server.url}/conda-store/api/v1/{path}",
        headers={"Authorization": f"token {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read().decode()


def wait_current(server: StandaloneServer, path: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        environment = server.get(path)["data"]
        current = environment["current_build"]
        if current and current["status"] == "COMPLETED" and not current["collected_on"]:
            return environment
        assert time.monotonic() < deadline, environment
        time.sleep(0.2)


async def history(api: Client, namespace: str, name: str) -> list[dict]:
    environment = (await api.call("GET", "environment", namespace, name))["data"]
    listed = await api.call("GET", "build", environment_id=environment["id"], sort_by="id")
    return [(await api.call("GET", "build", str(b["id"])))["data"] for b in listed["data"]]


async def test_export_then_import_into_an_empty_store(api, elsewhere):
    first = await api.wait(await api.submit("hist", "alpha=1.0"))
    second = await api.wait(await api.submit("hist", "alpha=1.1"))
    assert first["status"] == second["status"] == "COMPLETED"
    await api.call("PUT", "environment", "default", "hist", body={"build_id": first["id"]})
    archive = (await api.call("GET", "environment", "default", "hist", "export", raw=True)).body
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert {"manifest.json", f"builds/{first['id']}/conda-lock.yml"} <= set(tar.getnames())
    lockfiles = {
        b["id"]: (await api.call("GET", "build", str(b["id"]), "lockfile", raw=True)).body.decode()
        for b in (first, second)
    }

    server = elsewhere  # another store, empty
    (imported,) = post(server, "environment/import/?namespace=team", archive)["data"]
    assert (imported["namespace"], imported["name"]) == ("team", "hist")
    new_ids = {int(old): new for old, new in imported["builds"].items()}
    assert imported["current_build_id"] == new_ids[first["id"]]
    environment = wait_current(server, "environment/team/hist/")
    assert environment["current_build_id"] == new_ids[first["id"]]
    for old in (first, second):
        here = server.get(f"build/{new_ids[old['id']]}/")["data"]
        assert here["specification"]["sha256"] == old["specification"]["sha256"]
        assert fetch_text(server, f"build/{here['id']}/lockfile/") == lockfiles[old["id"]]
    other = server.get(f"build/{new_ids[second['id']]}/")["data"]
    assert other["status"] == "COMPLETED" and other["collected_on"], "restorable on demand"

    # Once more: the environment exists there now.
    with pytest.raises(urllib.error.HTTPError) as refused:
        post(server, "environment/import/?namespace=team", archive)
    assert refused.value.code == 409
    for bad in (b"not an archive", archive[: len(archive) // 2]):
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(server, "environment/import/?namespace=other", bad)
        assert refused.value.code == 400


async def test_a_copy_costs_almost_no_disk_and_a_rename_moves_the_kernel(api, jp_fetch, store_dir):
    big = [*KERNEL_SPECS, "gamma", "requests", "pygments"]
    build = await api.wait(await api.submit("big", *big))
    assert build["status"] == "COMPLETED", build["status_info"]
    packages = (await api.call("GET", "build", str(build["id"]), "packages", size=200))["count"]
    assert packages >= 40
    before = api.service.layout.measure()[0]

    copied = await api.call("POST", "environment", "default", "big", "copy", body={"name": "twin"})
    assert copied["data"]["name"] == "twin"
    deadline = time.monotonic() + 120
    while True:
        twin = (await api.call("GET", "environment", "default", "twin"))["data"]
        current = twin["current_build"]
        if current and current["status"] == "COMPLETED" and not current["collected_on"]:
            break
        assert time.monotonic() < deadline, twin
        await asyncio.sleep(0.2)
    added = api.service.layout.measure()[0] - before
    print(f"copy of {packages} packages ({build['size']} bytes) added {added} bytes")
    assert added < 0.05 * build["size"], (added, build["size"])
    twin_builds = await history(api, "default", "twin")
    assert [b["specification"]["sha256"] for b in twin_builds] == [build["specification"]["sha256"]]

    # Renamed within its namespace: the same builds, its link and its kernel follow.
    await wait_for_kernelspec(jp_fetch, kernel_name_of("default", "twin"))
    await api.call("POST", "environment", "default", "twin", "rename", body={"name": "pair"})
    assert (store_dir / "default" / "envs" / "pair").is_symlink()
    assert not (store_dir / "default" / "envs" / "twin").exists()
    assert [b["id"] for b in await history(api, "default", "pair")] == [
        b["id"] for b in twin_builds
    ]
    await wait_for_kernelspec(jp_fetch, kernel_name_of("default", "pair"))
    await wait_for_kernelspec(jp_fetch, kernel_name_of("default", "twin"), present=False)
    code, _ = await api.error("GET", "environment", "default", "twin")
    assert code == 404

    # Across namespaces: a copy there, then gone here.
    await api.call("POST", "environment", "default", "pair", "rename", body={"namespace": "team"})
    code, _ = await api.error("GET", "environment", "default", "pair")
    assert code == 404
    moved = (await api.call("GET", "environment", "team", "pair"))["data"]
    assert moved["name"] == "pair"
    code, message = await api.error("POST", "environment", "team", "pair", "copy", body={})
    assert code == 400 and "another namespace or name" in message


def cli(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from conda_store_jupyter.cli import run; run()",
            *args,
            f"--url={server.url}/conda-store/",
            f"--token={server.token}",
        ],
        env={**os.environ, **isolated_dirs(server.workdir, config_dir=server.workdir)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_command_line_exports_imports_copies_and_renames(elsewhere, tmp_path):
    spec = tmp_path / "small.yml"
    spec.write_text("name: small\ndependencies: [alpha=1.0]\n")
    steps = [
        (("env", "create", "-f", str(spec), "-n", "default", "-q"), "default/small: build 1"),
        (("export", "default/small", "-o", str(tmp_path / "small.tgz")), "written to"),
        (("import", str(tmp_path / "small.tgz"), "-n", "team", "-q"), "restored from its lock"),
        (("env", "copy", "team/small", "team/twin"), "team/small copy → team/twin"),
        (("env", "rename", "team/twin", "pair"), "team/twin rename → team/pair"),
        (("env", "rename", "team/pair", "default/pair"), "team/pair rename → default/pair"),
    ]
    for args, said in steps:
        done = cli(elsewhere, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert said in done.stdout, (args, done.stdout)
    names = {(e["namespace"]["name"], e["name"]) for e in elsewhere.get("environment/")["data"]}
    assert names == {("default", "small"), ("team", "small"), ("default", "pair")}
    refused = cli(elsewhere, "import", str(spec))  # not an archive
    assert refused.returncode == 1 and "not an environment archive" in refused.stderr
