"""The Python client against a real `jupyter conda-store` process building from the local channel,
and from inside a real kernel started by that server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jupyter_client import BlockingKernelClient

from conda_store_jupyter.client import (
    AsyncCondaStoreClient,
    BuildFailed,
    CondaStoreClient,
    CondaStoreClientError,
    ServerNotFound,
    ServerUnreachable,
    WaitTimeout,
)

from .servers import StandaloneServer, free_port

DISCOVERY_VARIABLES = (
    "CONDA_STORE_URL",
    "CONDA_STORE_TOKEN",
    "JPY_PARENT_PID",
    "JUPYTERHUB_API_TOKEN",
)


@contextlib.contextmanager
def running_server(workdir: Path, channel: str) -> Iterator[StandaloneServer]:
    """A standalone server building from `channel`, where every user is admin everywhere (the
    token's holder is anyway)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.channels = [{channel!r}]\n"
        "c.CondaStore.role_bindings = {'*/*': ['admin']}\n"
        "c.BuildExecutor.max_workers = 4\n"
        # A test starts a kernel through this server: Jupyter Server's own routes, which
        # `jupyter conda-store` refuses by default, opened on purpose.
        "c.ServerApp.authorizer_class = 'jupyter_server.auth.authorizer.AllowAllAuthorizer'\n"
    )
    server = StandaloneServer(workdir).start()
    try:
        yield server
    finally:
        server.stop()


def freeze_build(log_line: str) -> bool:
    """Stop the build process named by its first log line ("starting build N ... pid P") with
    SIGSTOP, so the build is still running when the test acts on it (small builds end within a
    second). Canceling it SIGKILLs the process, which ends a stopped process too."""
    found = re.search(r"starting build \d+ .* pid (\d+)", log_line)
    if found:
        os.kill(int(found.group(1)), signal.SIGSTOP)
    return bool(found)


@pytest.fixture(scope="module")
def server(tmp_path_factory, local_channel) -> Iterator[StandaloneServer]:
    with running_server(tmp_path_factory.mktemp("client-server"), local_channel) as server:
        yield server


@pytest.fixture
def client(server) -> CondaStoreClient:
    return CondaStoreClient(server.url, server.token)


@pytest.fixture
def no_discovery(monkeypatch, tmp_path) -> None:
    """No server from the environment, nor from a Jupyter server this test may run under."""
    for name in DISCOVERY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))


def spec(name: str, *dependencies: str) -> str:
    return yaml.safe_dump({"name": name, "dependencies": list(dependencies)})


def test_status_permissions_and_namespaces(client):
    assert client.status()["version"]
    permissions = client.permissions()
    assert permissions["entity_roles"] == {"*/*": ["admin"]}
    assert permissions["primary_namespace"] and client.primary_namespace()

    client.create_namespace("team-client")
    assert "team-client" in [n["name"] for n in client.list_namespaces()]
    client.delete_namespace("team-client")
    assert "team-client" not in [n["name"] for n in client.list_namespaces()]


def test_create_from_yaml_text_mapping_and_file_and_wait_with_progress(client, tmp_path):
    from_text = client.create_environment(spec("from-text", "alpha"), "forms")
    from_mapping = client.create_environment(
        {"name": "from-mapping", "dependencies": ["beta"]}, "forms"
    )
    path = tmp_path / "environment.yml"
    path.write_text(spec("from-file", "gamma"))
    from_path = client.create_environment(path, "forms", description="from a file")
    from_path_string = client.create_environment(str(path), "forms", name="from-file-renamed")

    lines: list[str] = []
    build = client.wait(from_path, progress=lines.append)
    assert build["status"] == "COMPLETED" and build["id"] == from_path
    assert any("solving for linux-64: gamma" in line for line in lines), lines
    assert lines[-1] == f"build {from_path}: COMPLETED"
    assert "build COMPLETED in" in lines[-2]  # the log's last line comes before the final state
    for build_id in (from_text, from_mapping, from_path_string):
        assert client.wait(build_id, progress=False)["status"] == "COMPLETED"

    environments = {e["name"]: e for e in client.list_environments("forms")}
    assert sorted(environments) == ["from-file", "from-file-renamed", "from-mapping", "from-text"]
    assert environments["from-file"]["description"] == "from a file"
    assert [e["name"] for e in client.list_environments("forms", search="mapp")] == ["from-mapping"]
    assert client.get_environment("forms", "from-text")["current_build_id"] == from_text
    # Waiting on an environment waits on its newest build.
    assert client.wait("forms/from-mapping", progress=False)["id"] == from_mapping


def test_wait_prints_progress_by_default(client, capsys):
    build_id = client.create_environment(spec("printed", "alpha"), "progress")
    client.wait(build_id)
    printed = capsys.readouterr().out.splitlines()
    assert any("linked alpha" in line for line in printed), printed
    assert printed[-1] == f"build {build_id}: COMPLETED"


def test_failed_build_raises_with_the_solvers_message(client):
    build_id = client.create_environment(spec("conflicted", "conflict-a", "conflict-b"), "failing")
    lines: list[str] = []
    with pytest.raises(BuildFailed) as raised:
        client.wait(build_id, progress=lines.append)
    error = raised.value
    assert error.build_id == build_id and error.build_status == "FAILED"
    # Ours: the step and platform that failed; the solver's explanation follows in its own
    # words, naming the package in conflict.
    assert error.status_info.startswith("solve failed for linux-64: "), error.status_info
    assert "conflict-base" in error.status_info and "conflict-base" in str(error)
    assert lines[-1] == f"build {build_id}: FAILED"
    log = client.logs(build_id)
    assert "solve failed for linux-64:\n" in log, log
    assert "conflict-base" in log.split("solve failed for linux-64:\n", 1)[1], log


def test_update_diff_rollback_rebuild_lockfile_and_packages(client, tmp_path):
    first = client.wait(
        client.create_environment(spec("evolving", "alpha 1.0"), "history"), progress=False
    )
    second = client.wait(
        client.create_environment(spec("evolving", "alpha 1.1", "beta"), "history"), progress=False
    )
    assert client.get_environment("history", "evolving")["current_build_id"] == second["id"]

    assert {(p["name"], p["version"]) for p in client.packages(second["id"])} == {
        ("alpha", "1.1"),
        ("beta", "0.5"),
    }
    assert [p["name"] for p in client.packages(second["id"], search="bet")] == ["beta"]
    diff = client.diff(first["id"], second["id"])
    assert [p["name"] for p in diff["added"]] == ["beta"] and diff["removed"] == []
    assert [(c["name"], c["old"]["version"], c["new"]["version"]) for c in diff["changed"]] == [
        ("alpha", "1.0", "1.1")
    ]

    current_lock = client.lockfile("history/evolving", path=tmp_path / "conda-lock.yml")
    assert "beta" in current_lock and (tmp_path / "conda-lock.yml").read_text() == current_lock
    assert yaml.safe_load(current_lock)["version"] == 1
    environment = client.rollback("history", "evolving", first["id"])
    assert environment["current_build_id"] == first["id"]
    assert client.lockfile("history/evolving") == client.lockfile(first["id"])
    assert "beta" not in client.lockfile(f"history/evolving:{first['id']}")

    rebuilt = client.rebuild(second["id"])
    assert rebuilt > second["id"] and client.wait(rebuilt, progress=False)["status"] == "COMPLETED"
    client.delete_build(second["id"])
    assert [b["id"] for b in client.list_builds("history", "evolving")] == [first["id"], rebuilt]
    client.delete_environment("history", "evolving")
    assert client.list_environments("history") == []


def test_wait_timeout_then_cancel_a_running_build(client):
    build_id = client.create_environment(spec("big", "csj-bigdata"), "cancel")

    class Frozen(Exception):
        pass

    def freeze_when_started(line: str) -> None:
        if freeze_build(line):
            raise Frozen  # stop waiting: the build runs, and will until it is canceled

    with pytest.raises(Frozen):
        client.wait(build_id, progress=freeze_when_started)
    with pytest.raises(WaitTimeout, match=f"build {build_id} is still BUILDING after 0.5 s"):
        client.wait(build_id, timeout=0.5, progress=False)
    assert client.cancel(build_id)["status"] == "CANCELED"
    with pytest.raises(BuildFailed) as raised:
        client.wait(build_id, progress=False)
    assert (
        raised.value.build_status == "CANCELED"
        and raised.value.status_info == "canceled by request"
    )


def test_errors_carry_the_http_status_and_the_servers_message(client, server):
    with pytest.raises(CondaStoreClientError) as raised:
        client.get_environment("default", "missing")
    assert raised.value.status == 404
    assert raised.value.message == "environment default/missing does not exist"

    with pytest.raises(CondaStoreClientError) as raised:
        client.create_environment("name: [bad\ndependencies: []\n", "errors")
    assert raised.value.status == 400 and "Invalid YAML" in raised.value.message

    build = client.wait(client.create_environment(spec("done", "alpha"), "errors"), progress=False)
    with pytest.raises(CondaStoreClientError) as raised:
        client.cancel(build["id"])
    assert raised.value.status == 409 and "only a queued or running build" in raised.value.message

    with pytest.raises(CondaStoreClientError) as raised:
        CondaStoreClient(server.url, "wrong-token").status()
    assert raised.value.status == 403 and "token" in raised.value.message

    with pytest.raises(FileNotFoundError):
        client.create_environment("no-such-environment.yml", "errors")
    with pytest.raises(ValueError, match="name="):
        client.create_environment("lock.yml", "errors", is_lockfile=True)

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnreachable) as raised:
        CondaStoreClient(url, "token").status()
    assert raised.value.status is None and f"cannot reach conda-store at {url}/conda-store/" in str(
        raised.value
    )


def test_server_from_environment_variables_and_arguments(server, monkeypatch, no_discovery):
    monkeypatch.setenv("CONDA_STORE_URL", server.url)  # without the conda-store/ suffix
    monkeypatch.setenv("CONDA_STORE_TOKEN", server.token)
    client = CondaStoreClient()
    assert (client.url, client.token) == (f"{server.url}/conda-store/", server.token)
    assert client.status()["version"]
    for spelling in (f"{server.url}/conda-store", f"{server.url}/conda-store/api/v1/"):
        monkeypatch.setenv("CONDA_STORE_URL", spelling)
        assert CondaStoreClient().url == f"{server.url}/conda-store/"
    # Arguments win over the environment.
    explicit = CondaStoreClient("http://example.invalid:8888/base/", "explicit-token")
    assert (explicit.url, explicit.token) == (
        "http://example.invalid:8888/base/conda-store/",
        "explicit-token",
    )


def test_a_hub_users_server_speaks_with_its_hub_token(server, monkeypatch, no_discovery):
    """In a JupyterHub user's server pointed at a central service ($CONDA_STORE_URL, set by the
    spawner), the server's hub token is the user's credential; $CONDA_STORE_TOKEN still wins."""
    monkeypatch.setenv("CONDA_STORE_URL", server.url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", server.token)
    assert CondaStoreClient().token == server.token
    assert CondaStoreClient().status()["version"]
    monkeypatch.setenv("CONDA_STORE_TOKEN", "explicit")
    assert CondaStoreClient().token == "explicit"


def test_server_of_an_ancestor_process_from_its_server_info_file(server, tmp_path, no_discovery):
    # What a Jupyter server writes into its runtime dir, here for this process's parent.
    runtime = Path(os.environ["JUPYTER_RUNTIME_DIR"])
    runtime.mkdir()
    (runtime / f"jpserver-{os.getppid()}.json").write_text(
        json.dumps(
            {
                "url": f"http://0.0.0.0:{server.port}/",
                "hostname": "0.0.0.0",
                "port": server.port,
                "base_url": "/",
                "token": server.token,
                "secure": False,
                "sock": "",
                "pid": os.getppid(),
            }
        )
    )
    client = CondaStoreClient()
    assert client.url == f"http://localhost:{server.port}/conda-store/"
    assert client.status()["version"] and client.source.endswith(f"jpserver-{os.getppid()}.json")


def test_no_server_found_names_the_three_ways(no_discovery):
    with pytest.raises(ServerNotFound) as raised:
        CondaStoreClient()
    message = str(raised.value)
    assert "url and token" in message and "CONDA_STORE_URL" in message and "kernel" in message


async def test_async_client_and_blocking_calls_inside_a_running_event_loop(server):
    aio = AsyncCondaStoreClient(server.url, server.token)
    build_id = await aio.create_environment(spec("async", "beta"), "asyncio")
    lines: list[str] = []
    build = await aio.wait(build_id, progress=lines.append)
    assert build["status"] == "COMPLETED" and lines[-1] == f"build {build_id}: COMPLETED"
    assert [e["name"] for e in await aio.list_environments("asyncio")] == ["async"]
    # A kernel's cell runs while its event loop runs: blocking calls must not need that loop.
    blocking = CondaStoreClient(server.url, server.token)
    assert blocking.get_environment("asyncio", "async")["current_build_id"] == build_id


def _kernel_api(server: StandaloneServer, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{server.url}/api/kernels{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _execute(kernel: BlockingKernelClient, code: str, timeout: float = 120) -> str:
    output: list[str] = []

    def collect(message: dict) -> None:
        if message["msg_type"] == "stream":
            output.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            output.append("\n".join(message["content"]["traceback"]))

    reply = kernel.execute_interactive(code, output_hook=collect, timeout=timeout)
    text = "".join(output)
    assert reply["content"]["status"] == "ok", text
    return text


def _connect(connection_file: Path, timeout: float = 60) -> BlockingKernelClient:
    """A client of the kernel, once it answers. A client that connects while the kernel still
    imports may miss its first heartbeat and call it dead (jupyter_client's `wait_for_ready`);
    its channels cannot be restarted, so each try is a new client."""
    deadline = time.monotonic() + timeout
    while True:
        kernel = BlockingKernelClient(connection_file=str(connection_file))
        kernel.load_connection_file()
        kernel.start_channels()
        try:
            kernel.wait_for_ready(timeout=timeout)
            return kernel
        except RuntimeError:
            kernel.stop_channels()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_kernel_finds_the_server_that_started_it(server):
    kernel_id = _kernel_api(server, "POST", "", {"name": "python3"})["id"]
    # The server writes the kernel's connection file into its runtime dir (the kernel inherits it).
    connection_file = server.workdir / "runtime" / f"kernel-{kernel_id}.json"
    kernel = None
    try:
        deadline = time.monotonic() + 30
        while not connection_file.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        kernel = _connect(connection_file)
        output = _execute(
            kernel,
            (
                "import os\n"
                "for name in ('CONDA_STORE_URL', 'CONDA_STORE_TOKEN'):\n"
                "    os.environ.pop(name, None)  # found on its own, not from the test's env\n"
                "from conda_store_jupyter.client import CondaStoreClient\n"
                "client = CondaStoreClient()\n"
                "print('URL', client.url)\n"
                "print('VERSION', client.status()['version'])\n"
                "build_id = client.create_environment(\n"
                "    'name: from-kernel\\ndependencies: [alpha]\\n'\n"
                ")\n"
                "print('FINAL', client.wait(build_id)['status'])\n"
                "mine = client.primary_namespace()\n"
                "print('ASYNC', (await client.aio.get_environment(mine, 'from-kernel'))['name'])\n"
                "del os.environ['JPY_PARENT_PID']  # then by walking up the process tree\n"
                "print('ANCESTOR', CondaStoreClient().source)\n"
                "import subprocess, sys  # the CLI from a cell (`!jupyter conda-store ...`)\n"
                "jupyter = os.path.join(os.path.dirname(sys.executable), 'jupyter')\n"
                "cli = subprocess.run(\n"
                "    [jupyter, 'conda-store', 'env', 'list'], capture_output=True, text=True\n"
                ")\n"
                "print('CLI', cli.returncode, cli.stdout, cli.stderr)\n"
            ),
        )
    finally:
        if kernel is not None:
            kernel.stop_channels()
        _kernel_api(server, "DELETE", f"/{kernel_id}")
    assert f"URL {server.url}/conda-store/" in output, output
    assert "VERSION " in output and "FINAL COMPLETED" in output and "ASYNC from-kernel" in output
    assert "linked alpha" in output  # the build's log, printed in the cell as it was written
    assert (
        f"ANCESTOR Jupyter server {server.workdir / 'runtime'}/jpserver-{server.process.pid}.json"
        in output
    )
    assert re.search(r"CLI 0 ENVIRONMENT .*/from-kernel +\d+ +COMPLETED", output, re.DOTALL), output
