"""A real JupyterHub (6, with configurable-http-proxy from npm) running the example
`examples/jupyterhub/jupyterhub_config.py`: the conda-store service and a build worker managed
by the hub, on the machine's PostgreSQL and Redis. Users come from the hub (DummyAuthenticator);
requests carry the hub tokens the users' servers and scripts would carry."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from .servers import free_port, isolated_dirs
from .test_distributed import FINAL
from .test_kernels import KERNEL_SPECS, execute_over

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "jupyterhub" / "jupyterhub_config.py"
PROXY_BIN = REPO / "ui-tests" / "node_modules" / ".bin"
SERVICE_API = "services/conda-store/conda-store/api/v1"


class Hub:
    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(16)
        (workdir / "jupyterhub_config.py").write_text(
            f"c = get_config()\n"
            f"load_subconfig({str(EXAMPLE)!r})\n"
            # The hub gives its services the OS user's HOME: keep their Jupyter files (server
            # info, kernel specs) in this test's directory, not in the real user's.
            "for service in c.JupyterHub.services:\n"
            "    service.setdefault('environment', {}).update("
            f"{isolated_dirs(workdir / 'services')!r})\n"
            f"c.JupyterHub.bind_url = {self.url!r}\n"
            f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{free_port()}'\n"
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{free_port()}'\n"
            "c.JupyterHub.services.append({'name': 'test-admin', "
            f"'api_token': {self.admin_token!r}}})\n"
            "c.JupyterHub.load_roles.append({'name': 'test-admin', 'services': ['test-admin'], "
            "'scopes': ['admin:users', 'admin:groups', 'tokens', 'admin:servers', "
            "'admin:server_state']})\n"
        )
        self.env = {
            **os.environ,
            **env,
            **isolated_dirs(workdir / "hub"),
            "CSJ_HUB_URL": self.url,
            "PATH": f"{PROXY_BIN}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> Hub:
        self.log = open(self.workdir / "hub.log", "w+")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("jupyterhub")), "-f", "jupyterhub_config.py"],
            cwd=self.workdir,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so that a stop reaches the services and the proxy
        )
        deadline = time.monotonic() + timeout
        while True:
            status, _ = self.call("GET", f"{SERVICE_API}/", token=self.admin_token)
            if status in (200, 403):  # the service answers through the proxy
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"the hub did not come up:\n{self.log.read()[-5000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def call(self, method: str, path: str, body=None, *, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        request = urllib.request.Request(
            f"{self.url}/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")
        except (urllib.error.URLError, ConnectionError):
            return 0, None

    def admin(self, method: str, path: str, body=None):
        status, answer = self.call(method, f"hub/api/{path}", body, token=self.admin_token)
        assert status in (200, 201, 202, 204), (method, path, status, answer)
        return answer

    def user_token(self, name: str) -> str:
        return self.admin("POST", f"users/{name}/tokens", {"note": "test", "expires_in": 3600})[
            "token"
        ]


@pytest.fixture
def hub(tmp_path, pg_database_url, redis_url, local_channel):
    import redis

    if not (PROXY_BIN / "configurable-http-proxy").exists():
        pytest.fail("configurable-http-proxy is missing: bash scripts/setup.sh --tests installs it")
    queue = f"csj-hub-{secrets.token_hex(4)}"
    hub = Hub(
        tmp_path,
        {
            "CSJ_CHANNELS": local_channel,
            "CSJ_DATABASE_URL": pg_database_url,
            "CSJ_BROKER_URL": redis_url,
            "CSJ_STORE_DIR": str(tmp_path / "store"),
            "CSJ_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
            "CSJ_QUEUE": queue,
        },
    ).start()
    try:
        hub.admin("POST", "users", {"usernames": ["alice", "bob"]})  # carol: the example's admin
        hub.admin("POST", "groups/team", {})
        hub.admin("POST", "groups/team/users", {"users": ["alice", "bob"]})
        yield hub
    finally:
        hub.stop()
        client = redis.Redis.from_url(redis_url)
        client.delete(queue)
        client.close()


def submit(hub: Hub, token: str, namespace: str, name: str, *dependencies: str):
    text = yaml.safe_dump({"name": name, "dependencies": list(dependencies) or ["alpha"]})
    return hub.call(
        "POST",
        f"{SERVICE_API}/specification/",
        {"namespace": namespace, "specification": text},
        token=token,
    )


def wait_final(hub: Hub, token: str, build_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, answer = hub.call("GET", f"{SERVICE_API}/build/{build_id}/", token=token)
        assert status == 200, answer
        if answer["data"]["status"] in FINAL:
            return answer["data"]
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)


def test_hub_users_groups_and_admins_in_the_central_store(hub):
    alice, bob, carol = (hub.user_token(name) for name in ("alice", "bob", "carol"))
    api = SERVICE_API

    # Identity from the hub: own namespace admin, the group's editor, default viewer.
    status, permission = hub.call("GET", f"{api}/permission/", token=alice)
    assert status == 200, permission
    roles = permission["data"]["entity_roles"]
    assert permission["data"]["username"] == "alice"
    assert roles["alice/*"] == ["admin"] and roles["team/*"] == ["editor"]
    assert roles["default/*"] == ["viewer"]
    assert hub.call("GET", f"{api}/permission/", token=carol)[1]["data"]["entity_roles"] == {
        "*/*": ["admin"]
    }

    # alice builds in her namespace, on the hub's worker.
    status, answer = submit(hub, alice, "alice", "analysis")
    assert status == 200, answer
    first = wait_final(hub, alice, answer["data"]["build_id"])
    assert first["status"] == "COMPLETED" and first["worker"].startswith("worker@")

    # bob can neither write nor see alice's, until she shares her namespace with him.
    assert submit(hub, bob, "alice", "intruder")[0] == 403
    assert hub.call("GET", f"{api}/environment/alice/analysis/", token=bob)[0] == 404
    share = {"other_namespace": "bob", "role": "viewer"}
    assert hub.call("POST", f"{api}/namespace/alice/role/", share, token=alice)[0] == 200
    assert hub.call("GET", f"{api}/environment/alice/analysis/", token=bob)[0] == 200

    # Both build in the team's namespace.
    builds = [submit(hub, token, "team", name) for token, name in ((alice, "one"), (bob, "two"))]
    assert [status for status, _ in builds] == [200, 200], builds
    for _, answer in builds:
        assert wait_final(hub, bob, answer["data"]["build_id"])["status"] == "COMPLETED"

    # carol (a hub admin) deletes a build of alice's (not her current one).
    status, answer = hub.call("PUT", f"{api}/build/{first['id']}/", token=alice)  # rebuild
    assert status == 200, answer
    assert wait_final(hub, alice, answer["data"]["build_id"])["status"] == "COMPLETED"
    assert hub.call("DELETE", f"{api}/build/{first['id']}/", token=bob)[0] == 403
    assert hub.call("DELETE", f"{api}/build/{first['id']}/", token=carol)[0] == 200

    # A token alice mints for alice/* as viewer reads and cannot write.
    status, answer = hub.call(
        "POST", f"{api}/token/", {"role_bindings": {"alice/*": ["viewer"]}}, token=alice
    )
    assert status == 200, answer
    minted = answer["data"]["token"]
    assert hub.call("GET", f"{api}/environment/alice/analysis/", token=minted)[0] == 200
    assert submit(hub, minted, "alice", "more")[0] == 403


def test_a_users_own_server_acts_as_that_user_on_the_central_store(hub):
    """alice's server, spawned by the hub as configured in the example: a terminal in it (the
    server's own environment) runs the CLI against the central service as alice, and the
    server's own conda-store API (the panel's) is the central service's, as alice; no login."""
    alice = hub.user_token("alice")
    status, answer = submit(hub, alice, "alice", "mine")
    assert status == 200, answer
    assert submit(hub, hub.user_token("bob"), "bob", "theirs")[0] == 200
    hub.admin("POST", "users/alice/server")
    deadline = time.monotonic() + 60
    while not (server := hub.admin("GET", "users/alice")["servers"].get("", {})).get("ready"):
        assert time.monotonic() < deadline, server
        time.sleep(0.3)
    try:
        pid = server["state"]["pid"]
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        environment = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        assert environment["CONDA_STORE_URL"] == f"{hub.url}/services/conda-store/conda-store/"
        listed = subprocess.run(
            [str(Path(sys.executable).with_name("jupyter")), "conda-store", "env", "list"],
            env=environment,
            cwd=environment.get("HOME", hub.workdir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert "mine" in listed.stdout and "theirs" not in listed.stdout, listed.stdout
        # The panel's path: alice's own server forwards its API to the central service as her.
        own = "user/alice/conda-store/api/v1"
        status, permission = hub.call("GET", f"{own}/permission/", token=alice)
        assert status == 200, permission
        assert permission["data"]["username"] == "alice"
        status, environments = hub.call("GET", f"{own}/environment/", token=alice)
        names = {e["name"] for e in environments["data"]}
        assert "mine" in names and "theirs" not in names
        assert not (Path(environment["HOME"]) / ".local/share/jupyter/conda-store").exists()
    finally:
        hub.admin("DELETE", "users/alice/server")


@contextlib.contextmanager
def servers_of(hub: Hub, *names: str):
    """The users' own servers, spawned by the hub as the example configures them."""
    for name in names:
        hub.admin("POST", f"users/{name}/server")
    try:
        for name in names:
            deadline = time.monotonic() + 60
            while not hub.admin("GET", f"users/{name}")["servers"].get("", {}).get("ready"):
                assert time.monotonic() < deadline, f"{name}'s server did not start"
                time.sleep(0.3)
        yield
    finally:
        for name in names:
            hub.admin("DELETE", f"users/{name}/server")


def kernels_of(hub: Hub, user: str, token: str) -> set[str]:
    status, answer = hub.call("GET", f"user/{user}/api/kernelspecs", token=token)
    assert status == 200, answer
    return {name for name in answer["kernelspecs"] if name.startswith("conda-store-")}


def until_kernels(hub: Hub, user: str, token: str, wanted: set[str], absent=frozenset()):
    deadline = time.monotonic() + 10
    while not (wanted <= (names := kernels_of(hub, user, token)) and not absent & names):
        assert time.monotonic() < deadline, (user, names)
        time.sleep(0.1)


async def run_through_hub(hub: Hub, user: str, token: str, kernel: str, code: str) -> str:
    """Start `kernel` in `user`'s own server through the hub's proxy and run `code` in it."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    status, started = hub.call("POST", f"user/{user}/api/kernels", {"name": kernel}, token=token)
    assert status == 201, started
    try:
        url = f"{hub.url}/user/{user}/api/kernels/{started['id']}/channels".replace("http", "ws", 1)
        ws = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {token}"}, connect_timeout=30)
        )
        return await execute_over(ws, code)
    finally:
        hub.call("DELETE", f"user/{user}/api/kernels/{started['id']}", token=token)


async def test_users_see_the_kernels_of_what_they_may_read_in_their_own_servers(hub):
    """Kernels in the users' own servers (remote mode): alice's environments in hers, not in
    bob's until she shares her namespace with him, and the team's in both; a kernel runs from
    the shared store's prefix of the build."""
    alice, bob = hub.user_token("alice"), hub.user_token("bob")
    analysis, tools = "conda-store-alice--analysis", "conda-store-team--tools"
    with servers_of(hub, "alice", "bob"):
        status, answer = submit(hub, alice, "alice", "analysis", *KERNEL_SPECS)
        assert status == 200, answer
        built = wait_final(hub, alice, answer["data"]["build_id"])
        assert built["status"] == "COMPLETED", built["status_info"]
        until_kernels(hub, "alice", alice, {analysis})
        code = 'import csj_probe, os; print(os.environ["CONDA_PREFIX"])'
        prefix = (await run_through_hub(hub, "alice", alice, analysis, code)).strip()
        assert Path(prefix).parent == hub.workdir / "store" / "alice"
        assert str(built["id"]) in Path(prefix).name

        assert analysis not in kernels_of(hub, "bob", bob)
        share = {"other_namespace": "bob", "role": "viewer"}
        status, _ = hub.call("POST", f"{SERVICE_API}/namespace/alice/role/", share, token=alice)
        assert status == 200
        until_kernels(hub, "bob", bob, {analysis})

        status, answer = submit(hub, bob, "team", "tools", *KERNEL_SPECS)
        assert status == 200, answer
        assert wait_final(hub, bob, answer["data"]["build_id"])["status"] == "COMPLETED"
        until_kernels(hub, "alice", alice, {analysis, tools})
        until_kernels(hub, "bob", bob, {analysis, tools})
        # ... and go with their environment (deleted by carol, a hub admin).
        carol = hub.user_token("carol")
        assert hub.call("DELETE", f"{SERVICE_API}/environment/team/tools/", token=carol)[0] == 200
        until_kernels(hub, "bob", bob, {analysis}, absent={tools})


def test_alice_in_her_browser_logs_in_once_builds_from_the_panel_and_runs_a_notebook(hub):
    """Chromium through the hub's own login page (tests/hub_browser.mjs): JupyterLab with the
    panel on the central store as alice, no second login; `alice/analysis` created and built
    from the panel, a notebook on its kernel; the service's API with its OAuth cookie, writes
    refused without the XSRF token and allowed with it. Screenshots: browser/hub-*.png."""
    out = hub.workdir / "browser"
    out.mkdir()
    run = subprocess.run(
        ["node", str(REPO / "tests" / "hub_browser.mjs"), hub.url, "alice", "analysis", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **isolated_dirs(out / "home")},
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    (out / "seen.json").write_text(json.dumps(seen, indent=1))  # for a look after a failure
    assert "error" not in seen, seen["error"]
    assert seen["badge"] == "ready" and seen["sidebarItem"] == "ready"
    # The kernel runs the build's prefix in the shared store, from alice's own server.
    assert seen["kernel"] == "analysis (alice)"
    assert f"{hub.workdir / 'store' / 'alice'}/" in seen["output"]
    # The service's own page signed her in through the hub's OAuth, without a login form.
    assert seen["serviceHome"]["status"] == 200 and seen["serviceUser"] == "alice", seen
    permission = seen["servicePermission"]
    assert permission["status"] == 200 and '"username": "alice"' in permission["body"], seen
    # Cookie requests that are not page navigations need the XSRF token, reads too (the hub's
    # rule for its services since JupyterHub 4.1).
    assert seen["readWithoutXsrf"]["status"] == 403, seen
    assert seen["writeWithoutXsrf"]["status"] == 403, seen
    assert seen["writeWithXsrf"]["status"] == 200 and seen["writeWithXsrf"]["xsrfCookie"], seen


def test_the_service_serves_its_api_only_and_nobody_unauthenticated(hub):
    alice = hub.user_token("alice")
    assert hub.call("GET", f"{SERVICE_API}/environment/")[0] == 403
    base = "services/conda-store"
    for method, path, body in (
        ("GET", "api/kernels", None),
        ("POST", "api/kernels", {"name": "python3"}),
        ("GET", "api/contents", None),
        ("PUT", "api/contents/x.txt", {"type": "file", "format": "text", "content": "x"}),
        ("GET", "api/sessions", None),
        ("GET", "api/kernelspecs", None),
        ("GET", "api/config/x", None),
    ):
        for token in (alice, None):
            status, _ = hub.call(method, f"{base}/{path}", body, token=token)
            assert status == 403, (method, path, token is not None, status)
    # Terminals are not even routed: the service loads no other extension.
    assert hub.call("POST", f"{base}/api/terminals", {}, token=alice)[0] == 404
    assert not (hub.workdir / "x.txt").exists()
