"""What every part of the service shares: settings from the configuration, the page of a list,
the session factory and the store, and the row lookups and file removals the operations use."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import rattler
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ..auth import Caller
from ..build import BuildSettings
from ..config import CondaStore
from ..db import (
    Build,
    BuildArtifactType,
    BuildPackage,
    BuildStatus,
    Environment,
    Namespace,
    transitions,
    utcnow,
)
from ..db import Specification as SpecificationRow
from ..envlinks import sync_environment_link
from ..errors import NotFound, SpecError, StoreFull
from ..spec import MAX_SPEC_BYTES, PipSourcePolicy, SpecPolicy
from ..storage import StorageSettings, kind_of, storage_for
from ..store import StoreLayout, human_size

log = logging.getLogger("conda_store_jupyter.service")
D = TypeVar("D")
M = TypeVar("M")

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
    """One page of a list: 1-based page number, page size (None: the whole list, `page` is then
    ignored), sort column names and order."""

    page: int = 1
    size: int | None = 100
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
        query = query.order_by(*(direction(key) for key in keys))
        if self.size is None:
            return query
        return query.limit(self.size).offset((self.page - 1) * self.size)


# The whole list, in its default order: what the `list_*` forms of the `page_*` queries ask for.
EVERYTHING = Page(size=None)


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


def storage_settings(config: CondaStore) -> StorageSettings:
    """Where artifacts go (`CondaStore.storage_class`, `CondaStore.s3_*`; storage.py)."""
    return from_config(StorageSettings, config, prefix="s3_", kind=config.storage_class)


def build_settings(config: CondaStore) -> BuildSettings:
    return from_config(
        BuildSettings, config, pip_sources=pip_sources(config), storage=storage_settings(config)
    )


class Removals:
    """Paths to remove once the transaction that deletes them has committed."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def add(self, path: Path) -> None:
        self.paths.append(path)


class ServiceBase:
    """The state every concern of the service shares, and the helpers they have in common.
    Each public method is one unit of work in its own session and returns API models (built in
    that session) or plain values, never rows."""

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
        # Where artifacts are kept once their build ended; an unusable bucket stops the start.
        self.storage = storage_for(storage_settings(config))
        self.storage.check()
        # Told whenever this service changed the store (queued or canceled a build, moved or
        # deleted an environment): wakes the executor and the kernel registry.
        self._on_change = on_change
        self._gateway: rattler.Gateway | None = None

    # -- lists ------------------------------------------------------------------------------
    def _page(
        self,
        query: sa.Select,
        page: Page,
        columns: Mapping[str, Any],
        default: Sequence[Any],
        convert: Callable[[Session, list[Any]], list[M]],
    ) -> tuple[list[M], int]:
        """One page of `query`'s rows as models (`convert`, in the same session) and the
        number of rows in the whole list."""
        with self.sessions() as session:
            rows = list(session.scalars(page.apply(query, columns, default)).unique())
            if page.size is None:
                count = len(rows)  # the whole list: no second query
            else:
                count = session.scalar(
                    sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
                )
            return convert(session, rows), count or 0

    # -- rows -------------------------------------------------------------------------------
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
    def _build(session: Session, build_id: int) -> Build:
        build = session.get(Build, build_id)
        if build is None or build.deleted_on is not None:
            raise NotFound(f"build {build_id} does not exist")
        return build

    # -- namespaces' paths --------------------------------------------------------------------
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

    # -- builds and links ---------------------------------------------------------------------
    def _queue_build(
        self, session: Session, environment: Environment, spec_row: SpecificationRow
    ) -> Build:
        self._check_room()
        self._check_quota(session, environment.namespace.name)
        build = Build(environment=environment, specification=spec_row, status=BuildStatus.QUEUED)
        session.add(build)
        session.flush()
        build.build_dir = StoreLayout.build_dir_name(
            spec_row.sha256, int(build.scheduled_on.timestamp()), build.id, environment.name
        )
        return build

    def _check_room(self) -> None:
        """Every new build passes here (in its transaction: refused, nothing is stored): below
        `storage_threshold` free bytes on the store's disk it is refused, not started to fail
        half way through an install."""
        threshold = self.config.storage_threshold
        if not threshold:
            return
        root = self.layout.root
        while not root.exists() and root != root.parent:  # a store not created yet
            root = root.parent
        free = shutil.disk_usage(root).free
        if free < threshold:
            raise StoreFull(
                f"the store's disk has {human_size(free)} free, less than its storage threshold "
                f"({human_size(threshold)}): no new build until space is freed (delete builds "
                "or environments) or the threshold (CondaStore.storage_threshold) is lowered"
            )

    def _check_quota(self, session: Session, namespace: str) -> None:
        """A new build (or a restore) of a namespace that holds its quota or more is refused,
        in its transaction."""
        quota = self.config.quota_of(namespace)
        if not quota:
            return
        held = held_bytes(session, [namespace]).get(namespace, 0)
        if held >= quota:
            raise StoreFull(
                f"namespace {namespace!r} holds {human_size(held)} of builds, its quota is "
                f"{human_size(quota)}: no new build there until builds or environments are "
                "deleted (or collected: `jupyter conda-store gc`), or the quota is raised"
            )

    @staticmethod
    def _make_current(environment: Environment, build: Build) -> None:
        """In the caller's transaction; the link follows once it is committed (`_sync_link`)."""
        environment.current_build_id = build.id
        environment.updated_on = utcnow()

    def _sync_link(self, namespace: str, name: str) -> None:
        sync_environment_link(self.layout, self.sessions, namespace, name)

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

    # -- deleting -----------------------------------------------------------------------------
    def _delete_environment(
        self, session: Session, environment: Environment, namespace: str, removals: Removals
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

    def _free_build(
        self, session: Session, build: Build, namespace: str, removals: Removals
    ) -> None:
        """Remove a build's prefix and large artifacts from disk (once the transaction has
        committed); keep its log and lock file."""
        if build.build_dir:
            removals.add(self.layout.build_prefix(namespace, build.build_dir))
        for artifact in list(build.artifacts):
            if artifact.artifact_type not in KEPT_ARTIFACTS:
                removals.add(self.layout.root / artifact.key)
                session.delete(artifact)
                kind = kind_of(artifact.key)  # and the bucket's copy (storage.py), if stored
                if kind is not None:
                    self.storage.delete_after_commit(session, self.layout, build.id, kind)

    @contextlib.contextmanager
    def _removing(self) -> Iterator[Removals]:
        """Files a transaction deletes, removed once it has committed: the database decides
        first. If the commit fails (a full disk, say), nothing was touched; if a removal fails
        after it, the delete still stands and the leftover is unreachable garbage that the
        executor's sweep of orphan prefixes (or the trash at start) takes later. Never the
        other way round: files gone while a row still points at them. A prefix a kernel runs
        stays until that kernel stops (the sweep takes it then)."""
        removals = Removals()
        yield removals
        for path in removals.paths:
            try:
                if not self.layout.remove_unless_running(path):
                    log.info("conda-store: %s kept while a kernel runs it", path)
            except OSError as error:
                log.warning("conda-store: %s not removed after its delete: %s", path, error)


def held_bytes(session: Session, namespaces: Sequence[str]) -> dict[str, int]:
    """Bytes each namespace's builds hold against its quota: the recorded sizes of the prefixes
    of its live builds (completed and not collected, and restores under way)."""
    rows = session.execute(
        sa.select(Namespace.name, sa.func.coalesce(sa.func.sum(Build.size), 0))
        .join(Environment, Environment.namespace_id == Namespace.id)
        .join(Build, Build.environment_id == Environment.id)
        .where(
            Namespace.name.in_(namespaces),
            Namespace.deleted_on.is_(None),
            Environment.deleted_on.is_(None),
            Build.deleted_on.is_(None),
            sa.or_(
                Build.collected_on.is_(None),
                Build.status.in_(ACTIVE),
            ),
            Build.status.in_((BuildStatus.COMPLETED, *ACTIVE)),
        )
        .group_by(Namespace.name)
    ).all()
    return {name: int(total) for name, total in rows}


def check_description(description: str | None) -> None:
    """A description is text of a specification, with the same limit wherever it comes from."""
    if (
        description is not None
        and len(description.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES
    ):
        raise SpecError(f"description is too large: the limit is {MAX_SPEC_BYTES:,} bytes")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_environment(
    query: sa.Select, caller: Caller | None, namespace: str | None, name: str | None
) -> sa.Select:
    """`query` (joined with Environment and Namespace) narrowed to what `caller` may read (None:
    everything) and, when given, to one namespace and one environment name."""
    if caller is not None:
        query = query.where(caller.readable_filter(Namespace.name, Environment.name))
    if namespace is not None:
        query = query.where(Namespace.name == namespace)
    if name is not None:
        query = query.where(Environment.name == name)
    return query


def where_packages(query: sa.Select, build_id: Any, packages: Sequence[str]) -> sa.Select:
    """`query` narrowed to builds (`build_id`: their id column) that have every package named."""
    for package in packages:
        query = query.where(
            sa.exists().where(BuildPackage.build_id == build_id, BuildPackage.name == package)
        )
    return query
