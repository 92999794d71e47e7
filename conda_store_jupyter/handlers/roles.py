"""Namespaces shared with other namespaces: conda-store's routes and bodies, so its clients work.

GET    namespace/{ns}/roles                       every mapping of ns
DELETE namespace/{ns}/roles                       all of them
GET    namespace/{ns}/role?other_namespace=bob    one
POST   namespace/{ns}/role {other_namespace, role}
PUT    namespace/{ns}/role {other_namespace, role}
DELETE namespace/{ns}/role {other_namespace}
"""

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import NotFound, SpecError
from .base import CondaStoreHandler


class _NamespaceRoles(CondaStoreHandler):
    def _namespace(self, namespace: str, permission: str) -> str:
        """The namespace, once the caller may act on its mappings (404 if they may not even
        read it, as for every namespace they cannot see)."""
        name = self.name_argument("namespace", namespace)
        if not self.caller.can("namespace::read", name):
            raise NotFound(f"namespace {name!r} does not exist")
        self.caller.require(permission, name)
        return name

    def _change(self, *, role: bool) -> tuple[str, str | None]:
        fields = {"other_namespace", "role"} if role else {"other_namespace"}
        body = self.json_body(allowed={"other_namespace", "role"}, required=fields)
        other = body["other_namespace"]
        if not isinstance(other, str):
            raise SpecError("other_namespace must be a namespace name")
        return self.name_argument("other_namespace", other), body.get("role")


class NamespaceRolesHandler(_NamespaceRoles):
    @web.authenticated
    @authorized
    async def get(self, namespace: str) -> None:
        name = self._namespace(namespace, "namespace-role-mapping::read")
        self.finish_ok(await self.run(self.service.namespace_roles, name))

    @web.authenticated
    @authorized
    async def delete(self, namespace: str) -> None:
        name = self._namespace(namespace, "namespace-role-mapping::delete")
        await self.run(self.service.delete_namespace_roles, name)
        self.finish_ok()


class NamespaceRoleHandler(_NamespaceRoles):
    @web.authenticated
    @authorized
    async def get(self, namespace: str) -> None:
        name = self._namespace(namespace, "namespace-role-mapping::read")
        other = self.optional_name_argument("other_namespace", "other_namespace")
        if other is None:
            raise SpecError("other_namespace is required: ?other_namespace=NAME")
        self.finish_ok(await self.run(self.service.namespace_role, name, other))

    @web.authenticated
    @authorized
    async def post(self, namespace: str) -> None:
        name = self._namespace(namespace, "namespace-role-mapping::create")
        other, role = self._change(role=True)
        await self.run(self.service.create_namespace_role, name, other, role)
        self.finish_ok()

    @web.authenticated
    @authorized
    async def put(self, namespace: str) -> None:
        name = self._namespace(namespace, "namespace-role-mapping::update")
        other, role = self._change(role=True)
        await self.run(self.service.update_namespace_role, name, other, role)
        self.finish_ok()

    @web.authenticated
    @authorized
    async def delete(self, namespace: str) -> None:
        name = self._namespace(namespace, "namespace-role-mapping::delete")
        other, _ = self._change(role=False)
        await self.run(self.service.delete_namespace_role, name, other)
        self.finish_ok()
