"""The server extension on a real Jupyter Server: routes, envelope, auth and configuration."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from tornado.httpclient import HTTPClientError

from conda_store_jupyter import __version__
from conda_store_jupyter.handlers import ROUTES


async def test_status_answers_version(jp_fetch):
    response = await jp_fetch("conda-store", "api", "v1", "")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {
        "status": "ok",
        "data": {"version": __version__},
        "message": None,
    }


async def test_status_refuses_requests_without_credentials(jp_fetch):
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("conda-store", "api", "v1", "", headers={"Authorization": ""})
    assert raised.value.code == 403
    body = json.loads(raised.value.response.body)
    assert body["status"] == "error"
    assert body["message"]


async def test_unknown_route_is_404(jp_fetch):
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("conda-store", "api", "v1", "no-such-thing", "")
    assert raised.value.code == 404


async def test_configuration_reaches_the_service(jp_serverapp, store_dir, conda_store_config):
    conda_store = jp_serverapp.web_app.settings["conda_store"]
    assert conda_store.store_dir == str(store_dir)
    assert conda_store.database_url == f"sqlite:///{store_dir / 'conda-store.sqlite'}"
    assert conda_store.channels == ["conda-forge"]
    assert conda_store.default_namespace == "default"



@pytest.fixture
def deny_all_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = "tests.authorizers.DenyAllAuthorizer"
    return jp_server_config


async def test_every_route_is_authorized(deny_all_config, jp_fetch):
    assert ROUTES, "no routes registered"
    for pattern, _handler in ROUTES:
        path = pattern.rstrip("?").rstrip("/") + "/"
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch(*path.split("/"))
        assert raised.value.code == 403, path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_jupyter_conda_store_runs_only_this_extension(tmp_path):
    """`jupyter conda-store` is the standalone service: our API answers, JupyterLab does not."""
    port = _free_port()
    token = "standalone-test-token"
    config = tmp_path / "jupyter_conda_store_config.py"
    config.write_text(f"c.CondaStore.channels = ['file:///nowhere']\n")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "jupyter"), "conda-store",
            f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.allow_root=True",
        ],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"{base}/conda-store/api/v1/", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.load(response)["data"]["version"] == __version__
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "jupyter conda-store did not start in 60 s"
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(
                urllib.request.Request(f"{base}/lab", headers={"Authorization": f"token {token}"}),
                timeout=5,
            )
        assert raised.value.code == 404
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # The config file named after the app was honoured.
    assert "channels file:///nowhere" in output, output
