"""Environments: list with filters, get, roll back / describe (PUT), delete, current lock file."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..db import BuildStatus
from ..errors import NotFound, SpecError
from ..service.revision import ENVIRONMENTS
from .artifacts import send_artifact
from .base import MAX_ID, CondaStoreHandler


def status_argument(handler: CondaStoreHandler) -> BuildStatus | None:
    raw = handler.get_argument("status", None)
    if raw is None:
        return None
    try:
        return BuildStatus(raw.upper())
    except ValueError:
        raise SpecError(
            f"status must be one of {', '.join(s.value for s in BuildStatus)}, got {raw!r}"
        ) from None


class EnvironmentListHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = self.page_argument()
        filters = {
            "namespace": self.optional_name_argument("namespace", "namespace"),
            "name": self.optional_name_argument("environment", "name"),
            "status": status_argument(self),
            "search": self.get_argument("search", None),
            "packages": self.list_argument("packages"),
        }
        caller = self.caller
        if await self.answered_unchanged(caller, ENVIRONMENTS, filters["namespace"]):
            return
        environments, count = await self.run(
            self.service.page_environments, caller, page, **filters
        )
        self.finish_page(environments, count, page)


def readable_environment(handler: CondaStoreHandler, namespace: str, name: str) -> tuple[str, str]:
    """Validated names of an environment the caller may read; others look missing (404)."""
    namespace = handler.name_argument("namespace", namespace)
    name = handler.name_argument("environment", name)
    if not handler.caller.can("environment::read", namespace, name):
        raise NotFound(f"environment {namespace}/{name} does not exist")
    return namespace, name


class EnvironmentHandler(CondaStoreHandler):
    def _names(self, namespace: str, name: str) -> tuple[str, str]:
        return readable_environment(self, namespace, name)

    @web.authenticated
    @authorized
    async def get(self, namespace: str, name: str) -> None:
        namespace, name = self._names(namespace, name)
        if await self.answered_unchanged(self.caller, ENVIRONMENTS, namespace):
            return
        self.finish_ok(await self.run(self.service.get_environment, namespace, name))

    @web.authenticated
    @authorized
    async def put(self, namespace: str, name: str) -> None:
        namespace, name = self._names(namespace, name)
        body = self.json_body({"build_id", "description"})
        if not body:
            raise SpecError("nothing to change: send build_id (roll back) and/or description")
        self.caller.require("environment::update", namespace, name)
        # Everything is checked before anything is written.
        if "description" in body and not isinstance(body["description"], str):
            raise SpecError("description must be a string")
        build_id = body.get("build_id")
        if "build_id" in body:
            if not isinstance(build_id, int) or isinstance(build_id, bool) or build_id < 0:
                raise SpecError("build_id must be a non-negative integer")
            if build_id > MAX_ID:
                raise NotFound(f"build {build_id} does not exist")
            # First: it refuses a build that cannot be made current, before the description
            # changes.
            await self.run(self.service.rollback, namespace, name, build_id)
        if "description" in body:
            await self.run(self.service.update_description, namespace, name, body["description"])
        self.finish_ok(await self.run(self.service.get_environment, namespace, name))

    @web.authenticated
    @authorized
    async def delete(self, namespace: str, name: str) -> None:
        namespace, name = self._names(namespace, name)
        self.caller.require("environment::delete", namespace, name)
        await self.run(self.service.delete_environment, namespace, name)
        self.finish_ok()


class EnvironmentLockfileHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, namespace: str, name: str) -> None:
        namespace, name = readable_environment(self, namespace, name)
        environment = await self.run(self.service.get_environment, namespace, name)
        if environment.current_build_id is None or environment.pending:
            raise NotFound(f"environment {namespace}/{name} has no completed build yet")
        await send_artifact(self, environment.current_build_id, "lockfile")
