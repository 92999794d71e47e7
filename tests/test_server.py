"""The server extension on a real Jupyter Server: routes, envelope, auth and configuration."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from tornado.httpclient import HTTPClientError

from conda_store_jupyter import __version__
from conda_store_jupyter.handlers import ROUTES

from .servers import StandaloneServer


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
    assert conda_store.database_url == f"sqlite:///{store_dir / '.db' / 'conda-store.sqlite'}"
    assert conda_store.channels == ["conda-forge"]
    assert conda_store.default_namespace == "default"


VERBS = ("get", "post", "put", "delete")


def route_examples() -> list[tuple[str, str]]:
    """(method, path) for every verb of every route, with sample values in the path."""
    examples = []
    for pattern, handler in ROUTES:
        path = re.sub(  # a choice of words in the path: its first word
            r"\(([a-z]+)(?:\|[a-z]+)+\)",
            r"\1",
            pattern.replace("([^/]+)", "x").replace(r"(\d+)", "1").removesuffix("/?"),
        )
        for verb in VERBS:
            if verb in vars(handler) or any(
                verb in vars(base)
                for base in handler.__mro__[1:-1]
                if base.__module__.startswith("conda_store_jupyter")
            ):
                examples.append((verb.upper(), path + "/"))
    return examples


@pytest.fixture
def deny_all_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = "tests.authorizers.DenyAllAuthorizer"
    return jp_server_config


@pytest.mark.parametrize(("method", "path"), route_examples())
async def test_every_verb_is_authenticated(jp_fetch, method, path):
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch(
            *path.split("/"),
            method=method,
            headers={"Authorization": ""},
            body=b"{}" if method in ("POST", "PUT") else None,
            allow_nonstandard_methods=True,
        )
    assert raised.value.code == 403


@pytest.mark.parametrize(("method", "path"), route_examples())
async def test_every_verb_is_authorized(deny_all_config, jp_fetch, method, path):
    """With an authorizer that refuses everything, every verb of every route answers 403:
    no handler skips `@authorized`."""
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch(
            *path.split("/"),
            method=method,
            body=b"{}" if method in ("POST", "PUT") else None,
            allow_nonstandard_methods=True,
        )
    assert raised.value.code == 403, raised.value.response.body


def test_every_route_has_examples():
    methods = {method for method, _ in route_examples()}
    assert methods == {"GET", "POST", "PUT", "DELETE"}
    assert len(route_examples()) >= len(ROUTES)


def test_jupyter_conda_store_runs_only_this_extension(tmp_path):
    """`jupyter conda-store` is the standalone service: our API answers, JupyterLab does not."""
    (tmp_path / "jupyter_conda_store_config.py").write_text(
        "c.CondaStore.channels = ['file:///nowhere']\n"
    )
    server = StandaloneServer(tmp_path).start()
    try:
        assert server.get("")["data"]["version"] == __version__
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{server.url}/lab", headers={"Authorization": f"token {server.token}"}
                ),
                timeout=5,
            )
        assert raised.value.code == 404
    finally:
        output = server.stop()
    # The config file named after the app was honoured.
    assert "channels file:///nowhere" in output, output
