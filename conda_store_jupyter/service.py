"""The service layer: every lifecycle operation of namespaces, environments and builds.

Pure Python, no HTTP: REST handlers, the CLI and workers all call these methods. Each method is
one unit of work in its own session; inputs are validated before anything is written, so a
refused request changes nothing stored. Blocking (database, disk): call from a thread when on
an event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import rattler
import sqlalchemy as sa
from rattler.exceptions import GatewayError, InvalidChannelError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from .artifacts import write_conda_pack
from .auth import Caller
from .build import BuildSettings
from .buildlog import log_size, read_log
from .config import CondaStore
from .db import (
    Build,
    BuildArtifact,
    BuildArtifactType,
    BuildPackage,
    BuildStatus,
    Environment,
    Namespace,
    transitions,
    utcnow,
)
from .db import Specification as SpecificationRow
from .envlinks import sync_environment_link
from .errors import Conflict, NotFound, SpecError
from .solver import SolveFailed, host_platform, make_gateway, solve
from .spec import (
    MAX_SPEC_BYTES,
    LockfileSpecification,
    PipSourcePolicy,
    Specification,
    SpecPolicy,
    apply_policy,
    check_channels_allowed,
    parse_lockfile_specification,
    parse_specification,
    validate_name,
)
from .store import StoreLayout

log = logging.getLogger(__name__)
D = TypeVar("D")

ACTIVE = transitions.ACTIVE
# The SQLite database's files where stores made before it moved into .db/ keep it (see
# CondaStore.database_url): never namespace names.
LEGACY_DATABASE_FILE = "conda-store.sqlite"
SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")
LEGACY_DATABASE_FILES = tuple(LEGACY_DATABASE_FILE + suffix for suffix in SQLITE_FILE_SUFFIXES)
# Deleting a build frees its disk but keeps what is needed to know and redo it exactly.
KEPT_ARTIFACTS = (BuildArtifactType.LOGS, BuildArtifactType.LOCKFILE)


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a list: 1-based page number, page size, sort column names and order."""

    page: int = 1
    size: int = 100
    sort_by: tuple[str, ...] = ()
    order: str = "asc"

    def apply(
        self, query: sa.Select, columns: Mapping[str, Any], default: Sequence[Any]
    ) -> sa.Select:
        unknown = [name for name in self.sort_by if name not in columns]
        if unknown:
            raise SpecError(
                f"cannot sort by {', '.join(unknown)}; sort_by may be {', '.join(columns)}"
            )
        keys = [columns[name] for name in self.sort_by] or list(default)
        direction = sa.desc if self.order == "desc" else sa.asc
        return (
            query.order_by(*(direction(key) for key in keys))
            .limit(self.size)
            .offset((self.page - 1) * self.size)
        )


def from_config(cls: type[D], config: CondaStore, prefix: str = "", **values: Any) -> D:
    """A settings dataclass filled from the `CondaStore` traits of the same names (`prefix` +
    field name; lists become tuples): the traits are the one definition, the dataclasses the
    picklable, immutable views the spec rules and the build processes take."""
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in values and config.has_trait(prefix + field.name):
            value = getattr(config, prefix + field.name)
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def pip_sources(config: CondaStore) -> PipSourcePolicy:
    """Where pip packages may come from (`CondaStore.pip_*`): the one object both the
    submit-time checks (`spec_policy`) and the builds (`build_settings`) use."""
    return from_config(PipSourcePolicy, config, prefix="pip_")


def spec_policy(config: CondaStore) -> SpecPolicy:
    return from_config(SpecPolicy, config, pip_sources=pip_sources(config))


def build_settings(config: CondaStore) -> BuildSettings:
    return from_config(BuildSettings, config, pip_sources=pip_sources(config))


class CondaStoreService:
    def __init__(
        self,
        config: CondaStore,
        sessions: sessionmaker[Session],
        on_change: Callable[[], None] = lambda: None,
    ):
        self.config = config
        self.sessions = sessions
        self.layout = StoreLayout(config.store_dir)
        self.policy = spec_policy(config)
        # Told whenever this service changed the store (queued or canceled a build, moved or
        # deleted an environment): wakes the executor and the kernel registry.
        self._on_change = on_change
        self._gateway: rattler.Gateway | None = None

    # -- namespaces -------------------------------------------------------------------------
    def list_namespaces(self) -> list[Namespace]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    sa.select(Namespace)
                    .where(Namespace.deleted_on.is_(None))
                    .order_by(Namespace.name)
                )
            )

    def get_namespace(self, name: str) -> Namespace:
        with self.sessions() as session:
            return self._namespace(session, name)

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

    def create_namespace(self, name: str) -> Namespace:
        validate_name("namespace", name)
        with self.sessions() as session, session.begin():
            if self._find_namespace(session, name) is not None:
                raise Conflict(f"namespace {name!r} already exists")
            self._check_namespace_path(name)
            namespace = Namespace(name=name)
            session.add(namespace)
        return namespace

    def reserved_namespace_names(self) -> frozenset[str]:
        """Names of the store's own files at the namespace level: the SQLite database of a store
        made before it moved into .db/ (and of a database_url pointing into the store), with
        the files SQLite keeps beside it."""
        names = set(LEGACY_DATABASE_FILES)
        url = sa.make_url(self.config.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            database = os.path.abspath(url.database)
            if os.path.dirname(database) == os.path.abspath(self.layout.root):
                base = os.path.basename(database)
                names.update(base + suffix for suffix in SQLITE_FILE_SUFFIXES)
        return frozenset(names)

    def _check_namespace_path(self, name: str) -> None:
        """A new namespace never shares a path with a file of the store: its directory is the
        store's <name>/, which must be free or a directory (a namespace deleted earlier)."""
        if name in self.reserved_namespace_names():
            raise SpecError(
                f"namespace name {name!r} is reserved: the store keeps its own file there"
            )
        path = self.layout.namespace_dir(name)
        if (path.exists() or path.is_symlink()) and (path.is_symlink() or not path.is_dir()):
            raise SpecError(f"namespace name {name!r} is taken: the store has a file of that name")

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

    # -- environments -----------------------------------------------------------------------
    def list_environments(
        self, namespace: str | None = None, name: str | None = None
    ) -> list[Environment]:
        with self.sessions() as session:
            query = (
                sa.select(Environment)
                .join(Namespace)
                .where(Environment.deleted_on.is_(None))
                .options(
                    selectinload(Environment.namespace), selectinload(Environment.current_build)
                )
                .order_by(Namespace.name, Environment.name)
            )
            if namespace is not None:
                query = query.where(Namespace.name == namespace)
            if name is not None:
                query = query.where(Environment.name == name)
            return list(session.scalars(query))

    def get_environment(self, namespace: str, name: str) -> Environment:
        with self.sessions() as session:
            environment = self._environment(session, namespace, name)
            self._attach_pending_builds(session, [environment])
            return environment

    def submit_specification(
        self,
        namespace: str,
        specification: str | bytes | Mapping[str, Any],
        *,
        is_lockfile: bool = False,
        environment_name: str | None = None,
        description: str | None = None,
        caller: Caller | None = None,
    ) -> Build:
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
                spec = _renamed(spec, validate_name("environment", environment_name))
        spec = apply_policy(spec, self.policy)
        if caller is not None:
            caller.require("environment::create", namespace, spec.name)
        if description is None:
            description = getattr(spec, "description", None)
        _check_description(description)

        with self.sessions() as session:
            exists = self._find_namespace(session, namespace) is not None
        if not exists:
            if caller is not None:
                caller.require("namespace::create", namespace)
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
    ) -> Build:
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
            if existing is not None:
                if (
                    existing.status == BuildStatus.COMPLETED
                    and environment.current_build_id != existing.id
                ):
                    self._make_current(environment, existing)
                    made_current = True
            else:
                build = self._queue_build(session, environment, spec_row)
        if existing is not None:
            if made_current:
                self._sync_link(namespace, spec.name)
                self._on_change()
            return existing
        self._on_change()
        return build

    def rebuild(self, build_id: int) -> Build:
        """A new build of the same specification for the same environment."""
        with self.sessions() as session, session.begin():
            old = self._build(session, build_id)
            environment = old.environment
            if environment.deleted_on is not None:
                raise Conflict(f"environment of build {build_id} was deleted; it cannot be rebuilt")
            build = self._queue_build(session, environment, old.specification)
        self._on_change()
        return build

    def rollback(self, namespace: str, name: str, build_id: int) -> Environment:
        """Point the environment at one of its older COMPLETED builds (nothing is rebuilt)."""
        with self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            build = self._build(session, build_id)
            if build.environment_id != environment.id:
                raise Conflict(f"build {build_id} is not a build of {namespace}/{name}")
            if build.status != BuildStatus.COMPLETED or build.deleted_on is not None:
                raise Conflict(
                    f"build {build_id} is {'deleted' if build.deleted_on else build.status.value}; "
                    "only a completed build can be made current"
                )
            self._make_current(environment, build)
        self._sync_link(namespace, name)
        self._on_change()
        return environment

    def update_description(self, namespace: str, name: str, description: str) -> Environment:
        _check_description(description)
        with self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            environment.description = description
        return environment

    def delete_environment(self, namespace: str, name: str) -> None:
        """Remove the environment: its link and prefixes go, its builds' logs and locks stay.
        The database changes first; the files go once it has committed."""
        with self._removing() as removals, self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            self._delete_environment(session, environment, namespace, removals)
        self._sync_link_after_delete(namespace, name)
        self._on_change()

    def _delete_environment(
        self, session: Session, environment: Environment, namespace: str, removals: _Removals
    ) -> None:
        environment.deleted_on = utcnow()
        environment.current_build_id = None
        # Running builds are canceled (conditionally: one completing now keeps its state);
        # their executor kills them and removes their prefixes.
        active = [build.id for build in environment.builds if build.status in ACTIVE]
        canceled = set(transitions.cancel(session, active, "canceled: the environment was deleted"))
        for build in environment.builds:
            if build.id not in canceled:
                self._free_build(session, build, namespace, removals)
        # The link follows the database after the commit (`_sync_link_after_delete`).

    # -- builds -----------------------------------------------------------------------------
    def list_builds(
        self, environment_id: int | None = None, status: BuildStatus | None = None
    ) -> list[Build]:
        with self.sessions() as session:
            query = sa.select(Build).where(Build.deleted_on.is_(None)).order_by(Build.id)
            if environment_id is not None:
                query = query.where(Build.environment_id == environment_id)
            if status is not None:
                query = query.where(Build.status == status)
            return list(session.scalars(query.options(selectinload(Build.specification))))

    def get_build(self, build_id: int) -> Build:
        with self.sessions() as session:
            build = self._build(session, build_id)
            # What callers read after the session closes.
            _ = build.specification, build.artifacts, build.packages, build.environment.namespace
            return build

    def build_status(self, build_id: int) -> BuildStatus:
        """Only the status (one indexed read): what a live log polls several times a second."""
        with self.sessions() as session:
            status = session.scalar(sa.select(Build.status).where(Build.id == build_id))
        if status is None:
            raise NotFound(f"build {build_id} does not exist")
        return status

    def cancel_build(self, build_id: int) -> Build:
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

    def read_log(self, build_id: int, offset: int = 0) -> tuple[bytes, int]:
        """The build log from a byte offset, and where to read from next time."""
        with self.sessions() as session:
            self._build(session, build_id)
        if offset < 0:
            raise SpecError("offset must be 0 or more")
        path = self.layout.log_path(build_id)
        if offset > log_size(path):  # nothing there yet (and seek() fails on absurd offsets)
            return b"", offset
        return read_log(path, offset)

    def wait_for_build(self, build_id: int, timeout: float = 600.0, interval: float = 0.1) -> Build:
        """Block until the build is final (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            build = self.get_build(build_id)
            if build.status not in ACTIVE:
                return build
            if time.monotonic() > deadline:
                raise TimeoutError(f"build {build_id} still {build.status.value} after {timeout} s")
            time.sleep(interval)

    # -- archives, solving and searching ----------------------------------------------------
    def ensure_archive(self, build_id: int) -> str:
        """The build's conda-pack archive, made now if the build did not make one."""
        with self.sessions() as session:
            build = self._build(session, build_id)
            namespace = build.environment.namespace.name
            status, build_dir = build.status, build.build_dir
        path = self.layout.artifact_path(build_id, "archive")
        if path.is_file():
            return str(path)
        if status != BuildStatus.COMPLETED or not build_dir:
            raise NotFound(
                f"build {build_id} is {status.value}: only a completed build has an archive"
            )
        if not self.layout.build_prefix(namespace, build_dir).is_dir():
            # Its environment (or namespace) was deleted: the prefix went; no archive can be made.
            raise NotFound(f"build {build_id} has no archive: its prefix was removed")
        write_conda_pack(self.layout.build_prefix(namespace, build_dir), path)
        with self.sessions() as session, session.begin():
            exists = session.scalar(
                sa.select(BuildArtifact.id).where(
                    BuildArtifact.build_id == build_id,
                    BuildArtifact.artifact_type == BuildArtifactType.CONDA_PACK,
                )
            )
            if exists is None:
                session.add(
                    BuildArtifact(
                        build_id=build_id,
                        artifact_type=BuildArtifactType.CONDA_PACK,
                        key=str(path.relative_to(self.layout.root)),
                        size=path.stat().st_size,
                    )
                )
        return str(path)

    def channels(self) -> list[dict[str, Any]]:
        return [
            {"id": index, "name": channel} for index, channel in enumerate(self.config.channels, 1)
        ]

    @property
    def gateway(self) -> rattler.Gateway:
        if self._gateway is None:
            self._gateway = make_gateway(self.layout.repodata_cache)
        return self._gateway

    async def dry_run_solve(
        self, channels: Sequence[str], conda: Sequence[str], pip: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Solve without building (coroutine: rattler solves off the event loop)."""
        document: dict[str, Any] = {"name": "dry-run", "dependencies": list(conda)}
        if channels:
            document["channels"] = list(channels)
        if pip:
            document["dependencies"].append({"pip": list(pip)})
        spec = apply_policy(parse_specification(document), self.policy)
        try:
            records = await solve(spec.channels, spec.dependencies, host_platform(), self.gateway)
        except SolveFailed as error:
            raise SpecError(f"cannot solve for {error.platform}: {error.message}") from None
        except (GatewayError, InvalidChannelError) as error:  # unreachable or malformed channel
            raise _channel_error(spec.channels, error) from None
        return [
            {
                "name": r.name.normalized,
                "version": str(r.version),
                "build": str(r.build),
                "channel": str(r.channel or ""),
                "subdir": r.subdir,
                "url": str(r.url),
            }
            for r in records
        ]

    async def search_packages(
        self, search: str, channels: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        """Package names in the channels containing `search` (prefix matches first)."""
        check_channels_allowed(channels, self.policy)
        sources = list(channels or self.config.channels)
        try:
            names = await self.gateway.names(sources, [host_platform(), "noarch"])
        except (GatewayError, InvalidChannelError) as error:  # unreachable or malformed channel
            raise _channel_error(sources, error) from None
        needle = search.lower()
        found = sorted(
            {str(name.normalized) for name in names if needle in name.normalized},
            key=lambda name: (not name.startswith(needle), name),
        )
        return [{"name": name} for name in found]

    # -- pages, for the API (filtered by what the caller may read, paginated in SQL) ------------
    def page_namespaces(self, caller: Caller, page: Page) -> tuple[list[Namespace], int]:
        query = sa.select(Namespace).where(
            Namespace.deleted_on.is_(None), caller.readable_filter(Namespace.name)
        )
        return self._page(
            query, page, {"name": Namespace.name, "id": Namespace.id}, [Namespace.name]
        )

    def page_environments(
        self,
        caller: Caller,
        page: Page,
        *,
        namespace: str | None = None,
        name: str | None = None,
        status: BuildStatus | None = None,
        search: str | None = None,
        packages: Sequence[str] = (),
    ) -> tuple[list[Environment], int]:
        current = sa.orm.aliased(Build)
        query = (
            sa.select(Environment)
            .join(Namespace, Namespace.id == Environment.namespace_id)
            .where(
                Environment.deleted_on.is_(None),
                Namespace.deleted_on.is_(None),
                caller.readable_filter(Namespace.name, Environment.name),
            )
        )
        if namespace is not None:
            query = query.where(Namespace.name == namespace)
        if name is not None:
            query = query.where(Environment.name == name)
        if search:
            query = query.where(Environment.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
        if status is not None or packages:
            query = query.join(current, current.id == Environment.current_build_id)
        if status is not None:
            query = query.where(current.status == status)
        for package in packages:
            query = query.where(
                sa.exists().where(BuildPackage.build_id == current.id, BuildPackage.name == package)
            )
        columns = {
            "name": Environment.name,
            "namespace": Namespace.name,
            "id": Environment.id,
            "updated_on": Environment.updated_on,
        }
        environments, count = self._page(
            query.options(
                selectinload(Environment.namespace),
                selectinload(Environment.current_build).selectinload(Build.artifacts),
            ),
            page,
            columns,
            [Namespace.name, Environment.name],
        )
        with self.sessions() as session:
            self._attach_pending_builds(session, environments)
        return environments, count

    def page_builds(
        self,
        caller: Caller,
        page: Page,
        *,
        status: BuildStatus | None = None,
        environment_id: int | None = None,
        namespace: str | None = None,
        name: str | None = None,
        packages: Sequence[str] = (),
        artifact: str | None = None,
    ) -> tuple[list[Build], int]:
        query = (
            sa.select(Build)
            .join(Environment, Environment.id == Build.environment_id)
            .join(Namespace, Namespace.id == Environment.namespace_id)
            .where(
                Build.deleted_on.is_(None), caller.readable_filter(Namespace.name, Environment.name)
            )
        )
        if status is not None:
            query = query.where(Build.status == status)
        if environment_id is not None:
            query = query.where(Build.environment_id == environment_id)
        if namespace is not None:
            query = query.where(Namespace.name == namespace)
        if name is not None:
            query = query.where(Environment.name == name)
        for package in packages:
            query = query.where(
                sa.exists().where(BuildPackage.build_id == Build.id, BuildPackage.name == package)
            )
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
        return self._page(query.options(selectinload(Build.artifacts)), page, columns, [Build.id])

    def page_packages(
        self, build_id: int, page: Page, search: str | None = None
    ) -> tuple[list[BuildPackage], int]:
        with self.sessions() as session:
            self._build(session, build_id)
        query = sa.select(BuildPackage).where(BuildPackage.build_id == build_id)
        if search:
            query = query.where(BuildPackage.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
        columns = {
            "name": BuildPackage.name,
            "version": BuildPackage.version,
            "size": BuildPackage.size,
        }
        return self._page(query, page, columns, [BuildPackage.name])

    def diff_builds(self, old_id: int, new_id: int) -> dict[str, list[dict[str, Any]]]:
        """Packages added, removed and changed from build `old_id` to build `new_id`."""
        with self.sessions() as session:
            old = {p.name: p for p in self._build(session, old_id).packages}
            new = {p.name: p for p in self._build(session, new_id).packages}

        def brief(package: BuildPackage) -> dict[str, Any]:
            return {
                "name": package.name,
                "version": package.version,
                "build": package.build,
                "manager": package.manager.value,
            }

        return {
            "added": [brief(new[name]) for name in sorted(new.keys() - old.keys())],
            "removed": [brief(old[name]) for name in sorted(old.keys() - new.keys())],
            "changed": [
                {"name": name, "old": brief(old[name]), "new": brief(new[name])}
                for name in sorted(old.keys() & new.keys())
                if (old[name].version, old[name].build) != (new[name].version, new[name].build)
            ],
        }

    def _page(
        self, query: sa.Select, page: Page, columns: Mapping[str, Any], default: Sequence[Any]
    ) -> tuple[list[Any], int]:
        with self.sessions() as session:
            count = session.scalar(
                sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
            )
            items = list(session.scalars(page.apply(query, columns, default)).unique())
        return items, count or 0

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _find_namespace(session: Session, name: str) -> Namespace | None:
        return session.scalar(
            sa.select(Namespace).where(Namespace.name == name, Namespace.deleted_on.is_(None))
        )

    def _namespace(self, session: Session, name: str) -> Namespace:
        namespace = self._find_namespace(session, name)
        if namespace is None:
            raise NotFound(f"namespace {name!r} does not exist")
        return namespace

    def _environment(self, session: Session, namespace: str, name: str) -> Environment:
        environment = session.scalar(
            sa.select(Environment)
            .join(Namespace)
            .where(
                Namespace.name == namespace,
                Namespace.deleted_on.is_(None),
                Environment.name == name,
                Environment.deleted_on.is_(None),
            )
            .options(
                selectinload(Environment.namespace),
                selectinload(Environment.current_build).selectinload(Build.artifacts),
            )
        )
        if environment is None:
            raise NotFound(f"environment {namespace}/{name} does not exist")
        return environment

    @staticmethod
    def _attach_pending_builds(session: Session, environments: Sequence[Environment]) -> None:
        """Set `pending_build` on environments that have no completed build yet: their newest
        build, which the API reports as the current one (as conda-store does, so its clients can
        wait on `namespace/name` right after creating it). The database keeps current_build_id
        empty until a build completes: links and kernels only ever see complete builds."""
        waiting = {e.id: e for e in environments if e.current_build_id is None}
        for environment in environments:
            environment.pending_build = None
        if not waiting:
            return
        newest = (
            sa.select(sa.func.max(Build.id))
            .where(Build.environment_id.in_(waiting), Build.deleted_on.is_(None))
            .group_by(Build.environment_id)
        )
        for build in session.scalars(
            sa.select(Build).where(Build.id.in_(newest)).options(selectinload(Build.artifacts))
        ):
            waiting[build.environment_id].pending_build = build

    @staticmethod
    def _build(session: Session, build_id: int) -> Build:
        build = session.get(Build, build_id)
        if build is None or build.deleted_on is not None:
            raise NotFound(f"build {build_id} does not exist")
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

    def _queue_build(
        self, session: Session, environment: Environment, spec_row: SpecificationRow
    ) -> Build:
        build = Build(environment=environment, specification=spec_row, status=BuildStatus.QUEUED)
        session.add(build)
        session.flush()
        build.build_dir = StoreLayout.build_dir_name(
            spec_row.sha256, int(build.scheduled_on.timestamp()), build.id, environment.name
        )
        return build

    @staticmethod
    def _make_current(environment: Environment, build: Build) -> None:
        """In the caller's transaction; the link follows once it is committed (`_sync_link`)."""
        environment.current_build_id = build.id
        environment.updated_on = utcnow()

    def _sync_link(self, namespace: str, name: str) -> None:
        sync_environment_link(self.layout, self.sessions, namespace, name)

    def _free_build(
        self, session: Session, build: Build, namespace: str, removals: _Removals
    ) -> None:
        """Remove a build's prefix and large artifacts from disk (once the transaction has
        committed); keep its log and lock file."""
        if build.build_dir:
            removals.add(self.layout.build_prefix(namespace, build.build_dir))
        for artifact in list(build.artifacts):
            if artifact.artifact_type not in KEPT_ARTIFACTS:
                removals.add(self.layout.root / artifact.key)
                session.delete(artifact)

    @contextlib.contextmanager
    def _removing(self) -> Iterator[_Removals]:
        """Files a transaction deletes, removed once it has committed: the database decides
        first. If the commit fails (a full disk, say), nothing was touched; if a removal fails
        after it, the delete still stands and the leftover is unreachable garbage that the
        executor's sweep of orphan prefixes (or the trash at start) takes later. Never the
        other way round: files gone while a row still points at them."""
        removals = _Removals()
        yield removals
        for path in removals.paths:
            try:
                self.layout.remove_tree(path)
            except OSError as error:
                log.warning("conda-store: %s not removed after its delete: %s", path, error)

    def _sync_link_after_delete(self, namespace: str, name: str) -> None:
        """No live environment of that name any more: no link (and if a new one of the same
        name got a build meanwhile, its link). The delete is done whatever happens here."""
        try:
            self._sync_link(namespace, name)
        except OSError as error:
            log.warning(
                "conda-store: envs/%s of namespace %s not updated after its delete: %s",
                name,
                namespace,
                error,
            )


class _Removals:
    """Paths to remove once the transaction that deletes them has committed."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def add(self, path: Path) -> None:
        self.paths.append(path)


def _check_description(description: str | None) -> None:
    """A description is text of a specification, with the same limit wherever it comes from."""
    if (
        description is not None
        and len(description.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES
    ):
        raise SpecError(f"description is too large: the limit is {MAX_SPEC_BYTES:,} bytes")


def _renamed(spec: Specification, name: str) -> Specification:
    return dataclasses.replace(spec, name=name)


def _channel_error(channels: Sequence[str], error: Exception) -> SpecError:
    reason = ": ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return SpecError(f"cannot read channel(s) {', '.join(channels)}: {reason}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
