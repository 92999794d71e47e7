"""The Python client's transport, on httpx: one definition of each API call, run by a blocking
driver (`httpx.Client`) or an async one (`httpx.AsyncClient`).

An API call is written once, as a generator that yields what to send (`Call`, or `Follow` for a
build's log stream) and receives what came back, decoded; `run` and `arun` drive it. URL and
header building, the API's envelope and its errors are handled here, in one place for both.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
import tenacity
from httpx_sse import EventSource, ServerSentEvent, SSEError

from .client_discovery import ServerAddress
from .client_errors import CondaStoreClientError, ServerUnreachable

FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELED")
CONNECT_TIMEOUT = 10.0
STREAM_TIMEOUT = 3600.0  # silence on a log stream before it is dropped and resumed
RECONNECTS = 5  # consecutive failed reconnections of a log stream before giving up
RECONNECT_DELAY = 1.0
# How a log stream that cannot be reached is retried (tenacity): at a constant delay, and the
# last failure raised as it is.
RECONNECT_POLICY: dict[str, Any] = {
    "retry": tenacity.retry_if_exception_type(ServerUnreachable),
    "stop": tenacity.stop_after_attempt(RECONNECTS + 1),
    "wait": tenacity.wait_fixed(RECONNECT_DELAY),
    "reraise": True,
}

R = TypeVar("R")


@dataclass(frozen=True)
class Call:
    """One request. `result`: the envelope's `data`, the whole JSON document, the text, or the
    bytes. A `bytes` body is sent as is (an archive), anything else as JSON."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Any = None
    result: Literal["data", "json", "text", "bytes"] = "data"


@dataclass(frozen=True)
class Follow:
    """Follow a build's log stream until the build ends (the driver answers True) or `timeout`
    seconds pass (False)."""

    build_id: int
    on_line: Callable[[str], None] | None
    on_status: Callable[[str], None] | None
    timeout: float | None = None


Operation = Generator["Call | Follow", Any, R]


def path(*segments: str | int) -> str:
    return "".join(f"{quote(str(segment), safe='')}/" for segment in segments)


_ssl_context: ssl.SSLContext | None = None


def _verify() -> ssl.SSLContext:
    """The system's trust store (as Python's own clients use), made once per process."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


@dataclass
class Endpoint:
    """A server's API: its address and token, and what every request and answer go through."""

    server: ServerAddress
    timeout: float
    primary_namespace: str | None = field(default=None, repr=False)  # the caller's, once asked

    @property
    def api_url(self) -> str:
        return f"{self.server.url}api/v1/"

    def client_options(self) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self.server.token:
            headers["Authorization"] = f"token {self.server.token}"
        return {
            "base_url": self.api_url,
            "headers": headers,
            "verify": _verify(),
            "follow_redirects": True,
            "timeout": httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT),
        }

    def request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        call: Call,
        *,
        read_timeout: float | None = None,
    ) -> httpx.Request:
        params = {key: value for key, value in (call.params or {}).items() if value is not None}
        options: dict[str, Any] = {"params": params}
        if isinstance(call.body, bytes):
            options["content"] = call.body
            options["headers"] = {"Content-Type": "application/octet-stream"}
        elif call.body is not None:
            options["json"] = call.body
        if read_timeout is not None:
            options["timeout"] = httpx.Timeout(
                self.timeout, connect=CONNECT_TIMEOUT, read=read_timeout
            )
        return http.build_request(call.method, call.path, **options)

    def unreachable(self, error: Exception) -> ServerUnreachable:
        return ServerUnreachable(self.server.url, str(error) or type(error).__name__)

    def result(self, call: Call, response: httpx.Response) -> Any:
        """The answer to `call`; an error answer raises `CondaStoreClientError` with the server's
        message."""
        self.check(response)
        if call.result == "text":
            return response.content.decode("utf-8", errors="replace")
        if call.result == "bytes":
            return response.content
        try:
            document = json.loads(response.content)
        except ValueError:
            raise CondaStoreClientError(
                f"{self.api_url}{call.path} did not answer JSON; is it conda-store?"
            ) from None
        return document.get("data") if call.result == "data" else document

    def check(self, response: httpx.Response) -> None:
        """Raise the error of an error answer (whose body has been read)."""
        if response.status_code < 400:
            return
        try:
            message = json.loads(response.content)["message"]
        except (ValueError, KeyError, TypeError):
            message = None
        if not message:  # not the API's envelope: a proxy's page, or a server without the API
            message = f"{response.reason_phrase or 'error'} from {self.api_url}"
            if response.status_code == 404:
                message += "; is conda-store-jupyter enabled on that server?"
        elif response.status_code == 403 and message == "Forbidden":
            message = "Forbidden: the token was refused, or it may not do this"
        raise CondaStoreClientError(message, response.status_code)

    def not_a_stream(self, follow: Follow) -> CondaStoreClientError:
        return CondaStoreClientError(
            f"{self.api_url}{self.log_stream(follow).path} did not answer an event stream; "
            "is it conda-store?"
        )

    @staticmethod
    def log_stream(follow: Follow, offset: int = 0) -> Call:
        return Call("GET", path("build", follow.build_id, "logs", "stream"), {"offset": offset})


class _Expired(Exception):
    """The time given to a `Follow` ran out."""


class LogFollower:
    """Where a build's log stream is, across reconnections: events in, callbacks out."""

    def __init__(self, follow: Follow) -> None:
        self.follow = follow
        self.offset = 0  # byte offset after the last line received: where to resume
        self.last_status: str | None = None
        self.ended = False
        self.received = False  # anything on the current connection

    def call(self) -> Call:
        self.received = False
        return Endpoint.log_stream(self.follow, self.offset)

    def handle(self, event: ServerSentEvent) -> None:
        self.received = True
        if event.event == "log":
            self.offset = int(event.id) if event.id and event.id.isdigit() else self.offset
            if self.follow.on_line is not None:
                self.follow.on_line(event.data)
        elif event.event in ("status", "end"):
            status = json.loads(event.data)["status"]
            self.ended = event.event == "end"
            # The server says a build is final before sending its last lines: report the final
            # state at the end, after them.
            if status != self.last_status and (self.ended or status not in FINAL_STATUSES):
                if self.follow.on_status is not None:
                    self.follow.on_status(status)
                self.last_status = status


# -- blocking -----------------------------------------------------------------------------------
def run(endpoint: Endpoint, operation: Operation[R]) -> R:
    """Drive an API call with a blocking `httpx.Client`, in the calling thread."""
    with httpx.Client(**endpoint.client_options()) as http:
        answer: Any = None
        try:
            while True:
                step = operation.send(answer)
                if isinstance(step, Follow):
                    answer = _follow(endpoint, http, step)
                else:
                    answer = _send(endpoint, http, step)
        except StopIteration as stop:
            return stop.value
        finally:
            operation.close()


def _send(endpoint: Endpoint, http: httpx.Client, call: Call) -> Any:
    try:
        response = http.send(endpoint.request(http, call))
    except httpx.TransportError as error:
        raise endpoint.unreachable(error) from None
    return endpoint.result(call, response)


def _follow(endpoint: Endpoint, http: httpx.Client, follow: Follow) -> bool:
    deadline = None if follow.timeout is None else time.monotonic() + follow.timeout
    follower = LogFollower(follow)
    try:
        while not follower.ended:
            for attempt in tenacity.Retrying(**RECONNECT_POLICY):
                with attempt:
                    _stream(endpoint, http, follower, deadline)
            if not follower.ended:
                time.sleep(RECONNECT_DELAY)
    except _Expired:
        return False
    return True


def _stream(
    endpoint: Endpoint, http: httpx.Client, follower: LogFollower, deadline: float | None
) -> None:
    """One connection to the log stream; a drop after some events returns (to resume), before
    any raises `ServerUnreachable` (to retry)."""
    read_timeout = STREAM_TIMEOUT
    if deadline is not None:
        read_timeout = min(read_timeout, deadline - time.monotonic())
        if read_timeout <= 0:
            raise _Expired
    request = endpoint.request(http, follower.call(), read_timeout=read_timeout)
    try:
        response = http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                response.read()
                endpoint.check(response)
            for event in EventSource(response).iter_sse():
                follower.handle(event)
                if deadline is not None and time.monotonic() >= deadline and not follower.ended:
                    raise _Expired
        finally:
            response.close()
    except httpx.TransportError as error:
        if deadline is not None and time.monotonic() >= deadline:
            raise _Expired from None
        if not follower.received:
            raise endpoint.unreachable(error) from None
    except SSEError:
        raise endpoint.not_a_stream(follower.follow) from None


# -- async --------------------------------------------------------------------------------------
async def arun(endpoint: Endpoint, operation: Operation[R]) -> R:
    """Drive an API call with an `httpx.AsyncClient` on the running event loop."""
    async with httpx.AsyncClient(**endpoint.client_options()) as http:
        answer: Any = None
        try:
            while True:
                step = operation.send(answer)
                if isinstance(step, Follow):
                    answer = await _afollow(endpoint, http, step)
                else:
                    answer = await _asend(endpoint, http, step)
        except StopIteration as stop:
            return stop.value
        finally:
            operation.close()


async def _asend(endpoint: Endpoint, http: httpx.AsyncClient, call: Call) -> Any:
    try:
        response = await http.send(endpoint.request(http, call))
    except httpx.TransportError as error:
        raise endpoint.unreachable(error) from None
    return endpoint.result(call, response)


async def _afollow(endpoint: Endpoint, http: httpx.AsyncClient, follow: Follow) -> bool:
    follower = LogFollower(follow)

    async def follow_to_the_end() -> None:
        while not follower.ended:
            async for attempt in tenacity.AsyncRetrying(**RECONNECT_POLICY):
                with attempt:
                    await _astream(endpoint, http, follower)
            if not follower.ended:
                await asyncio.sleep(RECONNECT_DELAY)

    try:
        await asyncio.wait_for(follow_to_the_end(), follow.timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def _astream(endpoint: Endpoint, http: httpx.AsyncClient, follower: LogFollower) -> None:
    """`_stream`, async; the caller enforces the time limit."""
    request = endpoint.request(http, follower.call(), read_timeout=STREAM_TIMEOUT)
    try:
        response = await http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                endpoint.check(response)
            async for event in EventSource(response).aiter_sse():
                follower.handle(event)
        finally:
            await response.aclose()
    except httpx.TransportError as error:
        if not follower.received:
            raise endpoint.unreachable(error) from None
    except SSEError:
        raise endpoint.not_a_stream(follower.follow) from None
