"""Remote mode: a Jupyter Server (pytest-jupyter's) whose conda-store API is forwarded to a
central `jupyter conda-store` (a real process) with this server's credential, as a JupyterHub
user's server does with $CONDA_STORE_URL and its hub token."""

from __future__ import annotations

import json

import pytest
import yaml
from tornado.httpclient import HTTPClientError

from conda_store_jupyter.client_discovery import ServerAddress

from .servers import free_port

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def conda_store_config(conda_store_config, central) -> dict:
    return {**conda_store_config, "remote_url": central.url, "remote_token": "user-alice"}


async def api(jp_fetch, method: str, *path: str, body=None, **params) -> dict:
    kwargs = {"method": method, "params": params}
    if body is not None or method in ("POST", "PUT"):
        kwargs["body"] = json.dumps(body) if body is not None else b""
    response = await jp_fetch("conda-store", "api", "v1", *path, "", **kwargs)
    return json.loads(response.body)


async def test_the_api_is_the_central_services_as_the_configured_user(
    jp_fetch, jp_started_server, central, store_dir
):
    permission = await api(jp_fetch, "GET", "permission")
    assert permission["data"]["username"] == "alice"
    text = yaml.safe_dump({"name": "analysis", "dependencies": ["alpha"]})
    answer = await api(
        jp_fetch, "POST", "specification", body={"namespace": "alice", "specification": text}
    )
    build_id = answer["data"]["build_id"]
    # The live log, streamed through this server from the central one.
    response = await jp_fetch(
        "conda-store", "api", "v1", "build", str(build_id), "logs", "stream", ""
    )
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = response.body.decode()
    assert "starting build" in events and 'event: end\ndata: {"status": "COMPLETED"}' in events
    # The central service built it; this server kept nothing.
    assert central.get(f"build/{build_id}/")["data"]["status"] == "COMPLETED"
    assert not store_dir.exists()
    # Errors are the central service's, with their status.
    with pytest.raises(HTTPClientError) as refused:
        await api(
            jp_fetch, "POST", "specification", body={"namespace": "bob", "specification": text}
        )
    assert refused.value.code == 403
    assert "alice may not" in json.loads(refused.value.response.body)["message"]


async def test_an_unreachable_central_service_is_a_502_that_says_where(jp_fetch, jp_started_server):
    dead = ServerAddress(f"http://127.0.0.1:{free_port()}/conda-store/", None, "test")
    jp_started_server.web_app.settings["conda_store_remote"] = dead
    with pytest.raises(HTTPClientError) as failed:
        await api(jp_fetch, "GET", "environment")
    assert failed.value.code == 502
    message = json.loads(failed.value.response.body)["message"]
    assert "is not reachable" in message and dead.url in message
