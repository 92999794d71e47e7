"""Authorizers and identity providers used by tests through `ServerApp.authorizer_class` and
`ServerApp.identity_provider_class`."""

from dataclasses import dataclass, field

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import User

from conda_store_jupyter.standalone import StandaloneIdentityProvider


class DenyAllAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:
        return False


@dataclass
class HubModelUser(User):
    """A user carrying JupyterHub's user model as JupyterHub's identity provider attaches it
    (`hub_user`: name, groups, admin), for tests of the bindings that depend on it; the real
    hub is tested in the JupyterHub integration tests."""

    hub_user: dict = field(default_factory=dict)


class NamedUserIdentityProvider(StandaloneIdentityProvider):
    """Test only, for `jupyter conda-store`: `Authorization: token user-<name>` is the user
    <name>, with the store's role bindings; `user-<name>+<group>+<group>` the same user in those
    hub groups, `hubadmin-<name>` a hub admin. The server's own token is still the store's
    administrator."""

    async def get_user_token(self, handler):
        given = self.get_token(handler) or ""
        for prefix, admin in (("user-", False), ("hubadmin-", True)):
            if given.startswith(prefix) and len(given) > len(prefix):
                name, *groups = given[len(prefix) :].split("+")
                model = {"name": name, "groups": groups, "admin": admin}
                return HubModelUser(username=name, hub_user=model)
        return await super().get_user_token(handler)
