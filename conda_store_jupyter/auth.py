"""Authorization inside the extension: conda-store's roles per namespace, bound by patterns.

Jupyter Server decides *who* the caller is (and may veto through its Authorizer); this module
decides what that caller may do in which namespace. Bindings map an entity pattern
`namespace/environment` to roles; a role is a set of permissions, named as conda-store names them.

A pattern's wildcards are `*` (any run of characters) and `?` (one character); `{username}` stands
for the caller's name, which is always literal text: a user named `*`, `b*` or `?ob` matches a
namespace of exactly that name, never `bob`. Each side of a pattern is parsed once
(`NamePattern`), and that one parsed form answers both single checks (in Python) and the rows a
list may show (in SQL), so the two cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .errors import Forbidden
from .spec import _NAME_CHARS as NAME_CHARACTERS  # what namespace and environment names are made of

VIEWER = frozenset({"environment::read", "namespace::read", "namespace-role-mapping::read"})
EDITOR = VIEWER | {
    "environment::create",
    "environment::update",
    "environment::solve",
    "build::cancel",
}
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
SHARED_BINDINGS = {"{username}/*": ["admin"], "{group}/*": ["editor"], "default/*": ["viewer"]}
# What the store's own administrator holds (the holder of `jupyter conda-store`'s token).
STORE_ADMIN_BINDINGS = {"*/*": ["admin"]}

USERNAME = "{username}"
GROUP = "{group}"  # in a binding: one binding per group of the caller (none if they have none)
# The attribute of a Jupyter Server user object that makes it the store's administrator. Only
# identity providers of this package set it (see `standalone.py`); a name never does.
STORE_ADMIN_ATTRIBUTE = "conda_store_admin"
# The attribute of a user authenticated by a token minted with `POST token/` (service/tokens.py).
TOKEN_ATTRIBUTE = "conda_store_token"


def check_bindings(bindings: Mapping[str, Sequence[str]]) -> None:
    for pattern, roles in bindings.items():
        if pattern.count("/") != 1:
            raise ValueError(f"role binding {pattern!r} must look like 'namespace/environment'")
        if "[" in pattern:
            raise ValueError(f"role binding {pattern!r}: only * and ? wildcards are supported")
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise ValueError(
                f"role binding {pattern!r}: unknown role(s) {unknown}; known: {sorted(ROLES)}"
            )


_LITERAL, _STAR, _ONE = "literal", "*", "?"


@dataclass(frozen=True)
class NamePattern:
    """One side (namespace or environment) of a binding, parsed: literal texts and wildcards.

    `parts` is a sequence of `("literal", text)`, `("*", "")` and `("?", "")`. The caller's name
    enters only as a literal part, so nothing in it is ever read as a wildcard."""

    parts: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, template: str, username: str, group: str | None = None) -> NamePattern:
        parts: list[tuple[str, str]] = []
        values = {USERNAME: username, GROUP: group or ""}

        def literal(text: str) -> None:
            if not text:
                return
            if parts and parts[-1][0] == _LITERAL:
                parts[-1] = (_LITERAL, parts[-1][1] + text)
            else:
                parts.append((_LITERAL, text))

        for token in re.split(r"(\{username\}|\{group\}|[*?])", template):
            if token in (_STAR, _ONE):
                parts.append((token, ""))
            else:
                literal(values.get(token, token))
        return cls(tuple(parts))

    @property
    def literal(self) -> str | None:
        """The one name this pattern matches, if it has no wildcard."""
        if all(kind == _LITERAL for kind, _ in self.parts):
            return "".join(text for _, text in self.parts)
        return None

    @property
    def matches_everything(self) -> bool:
        return bool(self.parts) and all(kind == _STAR for kind, _ in self.parts)

    @property
    def matches_nothing(self) -> bool:
        """No name can match: a literal part holds a character that no name may hold (a user
        named `a@b` or `x y`), or the side is empty. Such text never reaches the database."""
        return not self.parts or any(
            kind == _LITERAL and not NAME_CHARACTERS.fullmatch(text) for kind, text in self.parts
        )

    @property
    def regex(self) -> str:
        """The pattern as a regular expression anchored at both ends, in the syntax Python's `re`
        and PostgreSQL's `~` share (and SQLite's REGEXP, which SQLAlchemy runs with `re`)."""
        translated = {_STAR: ".*", _ONE: "."}
        body = "".join(
            re.escape(text) if kind == _LITERAL else translated[kind] for kind, text in self.parts
        )
        return rf"(?s)\A{body}\Z"

    @property
    def glob(self) -> str:
        """The pattern as an fnmatch/conda-store glob, literal `*`, `?` and `[` bracketed (for
        `permission/`, whose patterns clients may match themselves)."""
        return "".join(
            re.sub(r"([*?\[])", r"[\1]", text) if kind == _LITERAL else kind
            for kind, text in self.parts
        )

    def matches(self, value: str) -> bool:
        if self.matches_nothing:
            return False
        literal = self.literal
        if literal is not None:
            return value == literal
        if self.matches_everything:
            return True
        return re.match(self.regex, value) is not None

    def covers(self, other: NamePattern) -> bool:
        """Whether every name `other` matches, this matches too. Decided conservatively: a
        wildcard pattern is covered only by `*` or by the very same pattern."""
        literal = other.literal
        if literal is not None:
            return self.matches(literal)
        return self.matches_everything or self.parts == other.parts

    def where(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """The same test as `matches`, as a SQL condition on `column`."""
        if self.matches_nothing:
            return sa.false()
        literal = self.literal
        if literal is not None:
            return column == literal
        if self.matches_everything:
            return sa.true()
        return column.regexp_match(self.regex)


@dataclass(frozen=True)
class Binding:
    """One personalised binding: which entities, which roles, hence which permissions."""

    namespace: NamePattern
    name: NamePattern
    roles: tuple[str, ...]
    permissions: frozenset[str]

    @classmethod
    def parse(
        cls, pattern: str, roles: Sequence[str], username: str, group: str | None = None
    ) -> Binding:
        namespace, name = pattern.split("/", 1)
        return cls(
            namespace=NamePattern.parse(namespace, username, group),
            name=NamePattern.parse(name, username, group),
            roles=tuple(roles),
            permissions=frozenset().union(*(ROLES[role] for role in roles))
            if roles
            else frozenset(),
        )

    @property
    def pattern(self) -> str:
        return f"{self.namespace.glob}/{self.name.glob}"

    def matches(self, namespace: str, name: str) -> bool:
        return self.namespace.matches(namespace) and self.name.matches(name)


@dataclass(frozen=True)
class Caller:
    """Who is asking, and the bindings that apply to them (patterns already personalised)."""

    username: str
    rules: tuple[Binding, ...]
    groups: tuple[str, ...] = ()

    @classmethod
    def for_user(
        cls, username: str, bindings: Mapping[str, Sequence[str]], groups: Sequence[str] = ()
    ) -> Caller:
        """`{username}` in a pattern is the caller's name; a pattern with `{group}` stands for
        one binding per group of the caller, and for none if they belong to none."""
        check_bindings(bindings)
        rules = []
        for pattern, roles in bindings.items():
            if GROUP in pattern:
                rules += [Binding.parse(pattern, roles, username, group) for group in groups]
            else:
                rules.append(Binding.parse(pattern, roles, username))
        return cls(username=username, rules=tuple(rules), groups=tuple(groups))

    @property
    def bindings(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """(pattern, permissions) per binding, patterns as globs (for `permission/`)."""
        return tuple((rule.pattern, rule.permissions) for rule in self.rules)

    @property
    def roles(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(pattern, role names) per binding, patterns as globs (for `permission/`)."""
        return tuple((rule.pattern, rule.roles) for rule in self.rules)

    def permissions(self, namespace: str, name: str = "*") -> frozenset[str]:
        """What the caller may do on `namespace/name`; `name="*"` asks about the namespace
        itself, which only bindings whose environment side matches any name (`ns/*`) grant."""
        granted: set[str] = set()
        for rule in self.rules:
            if name == "*":
                if rule.namespace.matches(namespace) and rule.name.matches_everything:
                    granted |= rule.permissions
            elif rule.matches(namespace, name):
                granted |= rule.permissions
        return frozenset(granted)

    def can(self, permission: str, namespace: str, name: str = "*") -> bool:
        return permission in self.permissions(namespace, name)

    def require(self, permission: str, namespace: str, name: str = "*") -> None:
        if not self.can(permission, namespace, name):
            what = f"{namespace}/{name}" if name != "*" else f"namespace {namespace!r}"
            raise Forbidden(
                f"{self.username or 'this user'} may not "
                f"{permission.replace('::', ' ')} in {what}: "
                f"this needs the {NEEDED_ROLE.get(permission, 'admin')} role there"
            )

    def grants(self, pattern: str, roles: Sequence[str]) -> bool:
        """Whether the caller holds at least `roles` on everything `pattern` covers (what a
        token the caller mints may carry)."""
        wanted = Binding.parse(pattern, roles, self.username)
        held: set[str] = set()
        for rule in self.rules:
            if rule.namespace.covers(wanted.namespace) and rule.name.covers(wanted.name):
                held |= rule.permissions
        return wanted.permissions <= held

    def require_namespace_creation(self, namespace: str) -> None:
        """May the caller bring `namespace` into being (by creating an environment in it)? Who
        may create namespaces there may; so may anyone who may create environments in it when
        it is their own (their name's, or one of their groups'): a user's and a group's
        namespace exist from first use."""
        own = namespace == self.username or namespace in self.groups
        if not (own and self.can("environment::create", namespace)):
            self.require("namespace::create", namespace)

    def readable_filter(
        self, namespace_column: sa.ColumnElement, name_column: sa.ColumnElement | None = None
    ):
        """A SQL condition selecting the rows this caller may read (so lists paginate in the
        database, not in Python), by the same rule as `permissions`."""
        conditions = []
        for rule in self.rules:
            if not rule.permissions & {"environment::read", "namespace::read"}:
                continue
            condition = rule.namespace.where(namespace_column)
            if name_column is not None:
                condition = sa.and_(condition, rule.name.where(name_column))
            conditions.append(condition)
        return sa.or_(*conditions) if conditions else sa.false()


def merge_bindings(*sources: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Bindings from several sources; a pattern in more than one holds the union of roles."""
    merged: dict[str, list[str]] = {}
    for bindings in sources:
        for pattern, roles in bindings.items():
            merged.setdefault(pattern, [])
            merged[pattern] += [role for role in roles if role not in merged[pattern]]
    return merged


def is_store_admin(user: Any) -> bool:
    """Whether a Jupyter Server user is the store's administrator (set by this package's
    identity providers, never inferred from a name)."""
    return getattr(user, STORE_ADMIN_ATTRIBUTE, False) is True


def hub_identity(user: Any) -> tuple[tuple[str, ...], bool]:
    """(groups, hub admin) of a JupyterHub user (the `hub_user` model Jupyter Server's
    JupyterHub identity provider attaches to its users); no groups and not admin otherwise."""
    model = getattr(user, "hub_user", None)
    if not isinstance(model, Mapping):
        return (), False
    groups = model.get("groups") or ()
    return tuple(group for group in groups if isinstance(group, str)), model.get("admin") is True


def caller_for(user: Any, bindings: Mapping[str, Sequence[str]]) -> Caller:
    """The caller a request's user is: the store's administrator and JupyterHub's admins hold
    admin everywhere, anyone else the configured bindings, with `{group}` patterns for each of
    their hub groups."""
    username = getattr(user, "username", None) or str(user or "")
    return Caller.for_user(username, *effective_bindings(user, bindings))


def effective_bindings(
    user: Any, bindings: Mapping[str, Sequence[str]]
) -> tuple[Mapping[str, Sequence[str]], tuple[str, ...]]:
    """(the bindings, the groups) a request's user acts with: a minted token's own, fixed when
    it was minted; admin everywhere for the store's administrator and JupyterHub's admins;
    `bindings` (the configured ones, and what was shared) with their hub groups otherwise."""
    token = getattr(user, TOKEN_ATTRIBUTE, None)
    if token is not None:
        return token.role_bindings, token.groups
    groups, hub_admin = hub_identity(user)
    if is_store_admin(user) or hub_admin:
        return STORE_ADMIN_BINDINGS, ()
    return bindings, groups
