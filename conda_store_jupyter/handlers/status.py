"""GET `api/v1/` (is the service up, which version), GET `permission/` (what may I do), and
the answer to every route when the extension could not start."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import __version__
from ..api_models import Version
from ..api_tokens import Permission
from .base import CondaStoreHandler


class StatusHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish_ok(Version(version=__version__))


class PermissionHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        caller = self.caller
        self.finish_ok(
            Permission(
                authenticated=True,
                username=caller.username,
                primary_namespace=self.primary_namespace,
                entity_permissions={
                    pattern: sorted(permissions) for pattern, permissions in caller.bindings
                },
                entity_roles={pattern: list(roles) for pattern, roles in caller.roles},
                expiration=self.minted_token.expires_on if self.minted_token is not None else None,
            )
        )


class UnavailableHandler(CondaStoreHandler):
    """Every route while the extension could not start (a configuration error): 503 with the
    reason, so that the panel and clients say what to fix instead of "not found"."""

    async def _unavailable(self, *_args: str) -> None:
        raise web.HTTPError(503, self.settings["conda_store_startup_error"])

    get = post = put = patch = delete = web.authenticated(authorized(_unavailable))
