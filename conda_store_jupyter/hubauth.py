"""The identity provider and authorizer of `jupyter conda-store` as a JupyterHub service (see
hub.py): JupyterHub's own, narrowed to this extension's API, plus minted tokens."""

from __future__ import annotations

from jupyter_server.auth.identity import User
from jupyterhub.singleuser.extension import JupyterHubAuthorizer, JupyterHubIdentityProvider
from tornado import web

from .auth import TOKEN_ATTRIBUTE
from .standalone import StandaloneAuthorizer, minted_token_user


class HubServiceIdentityProvider(JupyterHubIdentityProvider):
    async def get_user(self, handler: web.RequestHandler) -> User | None:
        minted = await minted_token_user(handler, self.get_token(handler))
        if minted is not None:
            handler._token_authenticated = True  # type: ignore[attr-defined] -- no XSRF needed
            return minted
        return await super().get_user(handler)


class HubServiceAuthorizer(JupyterHubAuthorizer):
    def is_authorized(
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        if not StandaloneAuthorizer.serves(handler, action, resource):
            return False
        if getattr(user, TOKEN_ATTRIBUTE, None) is not None:
            return True  # minted by a user the hub let in; its bindings limit it
        return super().is_authorized(handler, user, action, resource)
