"""The errors of the Python client (`conda_store_jupyter.client` exports them)."""

from __future__ import annotations

from typing import Any


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
