"""Namespaces: list, get, create, delete."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api_models import namespace_json
from ..errors import NotFound
from .base import CondaStoreHandler


class NamespaceListHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = self.page_argument()
        namespaces, count = await self.run(self.service.page_namespaces, self.caller, page)
        self.finish_page([namespace_json(n) for n in namespaces], count, page)


class NamespaceHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self, namespace: str) -> None:
        name = self.name_argument("namespace", namespace)
        if not self.caller.can("namespace::read", name):
            raise NotFound(f"namespace {name!r} does not exist")  # don't reveal what exists
        self.finish_ok(namespace_json(await self.run(self.service.get_namespace, name)))

    @web.authenticated
    @authorized
    async def post(self, namespace: str) -> None:
        name = self.name_argument("namespace", namespace)
        self.caller.require("namespace::create", name)
        await self.run(self.service.create_namespace, name)
        self.finish_ok()

    @web.authenticated
    @authorized
    async def delete(self, namespace: str) -> None:
        name = self.name_argument("namespace", namespace)
        self.caller.require("namespace::delete", name)
        await self.run(self.service.delete_namespace, name)
        self.finish_ok()
