"""Build artifacts as downloads: the file itself, its content type and a file name to save as;
or, for an artifact kept in a bucket (storage.py), a redirect to a presigned URL of it."""

from __future__ import annotations

import asyncio
import os
from typing import BinaryIO

from tornado import web

from ..api_models import Build
from ..errors import NotFound
from .base import CondaStoreHandler

CHUNK = 1 << 20

# kind in the URL (the store's artifact kinds) → (content type, download suffix)
ARTIFACTS = {
    "logs": ("text/plain; charset=utf-8", ".log"),
    "lockfile": ("text/yaml; charset=utf-8", "-conda-lock.yml"),
    "yaml": ("text/yaml; charset=utf-8", ".yaml"),
    "explicit": ("text/plain; charset=utf-8", "-explicit.txt"),
    "archive": ("application/gzip", ".tar.gz"),
}


async def readable_build(handler: CondaStoreHandler, build_id: int) -> Build:
    """The build, if the caller may read its environment; otherwise it looks missing (404)."""
    build = await handler.run(handler.service.get_build, build_id)
    if not handler.caller.can("environment::read", build.namespace, build.environment_name):
        raise NotFound(f"build {build_id} does not exist")
    return build


async def send_artifact(handler: CondaStoreHandler, build_id: int, kind: str) -> None:
    build = await readable_build(handler, build_id)
    content_type, suffix = ARTIFACTS[kind]
    service = handler.service
    if kind == "archive":
        await handler.run(service.ensure_archive, build_id)
    filename = f"{build.environment_name}-{build_id}{suffix}"
    path = service.layout.artifact_path(build_id, kind)
    file = None
    # In a bucket (storage.py): the client fetches it there, with a presigned URL.
    url = await handler.run(service.storage.download_url, service.layout, build_id, kind, filename)
    if url is None:
        try:
            file = open(path, "rb")  # noqa: ASYNC230, SIM115 -- instant; reads go to a thread
        except FileNotFoundError:  # published to the bucket since: ask again
            url = await handler.run(
                service.storage.download_url, service.layout, build_id, kind, filename
            )
    if url is not None:
        handler.redirect(url, status=307)
        return
    if file is None:
        raise NotFound(f"build {build_id} has no {kind} ({build.status.value})")
    with file:
        handler.set_header("Content-Type", content_type)
        handler.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        await _send_file(handler, file, build_id, kind)
    # An empty file flushes nothing: without this APIHandler.finish labels it application/json.
    handler.finish(set_content_type=content_type)


async def _send_file(handler: CondaStoreHandler, file: BinaryIO, build_id: int, kind: str) -> None:
    # Exactly the bytes the file had when opened: a running build's log grows while it is
    # sent, and more bytes than Content-Length would abort the connection. (Other artifacts are
    # replaced by rename, so the open file never changes.)
    remaining = os.fstat(file.fileno()).st_size
    handler.set_header("Content-Length", str(remaining))
    # Large files go out in chunks read off the event loop.
    while remaining > 0:
        chunk = await asyncio.to_thread(file.read, min(CHUNK, remaining))
        if not chunk:  # cut shorter meanwhile: what was promised cannot be sent
            raise web.HTTPError(500, f"build {build_id}'s {kind} was truncated while being sent")
        remaining -= len(chunk)
        handler.write(chunk)
        await handler.flush()
