"""Tokens for scripts and CI (`POST token/`, conda-store's shape): scoped to role bindings no
wider than the minting caller's, and expiring no later than the caller's own credentials.

A token is `csj_` and 43 random characters; the database keeps only its SHA-256, with whom it
acts as (the minting user and their groups), its primary namespace, its bindings and its expiry.
A request presenting it (`Authorization: token ...` or `Bearer ...`) is that user with exactly
those bindings (auth.caller_for), whatever the configuration or sharing says later.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ..auth import Caller, check_bindings
from ..db import ApiToken, utcnow
from ..errors import SpecError
from ..spec import validate_name
from .base import ServiceBase

TOKEN_PREFIX = "csj_"
DEFAULT_LIFETIME = datetime.timedelta(days=1)


@dataclass(frozen=True)
class TokenIdentity:
    """Who a token acts as, with what (the `conda_store_token` of its request's user)."""

    username: str
    groups: tuple[str, ...]
    primary_namespace: str
    role_bindings: dict[str, list[str]]
    expires_on: datetime.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_expiration(value: object) -> datetime.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpecError("expiration must be an ISO 8601 date and time, e.g. 2026-12-31T00:00:00Z")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(
            f"expiration {value!r} is not an ISO 8601 date and time, e.g. 2026-12-31T00:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


class TokensMixin(ServiceBase):
    def mint_token(
        self,
        caller: Caller,
        caller_bindings: Mapping[str, Sequence[str]],
        *,
        primary_namespace: str,
        not_after: datetime.datetime,
        expiration: datetime.datetime | None = None,
        role_bindings: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[str, TokenIdentity]:
        """A new token for `caller` (whose own bindings are `caller_bindings`), valid until
        `expiration` (default: a day, at most `not_after`) with `role_bindings` (default: the
        caller's). Refused (400, as conda-store does) if it would exceed the caller."""
        validate_name("primary_namespace", primary_namespace)
        now = utcnow()
        expires = expiration or min(now + DEFAULT_LIFETIME, not_after)
        if expires <= now:
            raise SpecError("expiration must be in the future")
        if expires > not_after:
            raise SpecError(
                f"expiration {expires.isoformat()} is later than the caller's own credentials "
                f"allow ({not_after.isoformat()})"
            )
        if role_bindings is None:
            bindings = {pattern: list(roles) for pattern, roles in caller_bindings.items()}
        else:
            bindings = _checked_bindings(role_bindings)
            wider = [
                pattern for pattern, roles in bindings.items() if not caller.grants(pattern, roles)
            ]
            if wider:
                raise SpecError(
                    "requested role_bindings are not a subset of the caller's permissions: "
                    + ", ".join(f"{pattern} {bindings[pattern]}" for pattern in wider)
                )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        identity = TokenIdentity(
            username=caller.username,
            groups=caller.groups,
            primary_namespace=primary_namespace,
            role_bindings=bindings,
            expires_on=expires,
        )
        with self.sessions() as session, session.begin():
            session.add(
                ApiToken(
                    token_sha256=_digest(token),
                    username=identity.username,
                    groups={"groups": list(identity.groups)},
                    primary_namespace=primary_namespace,
                    role_bindings=bindings,
                    expires_on=expires,
                )
            )
        return token, identity

    def token_identity(self, token: str) -> TokenIdentity | None:
        """Who a presented token acts as; None if it is unknown or expired."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self.sessions() as session:
            row = session.scalar(
                sa.select(ApiToken).where(
                    ApiToken.token_sha256 == _digest(token), ApiToken.expires_on > utcnow()
                )
            )
            if row is None:
                return None
            return TokenIdentity(
                username=row.username,
                groups=tuple((row.groups or {}).get("groups", ())),
                primary_namespace=row.primary_namespace,
                role_bindings={key: list(value) for key, value in row.role_bindings.items()},
                expires_on=row.expires_on,
            )


def _checked_bindings(value: object) -> dict[str, list[str]]:
    if not isinstance(value, Mapping) or not all(
        isinstance(pattern, str)
        and isinstance(roles, list)
        and all(isinstance(role, str) for role in roles)
        for pattern, roles in value.items()
    ):
        raise SpecError('role_bindings must map patterns to lists of roles: {"ns/*": ["viewer"]}')
    try:
        check_bindings(value)
    except ValueError as error:
        raise SpecError(str(error)) from None
    return {pattern: list(roles) for pattern, roles in value.items()}
