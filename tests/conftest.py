"""Shared fixtures: a real Jupyter Server (pytest-jupyter) with the store under tmp_path."""

from __future__ import annotations

import os

import pytest
from traitlets.config import Config

pytest_plugins = ("pytest_jupyter.jupyter_server",)


def require_services() -> bool:
    """CI sets CSJ_REQUIRE_SERVICES=1: a missing PostgreSQL or Redis fails instead of skipping."""
    return os.environ.get("CSJ_REQUIRE_SERVICES") == "1"


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def conda_store_config(store_dir) -> dict:
    """The CondaStore section of the test server's config; tests extend it before the server starts."""
    return {"store_dir": str(store_dir)}


@pytest.fixture
def jp_server_config(conda_store_config) -> Config:
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"conda_store_jupyter": True}},
            "CondaStore": conda_store_config,
        }
    )
