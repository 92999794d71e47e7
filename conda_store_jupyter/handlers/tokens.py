"""POST token/: a scoped, expiring token for scripts and CI (conda-store's route and body)."""

import datetime

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api_tokens import Token
from ..auth import effective_bindings
from ..db import utcnow
from ..errors import SpecError
from ..service.tokens import parse_expiration
from .base import CondaStoreHandler


class TokenHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body(allowed={"primary_namespace", "expiration", "role_bindings"})
        primary = body.get("primary_namespace") or self.primary_namespace
        if not isinstance(primary, str):
            raise SpecError("primary_namespace must be a namespace name")
        # A token never outlives the credentials it was minted with.
        not_after = (
            self.minted_token.expires_on
            if self.minted_token is not None
            else utcnow() + datetime.timedelta(seconds=self.conda_store.token_max_lifetime)
        )
        caller_bindings, _ = effective_bindings(self.current_user, self.bindings)
        token, identity = await self.run(
            self.service.mint_token,
            self.caller,
            caller_bindings,
            primary_namespace=primary,
            not_after=not_after,
            expiration=parse_expiration(body.get("expiration")),
            role_bindings=body.get("role_bindings"),
        )
        self.finish_ok(Token(token=token, expiration=identity.expires_on))
