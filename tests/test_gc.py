"""Retention and garbage collection through a real server and real builds: keep-last-2 over five
builds collects the three non-current prefixes, but not one a running kernel uses until that
kernel stops; collected builds keep their log, lock file and packages, and are restored from
their lock file package for package; a rollback to a collected build restores it first; package
cache entries no prefix uses go; `jupyter conda-store gc --dry-run` says what would go and removes
nothing; the metrics report the last collection; a namespace over its quota gets no new build."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .servers import isolated_dirs
from .test_api import Client
from .test_kernels import KERNEL_SPECS, execute, kernel_name_of, wait_for_kernelspec
from .test_metrics import scrape

pytestmark = pytest.mark.local_channel_only

ALPHAS = ["alpha=1.0", "alpha=1.1", "alpha=2.0", "beta", "gamma"]  # five distinct builds


@pytest.fixture
def conda_store_config(store_dir, local_channel) -> dict:
    return {
        "store_dir": str(store_dir),
        "channels": [local_channel],
        "keep_builds": 2,
        "gc_interval": 0,  # the test runs each collection itself
    }


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


def prefix_of(store_dir: Path, build: dict) -> Path:
    (prefix,) = [
        p for p in (store_dir / "default").iterdir() if p.name.endswith(f"-{build['id']}-gc")
    ]
    return prefix


def prefixes(store_dir: Path) -> set[int]:
    return {
        int(path.name.split("-")[-2])
        for path in (store_dir / "default").iterdir()
        if path.is_dir() and not path.is_symlink() and path.name != "envs"
    }


def age_package_cache(store_dir: Path) -> None:
    """Cache entries as if fetched an hour ago (gc keeps ones touched in its grace period)."""
    old = time.time() - 3600
    for entry in (store_dir / ".pkgs").iterdir():
        os.utime(entry, (old, old), follow_symlinks=False)


def cached(store_dir: Path, name: str) -> list[str]:
    return [
        p.name
        for p in (store_dir / ".pkgs").iterdir()
        if p.is_dir() and p.name.startswith(f"{name}-")
    ]


def locked_sha256(lockfile_text: str) -> dict[str, str]:
    lock = yaml.safe_load(lockfile_text)
    return {p["name"]: p["hash"]["sha256"] for p in lock["package"] if p["manager"] == "conda"}


def installed_sha256(prefix: Path) -> dict[str, str]:
    return {
        record["name"]: record["sha256"]
        for record in (json.loads(p.read_text()) for p in (prefix / "conda-meta").glob("*.json"))
    }


def gc_command(store_dir: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from conda_store_jupyter.cli import run; run()",
            "gc",
            f"--CondaStore.store_dir={store_dir}",
            "--keep-builds=2",
            *args,
        ],
        env={**os.environ, **isolated_dirs(tmp_path / "cli-home")},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_keep_last_two_collects_restores_and_waits_for_kernels(
    api, jp_fetch, jp_ws_fetch, store_dir, tmp_path
):
    builds = []
    kernel = None
    for number, extra in enumerate(ALPHAS, 1):
        build = await api.wait(await api.submit("gc", *KERNEL_SPECS, extra))
        assert build["status"] == "COMPLETED", build["status_info"]
        builds.append(build)
        if number == 3:  # a kernel on the third build, which is current now
            name = kernel_name_of("default", "gc")
            await wait_for_kernelspec(jp_fetch, name)
            kernel = json.loads(
                (
                    await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))
                ).body
            )
            prefix = await execute(jp_ws_fetch, kernel["id"], "import sys; print(sys.prefix)")
            assert prefix.strip() == str(prefix_of(store_dir, build))
    ids = [build["id"] for build in builds]
    before = {
        build_id: await api.call("GET", "build", str(build_id), "packages", size=100)
        for build_id in ids
    }
    assert prefixes(store_dir) == set(ids)

    # A dry run from the command line: says what would go, removes nothing.
    dry = gc_command(store_dir, tmp_path, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 build(s) would be collected" in dry.stdout, dry.stdout
    assert "kept while a kernel runs them" in dry.stdout, dry.stdout
    assert f"build {ids[2]}" in dry.stdout
    assert prefixes(store_dir) == set(ids)
    as_json = gc_command(store_dir, tmp_path, "--dry-run", "--json")
    report = json.loads(as_json.stdout)
    assert [b["build_id"] for b in report["builds"]] == [ids[1], ids[0]]
    assert report["freed_bytes"] > 0 and report["dry_run"] is True

    # The collection: builds 1 and 2 go; 3 stays while its kernel runs; 4 and 5 are kept.
    age_package_cache(store_dir)
    report = api.service.collector().run()
    assert sorted(b.build_id for b in report.builds) == ids[:2]
    assert [b.build_id for b in report.kept_running] == [ids[2]]
    assert prefixes(store_dir) == set(ids[2:])
    assert not cached(store_dir, "alpha-1.0"), "only build 1 used alpha 1.0"
    assert cached(store_dir, "alpha-2.0"), "build 3's kernel still runs on alpha 2.0"
    assert report.freed_bytes > 0
    first = (await api.call("GET", "build", str(ids[0])))["data"]
    assert first["status"] == "COMPLETED" and first["collected_on"]
    assert not any(a["artifact_type"] == "CONDA_PACK" for a in first["build_artifacts"])
    lockfile = (await api.call("GET", "build", str(ids[0]), "lockfile", raw=True)).body.decode()
    assert "alpha" in locked_sha256(lockfile)
    log = (await api.call("GET", "build", str(ids[0]), "logs", raw=True)).body.decode()
    assert "COMPLETED" in log
    metrics = await scrape(jp_fetch)
    assert metrics[("conda_store_gc_last_collected_builds", ())] == 2
    assert metrics[("conda_store_gc_last_success", ())] == 1
    assert metrics[("conda_store_builds_collected", ())] == 2
    assert metrics[("conda_store_store_bytes", ())] > 0

    # The kernel still imports from its prefix; once it stops, the next collection takes it.
    assert "csj_probe" in await execute(
        jp_ws_fetch, kernel["id"], "import csj_probe; print(csj_probe.__name__)"
    )
    await jp_fetch("api", "kernels", kernel["id"], method="DELETE")
    deadline = time.monotonic() + 10
    while True:
        report = api.service.collector().run()
        if [b.build_id for b in report.builds] == [ids[2]]:
            break
        assert time.monotonic() < deadline, "build 3 stayed after its kernel stopped"
        await asyncio.sleep(0.2)
    assert prefixes(store_dir) == set(ids[3:])

    # Restore: from its own lock file, no solve, the very packages.
    restoring = await api.call("POST", "build", str(ids[0]), "restore")
    # (the executor may have taken it up before the answer is written)
    assert restoring["data"]["status"] in ("QUEUED", "BUILDING"), restoring["data"]
    assert restoring["data"]["collected_on"]
    restored = await api.wait(ids[0])
    assert restored["status"] == "COMPLETED", restored["status_info"]
    assert restored["collected_on"] is None
    assert restored["ended_on"] == first["ended_on"], "a restore keeps the build's own times"
    prefix = prefix_of(store_dir, restored)
    assert installed_sha256(prefix) == locked_sha256(lockfile)
    after = await api.call("GET", "build", str(ids[0]), "packages", size=100)
    assert after["data"] == before[ids[0]]["data"]
    log = (await api.call("GET", "build", str(ids[0]), "logs", raw=True)).body.decode()
    assert "restoring build" in log and "no solve" in log
    environment = (await api.call("GET", "environment", "default", "gc"))["data"]
    assert environment["current_build_id"] == ids[4], "a restore does not move the environment"
    code, message = await api.error("POST", "build", str(ids[0]), "restore")
    assert code == 409 and "not collected" in message

    # A rollback to a collected build restores it, and then makes it current.
    await api.call("PUT", "environment", "default", "gc", body={"build_id": ids[1]})
    rolled = await api.wait(ids[1])
    assert rolled["status"] == "COMPLETED" and rolled["collected_on"] is None
    environment = (await api.call("GET", "environment", "default", "gc"))["data"]
    assert environment["current_build_id"] == ids[1]
    assert (store_dir / "default" / "envs" / "gc").resolve() == prefix_of(store_dir, rolled)


async def test_a_namespace_over_its_quota_gets_no_new_build(api, store_dir):
    build = await api.wait(await api.submit("first", "alpha"))
    assert build["status"] == "COMPLETED" and build["size"] > 0
    api.service.config.namespace_quotas = {"default": build["size"]}  # full now
    code, message = await api.error(
        "POST",
        "specification",
        body={"namespace": "default", "specification": "name: second\ndependencies: [beta]\n"},
    )
    assert code == 507 and "quota" in message
    usage = (await api.call("GET", "usage"))["data"]
    (default,) = [n for n in usage["namespaces"] if n["namespace"] == "default"]
    assert default["quota"] == build["size"] and default["quota_used"] == build["size"]
    # Another namespace is not held by it.
    other = await api.wait(await api.submit("second", "beta", namespace="other"))
    assert other["status"] == "COMPLETED"


async def test_a_failed_restore_leaves_the_build_collected(api, store_dir):
    first = await api.wait(await api.submit("fragile", "alpha=1.0"))
    second = await api.wait(await api.submit("fragile", "alpha=1.1"))
    assert first["status"] == second["status"] == "COMPLETED"
    report = api.service.collector(keep_builds=1).run()
    assert [b.build_id for b in report.builds] == [first["id"]]
    api.service.layout.artifact_path(first["id"], "lockfile").unlink()  # lost, somehow

    await api.call("POST", "build", str(first["id"]), "restore")
    ended = await api.wait(first["id"])
    assert ended["status"] == "COMPLETED", "a failed restore does not fail the build"
    assert ended["collected_on"] is not None
    assert "restore ended" in ended["status_info"] and "lock file" in ended["status_info"]
    assert ended["ended_on"] == first["ended_on"]
    assert first["id"] not in prefixes(store_dir), "the partial prefix is removed"
    environment = (await api.call("GET", "environment", "default", "fragile"))["data"]
    assert environment["current_build_id"] == second["id"]


async def test_gc_over_rest_for_store_admins(api, jp_fetch):
    first = await api.wait(await api.submit("rest", "alpha=1.0"))
    await api.wait(await api.submit("rest", "alpha=1.1"))
    dry = (await api.call("POST", "gc", body={"dry_run": True, "keep_builds": 1}))["data"]
    assert [b["build_id"] for b in dry["builds"]] == [first["id"]] and dry["dry_run"]
    assert (await api.call("GET", "build", str(first["id"])))["data"]["collected_on"] is None
    done = (await api.call("POST", "gc", body={"keep_builds": 1}))["data"]
    assert [b["build_id"] for b in done["builds"]] == [first["id"]]
    assert (await api.call("GET", "build", str(first["id"])))["data"]["collected_on"]
    # The same specification submitted again: its collected build is restored and made current.
    assert await api.submit("rest", "alpha=1.0") == first["id"]
    again = await api.wait(first["id"])
    assert again["status"] == "COMPLETED" and again["collected_on"] is None
    current = (await api.call("GET", "environment", "default", "rest"))["data"]["current_build_id"]
    assert current == first["id"]
    code, message = await api.error("POST", "gc", body={"keep_builds": -1})
    assert code == 400 and "keep_builds" in message
    code, _ = await api.error("POST", "gc", body={"everything": True})
    assert code == 400


def test_the_server_collects_by_itself_every_gc_interval(tmp_path, local_channel):
    """With `gc_interval` set, the server's maintenance collects on its own: no command, no
    request. The older build goes, the current one stays."""
    from .servers import StandaloneServer

    workdir = tmp_path / "periodic"
    workdir.mkdir()
    server = StandaloneServer(
        workdir,
        f"--CondaStore.store_dir={workdir / 'store'}",
        f"--CondaStore.channels={local_channel}",
        "--CondaStore.keep_builds=1",
        "--CondaStore.gc_interval=1",
        "--BuildExecutor.stale_after=10",  # a maintenance pass each second
    ).start()
    try:
        ids = []
        for package in ALPHAS[:2]:
            text = yaml.safe_dump({"name": "periodic", "dependencies": [package]})
            answer = server.call(
                "POST", "specification/", {"namespace": "default", "specification": text}
            )
            ids.append(answer["data"]["build_id"])
            deadline = time.monotonic() + 120
            while (build := server.get(f"build/{ids[-1]}/")["data"])["status"] != "COMPLETED":
                assert build["status"] in ("QUEUED", "BUILDING"), build
                assert time.monotonic() < deadline, build
                time.sleep(0.1)
        deadline = time.monotonic() + 30
        while not server.get(f"build/{ids[0]}/")["data"]["collected_on"]:
            assert time.monotonic() < deadline, "no periodic collection took the older build"
            time.sleep(0.2)
        assert not server.get(f"build/{ids[1]}/")["data"]["collected_on"]
        assert prefixes(workdir / "store") == {ids[1]}
    finally:
        server.stop()


@pytest.mark.parametrize("flag", ["--keep-days=-1", "--keep-days=soon"])
def test_gc_refuses_a_bad_rule_with_a_message(store_dir, tmp_path, flag):
    refused = gc_command(store_dir, tmp_path, "--dry-run", flag)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and "keep_days" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
