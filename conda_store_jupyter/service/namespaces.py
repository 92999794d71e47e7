"""Namespaces: list (paginated, filtered by the caller's roles), get, ensure, create, delete."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import api_models
from ..auth import Caller
from ..db import Environment, Namespace, utcnow
from ..errors import Conflict
from ..spec import validate_name
from .base import EVERYTHING, Page, ServiceBase


def _namespaces(_session: Session, rows: list[Namespace]) -> list[api_models.Namespace]:
    return [api_models.Namespace.from_row(row) for row in rows]


class NamespacesMixin(ServiceBase):
    def page_namespaces(
        self, caller: Caller | None, page: Page
    ) -> tuple[list[api_models.Namespace], int]:
        """One page of the live namespaces (only those `caller` may read; None: all)."""
        query = sa.select(Namespace).where(Namespace.deleted_on.is_(None))
        if caller is not None:
            query = query.where(caller.readable_filter(Namespace.name))
        columns = {"name": Namespace.name, "id": Namespace.id}
        return self._page(query, page, columns, [Namespace.name], _namespaces)

    def list_namespaces(self) -> list[api_models.Namespace]:
        return self.page_namespaces(None, EVERYTHING)[0]

    def get_namespace(self, name: str) -> api_models.Namespace:
        with self.sessions() as session:
            return api_models.Namespace.from_row(self._namespace(session, name))

    def ensure_namespace(self, name: str) -> None:
        """Create the namespace unless it exists (two processes may race: both succeed)."""
        validate_name("namespace", name)
        try:
            with self.sessions() as session, session.begin():
                if self._find_namespace(session, name) is None:
                    self._check_namespace_path(name)
                    session.add(Namespace(name=name))
        except sa.exc.IntegrityError:
            pass  # created meanwhile by another process

    def create_namespace(self, name: str) -> api_models.Namespace:
        validate_name("namespace", name)
        with self.sessions() as session, session.begin():
            if self._find_namespace(session, name) is not None:
                raise Conflict(f"namespace {name!r} already exists")
            self._check_namespace_path(name)
            namespace = Namespace(name=name)
            session.add(namespace)
            session.flush()
            created = api_models.Namespace.from_row(namespace)
        return created

    def delete_namespace(self, name: str) -> None:
        """Delete a namespace and every environment in it (prefixes go; logs and locks stay):
        all of it in one transaction, the files moved aside until it commits, so it completes
        or changes nothing."""
        with self._removing() as removals:
            with self.sessions() as session, session.begin():
                namespace = self._namespace(session, name)
                environments = list(
                    session.scalars(
                        sa.select(Environment).where(
                            Environment.namespace_id == namespace.id,
                            Environment.deleted_on.is_(None),
                        )
                    )
                )
                for environment in environments:
                    self._delete_environment(session, environment, name, removals)
                namespace.deleted_on = utcnow()
            names = [environment.name for environment in environments]
        for environment_name in names:
            self._sync_link_after_delete(name, environment_name)
        self._on_change()
