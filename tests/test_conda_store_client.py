"""conda-store's own client (the `conda-store` CLI and `conda_store.api.CondaStoreAPI`, from the
`conda-store` package) works unchanged against `jupyter conda-store`.

The client takes the conda-store URL (it appends `api/v1`) and, with `--auth token`, sends
`Authorization: Bearer $CONDA_STORE_TOKEN`, which Jupyter Server accepts like its own token.

Keep the environments here few: the client's `list_environments` re-fetches the first page until
it has `count` items (it would loop forever on a list longer than one page).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
import yaml

from .servers import StandaloneServer

conda_store_api = pytest.importorskip("conda_store.api", reason="needs the conda-store client")

CONDA_STORE = os.path.join(os.path.dirname(sys.executable), "conda-store")
SPEC = """\
name: client-env
description: made by conda-store's client
dependencies:
  - gamma
  - alpha 1.1.*
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, local_channel):
    workdir = tmp_path_factory.mktemp("conda-store-client")
    (workdir / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.store_dir = {str(workdir / 'store')!r}\n"
        f"c.CondaStore.channels = [{local_channel!r}]\n"
        'c.CondaStore.role_bindings = {"*/*": ["admin"]}\n'
    )
    server = StandaloneServer(workdir).start()
    try:
        yield server
    finally:
        output = server.stop()
        assert "Traceback" not in output, output[-10000:]


def client(server: StandaloneServer) -> conda_store_api.CondaStoreAPI:
    # The client reads $CONDA_STORE_TOKEN even when given api_token (a default evaluated eagerly).
    with mock.patch.dict(os.environ, {"CONDA_STORE_TOKEN": server.token}):
        return conda_store_api.CondaStoreAPI(f"{server.url}/conda-store/", auth_type="token")


def run_api(server: StandaloneServer, method: str, *args):
    async def call():
        async with client(server) as api:
            return await getattr(api, method)(*args)

    return asyncio.run(call())


def cli(server: StandaloneServer, *args: str, cwd: Path | None = None, check: bool = True):
    result = subprocess.run(
        [CONDA_STORE, "--conda-store-url", f"{server.url}/conda-store/", "--auth", "token", *args],
        env={**os.environ, "CONDA_STORE_TOKEN": server.token, "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )
    if check:
        command = " ".join(args)
        assert result.returncode == 0, f"conda-store {command}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(server) -> int:
    """`default/client-env`, created with the client's Python API and waited for with its CLI."""
    build_id = run_api(server, "create_environment", "default", SPEC)
    assert isinstance(build_id, int)
    # Right after creation the environment's URI already names its (first) build, as with
    # conda-store-server, so `wait namespace/name` works before anything completed.
    cli(server, "wait", "default/client-env", "--interval", "1", "--timeout", "120")
    return build_id


def test_info_shows_the_callers_permissions(server):
    # What our server answers, as the client shows it (the labels and layout are the client's).
    permissions = server.get("permission/")["data"]
    assert permissions["authenticated"] is True
    words = cli(server, "info").stdout.split()
    assert "True" in words  # authenticated
    assert "environment::create" in permissions["entity_permissions"]["*/*"]
    assert set(permissions["entity_permissions"]["*/*"]) <= set(words)


def test_create_wait_and_download_with_the_cli(server, built, tmp_path):
    # Once built, the environment's URI resolves to its current build: wait returns at once.
    cli(server, "wait", "default/client-env", "--interval", "1", "--timeout", "60")
    cli(server, "wait", f"default/client-env:{built}", "--artifact", "lockfile", "--interval", "1")
    cli(server, "wait", "default/client-env", "--artifact", "yaml", "--interval", "1")

    lockfile = tmp_path / "client-env.lock"
    printed = cli(
        server,
        "download",
        "default/client-env",
        "--artifact",
        "lockfile",
        "--output-filename",
        str(lockfile),
    ).stdout
    assert printed == str(lockfile)
    lock = yaml.safe_load(lockfile.read_text())
    assert lock["version"] == 1
    assert {"alpha", "gamma"} <= {package["name"] for package in lock["package"]}
    assert {p["version"] for p in lock["package"] if p["name"] == "alpha"} == {"1.1"}

    # Without --output-filename the client names the file build-<id>.yaml in the working directory.
    cli(server, "download", "default/client-env", "--artifact", "yaml", cwd=tmp_path)
    environment = yaml.safe_load((tmp_path / f"build-{built}.yaml").read_text())
    assert environment["name"] == "client-env"
    pins = " ".join(environment["dependencies"])
    assert "gamma=" in pins and "alpha=1.1=" in pins

    log = tmp_path / "build.log"
    cli(server, "download", str(built), "--artifact", "logs", "--output-filename", str(log))
    assert f"build {built} of default/client-env" in log.read_text()


def test_archive_download_and_run_with_the_cli(server, built, tmp_path):
    archive = tmp_path / "env.tar.gz"
    cli(
        server,
        "download",
        "default/client-env",
        "--artifact",
        "archive",
        "--output-filename",
        str(archive),
    )
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(name.startswith("conda-meta/gamma-") for name in names), names[:20]
    # `conda-store run` downloads the archive, unpacks it and runs a command inside it.
    result = cli(
        server,
        "run",
        "--no-cache",
        "default/client-env",
        "--",
        "sh",
        "-c",
        'ls "$CONDA_PREFIX/conda-meta"',
    )
    assert "gamma-3.0" in result.stdout and "alpha-1.1" in result.stdout


def test_list_commands(server, built):
    namespaces = json.loads(cli(server, "list", "namespace", "--output", "json").stdout)
    assert "default" in {namespace["name"] for namespace in namespaces}
    environments = json.loads(cli(server, "list", "environment", "--output", "json").stdout)
    ours = [e for e in environments if e["name"] == "client-env"]
    assert len(ours) == 1
    assert ours[0]["namespace"]["name"] == "default" and ours[0]["current_build_id"] == built
    assert ours[0]["description"] == "made by conda-store's client"
    builds = json.loads(cli(server, "list", "build", "--output", "json").stdout)
    assert built in {build["id"] for build in builds}
    table = cli(server, "list", "environment").stdout
    assert "client-env" in table


def test_python_api(server, built):
    namespaces = run_api(server, "list_namespaces")
    assert "default" in {namespace["name"] for namespace in namespaces}

    environments = run_api(server, "list_environments", None, None, None)
    assert ("default", "client-env") in {(e["namespace"]["name"], e["name"]) for e in environments}

    environment = run_api(server, "get_environment", "default", "client-env")
    assert environment["current_build_id"] == built

    build = run_api(server, "get_build", built)
    assert build["id"] == built and build["status"] == "COMPLETED"
    assert build["environment_id"] == environment["id"]
    assert build["specification"]["name"] == "client-env"
    assert {"LOCKFILE", "YAML"} <= {a["artifact_type"] for a in build["build_artifacts"]}

    assert built in {b["id"] for b in run_api(server, "list_builds", None, None, None)}

    lockfile = run_api(server, "download", built, "lockfile")
    assert isinstance(lockfile, bytes)
    assert {"alpha", "gamma"} <= {p["name"] for p in yaml.safe_load(lockfile)["package"]}
    archive = run_api(server, "download", built, "archive")
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert any(name.startswith("conda-meta/alpha-1.1") for name in tar.getnames())

    permissions = run_api(server, "get_permissions")
    assert permissions["authenticated"] is True
    assert "environment::create" in permissions["entity_permissions"]["*/*"]


def test_python_api_namespaces_and_errors(server):
    run_api(server, "create_namespace", "client-team")
    assert "client-team" in {n["name"] for n in run_api(server, "list_namespaces")}
    with pytest.raises(conda_store_api.CondaStoreAPIError):
        run_api(server, "create_namespace", "client-team")  # exists: 409
    run_api(server, "delete_namespace", "client-team")
    assert "client-team" not in {n["name"] for n in run_api(server, "list_namespaces")}

    # The client relays our message (around it, the wording is the client's).
    with pytest.raises(
        conda_store_api.CondaStoreAPIError, match="specification must have a 'name'"
    ):
        run_api(server, "create_environment", "default", "dependencies: [gamma]\n")  # no name
    with pytest.raises(conda_store_api.CondaStoreAPIError):
        run_api(server, "get_environment", "default", "no-such-env")
    with pytest.raises(conda_store_api.CondaStoreAPIError):
        run_api(server, "get_build", 999999)
    with pytest.raises(conda_store_api.CondaStoreAPIError):
        run_api(server, "download", 999999, "lockfile")
    # Our answer for a build that does not exist, which the client's `wait` stops on: it fails,
    # naming the build (in its own words), rather than waiting or crashing.
    request = urllib.request.Request(
        f"{server.url}/conda-store/api/v1/build/999999/",
        headers={"Authorization": f"token {server.token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 404
    assert json.load(raised.value)["message"] == "build 999999 does not exist"
    result = cli(server, "wait", "999999", "--interval", "1", check=False)
    assert result.returncode == 1 and "999999" in result.stderr, result.stderr
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr


def test_python_api_deletes_an_environment(server):
    spec = "name: client-doomed\ndependencies: [beta]\n"
    build_id = run_api(server, "create_environment", "default", spec)
    cli(server, "wait", str(build_id), "--interval", "1", "--timeout", "120")
    run_api(server, "delete_environment", "default", "client-doomed")
    names = {e["name"] for e in run_api(server, "list_environments", None, None, None)}
    assert "client-doomed" not in names and "client-env" in names
