"""API models of who the caller is and what it may do (`GET permission/`), and of the tokens
it mints for others (`POST token/`): conda-store's shapes."""

from __future__ import annotations

from pydantic import Field

from .api_models import ApiModel, Timestamp


class Permission(ApiModel):
    authenticated: bool
    username: str
    primary_namespace: str
    entity_permissions: dict[str, list[str]] = Field(
        description="Entity pattern (`namespace/environment`) → permissions"
    )
    entity_roles: dict[str, list[str]] = Field(
        description="Entity pattern → role names (viewer, editor, admin)"
    )
    expiration: Timestamp | None = Field(
        default=None, description="When the token the request was made with expires, if minted"
    )


class TokenRequest(ApiModel):
    """The body of `POST token/` (conda-store's): every field optional."""

    primary_namespace: str | None = Field(default=None, examples=["alice"])
    expiration: str | None = Field(
        default=None,
        examples=["2026-12-31T00:00:00Z"],
        description="ISO 8601; default a day from now, never later than the caller's own "
        "credentials (CondaStore.token_max_lifetime, or the expiry of the token used)",
    )
    role_bindings: dict[str, list[str]] | None = Field(
        default=None,
        examples=[{"alice/*": ["viewer"]}],
        description="Default: the caller's own. Each must be held by the caller.",
    )


class Token(ApiModel):
    token: str
    expiration: Timestamp
