"""A notebook's record of its build (GET build/{id}/record/, the `conda_store` metadata the
panel writes on save) and `jupyter conda-store reproduce NOTEBOOK --execute` against a fresh,
empty store on the same machine: the environment is recreated from the recorded lock file with
identical package hashes, and the notebook runs on it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from .servers import StandaloneServer, isolated_dirs
from .test_api import Client
from .test_kernels import KERNEL_SPECS

pytestmark = pytest.mark.local_channel_only

CELLS = [
    "import csj_probe",
    "import pathlib, sys\n"
    "print(pathlib.Path(sys.prefix, 'share/csj-test/alpha-1.0.txt').read_text())",
]


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


def reproduce(workdir: Path, server: StandaloneServer, *args: str) -> subprocess.CompletedProcess:
    """The CLI, in the environment of `server` (its Jupyter data dir has the kernels)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from conda_store_jupyter.cli import run; run()",
            "reproduce",
            f"--url={server.url}/conda-store/",
            f"--token={server.token}",
            *args,
        ],
        env={**os.environ, **isolated_dirs(workdir, config_dir=workdir)},
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_a_recorded_notebook_is_reproduced_on_an_empty_store(api, tmp_path, elsewhere):
    build = await api.wait(await api.submit("demo", *KERNEL_SPECS, "alpha=1.0"))
    assert build["status"] == "COMPLETED", build["status_info"]
    record = (await api.call("GET", "build", str(build["id"]), "record"))["data"]
    assert (record["namespace"], record["environment"], record["build_id"]) == (
        "default",
        "demo",
        build["id"],
    )
    assert record["specification_sha256"] == build["specification"]["sha256"]
    lockfile = (await api.call("GET", "build", str(build["id"]), "lockfile", raw=True)).body
    assert record["lockfile"].encode() == lockfile
    assert record["lockfile_sha256"] == hashlib.sha256(lockfile).hexdigest()
    packages = (await api.call("GET", "build", str(build["id"]), "packages", size=100))["data"]
    recorded_hashes = {p["name"]: p["sha256"] for p in packages if p["manager"] == "conda"}

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["conda_store"] = record
    path = tmp_path / "analysis.ipynb"
    nbformat.write(notebook, path)

    # A colleague's machine: a fresh store, its own server, nothing built.
    server = elsewhere
    workdir = server.workdir
    assert server.get("environment/")["count"] == 0
    output = workdir / "ran.ipynb"
    done = reproduce(workdir, server, str(path), "--execute", "-q", "-o", str(output))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical package hashes" in done.stdout, done.stdout
    assert "no solve" in done.stderr
    assert "the notebook ran on conda-store-default--demo" in done.stdout, done.stdout
    ran = nbformat.read(output, as_version=4)
    assert "alpha 1.0" in ran.cells[1].outputs[0]["text"]

    environment = server.get("environment/default/demo/")["data"]
    rebuilt = server.get(f"build/{environment['current_build_id']}/")["data"]
    assert rebuilt["specification"]["is_lockfile"] is True
    again = server.get(f"build/{rebuilt['id']}/packages/?size=100")["data"]
    assert {p["name"]: p["sha256"] for p in again if p["manager"] == "conda"} == recorded_hashes

    # A notebook whose cell fails: said, and the exit code says so.
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import missing_xyz")])
    broken.metadata["conda_store"] = record
    nbformat.write(broken, workdir / "broken.ipynb")
    failed = reproduce(
        workdir, server, str(workdir / "broken.ipynb"), "--execute", "-q", "--name=demo2"
    )
    assert failed.returncode == 1
    assert "did not run" in failed.stdout and "missing_xyz" in failed.stdout


async def test_a_notebook_without_a_record_is_told_what_to_do(tmp_path, elsewhere):
    path = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    done = reproduce(elsewhere.workdir, elsewhere, str(path))
    assert done.returncode == 1
    assert "records no conda-store build" in done.stderr


async def test_a_record_needs_a_completed_build(api):
    build_id = await api.submit("never", "conflict-a", "conflict-b")
    build = await api.wait(build_id)
    assert build["status"] == "FAILED"
    code, message = await api.error("GET", "build", str(build_id), "record")
    assert code == 409 and "completed" in message
