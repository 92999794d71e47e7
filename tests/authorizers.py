"""Authorizers and identity providers used by tests through `ServerApp.authorizer_class` and
`ServerApp.identity_provider_class`."""

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import User

from conda_store_jupyter.standalone import StandaloneIdentityProvider


class DenyAllAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:
        return False


class NamedUserIdentityProvider(StandaloneIdentityProvider):
    """Test only, for `jupyter conda-store`: `Authorization: token user-<name>` is the user
    <name>, with the store's role bindings (real named users come from JupyterHub). The server's
    own token is still the store's administrator."""

    async def get_user_token(self, handler):
        given = self.get_token(handler) or ""
        if given.startswith("user-") and len(given) > len("user-"):
            return User(username=given[len("user-") :])
        return await super().get_user_token(handler)
