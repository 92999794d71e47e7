"""Authorization inside the extension: conda-store's roles per namespace, bound by patterns.

Jupyter Server decides *who* the caller is (and may veto through its Authorizer); this module
decides what that caller may do in which namespace. Bindings map an entity pattern
`namespace/environment` (fnmatch, `{username}` substituted) to roles; a role is a set of
permissions, named as conda-store names them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from .errors import Forbidden

VIEWER = frozenset({"environment::read", "namespace::read", "namespace-role-mapping::read"})
EDITOR = VIEWER | {"environment::create", "environment::update", "environment::solve", "build::cancel"}
ADMIN = EDITOR | {
    "build::delete",
    "environment::delete",
    "namespace::create",
    "namespace::update",
    "namespace::delete",
    "namespace-role-mapping::create",
    "namespace-role-mapping::update",
    "namespace-role-mapping::delete",
}
ROLES: dict[str, frozenset[str]] = {
    "viewer": VIEWER,
    "editor": EDITOR,
    "developer": EDITOR,  # conda-store's older name for editor
    "admin": ADMIN,
}
# The least role holding each permission, for "you need the X role" messages.
NEEDED_ROLE = {
    permission: next(role for role in ("viewer", "editor", "admin") if permission in ROLES[role])
    for permission in ADMIN
}

PERSONAL_BINDINGS = {"*/*": ["admin"]}
SHARED_BINDINGS = {"{username}/*": ["admin"], "default/*": ["viewer"]}


def check_bindings(bindings: Mapping[str, Sequence[str]]) -> None:
    for pattern, roles in bindings.items():
        if pattern.count("/") != 1:
            raise ValueError(f"role binding {pattern!r} must look like 'namespace/environment'")
        if "[" in pattern:
            raise ValueError(f"role binding {pattern!r}: only * and ? wildcards are supported")
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise ValueError(f"role binding {pattern!r}: unknown role(s) {unknown}; known: {sorted(ROLES)}")


@dataclass(frozen=True)
class Caller:
    """Who is asking, and the bindings that apply to them (patterns already personalised)."""

    username: str
    bindings: tuple[tuple[str, frozenset[str]], ...]  # (pattern, permissions)
    roles: tuple[tuple[str, tuple[str, ...]], ...]  # (pattern, role names), for /permission/

    @classmethod
    def for_user(cls, username: str, bindings: Mapping[str, Sequence[str]]) -> Caller:
        check_bindings(bindings)
        personal = [(pattern.replace("{username}", username), roles) for pattern, roles in bindings.items()]
        return cls(
            username=username,
            bindings=tuple(
                (pattern, frozenset().union(*(ROLES[role] for role in roles)) if roles else frozenset())
                for pattern, roles in personal
            ),
            roles=tuple((pattern, tuple(roles)) for pattern, roles in personal),
        )

    def permissions(self, namespace: str, name: str = "*") -> frozenset[str]:
        entity = f"{namespace}/{name}"
        granted: set[str] = set()
        for pattern, permissions in self.bindings:
            if fnmatch.fnmatchcase(entity, pattern):
                granted |= permissions
        return frozenset(granted)

    def can(self, permission: str, namespace: str, name: str = "*") -> bool:
        return permission in self.permissions(namespace, name)

    def require(self, permission: str, namespace: str, name: str = "*") -> None:
        if not self.can(permission, namespace, name):
            what = f"{namespace}/{name}" if name != "*" else f"namespace {namespace!r}"
            raise Forbidden(
                f"{self.username or 'this user'} may not {permission.replace('::', ' ')} in {what}: "
                f"this needs the {NEEDED_ROLE.get(permission, 'admin')} role there"
            )

    def readable_filter(self, namespace_column: sa.ColumnElement, name_column: sa.ColumnElement | None = None):
        """A SQL condition selecting the rows this caller may read (so lists paginate in the
        database, not in Python)."""
        conditions = []
        for pattern, permissions in self.bindings:
            if not permissions & {"environment::read", "namespace::read"}:
                continue
            namespace_pattern, name_pattern = pattern.split("/", 1)
            condition = _like(namespace_column, namespace_pattern)
            if name_column is not None:
                condition = sa.and_(condition, _like(name_column, name_pattern))
            conditions.append(condition)
        return sa.or_(*conditions) if conditions else sa.false()


def _like(column: sa.ColumnElement, pattern: str):
    if pattern == "*":
        return sa.true()
    if not any(char in pattern for char in "*?"):
        return column == pattern
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped.replace("*", "%").replace("?", "_"), escape="\\")
