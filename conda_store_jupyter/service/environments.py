"""Environments: list (paginated, filtered), get, create or update from a specification, roll
back, describe, delete."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from .. import api_models
from ..auth import Caller
from ..db import Build, BuildStatus, Environment, Namespace
from ..db import Specification as SpecificationRow
from ..errors import Conflict, SpecError
from ..spec import (
    LockfileSpecification,
    Specification,
    apply_policy,
    parse_lockfile_specification,
    parse_specification,
    validate_name,
)
from .base import (
    ACTIVE,
    EVERYTHING,
    Page,
    check_description,
    escape_like,
    where_environment,
    where_packages,
)
from .lifecycle import LifecycleMixin


def pending_builds(session: Session, environments: Sequence[Environment]) -> dict[int, Build]:
    """{environment id: its newest build} for environments that have no completed build yet:
    the API reports that build as the current one (as conda-store does, so its clients can wait
    on `namespace/name` right after creating it). The database keeps current_build_id empty
    until a build completes: links and kernels only ever see complete builds."""
    waiting = [e.id for e in environments if e.current_build_id is None]
    if not waiting:
        return {}
    newest = (
        sa.select(sa.func.max(Build.id))
        .where(Build.environment_id.in_(waiting), Build.deleted_on.is_(None))
        .group_by(Build.environment_id)
    )
    return {
        build.environment_id: build
        for build in session.scalars(
            sa.select(Build).where(Build.id.in_(newest)).options(selectinload(Build.artifacts))
        )
    }


def environment_models(
    session: Session, environments: Sequence[Environment]
) -> list[api_models.Environment]:
    pending = pending_builds(session, environments)
    return [api_models.Environment.from_row(e, pending.get(e.id)) for e in environments]


class EnvironmentsMixin(LifecycleMixin):  # (rollback restores a collected build)
    def page_environments(
        self,
        caller: Caller | None,
        page: Page,
        *,
        namespace: str | None = None,
        name: str | None = None,
        status: BuildStatus | None = None,
        search: str | None = None,
        packages: Sequence[str] = (),
    ) -> tuple[list[api_models.Environment], int]:
        """One page of the live environments (only those `caller` may read; None: all)."""
        current = sa.orm.aliased(Build)
        query = (
            sa.select(Environment)
            .join(Namespace, Namespace.id == Environment.namespace_id)
            .where(Environment.deleted_on.is_(None), Namespace.deleted_on.is_(None))
        )
        query = where_environment(query, caller, namespace, name)
        if search:
            query = query.where(Environment.name.ilike(f"%{escape_like(search)}%", escape="\\"))
        if status is not None or packages:
            query = query.join(current, current.id == Environment.current_build_id)
        if status is not None:
            query = query.where(current.status == status)
        query = where_packages(query, current.id, packages)
        columns = {
            "name": Environment.name,
            "namespace": Namespace.name,
            "id": Environment.id,
            "updated_on": Environment.updated_on,
        }
        return self._page(
            query.options(
                selectinload(Environment.namespace),
                selectinload(Environment.current_build).selectinload(Build.artifacts),
            ),
            page,
            columns,
            [Namespace.name, Environment.name],
            environment_models,
        )

    def list_environments(
        self, namespace: str | None = None, name: str | None = None
    ) -> list[api_models.Environment]:
        return self.page_environments(None, EVERYTHING, namespace=namespace, name=name)[0]

    def get_environment(self, namespace: str, name: str) -> api_models.Environment:
        with self.sessions() as session:
            return environment_models(session, [self._environment(session, namespace, name)])[0]

    def submit_specification(
        self,
        namespace: str,
        specification: str | bytes | Mapping[str, Any],
        *,
        is_lockfile: bool = False,
        environment_name: str | None = None,
        description: str | None = None,
        caller: Caller | None = None,
    ) -> api_models.Build:
        """Create or update `namespace/name` from a specification; returns its build.
        With a `caller`, their roles are checked against the environment the spec names.

        The same specification for the same environment makes no second build: the queued,
        running or completed build of it is returned (and made current if it is completed).
        """
        validate_name("namespace", namespace)
        spec: Specification | LockfileSpecification
        if is_lockfile:
            if isinstance(specification, Mapping):
                raise SpecError("a lock file specification must be the lock file's text")
            if environment_name is None:
                raise SpecError("a lock file specification needs an environment name")
            spec = parse_lockfile_specification(
                specification, validate_name("environment", environment_name)
            )
        else:
            spec = parse_specification(specification)
            if environment_name is not None:
                spec = dataclasses.replace(
                    spec, name=validate_name("environment", environment_name)
                )
        spec = apply_policy(spec, self.policy)
        if caller is not None:
            caller.require("environment::create", namespace, spec.name)
        if description is None:
            description = getattr(spec, "description", None)
        check_description(description)

        with self.sessions() as session:
            exists = self._find_namespace(session, namespace) is not None
        if not exists:
            if caller is not None:
                caller.require_namespace_creation(namespace)
            self._check_namespace_path(namespace)
        # A new namespace is created in the environment's transaction: both or neither.
        try:
            return self._submit(namespace, spec, is_lockfile, description)
        except sa.exc.IntegrityError:
            # Another request created the same environment at the same moment: now it exists.
            return self._submit(namespace, spec, is_lockfile, description)

    def _submit(
        self,
        namespace: str,
        spec: Specification | LockfileSpecification,
        is_lockfile: bool,
        description: str | None,
    ) -> api_models.Build:
        with self.sessions() as session, session.begin():
            namespace_row = self._find_namespace(session, namespace)
            if namespace_row is None:
                # Two requests creating it at once: one fails on the unique name and retries.
                namespace_row = Namespace(name=namespace)
                session.add(namespace_row)
                session.flush()
            environment = session.scalar(
                sa.select(Environment).where(
                    Environment.namespace_id == namespace_row.id,
                    Environment.name == spec.name,
                    Environment.deleted_on.is_(None),
                )
            )
            if environment is None:
                environment = Environment(
                    namespace=namespace_row, name=spec.name, description=description or ""
                )
                session.add(environment)
                session.flush()
            elif description is not None:
                environment.description = description
            spec_row = self._specification_row(session, spec, is_lockfile)
            existing = session.scalar(
                sa.select(Build)
                .where(
                    Build.environment_id == environment.id,
                    Build.specification_id == spec_row.id,
                    Build.deleted_on.is_(None),
                    Build.status.in_([*ACTIVE, BuildStatus.COMPLETED]),
                )
                .order_by(Build.id.desc())
                .limit(1)
            )
            made_current = False
            if existing is not None and existing.collected_on is not None:
                # Built before, collected since: restored from its lock file, then current.
                self._queue_restore(session, existing, make_current=True)
                session.refresh(existing)  # (changed by one UPDATE, not through the object)
                build = api_models.Build.from_row(existing)
                existing = None  # (something changed: the executor is told)
            elif existing is not None:
                if (
                    existing.status == BuildStatus.COMPLETED
                    and environment.current_build_id != existing.id
                ):
                    self._make_current(environment, existing)
                    made_current = True
                build = api_models.Build.from_row(existing)
            else:
                build = api_models.Build.from_row(self._queue_build(session, environment, spec_row))
        if existing is None or made_current:
            if made_current:
                self._sync_link(namespace, spec.name)
            self._on_change()
        return build

    @staticmethod
    def _specification_row(
        session: Session, spec: Specification | LockfileSpecification, is_lockfile: bool
    ) -> SpecificationRow:
        sha256 = spec.sha256
        row = session.scalar(sa.select(SpecificationRow).where(SpecificationRow.sha256 == sha256))
        if row is None:
            # Another request may insert the same spec at the same moment: a savepoint keeps
            # our transaction alive when the unique sha256 index says it won.
            try:
                with session.begin_nested():
                    row = SpecificationRow(
                        name=spec.name, spec=spec.to_dict(), sha256=sha256, is_lockfile=is_lockfile
                    )
                    session.add(row)
            except sa.exc.IntegrityError:
                row = session.scalar(
                    sa.select(SpecificationRow).where(SpecificationRow.sha256 == sha256)
                )
                assert row is not None
        return row

    def rollback(self, namespace: str, name: str, build_id: int) -> api_models.Environment:
        """Point the environment at one of its older COMPLETED builds (nothing is rebuilt). A
        collected one is restored first, from its lock file, and becomes current once it is."""
        with self.sessions() as session, session.begin():
            self._lock_build(session, build_id)  # see lifecycle.py
            environment = self._environment(session, namespace, name)
            build = self._build(session, build_id)
            if build.environment_id != environment.id:
                raise Conflict(f"build {build_id} is not a build of {namespace}/{name}")
            if build.collected_on is not None:  # restored first; current once restored
                self._queue_restore(session, build, make_current=True)
                session.flush()
                restoring = api_models.Environment.from_row(environment)
            else:
                restoring = None
        if restoring is not None:
            self._on_change()
            return restoring
        with self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            build = self._build(session, build_id)
            if build.status != BuildStatus.COMPLETED or build.deleted_on is not None:
                raise Conflict(
                    f"build {build_id} is {'deleted' if build.deleted_on else build.status.value}; "
                    "only a completed build can be made current"
                )
            self._make_current(environment, build)
            session.flush()
            session.expire(environment, ["current_build"])  # loaded before: the old build
            rolled_back = api_models.Environment.from_row(environment)
        self._sync_link(namespace, name)
        self._on_change()
        return rolled_back

    def update_description(
        self, namespace: str, name: str, description: str
    ) -> api_models.Environment:
        check_description(description)
        with self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            environment.description = description
            session.flush()
            return environment_models(session, [environment])[0]

    def delete_environment(self, namespace: str, name: str) -> None:
        """Remove the environment: its link and prefixes go, its builds' logs and locks stay.
        The database changes first; the files go once it has committed."""
        with self._removing() as removals, self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            self._delete_environment(session, environment, namespace, removals)
        self._sync_link_after_delete(namespace, name)
        self._on_change()
