"""A Python client of the conda-store REST API (`api/v1`), for notebooks, scripts and the CLI.

```python
from conda_store_jupyter.client import CondaStoreClient

client = CondaStoreClient()  # url/token arguments, CONDA_STORE_URL/CONDA_STORE_TOKEN, or the
                             # Jupyter server this kernel (or terminal) runs under
build_id = client.create_environment("name: demo\\ndependencies: [python, numpy]\\n")
client.wait(build_id)        # prints the build log as it is written
```

`AsyncCondaStoreClient` has the same methods as coroutines, on `httpx.AsyncClient`;
`CondaStoreClient` makes blocking calls with `httpx.Client` in the calling thread, so they work
everywhere, including a Jupyter kernel whose own event loop is already running. Each method is
written once (`client_api.Api`) and run by either driver of `client_http`; `client_discovery`
finds the server, `client_errors` has the errors.

Only the standard library, httpx (with httpx-sse and tenacity), PyYAML and, to find a server,
jupyter_core (and psutil when present) are imported: not Jupyter Server, so that the CLI starts
quickly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from .client_api import Api, parse_build_target, parse_environment  # noqa: F401
from .client_discovery import ServerAddress, conda_store_url, find_server  # noqa: F401
from .client_errors import (
    BuildFailed,
    CondaStoreClientError,
    ServerNotFound,
    ServerUnreachable,
    WaitTimeout,
)
from .client_http import FINAL_STATUSES, Endpoint, Operation, arun, run  # noqa: F401

__all__ = [
    "AsyncCondaStoreClient",
    "BuildFailed",
    "CondaStoreClient",
    "CondaStoreClientError",
    "ServerNotFound",
    "ServerUnreachable",
    "WaitTimeout",
]

# -- the clients --------------------------------------------------------------------------------
P = ParamSpec("P")
R = TypeVar("R")


class _Client:
    """What both clients share: the server found, and the calls' single definitions."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60.0):
        self._api = Api(Endpoint(find_server(url, token), timeout))

    @classmethod
    def _sharing(cls, api: Api) -> Any:
        client = cls.__new__(cls)
        client._api = api
        return client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    @property
    def url(self) -> str:
        """The conda-store base URL, ending in `conda-store/`."""
        return self._api._endpoint.server.url

    @property
    def token(self) -> str | None:
        return self._api._endpoint.server.token

    @property
    def source(self) -> str:
        """How the server was found, for messages."""
        return self._api._endpoint.server.source

    @property
    def timeout(self) -> float:
        return self._api._endpoint.timeout

    @property
    def api_url(self) -> str:
        return self._api._endpoint.api_url


def _coroutine(
    method: Callable[Concatenate[Api, P], Operation[R]],
) -> Callable[Concatenate[AsyncCondaStoreClient, P], Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def call(self: AsyncCondaStoreClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await arun(self._api._endpoint, method(self._api, *args, **kwargs))

    return call


def _blocking(
    method: Callable[Concatenate[Api, P], Operation[R]],
) -> Callable[Concatenate[CondaStoreClient, P], R]:
    @functools.wraps(method)
    def call(self: CondaStoreClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return run(self._api._endpoint, method(self._api, *args, **kwargs))

    return call


class AsyncCondaStoreClient(_Client):
    """The conda-store REST API as coroutines. Environments are named by `namespace` and `name`;
    `namespace=None` means the caller's primary namespace (GET `permission/`)."""

    status = _coroutine(Api.status)
    permissions = _coroutine(Api.permissions)
    primary_namespace = _coroutine(Api.primary_namespace)
    list_namespaces = _coroutine(Api.list_namespaces)
    create_namespace = _coroutine(Api.create_namespace)
    delete_namespace = _coroutine(Api.delete_namespace)
    list_environments = _coroutine(Api.list_environments)
    get_environment = _coroutine(Api.get_environment)
    create_environment = _coroutine(Api.create_environment)
    rollback = _coroutine(Api.rollback)
    delete_environment = _coroutine(Api.delete_environment)
    list_builds = _coroutine(Api.list_builds)
    get_build = _coroutine(Api.get_build)
    latest_build = _coroutine(Api.latest_build)
    rebuild = _coroutine(Api.rebuild)
    cancel = _coroutine(Api.cancel)
    delete_build = _coroutine(Api.delete_build)
    packages = _coroutine(Api.packages)
    diff = _coroutine(Api.diff)
    build_record = _coroutine(Api.build_record)
    export = _coroutine(Api.export)
    import_archive = _coroutine(Api.import_archive)
    copy_environment = _coroutine(Api.copy_environment)
    rename_environment = _coroutine(Api.rename_environment)
    logs = _coroutine(Api.logs)
    lockfile = _coroutine(Api.lockfile)
    follow_logs = _coroutine(Api.follow_logs)
    wait = _coroutine(Api.wait)


class CondaStoreClient(_Client):
    """The conda-store REST API as blocking calls; usable in scripts and in Jupyter kernels.

    `CondaStoreClient(url, token)`; without them, $CONDA_STORE_URL and $CONDA_STORE_TOKEN; without
    those, the Jupyter server this kernel or terminal runs under. `client.aio` is the
    `AsyncCondaStoreClient` with the same methods as coroutines."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60.0):
        super().__init__(url, token, timeout=timeout)
        self.aio: AsyncCondaStoreClient = AsyncCondaStoreClient._sharing(self._api)

    status = _blocking(Api.status)
    permissions = _blocking(Api.permissions)
    primary_namespace = _blocking(Api.primary_namespace)
    list_namespaces = _blocking(Api.list_namespaces)
    create_namespace = _blocking(Api.create_namespace)
    delete_namespace = _blocking(Api.delete_namespace)
    list_environments = _blocking(Api.list_environments)
    get_environment = _blocking(Api.get_environment)
    create_environment = _blocking(Api.create_environment)
    rollback = _blocking(Api.rollback)
    delete_environment = _blocking(Api.delete_environment)
    list_builds = _blocking(Api.list_builds)
    get_build = _blocking(Api.get_build)
    latest_build = _blocking(Api.latest_build)
    rebuild = _blocking(Api.rebuild)
    cancel = _blocking(Api.cancel)
    delete_build = _blocking(Api.delete_build)
    packages = _blocking(Api.packages)
    diff = _blocking(Api.diff)
    build_record = _blocking(Api.build_record)
    export = _blocking(Api.export)
    import_archive = _blocking(Api.import_archive)
    copy_environment = _blocking(Api.copy_environment)
    rename_environment = _blocking(Api.rename_environment)
    logs = _blocking(Api.logs)
    lockfile = _blocking(Api.lockfile)
    follow_logs = _blocking(Api.follow_logs)
    wait = _blocking(Api.wait)
