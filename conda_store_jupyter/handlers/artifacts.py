"""Build artifacts as downloads: the file itself, its content type and a file name to save as."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

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
    if kind == "archive":
        path = Path(await handler.run(handler.service.ensure_archive, build_id))
    else:
        path = handler.service.layout.artifact_path(build_id, kind)
    if not path.is_file():
        raise NotFound(f"build {build_id} has no {kind} ({build.status.value})")
    handler.set_header("Content-Type", content_type)
    handler.set_header(
        "Content-Disposition", f'attachment; filename="{build.environment_name}-{build_id}{suffix}"'
    )
    # Exactly the bytes the file had when opened: a running build's log grows while it is
    # sent, and more bytes than Content-Length would abort the connection. (Other artifacts are
    # replaced by rename, so the open file never changes.)
    with open(path, "rb") as file:  # noqa: ASYNC230 -- open is instant; reads go to a thread
        remaining = os.fstat(file.fileno()).st_size
        handler.set_header("Content-Length", str(remaining))
        # Large files go out in chunks read off the event loop.
        while remaining > 0:
            chunk = await asyncio.to_thread(file.read, min(CHUNK, remaining))
            if not chunk:  # cut shorter meanwhile: what was promised cannot be sent
                raise web.HTTPError(
                    500, f"build {build_id}'s {kind} was truncated while being sent"
                )
            remaining -= len(chunk)
            handler.write(chunk)
            await handler.flush()
    # An empty file flushes nothing: without this APIHandler.finish labels it application/json.
    handler.finish(set_content_type=content_type)
