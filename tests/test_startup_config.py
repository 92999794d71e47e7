"""Configuration errors at start: named (trait and value) in the log, answered by the API (so the
panel can show them), and fatal for `jupyter conda-store`. List traits take the forms people type
on a command line, whichever application parses it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tornado.httpclient import HTTPClientError

from .servers import JUPYTER, free_port

BAD_CHANNEL = "ftp://nope.example"


class TestListTraitsOnTheCommandLine:
    """`jupyter server --CondaStore.channels='["file:///..."]'`: Jupyter Server's command line
    does not know CondaStore, the value arrives as one string."""

    @pytest.fixture
    def jp_argv(self, local_channel):
        return [
            f'--CondaStore.channels=["{local_channel}"]',
            "--CondaStore.solve_platforms=['linux-64']",
        ]

    async def test_a_list_written_as_a_literal_is_a_list(
        self, jp_fetch, jp_serverapp, local_channel
    ):
        response = await jp_fetch("conda-store", "api", "v1", "")
        assert json.loads(response.body)["status"] == "ok"
        app = jp_serverapp.extension_manager.extension_apps["conda_store_jupyter"]
        (extension,) = app
        assert extension.conda_store.channels == [local_channel]
        assert extension.conda_store.solve_platforms == ["linux-64"]


class TestBadConfigurationUnderJupyterServer:
    @pytest.fixture
    def jp_argv(self):
        return [f"--CondaStore.channels={BAD_CHANNEL}"]

    @pytest.mark.parametrize(
        "method, path, body",
        [("GET", "", None), ("GET", "environment/", None), ("POST", "specification/", "{}")],
    )
    async def test_every_route_says_why_the_extension_did_not_start(
        self, jp_fetch, method, path, body
    ):
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch("conda-store", "api", "v1", path, method=method, body=body)
        assert raised.value.code == 503
        message = json.loads(raised.value.response.body)["message"]
        assert "could not start" in message
        assert "CondaStore.channels" in message and BAD_CHANNEL in message

    async def test_the_log_names_the_trait_and_the_value(self, jp_fetch, caplog):
        with pytest.raises(HTTPClientError):
            await jp_fetch("conda-store", "api", "v1", "")
        logged = [r.getMessage() for r in caplog.records if "could not start" in r.getMessage()]
        assert logged and "CondaStore.channels" in logged[0] and BAD_CHANNEL in logged[0]


def test_jupyter_conda_store_exits_non_zero_on_a_bad_configuration(tmp_path):
    env = {
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    result = subprocess.run(
        [
            JUPYTER,
            "conda-store",
            f"--ServerApp.port={free_port()}",
            "--ServerApp.allow_root=True",
            f"--CondaStore.store_dir={tmp_path / 'store'}",
            f"--CondaStore.channels={BAD_CHANNEL}",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "CondaStore.channels" in result.stderr and BAD_CHANNEL in result.stderr
