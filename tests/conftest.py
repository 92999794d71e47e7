"""Shared fixtures: a real Jupyter Server (pytest-jupyter) with the store under tmp_path."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from traitlets.config import Config

pytest_plugins = ("pytest_jupyter.jupyter_server",)


REPO = Path(__file__).resolve().parent.parent


def require_services() -> bool:
    """CI sets CSJ_REQUIRE_SERVICES=1: a missing PostgreSQL or Redis fails instead of skipping."""
    return os.environ.get("CSJ_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def local_channel() -> str:
    """The file:// URL of the local test channel (see conda_store_jupyter.testing.channel).

    Built into $CSJ_TEST_CHANNEL_DIR (default <repo>/.cache/test-channel), which persists across
    runs: only the first run pays for the build.
    """
    from conda_store_jupyter.testing.channel import build_channel

    return build_channel(os.environ.get("CSJ_TEST_CHANNEL_DIR", REPO / ".cache" / "test-channel"))


# How the local channel is served over HTTP (see conda_store_jupyter.testing.http_channel):
# "cdn" as conda-forge's CDN serves it (ETag, Last-Modified, max-age, 304s that repeat the ETag),
# "plain" as `python -m http.server` does (304s without validators); sharded or not.
HTTP_CHANNELS = {
    "cdn-sharded": {"sharded": True},
    "cdn-unsharded": {"sharded": False},
    "plain-sharded": {"sharded": True, "etag": False, "validators_on_304": False},
}


@pytest.fixture(params=list(HTTP_CHANNELS))
def http_channel(request: pytest.FixtureRequest, local_channel: str):
    """The local channel served over HTTP on 127.0.0.1 with `Cache-Control: max-age=1`: a
    started ChannelServer (`.url`, `.requests`, `.fail()`...), stopped after the test. Pick
    kinds with `@pytest.mark.parametrize("http_channel", [...], indirect=True)`."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from conda_store_jupyter.testing.http_channel import ChannelServer

    directory = url2pathname(urlsplit(local_channel).path)
    with ChannelServer(directory, max_age=1, **HTTP_CHANNELS[request.param]) as server:
        yield server


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_channel_only: the test server's channels, and its only allowed channel, are the "
        "local test channel (`conda_store_config`)",
    )


@pytest.fixture
def conda_store_config(request: pytest.FixtureRequest, store_dir) -> dict:
    """The CondaStore section of the test server's config; tests extend it before it starts.
    Marked `local_channel_only` (e.g. `pytestmark = pytest.mark.local_channel_only`), it uses
    the local test channel and allows no other."""
    config = {"store_dir": str(store_dir)}
    if request.node.get_closest_marker("local_channel_only") is not None:
        channel = request.getfixturevalue("local_channel")
        config.update(channels=[channel], allowed_channels=[channel])
    return config


@pytest.fixture
def jp_server_config(conda_store_config) -> Config:
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"conda_store_jupyter": True}},
            "CondaStore": conda_store_config,
            # Most tests never build: only those that do start the build launcher (the default,
            # warm at start, is what tests of separate server processes and galata run).
            "BuildExecutor": {"warm_launcher": False},
        }
    )


def _service_unavailable(what: str, error: Exception):
    message = f"{what} is not reachable ({error}); shared-deployment tests need it"
    if require_services():
        pytest.fail(f"{message}, and CSJ_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL (127.0.0.1:5432, database `test`), or a skip saying why (CI: a failure)."""
    import sqlalchemy

    url = os.environ.get(
        "CSJ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any driver or connection error means "not available here"
        _service_unavailable(f"PostgreSQL at {url}", error)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis (127.0.0.1:6379), or a skip naming why (a failure in CI)."""
    import redis

    url = os.environ.get("CSJ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as error:
        _service_unavailable(f"Redis at {url}", error)
    return url


@pytest.fixture
def pg_database_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a fresh schema of their own (search_path set
    through libpq `options`), dropped afterwards: tests sharing the `test` database never
    collide and always start from an empty schema."""
    schema = f"csj_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("pg_database_url")
    return f"sqlite:///{tmp_path}/data/store.sqlite"  # parent directory does not exist yet


@pytest.fixture
def jp_started_server(jp_serverapp, jp_asyncio_loop):
    """The test server with its extensions started as `jupyter server` starts them (pytest-jupyter
    only initializes it): the build executor runs."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp


@pytest.fixture
def central(tmp_path, local_channel):
    """A central `jupyter conda-store` (a real process) for a remote-mode server to point at:
    `Authorization: token user-<name>` is user <name> (tests/authorizers.py)."""
    from .servers import StandaloneServer

    server = StandaloneServer(
        tmp_path / "central",
        f"--CondaStore.store_dir={tmp_path / 'central' / 'store'}",
        f"--CondaStore.channels={local_channel}",
        "--ServerApp.identity_provider_class=tests.authorizers.NamedUserIdentityProvider",
    )
    (tmp_path / "central").mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def elsewhere(tmp_path, local_channel):
    """Another store on the same machine, as a colleague's would be: its own `jupyter
    conda-store` process on a fresh, empty store with the local channel."""
    from .servers import StandaloneServer

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    server = StandaloneServer(
        workdir,
        f"--CondaStore.store_dir={workdir / 'store'}",
        f"--CondaStore.channels={local_channel}",
    ).start()
    try:
        yield server
    finally:
        server.stop()
