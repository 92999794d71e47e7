"""Serve a local conda channel over HTTP as a CDN in front of conda-forge does, for tests.

``ChannelServer(directory)`` is a real HTTP/1.1 server (threads, keep-alive) on 127.0.0.1 with a
free port. Like conda-forge's servers it sends ``ETag``, ``Last-Modified`` and
``Cache-Control: public, max-age=N`` and answers ``If-None-Match`` / ``If-Modified-Since`` with
``304 Not Modified``. Options and switches:

* ``sharded=False`` hides the sharded index (``repodata_shards.msgpack.zst`` and ``shards/``),
  ``zst=False`` hides ``repodata.json.zst``: the same directory serves both kinds of channel;
* ``max_age`` (settable at any time), ``etag`` and ``last_modified`` shape the cache headers;
  ``validators_on_304=False`` answers 304 without ETag and Last-Modified, as
  ``python -m http.server`` does (RFC 9110 asks a 304 to repeat the ETag only);
* ``fail(n, status=503)`` answers the next n requests with an error status, ``drop(n)`` closes
  the next n connections without an answer, ``delay(n, seconds)`` answers the next n after a
  pause (a slow mirror: holds a build in its download for as long as a test needs);
  ``stop()`` / ``start()`` take the server down and bring it back on the same port;
* ``requests`` logs every request (method, path, status, conditional headers) for assertions.

``python -m conda_store_jupyter.testing.http_channel DIR [--max-age N]`` serves DIR until
interrupted and prints its URL.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import http.server
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SHARD_INDEX = "repodata_shards.msgpack.zst"
_TYPES = {
    ".json": "application/json",
    ".zst": "application/zstd",
    ".bz2": "application/x-bzip2",
    ".conda": "application/octet-stream",
    ".msgpack": "application/x-msgpack",
}


@dataclass(frozen=True)
class Request:
    """One request the server answered (or dropped: status 0)."""

    method: str
    path: str
    status: int
    if_none_match: str | None = None
    if_modified_since: str | None = None

    @property
    def conditional(self) -> bool:
        return self.if_none_match is not None or self.if_modified_since is not None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    channel: ChannelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up on a request (rattler cancels its other fetches once one
        # fails) is no error of the server's; anything else is.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a CDN: every answer has a Content-Length
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.channel._connections.add(self.connection)

    def finish(self) -> None:
        self.server.channel._connections.discard(self.connection)
        super().finish()

    def log_message(self, *args: Any) -> None:
        pass  # the request log of ChannelServer is what tests read

    # The stdlib's names for the handlers of GET and HEAD.
    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        channel = self.server.channel
        path = unquote(urlsplit(self.path).path)
        injected = channel._take_fault(path)
        if injected is not None and injected.startswith("delay:"):
            time.sleep(float(injected.partition(":")[2]))
            injected = None
        if injected == "drop":
            channel._log(self, path, 0)
            # No answer at all: the client sees the connection close (a crashed backend).
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if injected is not None:
            channel._log(self, path, int(injected))
            self._send_plain(int(injected), f"injected failure {injected}\n", body)
            return
        file = channel._resolve(path)
        if file is None:
            channel._log(self, path, 404)
            self._send_plain(404, "not found\n", body)
            return
        data = file.read_bytes()
        mtime = file.stat().st_mtime
        etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        headers = {}
        if channel.etag:
            headers["ETag"] = etag
        if channel.last_modified:
            headers["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
        if channel.max_age is not None:
            headers["Cache-Control"] = f"public, max-age={channel.max_age}"
        if self._not_modified(etag, mtime, channel):
            channel._log(self, path, 304)
            self.send_response(304)
            for name, value in headers.items():
                if channel.validators_on_304 or name == "Cache-Control":
                    self.send_header(name, value)
            self.send_header("Content-Length", "0")  # 304 has no body; keeps keep-alive safe
            self.end_headers()
            return
        channel._log(self, path, 200)
        self.send_response(200)
        self.send_header("Content-Type", _TYPES.get(file.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _not_modified(self, etag: str, mtime: float, channel: ChannelServer) -> bool:
        # RFC 9110 13.1.2/13.1.3: If-None-Match wins over If-Modified-Since; weak comparison.
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            if not channel.etag:
                return False
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or etag in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is not None and channel.last_modified:
            try:
                since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError):
                return False
            return int(mtime) <= since
        return False

    def _send_plain(self, status: int, text: str, body: bool) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        if status >= 500:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if body:
            self.wfile.write(data)


class ChannelServer:
    """A conda channel directory served over HTTP on 127.0.0.1 (see the module's docstring)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_age: int | None = 60,
        etag: bool = True,
        last_modified: bool = True,
        sharded: bool = True,
        zst: bool = True,
        validators_on_304: bool = True,
        port: int = 0,
    ):
        self.root = Path(directory).resolve()
        self.max_age = max_age
        self.etag = etag
        self.last_modified = last_modified
        self.sharded = sharded
        self.zst = zst
        self.validators_on_304 = validators_on_304
        self.port = port
        self._lock = threading.Lock()
        self._faults: list[tuple[str, str]] = []  # (status or "drop", path suffix)
        self._requests: list[Request] = []
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The channel's URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        if not self.port:
            raise RuntimeError("the server has not been started yet")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChannelServer:
        """Start serving (again, on the same port after `stop`)."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.channel = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"channel-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection: clients see the server down."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ChannelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------
    def fail(self, count: int, status: int = 503, *, suffix: str = "") -> None:
        """Answer the next `count` requests (whose path ends with `suffix`) with `status`."""
        with self._lock:
            self._faults.extend([(str(status), suffix)] * count)

    def drop(self, count: int, *, suffix: str = "") -> None:
        """Close the next `count` connections (asking for a path ending with `suffix`) without
        answering."""
        with self._lock:
            self._faults.extend([("drop", suffix)] * count)

    def delay(self, count: int, seconds: float, *, suffix: str = "") -> None:
        """Answer the next `count` requests (for a path ending with `suffix`) `seconds` late."""
        with self._lock:
            self._faults.extend([(f"delay:{seconds}", suffix)] * count)

    def heal(self) -> None:
        """Forget the faults not yet used."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for index, (fault, suffix) in enumerate(self._faults):
                if path.endswith(suffix):
                    del self._faults[index]
                    return fault
            return None

    # -- the request log -------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def clear_log(self) -> None:
        with self._lock:
            self._requests.clear()

    def _log(self, handler: _Handler, path: str, status: int) -> None:
        request = Request(
            handler.command,
            path,
            status,
            handler.headers.get("If-None-Match"),
            handler.headers.get("If-Modified-Since"),
        )
        with self._lock:
            self._requests.append(request)

    # -- files ---------------------------------------------------------------------------
    def _resolve(self, url_path: str) -> Path | None:
        """The file `url_path` names under the channel, or None (404): hidden files, anything
        outside the channel, and what this server is configured not to have."""
        parts = [part for part in url_path.split("/") if part]
        if not parts or any(part.startswith(".") for part in parts):
            return None
        name = parts[-1]
        if not self.sharded and (name == SHARD_INDEX or "shards" in parts[:-1]):
            return None
        if not self.zst and name == "repodata.json.zst":
            return None
        file = self.root.joinpath(*parts).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            return None
        return file


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m conda_store_jupyter.testing.http_channel",
        description="Serve a conda channel directory over HTTP with CDN-like cache headers.",
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-age", type=int, default=60)
    parser.add_argument("--no-shards", action="store_true", help="hide the sharded index")
    args = parser.parse_args(argv)
    server = ChannelServer(
        args.directory, max_age=args.max_age, sharded=not args.no_shards, port=args.port
    ).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
