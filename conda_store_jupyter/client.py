"""A Python client of the conda-store REST API (`api/v1`), for notebooks, scripts and the CLI.

```python
from conda_store_jupyter.client import CondaStoreClient

client = CondaStoreClient()  # url/token arguments, CONDA_STORE_URL/CONDA_STORE_TOKEN, or the
                             # Jupyter server this kernel (or terminal) runs under
build_id = client.create_environment("name: demo\\ndependencies: [python, numpy]\\n")
client.wait(build_id)        # prints the build log as it is written
```

`AsyncCondaStoreClient` has the same methods as coroutines; `CondaStoreClient` runs them on a
private event loop in a background thread, so its blocking calls work everywhere, including a
Jupyter kernel whose own event loop is already running.

Only the standard library, tornado (the HTTP client), PyYAML and, to find a server, jupyter_core
(and psutil when present) are imported: not Jupyter Server, so that the CLI starts quickly.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote, urlencode

import yaml
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.iostream import IOStream
from tornado.netutil import Resolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from tornado.tcpclient import TCPClient

__all__ = [
    "AsyncCondaStoreClient",
    "BuildFailed",
    "CondaStoreClient",
    "CondaStoreClientError",
    "ServerNotFound",
    "ServerUnreachable",
    "WaitTimeout",
]

FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELED")
PAGE_SIZE = 1000  # the server's largest page
MAX_BYTES = 2**30  # lock files and logs may be large; tornado's default stops at 100 MB
CONNECT_TIMEOUT = 10.0
STREAM_TIMEOUT = 3600.0  # one log-stream request; a longer wait reconnects from its offset
RECONNECTS = 5  # consecutive failed reconnections of a log stream before giving up
RECONNECT_DELAY = 1.0
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "*")

Progress = bool | Callable[[str], None] | None
Specification = str | os.PathLike[str] | Mapping[str, Any]


# -- errors -------------------------------------------------------------------------------------
class CondaStoreClientError(Exception):
    """The server refused a request (`status` is the HTTP status, `message` the server's own
    words), or the client could not do what was asked (`status` is None)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})" if self.status else self.message


class ServerNotFound(CondaStoreClientError):
    """No URL was given and none could be discovered."""


class ServerUnreachable(CondaStoreClientError):
    """The server did not answer (refused, timed out, name not resolved, connection dropped)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot reach conda-store at {url}: {reason}")
        self.url = url


class BuildFailed(CondaStoreClientError):
    """A waited-for build ended FAILED or CANCELED; `build` is its JSON."""

    def __init__(self, build: dict[str, Any]):
        self.build = build
        self.build_id: int = build["id"]
        self.build_status: str = build["status"]
        self.status_info: str | None = build.get("status_info")
        reason = self.status_info or "no reason given"
        super().__init__(f"build {self.build_id} {self.build_status}: {reason}")


class WaitTimeout(CondaStoreClientError, TimeoutError):
    """A build did not finish within the time given to `wait`."""


# -- finding the server -------------------------------------------------------------------------
def conda_store_url(url: str) -> str:
    """The conda-store base URL (ending in `conda-store/`) of a URL given with or without that
    suffix, or as the API's own URL (`.../conda-store/api/v1/`)."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ServerNotFound(f"conda-store URL must start with http:// or https://, got {url!r}")
    base = base.removesuffix("/api/v1")
    if not base.endswith("/conda-store"):
        base += "/conda-store"
    return base + "/"


@dataclass(frozen=True)
class ServerAddress:
    url: str  # conda-store base URL, ending in `conda-store/`
    token: str | None
    source: str  # how it was found, for messages


def find_server(url: str | None = None, token: str | None = None) -> ServerAddress:
    """Explicit arguments, then $CONDA_STORE_URL/$CONDA_STORE_TOKEN, then the Jupyter server this
    process runs under (a kernel's or a terminal's ancestor) with that server's own token."""
    env_token = os.environ.get("CONDA_STORE_TOKEN") or None
    if url:
        return ServerAddress(conda_store_url(url), token or env_token, "url argument")
    if os.environ.get("CONDA_STORE_URL"):
        env_url = conda_store_url(os.environ["CONDA_STORE_URL"])
        return ServerAddress(env_url, token or env_token, "$CONDA_STORE_URL")
    pids, runtime_dirs = _ancestor_pids(), _runtime_dirs()
    for pid in pids:
        for directory in runtime_dirs:
            info_file = Path(directory) / f"jpserver-{pid}.json"
            try:
                info = json.loads(info_file.read_text())
            except (OSError, ValueError):
                continue
            if info.get("sock"):
                continue  # a Unix socket: tornado's client cannot connect to it
            # A hub-spawned server usually has no token of its own but accepts the hub's.
            hub_token = os.environ.get("JUPYTERHUB_API_TOKEN")
            server_token = token or info.get("token") or hub_token or None
            return ServerAddress(_server_url(info), server_token, f"Jupyter server {info_file}")
    raise ServerNotFound(
        "no conda-store server to talk to: pass url and token (--url/--token on the command "
        "line), set CONDA_STORE_URL and CONDA_STORE_TOKEN, or run this inside a kernel or "
        "terminal of a Jupyter server that has conda-store-jupyter (no jpserver-<pid>.json of "
        f"processes {', '.join(map(str, pids)) or '(none)'} in {', '.join(runtime_dirs)})"
    )


def _server_url(info: Mapping[str, Any]) -> str:
    """The conda-store URL of a Jupyter server from its jpserver-<pid>.json."""
    host = info.get("hostname") or "localhost"
    if host in WILDCARD_HOSTS:
        host = "localhost"  # it listens everywhere, and we run on its machine
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if info.get("secure") else "http"
    base_url = "/".join(["", *filter(None, str(info.get("base_url") or "").split("/")), ""])
    return f"{scheme}://{host}:{info['port']}{base_url}conda-store/"


def _ancestor_pids(depth: int = 10) -> list[int]:
    """Processes that may be the Jupyter server: the launcher named by $JPY_PARENT_PID (set for
    kernels), then the parent chain (a kernel nanny, or a terminal's shell, may sit between)."""
    pids: list[int] = []
    parent = os.environ.get("JPY_PARENT_PID", "")
    if parent.isdigit():
        pids.append(int(parent))
    try:
        import psutil  # ipykernel depends on it; elsewhere the direct parent is all we know
    except ImportError:
        chain = [os.getppid()]
    else:
        try:
            chain = [process.pid for process in psutil.Process().parents()[:depth]]
        except psutil.Error:
            chain = [os.getppid()]
    pids.extend(pid for pid in chain if pid > 1 and pid not in pids)
    return pids


def _runtime_dirs() -> list[str]:
    """Jupyter's runtime dir, and the directory of this kernel's connection file: the server
    writes both its jpserver-<pid>.json and the connection file into its runtime dir."""
    from jupyter_core.paths import jupyter_runtime_dir

    directories = [jupyter_runtime_dir()]
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is not None and kernelapp.IPKernelApp.initialized():
        connection_file = kernelapp.IPKernelApp.instance().abs_connection_file
        directory = os.path.dirname(connection_file)
        if directory and directory not in directories:
            directories.append(directory)
    return directories


# -- helpers ------------------------------------------------------------------------------------
def _reporter(progress: Progress) -> Callable[[str], None] | None:
    if progress is True:
        return functools.partial(print, flush=True)
    return progress or None


def _read_specification(specification: Specification, is_lockfile: bool) -> str | dict[str, Any]:
    """YAML text as is, a mapping as is (a lock file as YAML text), a path's contents.

    A one-line string with no `key: value` in it is a path: no YAML specification fits on one
    line without one, and a typo in a file name should say the file is missing."""
    if isinstance(specification, Mapping):
        if is_lockfile:
            return yaml.safe_dump(dict(specification), sort_keys=False)
        return dict(specification)
    if isinstance(specification, os.PathLike) or (
        "\n" not in specification
        and ": " not in specification
        and not specification.lstrip().startswith("{")
    ):
        return Path(specification).expanduser().read_text(encoding="utf-8")
    return specification


def _build_target(target: int | str) -> int | tuple[str, str]:
    """A build id (`12`, `"12"`, `"ns/name:12"`) or an environment (`"ns/name"`)."""
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str):
        text = target.strip()
        if text.isdigit():
            return int(text)
        environment, _, build = text.partition(":")
        if build.isdigit():
            return int(build)
        namespace, _, name = environment.partition("/")
        if namespace and name and not build:
            return namespace, name
    raise ValueError(f"expected a build id or 'namespace/name', got {target!r}")


def _path(*segments: str | int) -> str:
    return "".join(f"{quote(str(segment), safe='')}/" for segment in segments)


class _EventStream:
    """Incremental parser of server-sent events: bytes in, (event, data, id) out."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[tuple[str, str, str | None]]:
        self._buffer = (self._buffer + self._decoder.decode(chunk)).replace("\r\n", "\n")
        *blocks, self._buffer = self._buffer.split("\n\n")
        return [self._parse(block) for block in blocks if block.strip()]

    @staticmethod
    def _parse(block: str) -> tuple[str, str, str | None]:
        event, data, event_id = "message", [], None
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value
        return event, "\n".join(data), event_id


class _TCPClient(TCPClient):
    """Remembers its connections so that closing it closes them: tornado's HTTP client cannot
    abort a request under way."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        super().__init__(resolver)
        self._streams: list[IOStream] = []

    async def connect(self, *args: Any, **kwargs: Any) -> IOStream:
        stream = await super().connect(*args, **kwargs)
        self._streams.append(stream)
        return stream

    def close(self) -> None:
        for stream in self._streams:
            stream.close()
        super().close()


class _HTTPClient(SimpleAsyncHTTPClient):
    def initialize(self, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.tcp_client = _TCPClient(resolver=self.resolver)


# -- the async client ---------------------------------------------------------------------------
class AsyncCondaStoreClient:
    """The conda-store REST API as coroutines. Environments are named by `namespace` and `name`;
    `namespace=None` means the caller's primary namespace (GET `permission/`)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60.0):
        server = find_server(url, token)
        self.url = server.url
        self.token = server.token
        self.source = server.source
        self.timeout = timeout
        self._primary_namespace: str | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    @property
    def api_url(self) -> str:
        return f"{self.url}api/v1/"

    # -- transport ------------------------------------------------------------------------------
    async def _fetch(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                     body: Any = None, *, stream: Callable[[bytes], None] | None = None,
                     request_timeout: float | None = None) -> HTTPResponse:
        """One request; an error answer raises `CondaStoreClientError` with the server's message.
        With `stream`, the body goes to it chunk by chunk as it arrives."""
        query = {key: value for key, value in (params or {}).items() if value is not None}
        url = self.api_url + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        error_body = bytearray()
        options: dict[str, Any] = {}
        if stream is not None:
            status = 0

            def on_header(line: str) -> None:
                nonlocal status
                if line.startswith("HTTP/"):
                    status = int(line.split()[1])

            def on_chunk(chunk: bytes) -> None:
                if status >= 400:
                    error_body.extend(chunk)  # tornado streams error bodies too: keep the message
                else:
                    stream(chunk)

            options = {"header_callback": on_header, "streaming_callback": on_chunk}
        if body is not None:
            payload: str | bytes | None = json.dumps(body)
        else:
            payload = b"" if method in ("POST", "PUT") else None  # tornado wants one there
        request = HTTPRequest(
            url, method=method, headers=headers, body=payload, connect_timeout=CONNECT_TIMEOUT,
            request_timeout=request_timeout or self.timeout, **options,
        )
        # One client per request: it binds to the running loop (sync callers come from a
        # background thread's loop), and tornado's simple client pools no connections anyway.
        http = _HTTPClient(force_instance=True, max_buffer_size=MAX_BYTES, max_body_size=MAX_BYTES)
        fetch = http.fetch(request, raise_error=False)
        try:
            # Shielded: tornado logs an error when a canceled fetch fails afterwards, and it
            # fails once closed below. Closing is what stops a canceled request (a log stream
            # of a queued build may be silent for minutes).
            response = await asyncio.shield(fetch)
        except HTTPClientError as error:  # 599: timed out, or the connection closed mid-answer
            raise ServerUnreachable(self.url, error.message or str(error)) from None
        except OSError as error:  # refused, unresolvable, reset
            raise ServerUnreachable(self.url, error.strerror or str(error)) from None
        finally:
            http.close()
            if not fetch.done():
                fetch.add_done_callback(lambda future: future.cancelled() or future.exception())
        if response.code >= 400:
            raise self._error(response.code, response.body or bytes(error_body), response.reason)
        return response

    def _error(self, code: int, body: bytes, reason: str | None) -> CondaStoreClientError:
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            message = None
        if not message:  # not the API's envelope: a proxy's page, or a server without the API
            message = f"{reason or 'error'} from {self.api_url}"
            if code == 404:
                message += "; is conda-store-jupyter enabled on that server?"
        elif code == 403 and message == "Forbidden":
            message = "Forbidden: the token was refused, or it may not do this"
        return CondaStoreClientError(message, code)

    async def _json(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                    body: Any = None) -> dict[str, Any]:
        response = await self._fetch(method, path, params, body)
        try:
            return json.loads(response.body)
        except ValueError:
            raise CondaStoreClientError(
                f"{self.api_url}{path} did not answer JSON; is it conda-store?"
            ) from None

    async def _data(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                    body: Any = None) -> Any:
        return (await self._json(method, path, params, body)).get("data")

    async def _text(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        return (await self._fetch("GET", path, params)).body.decode("utf-8", errors="replace")

    async def _all(self, path: str, params: Mapping[str, Any] | None = None
                   ) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            query = {**(params or {}), "page": page, "size": PAGE_SIZE}
            payload = await self._json("GET", path, query)
            items.extend(payload["data"])
            if not payload["data"] or len(items) >= payload["count"]:
                return items
            page += 1

    async def _namespace(self, namespace: str | None) -> str:
        return namespace or await self.primary_namespace()

    # -- service --------------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        """The server's status: `{"version": ...}`."""
        return await self._data("GET", "")

    async def permissions(self) -> dict[str, Any]:
        """Who the token is (`username`, `primary_namespace`) and its roles per pattern."""
        return await self._data("GET", "permission/")

    async def primary_namespace(self) -> str:
        """The caller's own namespace, where environments go when no namespace is given."""
        if self._primary_namespace is None:
            permissions = await self.permissions()
            self._primary_namespace = permissions.get("primary_namespace") or "default"
        return self._primary_namespace

    # -- namespaces -----------------------------------------------------------------------------
    async def list_namespaces(self) -> list[dict[str, Any]]:
        return await self._all("namespace/")

    async def create_namespace(self, namespace: str) -> None:
        await self._json("POST", _path("namespace", namespace))

    async def delete_namespace(self, namespace: str) -> None:
        await self._json("DELETE", _path("namespace", namespace))

    # -- environments ---------------------------------------------------------------------------
    async def list_environments(self, namespace: str | None = None, *, search: str | None = None,
                                status: str | None = None, packages: list[str] | None = None
                                ) -> list[dict[str, Any]]:
        """Environments the caller may read, optionally in one namespace, with `search` in their
        name, whose current build has `status`, or holding all of `packages`."""
        return await self._all("environment/", {
            "namespace": namespace, "search": search, "status": status, "packages": packages,
        })

    async def get_environment(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._data("GET", _path("environment", namespace, name))

    async def create_environment(self, specification: Specification,
                                 namespace: str | None = None, *, name: str | None = None,
                                 description: str | None = None, is_lockfile: bool = False) -> int:
        """Create or update an environment; returns the id of its new build (see `wait`).

        `specification` is an environment's YAML text, a mapping, or the path of a file;
        `is_lockfile=True` for a conda-lock file (then `name` is required). `name` overrides the
        specification's name."""
        if is_lockfile and not name:
            raise ValueError("a lock file has no environment name: pass name=...")
        body = {
            "namespace": await self._namespace(namespace),
            "specification": _read_specification(specification, is_lockfile),
            "is_lockfile": is_lockfile,
            "environment_name": name,
            "environment_description": description,
        }
        body = {key: value for key, value in body.items() if value is not None}
        return (await self._data("POST", "specification/", body=body))["build_id"]

    async def rollback(self, namespace: str, name: str, build_id: int) -> dict[str, Any]:
        """Make an older completed build current again (nothing is rebuilt)."""
        path = _path("environment", namespace, name)
        return await self._data("PUT", path, body={"build_id": build_id})

    async def delete_environment(self, namespace: str, name: str) -> None:
        await self._json("DELETE", _path("environment", namespace, name))

    # -- builds ---------------------------------------------------------------------------------
    async def list_builds(self, namespace: str | None = None, name: str | None = None, *,
                          status: str | None = None, environment_id: int | None = None
                          ) -> list[dict[str, Any]]:
        """Builds, oldest first (their `specification` is left out; `get_build` has it)."""
        return await self._all("build/", {
            "namespace": namespace, "name": name, "status": status,
            "environment_id": environment_id,
        })

    async def get_build(self, build_id: int) -> dict[str, Any]:
        return await self._data("GET", _path("build", build_id))

    async def latest_build(self, namespace: str, name: str) -> dict[str, Any]:
        """The newest build of an environment, whatever its status."""
        environment = await self.get_environment(namespace, name)
        newest_first = {
            "environment_id": environment["id"], "sort_by": "id", "order": "desc", "size": 1,
        }
        builds = await self._data("GET", "build/", newest_first)
        if not builds:
            raise CondaStoreClientError(f"environment {namespace}/{name} has no builds", 404)
        return builds[0]

    async def rebuild(self, build_id: int) -> int:
        """A new build of the same specification; returns its id."""
        return (await self._data("PUT", _path("build", build_id)))["build_id"]

    async def cancel(self, build_id: int) -> dict[str, Any]:
        """Cancel a queued or running build; returns the canceled build."""
        return await self._data("PUT", _path("build", build_id, "cancel"))

    async def delete_build(self, build_id: int) -> None:
        """Delete a finished build that is not current (its log and lock file stay)."""
        await self._json("DELETE", _path("build", build_id))

    async def packages(self, build_id: int, search: str | None = None) -> list[dict[str, Any]]:
        return await self._all(_path("build", build_id, "packages"), {"search": search})

    async def diff(self, old_build_id: int, new_build_id: int) -> dict[str, list[dict[str, Any]]]:
        """Packages `added`, `removed` and `changed` (`old` → `new`) between two builds."""
        return await self._data("GET", _path("build", old_build_id, "diff", new_build_id))

    async def logs(self, build_id: int) -> str:
        """The build's log so far."""
        return await self._text(_path("build", build_id, "logs"))

    async def lockfile(self, target: int | str, path: str | os.PathLike[str] | None = None) -> str:
        """The conda-lock file of a build (`12`) or of an environment's current build
        (`"namespace/name"`); also written to `path` when given."""
        resolved = _build_target(target)
        if isinstance(resolved, int):
            text = await self._text(_path("build", resolved, "lockfile"))
        else:
            text = await self._text(_path("environment", *resolved, "lockfile"))
        if path is not None:
            Path(path).expanduser().write_text(text, encoding="utf-8")
        return text

    # -- waiting --------------------------------------------------------------------------------
    async def _build_id(self, target: int | str) -> int:
        resolved = _build_target(target)
        return resolved if isinstance(resolved, int) else (await self.latest_build(*resolved))["id"]

    async def follow_logs(self, build_id: int, callback: Callable[[str], None] | None = None, *,
                          timeout: float | None = None) -> dict[str, Any]:
        """Pass each line of the build's log to `callback` (default: print), from its start
        until the build ends, as it is written; returns the finished build, whatever its status.

        Follows the server-sent event stream `build/{id}/logs/stream/`, and reconnects from the
        last line received when the connection drops."""
        return await self._until_done(build_id, callback or _reporter(True), None, timeout)

    async def _until_done(self, build_id: int, on_line: Callable[[str], None] | None,
                          on_status: Callable[[str], None] | None, timeout: float | None
                          ) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self._follow(build_id, on_line, on_status), timeout)
        except asyncio.TimeoutError:
            status = (await self.get_build(build_id))["status"]
            raise WaitTimeout(f"build {build_id} is still {status} after {timeout:g} s") from None
        return await self.get_build(build_id)

    async def _follow(self, build_id: int, on_line: Callable[[str], None] | None,
                      on_status: Callable[[str], None] | None) -> None:
        offset, failures, last_status, ended = 0, 0, None, False

        def on_event(event: str, data: str, event_id: str | None) -> None:
            nonlocal offset, last_status, ended
            if event == "log":
                # The id is the byte offset after this line: where to resume after a drop.
                offset = int(event_id) if event_id and event_id.isdigit() else offset
                if on_line is not None:
                    on_line(data)
            elif event in ("status", "end"):
                status = json.loads(data)["status"]
                ended = event == "end"
                # The server says a build is final before sending its last lines: report the
                # final state at the end, after them.
                if status != last_status and (ended or status not in FINAL_STATUSES):
                    if on_status is not None:
                        on_status(status)
                    last_status = status

        while not ended:
            events = _EventStream()

            def on_chunk(chunk: bytes) -> None:
                nonlocal failures
                failures = 0
                for event in events.feed(chunk):
                    on_event(*event)

            try:
                await self._fetch("GET", _path("build", build_id, "logs", "stream"),
                                  {"offset": offset}, stream=on_chunk,
                                  request_timeout=STREAM_TIMEOUT)
            except ServerUnreachable:
                failures += 1  # dropped or refused: the server may be restarting
                if failures > RECONNECTS:
                    raise
            if not ended:
                await asyncio.sleep(RECONNECT_DELAY)

    async def wait(self, target: int | str, timeout: float | None = None, progress: Progress = True
                   ) -> dict[str, Any]:
        """Wait for a build (`12`) or an environment's newest build (`"namespace/name"`) to end;
        returns the completed build, or raises `BuildFailed` (with `status_info`) when it
        failed or was canceled, `WaitTimeout` after `timeout` seconds.

        `progress`: True prints each log line as it is written and a `build N: STATUS` line at
        each change of state; a callable receives those lines instead; False is silent."""
        build_id = await self._build_id(target)
        report = _reporter(progress)
        on_status = (lambda status: report(f"build {build_id}: {status}")) if report else None
        build = await self._until_done(build_id, report, on_status, timeout)
        if build["status"] != "COMPLETED":
            raise BuildFailed(build)
        return build


# -- the blocking client ------------------------------------------------------------------------
P = ParamSpec("P")
R = TypeVar("R")
_DONE = object()
_loop_lock = threading.Lock()
_loop_owner: tuple[int, asyncio.AbstractEventLoop] | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """One event loop in a daemon thread, shared by every blocking client of this process."""
    global _loop_owner
    with _loop_lock:
        if _loop_owner is None or _loop_owner[0] != os.getpid():  # a forked child has no thread
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="conda-store-client", daemon=True
            ).start()
            _loop_owner = (os.getpid(), loop)
        return _loop_owner[1]


def _run(coroutine: Coroutine[Any, Any, R], lines: queue.SimpleQueue[object] | None = None,
         report: Callable[[str], None] | None = None) -> R:
    """Run a coroutine on the background loop and block until it is done; meanwhile hand the
    lines it puts into `lines` to `report` in this thread (a kernel shows only the output of
    the thread running the cell). Ctrl-C (a kernel interrupt) cancels it."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _background_loop())
    try:
        if lines is not None and report is not None:
            future.add_done_callback(lambda _future: lines.put(_DONE))
            while (line := lines.get()) is not _DONE:
                report(line)  # type: ignore[arg-type]
        return future.result()
    except BaseException:
        future.cancel()
        raise


def _blocking(method: Callable[Concatenate[AsyncCondaStoreClient, P], Coroutine[Any, Any, R]]
              ) -> Callable[Concatenate[CondaStoreClient, P], R]:
    @functools.wraps(method)
    def call(self: CondaStoreClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return _run(method(self.aio, *args, **kwargs))

    return call


class CondaStoreClient:
    """The conda-store REST API as blocking calls; usable in scripts and in Jupyter kernels.

    `CondaStoreClient(url, token)`; without them, $CONDA_STORE_URL and $CONDA_STORE_TOKEN; without
    those, the Jupyter server this kernel or terminal runs under. `client.aio` is the
    `AsyncCondaStoreClient` with the same methods as coroutines."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 60.0):
        self.aio = AsyncCondaStoreClient(url, token, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    @property
    def url(self) -> str:
        return self.aio.url

    @property
    def token(self) -> str | None:
        return self.aio.token

    @property
    def source(self) -> str:
        return self.aio.source

    status = _blocking(AsyncCondaStoreClient.status)
    permissions = _blocking(AsyncCondaStoreClient.permissions)
    primary_namespace = _blocking(AsyncCondaStoreClient.primary_namespace)
    list_namespaces = _blocking(AsyncCondaStoreClient.list_namespaces)
    create_namespace = _blocking(AsyncCondaStoreClient.create_namespace)
    delete_namespace = _blocking(AsyncCondaStoreClient.delete_namespace)
    list_environments = _blocking(AsyncCondaStoreClient.list_environments)
    get_environment = _blocking(AsyncCondaStoreClient.get_environment)
    create_environment = _blocking(AsyncCondaStoreClient.create_environment)
    rollback = _blocking(AsyncCondaStoreClient.rollback)
    delete_environment = _blocking(AsyncCondaStoreClient.delete_environment)
    list_builds = _blocking(AsyncCondaStoreClient.list_builds)
    get_build = _blocking(AsyncCondaStoreClient.get_build)
    latest_build = _blocking(AsyncCondaStoreClient.latest_build)
    rebuild = _blocking(AsyncCondaStoreClient.rebuild)
    cancel = _blocking(AsyncCondaStoreClient.cancel)
    delete_build = _blocking(AsyncCondaStoreClient.delete_build)
    packages = _blocking(AsyncCondaStoreClient.packages)
    diff = _blocking(AsyncCondaStoreClient.diff)
    logs = _blocking(AsyncCondaStoreClient.logs)
    lockfile = _blocking(AsyncCondaStoreClient.lockfile)

    def follow_logs(self, build_id: int, callback: Callable[[str], None] | None = None, *,
                    timeout: float | None = None) -> dict[str, Any]:
        lines: queue.SimpleQueue[object] = queue.SimpleQueue()
        following = self.aio.follow_logs(build_id, lines.put, timeout=timeout)
        return _run(following, lines, callback or _reporter(True))

    def wait(self, target: int | str, timeout: float | None = None, progress: Progress = True
             ) -> dict[str, Any]:
        lines: queue.SimpleQueue[object] = queue.SimpleQueue()
        report = _reporter(progress)
        return _run(self.aio.wait(target, timeout, lines.put if report else False), lines, report)

    follow_logs.__doc__ = AsyncCondaStoreClient.follow_logs.__doc__
    wait.__doc__ = AsyncCondaStoreClient.wait.__doc__
