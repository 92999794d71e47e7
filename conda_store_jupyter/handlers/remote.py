"""Remote mode: this server's conda-store API forwarded to a central service.

In a JupyterHub user's server (CondaStore.remote_url, from $CONDA_STORE_URL, which the spawner
sets), nothing is built and no store is kept here: every request of the API, from the panel,
the Python client or the CLI, goes to the central service with this server's credential (the
user's hub token), so the browser never logs in twice and the central service sees this user.
Answers are streamed back as they come (the live log is a stream of server-sent events).
"""

from __future__ import annotations

import json

import httpx
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.iostream import StreamClosedError

from ..client_discovery import ServerAddress
from .base import AUTH_RESOURCE

# What the central service says that the caller needs, beside the body.
PASSED_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Content-Encoding",
    "Cache-Control",
    "ETag",
    "Location",
    "X-Log-Offset",
    "X-Build-Status",
    "X-Accel-Buffering",
)
SENT_HEADERS = ("Content-Type", "Last-Event-ID", "If-None-Match", "Accept")


def remote_client() -> httpx.AsyncClient:
    # No read timeout: a log stream stays open as long as its build runs.
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None), follow_redirects=False)


class RemoteStoreHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def remote(self) -> ServerAddress:
        return self.settings["conda_store_remote"]

    @web.authenticated
    @authorized
    async def get(self, path: str | None = None) -> None:
        await self._forward(path)

    post = put = patch = delete = get

    async def _forward(self, path: str | None) -> None:
        url = f"{self.remote.url}api/v1{path or '/'}"
        headers = {
            name: self.request.headers[name]
            for name in SENT_HEADERS
            if name in self.request.headers
        }
        if self.remote.token:
            headers["Authorization"] = f"token {self.remote.token}"
        client: httpx.AsyncClient = self.settings["conda_store_remote_client"]
        request = client.build_request(
            self.request.method or "GET",
            url,
            params=self.request.query_arguments and self.request.query,
            content=self.request.body or None,
            headers=headers,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as error:
            self.set_status(502)
            self.set_header("Content-Type", "application/json")
            message = f"the central conda-store at {self.remote.url} is not reachable: {error}"
            self.finish(json.dumps({"status": "error", "message": message}))
            return
        try:
            self.set_status(response.status_code)
            for name in PASSED_HEADERS:
                if name in response.headers:
                    self.set_header(name, response.headers[name])
            async for chunk in response.aiter_raw():
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            return  # the browser went away: so does our request upstream
        finally:
            await response.aclose()
        self.finish()
