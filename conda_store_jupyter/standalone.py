"""Who may do what on `jupyter conda-store`, the standalone service: its Authorizer and its
IdentityProvider, which `CondaStoreApp` installs by default when it is the app that was started
(`ServerApp.authorizer_class` / `ServerApp.identity_provider_class` set in any config replace
them). Under `jupyter lab` or `jupyter server` neither is used.

- `StandaloneAuthorizer`: the service serves this extension's API only. Jupyter Server asks the
  authorizer about every route decorated `@authorized`; this one allows this extension's resource
  (`conda_store`, where the store's roles decide) and `GET /api/status`, and refuses everything
  else with 403, for every user: kernels, terminals, sessions, contents, files, view, kernelspecs,
  config, nbconvert, events, shutdown, `api/spec.yaml`, `api/resolvePath`, and the routes of any
  other extension an operator enables. Jupyter Server answers a few routes without asking the
  authorizer: `/api` (its version), `/api/me` (the caller's own identity), `/login`, `/logout`,
  `/metrics` and static files; none of them reaches a kernel, a file or the store.
- `StandaloneIdentityProvider`: Jupyter Server's password/token provider, except that the holder
  of the server's token (or of its password) is one stable user, the store's administrator
  (named `admin_username`, by default the OS user running the server), admin of every namespace
  whatever `CondaStore.role_bindings` says. Jupyter Server would give every token request a new
  random name, to which no binding can refer. Administration is a mark on the user object
  (`auth.STORE_ADMIN_ATTRIBUTE`), never a name: another identity named like the administrator
  gets only that name's bindings. Other identities come from other identity providers
  (JupyterHub) and keep the configured bindings.

The JupyterHub service mode reuses these: `serves` is the route rule on its own, and
`StoreUser`/`store_admin` the administrator's identity.
"""

from __future__ import annotations

import asyncio
import getpass
import hmac
import json
from dataclasses import dataclass
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyter_server.services.api.handlers import APIStatusHandler
from tornado import web
from traitlets import TraitError, Unicode, default, validate

from .auth import STORE_ADMIN_ATTRIBUTE, is_store_admin
from .handlers.base import AUTH_RESOURCE
from .service.tokens import TOKEN_PREFIX, TokenIdentity


class StandaloneAuthorizer(Authorizer):
    """Allows this extension's API and Jupyter Server's status route; refuses every other route
    of Jupyter Server and of other extensions, whoever asks."""

    def is_authorized(
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        return self.serves(handler, action, resource)

    @staticmethod
    def serves(handler: web.RequestHandler, action: str, resource: str) -> bool:
        """Whether the standalone service answers this route at all (roles are checked later,
        inside this extension)."""
        if resource == AUTH_RESOURCE:
            return True
        # GET /api/status: is the server up (for health checks). Its resource, "api", also
        # covers /api/resolvePath, which looks into the server's files: hence the handler test.
        return resource == "api" and action == "read" and isinstance(handler, APIStatusHandler)


@dataclass
class StoreUser(User):
    """A Jupyter Server user that may be the store's administrator."""

    conda_store_admin: bool = False  # named as auth.STORE_ADMIN_ATTRIBUTE


@dataclass
class TokenUser(User):
    """The user a minted token acts as (service/tokens.py), with the token's bindings."""

    conda_store_token: TokenIdentity | None = None  # named as auth.TOKEN_ATTRIBUTE


async def minted_token_user(handler: web.RequestHandler, given: str | None) -> TokenUser | None:
    """The user of a token minted with `POST token/`, if `given` is one that is valid now."""
    service = handler.settings.get("conda_store_service")
    if not given or not given.startswith(TOKEN_PREFIX) or service is None:
        return None
    identity = await asyncio.to_thread(service.token_identity, given)
    if identity is None:
        return None
    return TokenUser(username=identity.username, conda_store_token=identity)


class StandaloneIdentityProvider(PasswordIdentityProvider):
    """Token and password as Jupyter Server checks them; whoever presents them is the store's
    administrator, under one stable name."""

    admin_username = Unicode(
        help="The name under which the holder of the server's token (or password) is the store's "
        "administrator: admin of every namespace, whatever CondaStore.role_bindings says. "
        "Default: the name of the OS user running the server."
    ).tag(config=True)

    @default("admin_username")
    def _default_admin_username(self) -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (e.g. a container's arbitrary uid)
            return "admin"

    @validate("admin_username")
    def _validate_admin_username(self, proposal: dict) -> str:
        if not proposal["value"].strip():
            raise TraitError("StandaloneIdentityProvider.admin_username must not be empty")
        return proposal["value"]

    def store_admin(self) -> StoreUser:
        """The store's administrator, as a Jupyter Server user."""
        return StoreUser(
            username=self.admin_username,
            name=self.admin_username,
            display_name=f"{self.admin_username} (conda-store admin)",
            conda_store_admin=True,
        )

    async def get_user_token(self, handler: web.RequestHandler) -> User | None:
        """The administrator for the server's own token (in `?token=` or `Authorization`),
        whatever login cookie comes with it; the user a token minted with `POST token/` acts
        as; None for any other token."""
        token = self.token
        given = self.get_token(handler)
        minted = await minted_token_user(handler, given)
        if minted is not None:
            return minted
        if not token or not given:
            return None
        if not hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
        ):
            return None
        self.log.debug("conda-store: the server's token, from %s", handler.request.remote_ip)
        return self.store_admin()

    def process_login_form(self, handler: web.RequestHandler) -> User | None:
        """The login page: the server's token or password logs in the administrator."""
        user = super().process_login_form(handler)
        if user is not None and self.auth_enabled:
            return self.store_admin()
        return user

    def generate_anonymous_user(self, handler: web.RequestHandler) -> User:
        """With authentication disabled (no token, no password) there is no credential to
        hold: whoever connects is the administrator, as Jupyter Server lets them run anything."""
        if not self.auth_enabled:
            return self.store_admin()
        return super().generate_anonymous_user(handler)

    # The login cookie carries the mark, so a browser that logged in with the token stays the
    # administrator. The cookie is signed with the server's cookie secret, which includes the
    # token (cookie_secret_hook): a new token ends the old holder's sessions.
    def user_to_cookie(self, user: User) -> str:
        data = json.loads(super().user_to_cookie(user))
        data[STORE_ADMIN_ATTRIBUTE] = is_store_admin(user)
        return json.dumps(data)

    def user_from_cookie(self, cookie_value: str) -> User | None:
        user = super().user_from_cookie(cookie_value)
        data: Any = json.loads(cookie_value)
        if user is not None and isinstance(data, dict) and data.get(STORE_ADMIN_ATTRIBUTE) is True:
            return self.store_admin()
        return user

    def cookie_secret_hook(self, h: hmac.HMAC) -> hmac.HMAC:
        h = super().cookie_secret_hook(h)
        h.update(self.token.encode("utf-8", "surrogatepass"))
        return h
