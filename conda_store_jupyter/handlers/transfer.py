"""Environments as archives, and copied or renamed (service/transfer.py):

- GET `environment/{ns}/{name}/export/` and `namespace/{ns}/export/`: the archive (a download);
- POST `environment/import/?namespace=&name=`: an archive as the body;
- POST `environment/{ns}/{name}/copy/` and `rename/`: `{namespace, name}`.
"""

from __future__ import annotations

import tempfile

import pydantic
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api_transfer import MoveRequest
from ..errors import SpecError
from .artifacts import CHUNK
from .base import CondaStoreHandler
from .environments import readable_environment

ARCHIVE_TYPE = "application/gzip"
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024


async def send_archive(handler: CondaStoreHandler, targets: list[tuple[str, str]], label: str):
    """Write the archive to a temporary file off the loop, then send it in chunks."""
    with tempfile.TemporaryFile() as archive:
        await handler.run(handler.service.export_environments, targets, archive)
        size = archive.tell()
        archive.seek(0)
        handler.set_header("Content-Type", ARCHIVE_TYPE)
        handler.set_header("Content-Length", str(size))
        handler.set_header(
            "Content-Disposition", f'attachment; filename="{label}.conda-store.tar.gz"'
        )
        while chunk := await handler.run(archive.read, CHUNK):
            handler.write(chunk)
            await handler.flush()
    handler.finish(set_content_type=ARCHIVE_TYPE)


class EnvironmentExportHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, namespace: str, name: str) -> None:
        namespace, name = readable_environment(self, namespace, name)
        await send_archive(self, [(namespace, name)], f"{namespace}-{name}")


class NamespaceExportHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, namespace: str) -> None:
        namespace = self.name_argument("namespace", namespace)
        self.caller.require("namespace::read", namespace)
        everything = await self.run(self.service.namespace_environments, namespace)
        readable = [t for t in everything if self.caller.can("environment::read", *t)]
        await send_archive(self, readable, namespace)


class ImportHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.request.body or b""
        if not body:
            raise SpecError("send the archive (from export/) as the request's body")
        if len(body) > MAX_ARCHIVE_BYTES:
            raise SpecError(f"the archive is larger than {MAX_ARCHIVE_BYTES} bytes")
        namespace = self.optional_name_argument("namespace", "namespace")
        name = self.optional_name_argument("environment", "name")

        def load() -> list:
            with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as archive:
                archive.write(body)
                archive.seek(0)
                return self.service.import_archive(
                    archive, namespace=namespace, name=name, caller=self.caller
                )

        imported = await self.run(load)
        self.finish_ok(imported, message="imported: the current builds are being restored")


class MoveHandler(CondaStoreHandler):
    """`copy/` or `rename/`, the verb in the URL."""

    @web.authenticated
    @authorized
    async def post(self, namespace: str, name: str, verb: str) -> None:
        namespace, name = readable_environment(self, namespace, name)
        try:
            move = MoveRequest.model_validate(self.json_body(set(MoveRequest.model_fields)))
        except pydantic.ValidationError as error:
            raise SpecError(f"invalid {verb} request: {error}") from None
        to_namespace = self.name_argument("namespace", move.namespace or namespace)
        to_name = self.name_argument("environment", move.name or name)
        if (to_namespace, to_name) == (namespace, name):
            raise SpecError(f"{verb}: give another namespace or name")
        self.caller.require("environment::create", to_namespace, to_name)
        if verb == "rename":
            self.caller.require("environment::delete", namespace, name)
            operation, done = self.service.rename_environment, "renamed"
        else:
            operation, done = self.service.copy_environment, "copied"
        await self.run(operation, namespace, name, to_namespace, to_name, self.caller)
        environment = await self.run(self.service.get_environment, to_namespace, to_name)
        self.finish_ok(
            environment, message=f"{done}: {namespace}/{name} → {to_namespace}/{to_name}"
        )
