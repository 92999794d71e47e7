"""Builds: list, get, rebuild, cancel, restore, delete, packages, artifacts, logs (polled and
live), diff."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TypeVar

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..api_records import BuildKernel
from ..db import BuildStatus
from ..service.revision import BUILDS
from .artifacts import readable_build, send_artifact
from .base import CondaStoreHandler, parse_integer
from .environments import status_argument

FINAL = (BuildStatus.COMPLETED, BuildStatus.FAILED, BuildStatus.CANCELED)
LOG_POLL_SECONDS = 0.2
T = TypeVar("T")


async def act_on_build(
    handler: CondaStoreHandler, build_id: str, permission: str, operation: Callable[[int], T]
) -> T:
    """`operation` on a build the caller may read, if they hold `permission` in its environment
    (a build one may not read is "not found", whatever the permission)."""
    build = await readable_build(handler, handler.id_argument(build_id))
    handler.caller.require(permission, build.namespace, build.environment_name)
    return await handler.run(operation, build.id)


class BuildListHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = self.page_argument()
        environment_id = self.get_argument("environment_id", None)
        filters = {
            "status": status_argument(self),
            "environment_id": self.int_argument("environment_id", 0) if environment_id else None,
            "namespace": self.optional_name_argument("namespace", "namespace"),
            "name": self.optional_name_argument("environment", "name"),
            "packages": self.list_argument("packages"),
            "artifact": self.get_argument("artifact", None),
        }
        caller = self.caller
        if await self.answered_unchanged(caller, BUILDS, filters["namespace"]):
            return
        builds, count = await self.run(self.service.page_builds, caller, page, **filters)
        self.finish_page(builds, count, page)


class BuildHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, build_id: str) -> None:
        build = await readable_build(self, self.id_argument(build_id))
        # A failed solve, explained at the lines of the specification (one build, not lists).
        problems = await self.service.build_problems(build)
        self.finish_ok(build.model_copy(update={"problems": problems}) if problems else build)

    @web.authenticated
    @authorized
    async def put(self, build_id: str) -> None:
        """Rebuild: a new build of the same specification."""
        new = await act_on_build(self, build_id, "environment::update", self.service.rebuild)
        self.finish_ok({"build_id": new.id}, message="rebuild triggered")

    @web.authenticated
    @authorized
    async def delete(self, build_id: str) -> None:
        await act_on_build(self, build_id, "build::delete", self.service.delete_build)
        self.finish_ok()


class BuildCancelHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def put(self, build_id: str) -> None:
        canceled = await act_on_build(self, build_id, "build::cancel", self.service.cancel_build)
        self.finish_ok(canceled, message="build canceled")


class BuildRestoreHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self, build_id: str) -> None:
        """A collected build reinstalled from its lock file (service/lifecycle.py)."""
        restoring = await act_on_build(
            self, build_id, "environment::update", self.service.restore_build
        )
        self.finish_ok(restoring, message="restore queued")


class BuildRecordHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, build_id: str) -> None:
        """What a notebook records of this build (service/records.py)."""
        build = await readable_build(self, self.id_argument(build_id))
        self.finish_ok(await self.run(self.service.build_record, build.id))


class BuildKernelHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self, build_id: str) -> None:
        """A kernel of this very build, for a notebook recorded on it (service/records.py)."""
        build = await readable_build(self, self.id_argument(build_id))
        ready = await self.run(self.service.request_build_kernel, build.id)
        registry = self.settings["conda_store_kernels"]
        name = registry.kernel_name(build.namespace, build.environment_name, build.id)
        self.finish_ok(
            BuildKernel(kernel_name=name, build_id=build.id, restoring=not ready),
            message="the kernel is registered once the build is restored" if not ready else None,
        )


class BuildPackagesHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, build_id: str) -> None:
        build = await readable_build(self, self.id_argument(build_id))
        page = self.page_argument()
        packages, count = await self.run(
            self.service.page_packages, build.id, page, self.get_argument("search", None)
        )
        self.finish_page(packages, count, page)


class BuildArtifactHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, build_id: str, kind: str) -> None:
        await send_artifact(self, self.id_argument(build_id), kind)


class BuildLogHandler(CondaStoreHandler):
    """The log as text: whole, or from `?offset=` for clients that poll. `X-Log-Offset` says
    where to ask from next time, `X-Build-Status` whether more will come."""

    @web.authenticated
    @authorized
    async def get(self, build_id: str) -> None:
        if self.get_argument("offset", None) is None:
            await send_artifact(self, self.id_argument(build_id), "logs")
            return
        build = await readable_build(self, self.id_argument(build_id))
        offset = self.int_argument("offset", 0)
        data, next_offset = await self.run(self.service.read_log, build.id, offset, known=True)
        self.set_header("X-Log-Offset", str(next_offset))
        self.set_header("X-Build-Status", build.status.value)
        # APIHandler.finish would otherwise label the text application/json.
        self.finish(data, set_content_type="text/plain; charset=utf-8")


class BuildLogStreamHandler(CondaStoreHandler):
    """The log pushed as server-sent events: everything from `?offset=` (or `Last-Event-ID`),
    then each new line as it is written; a `status` event whenever the build's state changes,
    and an `end` event with the final status closes it. Each `log` event carries one line; its
    id is the byte offset after that line (resume with `Last-Event-ID` or `?offset=`)."""

    @web.authenticated
    @authorized
    async def get(self, build_id: str) -> None:
        build = await readable_build(self, self.id_argument(build_id))
        # Every event id this stream sends is a byte offset: any other Last-Event-ID is refused
        # by the same rule as every number of the API (ASCII digits, bounded).
        resume = self.request.headers.get("Last-Event-ID")
        offset = (
            parse_integer("Last-Event-ID", resume) if resume else self.int_argument("offset", 0)
        )
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # proxies must not hold lines back
        last_status = None
        try:
            while True:
                # Status first: a build seen final has written its last line before, so the
                # read after it gets everything.
                status = await self.run(self.service.build_status, build.id)
                if status != last_status:
                    self.write(f"event: status\ndata: {json.dumps({'status': status.value})}\n\n")
                    last_status = status
                data, _ = await self.run(self.service.read_log, build.id, offset, known=True)
                for raw in data.splitlines(keepends=True):
                    offset += len(raw)
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    self.write(f"event: log\nid: {offset}\ndata: {line}\n\n")
                if status in FINAL:
                    self.write(f"event: end\ndata: {json.dumps({'status': status.value})}\n\n")
                    await self.flush()
                    break
                await self.flush()
                await asyncio.sleep(LOG_POLL_SECONDS)
        except StreamClosedError:
            return  # the client went away
        self.finish()


class BuildDiffHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, build_id: str, other_id: str) -> None:
        old = await readable_build(self, self.id_argument(build_id))
        new = await readable_build(self, self.id_argument(other_id))
        self.finish_ok(await self.run(self.service.diff_builds, old.id, new.id))
