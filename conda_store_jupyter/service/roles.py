"""Namespaces shared with other namespaces (conda-store's v2 role mappings): list, get, create,
update, delete, and the bindings they give a caller.

`alice` shared with `bob` as viewer means: whoever's namespace is `bob` (the user bob, whose
primary namespace it is; or the members of a group `bob`) reads every environment of `alice`.
The caller's bindings are the configured ones plus these (`shared_bindings`), read through a
short-lived cache so that a request does not pay a query: a change made through another server
applies within `SHARED_BINDINGS_TTL` seconds, one made through this one at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import sqlalchemy as sa

from .. import api_models
from ..auth import ROLES
from ..db import Namespace, NamespaceRoleMapping
from ..errors import Conflict, NotFound, SpecError
from ..spec import validate_name
from .base import ServiceBase

SHARED_BINDINGS_TTL = 1.0
# conda-store's older name for editor is accepted, and stored as editor.
_STORED_ROLE = {"viewer": "viewer", "editor": "editor", "developer": "editor", "admin": "admin"}


def _role(role: object) -> str:
    if not isinstance(role, str) or role not in _STORED_ROLE:
        raise SpecError(f"role must be one of {', '.join(sorted(ROLES))}, got {role!r}")
    return _STORED_ROLE[role]


def _bindings(
    shared: dict[str, list[tuple[str, str]]], holders: Sequence[str]
) -> dict[str, list[str]]:
    bindings: dict[str, list[str]] = {}
    for holder in holders:
        for namespace, role in shared.get(holder, ()):
            bindings.setdefault(f"{namespace}/*", []).append(role)
    return bindings


class NamespaceRolesMixin(ServiceBase):
    _shared: tuple[float, dict[str, list[tuple[str, str]]]] = (float("-inf"), {})
    _shared_lock = threading.Lock()

    def namespace_roles(self, namespace: str) -> list[api_models.NamespaceRole]:
        with self.sessions() as session:
            this = self._namespace(session, namespace)
            rows = session.scalars(
                sa.select(NamespaceRoleMapping)
                .where(NamespaceRoleMapping.namespace_id == this.id)
                .order_by(NamespaceRoleMapping.other_namespace)
            )
            return [api_models.NamespaceRole.from_row(row, namespace) for row in rows]

    def namespace_role(self, namespace: str, other: str) -> api_models.NamespaceRole:
        with self.sessions() as session:
            row = self._mapping(session, namespace, other)
            return api_models.NamespaceRole.from_row(row, namespace)

    def create_namespace_role(self, namespace: str, other: str, role: str) -> None:
        validate_name("other_namespace", other)
        stored = _role(role)
        try:
            with self.sessions() as session, session.begin():
                this = self._namespace(session, namespace)
                session.add(
                    NamespaceRoleMapping(namespace_id=this.id, other_namespace=other, role=stored)
                )
        except sa.exc.IntegrityError:
            raise Conflict(
                f"namespace {namespace!r} is already shared with {other!r}; change the role "
                "with PUT"
            ) from None
        self._forget_shared()

    def update_namespace_role(self, namespace: str, other: str, role: str) -> None:
        stored = _role(role)
        with self.sessions() as session, session.begin():
            self._mapping(session, namespace, other).role = stored
        self._forget_shared()

    def delete_namespace_role(self, namespace: str, other: str) -> None:
        with self.sessions() as session, session.begin():
            session.delete(self._mapping(session, namespace, other))
        self._forget_shared()

    def delete_namespace_roles(self, namespace: str) -> None:
        with self.sessions() as session, session.begin():
            this = self._namespace(session, namespace)
            session.execute(
                sa.delete(NamespaceRoleMapping).where(NamespaceRoleMapping.namespace_id == this.id)
            )
        self._forget_shared()

    def shared_bindings(self, holders: Sequence[str]) -> dict[str, list[str]]:
        """The bindings (`namespace/*` → roles) shared with any of `holders` (a caller's
        primary namespace, and their groups'). Blocking when the cache is stale."""
        cached = self.cached_shared_bindings(holders)
        return cached if cached is not None else _bindings(self._load_shared(), holders)

    def cached_shared_bindings(self, holders: Sequence[str]) -> dict[str, list[str]] | None:
        """`shared_bindings` from the cache, without touching the database; None when the
        cache is stale (so an event loop answers most requests without a thread)."""
        stamp, shared = self._shared
        if time.monotonic() - stamp > SHARED_BINDINGS_TTL:
            return None
        return _bindings(shared, holders)

    # -- helpers ----------------------------------------------------------------------------
    def _mapping(self, session, namespace: str, other: str) -> NamespaceRoleMapping:
        this = self._namespace(session, namespace)
        row = session.scalar(
            sa.select(NamespaceRoleMapping).where(
                NamespaceRoleMapping.namespace_id == this.id,
                NamespaceRoleMapping.other_namespace == other,
            )
        )
        if row is None:
            raise NotFound(f"namespace {namespace!r} is not shared with {other!r}")
        return row

    def _load_shared(self) -> dict[str, list[tuple[str, str]]]:
        with self._shared_lock:
            loaded_at = time.monotonic()
            with self.sessions() as session:
                rows = session.execute(
                    sa.select(
                        NamespaceRoleMapping.other_namespace,
                        Namespace.name,
                        NamespaceRoleMapping.role,
                    )
                    .join(Namespace, Namespace.id == NamespaceRoleMapping.namespace_id)
                    .where(Namespace.deleted_on.is_(None))
                ).all()
            shared: dict[str, list[tuple[str, str]]] = {}
            for other, namespace, role in rows:
                shared.setdefault(other, []).append((namespace, role))
            self._shared = (loaded_at, shared)
            return shared

    def _forget_shared(self) -> None:
        self._shared = (float("-inf"), {})
