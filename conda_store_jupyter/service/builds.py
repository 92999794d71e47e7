"""Builds: list (paginated, filtered), get, wait for, rebuild, cancel, delete; a build's packages
and the difference between two builds."""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from .. import api_models
from ..auth import Caller
from ..db import transitions, utcnow
from ..db.models import Build, BuildArtifact, BuildPackage, BuildStatus, Environment, Namespace
from ..errors import Conflict, NotFound
from .base import (
    ACTIVE,
    EVERYTHING,
    Page,
    ServiceBase,
    escape_like,
    where_environment,
    where_packages,
)


def _listed_builds(_session: Session, rows: list[Build]) -> list[api_models.Build]:
    # As lists show them: without the specification (get one build for it).
    return [api_models.Build.from_row(row, with_specification=False) for row in rows]


def _packages(_session: Session, rows: list[BuildPackage]) -> list[api_models.Package]:
    return [api_models.Package.from_row(row) for row in rows]


class BuildsMixin(ServiceBase):
    def page_builds(
        self,
        caller: Caller | None,
        page: Page,
        *,
        status: BuildStatus | None = None,
        environment_id: int | None = None,
        namespace: str | None = None,
        name: str | None = None,
        packages: Sequence[str] = (),
        artifact: str | None = None,
    ) -> tuple[list[api_models.Build], int]:
        """One page of the builds that are not deleted (only those of environments `caller`
        may read; None: all), without their specifications."""
        query = (
            sa.select(Build)
            .join(Environment, Environment.id == Build.environment_id)
            .join(Namespace, Namespace.id == Environment.namespace_id)
            .where(Build.deleted_on.is_(None))
        )
        query = where_environment(query, caller, namespace, name)
        query = where_packages(query, Build.id, packages)
        if status is not None:
            query = query.where(Build.status == status)
        if environment_id is not None:
            query = query.where(Build.environment_id == environment_id)
        if artifact is not None:
            query = query.where(
                sa.exists().where(
                    BuildArtifact.build_id == Build.id, BuildArtifact.artifact_type == artifact
                )
            )
        columns = {
            "id": Build.id,
            "scheduled_on": Build.scheduled_on,
            "started_on": Build.started_on,
            "ended_on": Build.ended_on,
            "status": Build.status,
            "size": Build.size,
        }
        options = (
            selectinload(Build.artifacts),
            selectinload(Build.environment).selectinload(Environment.namespace),
        )
        return self._page(query.options(*options), page, columns, [Build.id], _listed_builds)

    def list_builds(
        self, environment_id: int | None = None, status: BuildStatus | None = None
    ) -> list[api_models.Build]:
        return self.page_builds(None, EVERYTHING, environment_id=environment_id, status=status)[0]

    def get_build(self, build_id: int, *, packages: bool = False) -> api_models.Build:
        """The build with its specification and artifacts (and its packages if asked for: the
        API lists them separately, `page_packages`)."""
        with self.sessions() as session:
            return api_models.Build.from_row(self._build(session, build_id), with_packages=packages)

    def build_status(self, build_id: int) -> BuildStatus:
        """Only the status (one indexed read): what a live log polls several times a second."""
        with self.sessions() as session:
            status = session.scalar(sa.select(Build.status).where(Build.id == build_id))
        if status is None:
            raise NotFound(f"build {build_id} does not exist")
        return status

    def wait_for_build(
        self, build_id: int, timeout: float = 600.0, interval: float = 0.1
    ) -> api_models.Build:
        """Block until the build is final (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            build = self.get_build(build_id)
            if build.status not in ACTIVE:
                return build
            if time.monotonic() > deadline:
                raise TimeoutError(f"build {build_id} still {build.status.value} after {timeout} s")
            time.sleep(interval)

    def rebuild(self, build_id: int) -> api_models.Build:
        """A new build of the same specification for the same environment."""
        with self.sessions() as session, session.begin():
            old = self._build(session, build_id)
            environment = old.environment
            if environment.deleted_on is not None:
                raise Conflict(f"environment of build {build_id} was deleted; it cannot be rebuilt")
            build = api_models.Build.from_row(
                self._queue_build(session, environment, old.specification)
            )
        self._on_change()
        return build

    def cancel_build(self, build_id: int) -> api_models.Build:
        """QUEUED or BUILDING → CANCELED; the executor kills a running build's process."""
        with self.sessions() as session, session.begin():
            build = self._build(session, build_id)
            if not transitions.cancel(session, [build_id], "canceled by request"):
                raise Conflict(
                    f"build {build_id} is {build.status.value}; "
                    "only a queued or running build can be canceled"
                )
        self._on_change()
        return self.get_build(build_id)

    def delete_build(self, build_id: int) -> None:
        """Delete a finished build that is not current: its prefix and archive go (moved aside
        until the transaction commits: it completes or changes nothing)."""
        with self._removing() as removals, self.sessions() as session, session.begin():
            build = self._build(session, build_id)
            if build.status in ACTIVE:
                raise Conflict(
                    f"build {build_id} is {build.status.value}; cancel it before deleting it"
                )
            if build.environment.current_build_id == build.id:
                raise Conflict(
                    f"build {build_id} is the current build of "
                    f"{build.environment.namespace.name}/{build.environment.name}; "
                    "roll back to another build first"
                )
            self._free_build(session, build, build.environment.namespace.name, removals)
            build.deleted_on = utcnow()

    # -- packages -----------------------------------------------------------------------------
    def page_packages(
        self, build_id: int, page: Page, search: str | None = None
    ) -> tuple[list[api_models.Package], int]:
        with self.sessions() as session:
            self._build(session, build_id)
        query = sa.select(BuildPackage).where(BuildPackage.build_id == build_id)
        if search:
            query = query.where(BuildPackage.name.ilike(f"%{escape_like(search)}%", escape="\\"))
        columns = {
            "name": BuildPackage.name,
            "version": BuildPackage.version,
            "size": BuildPackage.size,
        }
        return self._page(query, page, columns, [BuildPackage.name], _packages)

    def diff_builds(self, old_id: int, new_id: int) -> api_models.Diff:
        """Packages added, removed and changed from build `old_id` to build `new_id`."""
        brief = api_models.PackageBrief.from_row
        with self.sessions() as session:
            old = {p.name: brief(p) for p in self._build(session, old_id).packages}
            new = {p.name: brief(p) for p in self._build(session, new_id).packages}
        return api_models.Diff(
            added=[new[name] for name in sorted(new.keys() - old.keys())],
            removed=[old[name] for name in sorted(old.keys() - new.keys())],
            changed=[
                api_models.PackageChange(name=name, old=old[name], new=new[name])
                for name in sorted(old.keys() & new.keys())
                if (old[name].version, old[name].build) != (new[name].version, new[name].build)
            ],
        )
