"""Namespaces: list, get, create, delete."""

from collections.abc import Callable

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import NotFound
from ..service.revision import NAMESPACES
from .base import CondaStoreHandler


class NamespaceListHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = self.page_argument()
        caller = self.caller
        if await self.answered_unchanged(caller, NAMESPACES):
            return
        namespaces, count = await self.run(self.service.page_namespaces, caller, page)
        self.finish_page(namespaces, count, page)


class NamespaceHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, namespace: str) -> None:
        name = self.name_argument("namespace", namespace)
        caller = self.caller
        if not caller.can("namespace::read", name):
            raise NotFound(f"namespace {name!r} does not exist")  # don't reveal what exists
        if await self.answered_unchanged(caller, NAMESPACES):
            return
        self.finish_ok(await self.run(self.service.get_namespace, name))

    @web.authenticated
    @authorized
    async def post(self, namespace: str) -> None:
        await self._change(namespace, "namespace::create", self.service.create_namespace)

    @web.authenticated
    @authorized
    async def delete(self, namespace: str) -> None:
        await self._change(namespace, "namespace::delete", self.service.delete_namespace)

    async def _change(
        self, namespace: str, permission: str, operation: Callable[[str], None]
    ) -> None:
        name = self.name_argument("namespace", namespace)
        self.caller.require(permission, name)
        await self.run(operation, name)
        self.finish_ok()
