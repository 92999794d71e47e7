"""SQLAlchemy models of the store: namespaces, environments, specifications, builds and what
builds produce. Column names follow conda-store's API fields so serialisation stays trivial."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out: timestamptz in PostgreSQL, naive UTC text in SQLite
    (which has no time zones). Naive datetimes are refused: they are ambiguous."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class BuildStatus(str, enum.Enum):
    QUEUED = "QUEUED"
    BUILDING = "BUILDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class BuildArtifactType(str, enum.Enum):
    """conda-store's artifact type names."""

    LOGS = "LOGS"
    LOCKFILE = "LOCKFILE"
    YAML = "YAML"
    EXPLICIT = "EXPLICIT"
    CONDA_PACK = "CONDA_PACK"


class PackageManager(str, enum.Enum):
    """Who installed a package: conda-lock's `manager` field."""

    CONDA = "conda"
    PIP = "pip"


def _str_enum(enum_class: type[enum.Enum], length: int) -> sa.Enum:
    # A plain VARCHAR of the values, no native type and no CHECK: adding a value needs no migration.
    return sa.Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        # Deterministic constraint names, so later migrations (and SQLite batch mode) can name them.
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: sa.JSON(),
    }


class Namespace(Base):
    __tablename__ = "namespace"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_on: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_on: Mapped[dt.datetime | None]

    environments: Mapped[list[Environment]] = relationship(back_populates="namespace")

    __table_args__ = (
        # Unique among live rows only: a soft-deleted name can be reused.
        sa.Index(
            "uq_namespace_name_live",
            "name",
            unique=True,
            sqlite_where=sa.text("deleted_on IS NULL"),
            postgresql_where=sa.text("deleted_on IS NULL"),
        ),
    )


class Environment(Base):
    __tablename__ = "environment"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(sa.ForeignKey("namespace.id"))
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # environment -> build -> environment is a cycle: this side is added after both tables exist.
    current_build_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("build.id", use_alter=True, ondelete="SET NULL")
    )
    created_on: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_on: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_on: Mapped[dt.datetime | None]

    namespace: Mapped[Namespace] = relationship(back_populates="environments")
    current_build: Mapped[Build | None] = relationship(
        foreign_keys=[current_build_id], post_update=True
    )
    builds: Mapped[list[Build]] = relationship(
        foreign_keys="Build.environment_id", back_populates="environment", order_by="Build.id"
    )

    __table_args__ = (
        sa.Index(
            "uq_environment_namespace_id_name_live",
            "namespace_id",
            "name",
            unique=True,
            sqlite_where=sa.text("deleted_on IS NULL"),
            postgresql_where=sa.text("deleted_on IS NULL"),
        ),
    )


class Specification(Base):
    """A normalised environment spec (or conda-lock file), keyed by the sha256 of its canonical
    JSON. Created once and never changed; builds of many environments may share one."""

    __tablename__ = "specification"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    spec: Mapped[dict[str, Any]]
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    is_lockfile: Mapped[bool] = mapped_column(default=False)
    created_on: Mapped[dt.datetime] = mapped_column(default=utcnow)

    builds: Mapped[list[Build]] = relationship(back_populates="specification")


class Build(Base):
    """One solve + install of a specification for an environment. The table is the build queue."""

    __tablename__ = "build"

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(sa.ForeignKey("environment.id"), index=True)
    specification_id: Mapped[int] = mapped_column(sa.ForeignKey("specification.id"))
    status: Mapped[BuildStatus] = mapped_column(
        _str_enum(BuildStatus, 16), default=BuildStatus.QUEUED
    )
    status_info: Mapped[str | None] = mapped_column(sa.Text)
    scheduled_on: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_on: Mapped[dt.datetime | None]
    ended_on: Mapped[dt.datetime | None]
    heartbeat_on: Mapped[dt.datetime | None]
    worker: Mapped[str | None] = mapped_column(sa.Text)  # who claimed it, e.g. "hostname:pid"
    # The token of the claim it runs under: every change of a BUILDING build names it (see
    # transitions.py), so a process whose build was taken over can change nothing.
    claim: Mapped[str | None] = mapped_column(sa.String(32))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # bytes of the prefix
    # seconds per phase of a completed build: solve, install, pip, artifacts (metrics.py)
    phases: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    build_dir: Mapped[str | None] = mapped_column(sa.Text)  # prefix directory name, once known
    deleted_on: Mapped[dt.datetime | None]
    # Garbage collection (gc.py) removed its prefix and large artifacts; its log, lock file and
    # specification stay, and a restore (QUEUED again, this set) reinstalls it from the lock.
    collected_on: Mapped[dt.datetime | None]
    # Completing makes it its environment's current build: false for a restore, unless a
    # rollback asked for it.
    becomes_current: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # A kernel of this very build was asked for (POST build/{id}/kernel/): the registry keeps
    # one, besides the environment's, while the build has its prefix.
    kernel_requested_on: Mapped[dt.datetime | None]

    environment: Mapped[Environment] = relationship(
        foreign_keys=[environment_id], back_populates="builds"
    )
    specification: Mapped[Specification] = relationship(back_populates="builds")
    artifacts: Mapped[list[BuildArtifact]] = relationship(
        back_populates="build", cascade="all, delete-orphan", passive_deletes=True
    )
    # One-way: BuildPackage.build is conda's build string, not this relationship.
    packages: Mapped[list[BuildPackage]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # The queue: oldest QUEUED first.
        sa.Index("ix_build_status_scheduled_on", "status", "scheduled_on"),
    )


class BuildArtifact(Base):
    __tablename__ = "build_artifact"

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[int] = mapped_column(sa.ForeignKey("build.id", ondelete="CASCADE"), index=True)
    # Room for conda-store's longer names (e.g. CONSTRUCTOR_INSTALLER) without a migration.
    artifact_type: Mapped[BuildArtifactType] = mapped_column(_str_enum(BuildArtifactType, 32))
    key: Mapped[str] = mapped_column(sa.Text)  # path relative to the store directory
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_on: Mapped[dt.datetime] = mapped_column(default=utcnow)

    build: Mapped[Build] = relationship(back_populates="artifacts")


class BuildPackage(Base):
    """A package installed by a build, as pinned in its lock file."""

    __tablename__ = "build_package"

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[int] = mapped_column(sa.ForeignKey("build.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), index=True)
    version: Mapped[str] = mapped_column(sa.String(255))
    build: Mapped[str] = mapped_column(sa.String(255), default="")  # the build string
    build_number: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(sa.Text, default="")
    subdir: Mapped[str] = mapped_column(sa.String(32), default="")
    url: Mapped[str] = mapped_column(sa.Text, default="")
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    md5: Mapped[str | None] = mapped_column(sa.String(32))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    manager: Mapped[PackageManager] = mapped_column(
        _str_enum(PackageManager, 16), default=PackageManager.CONDA
    )


class Lease(Base):
    """Who does a piece of periodic work now, across every server and worker of a store (see
    db/leases.py): the holder renews `renewed_on`; another process takes over once it is older
    than the lease's time to live."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.Text)
    renewed_on: Mapped[dt.datetime]


class NamespaceRoleMapping(Base):
    """A namespace shared with another (conda-store's v2 role mappings): whoever's namespace is
    `other_namespace` (a user's primary namespace, or a group's) holds `role` on every
    environment of `namespace`. The other side is a name, not a row: a user can be given access
    before they ever used the store."""

    __tablename__ = "namespace_role_mapping"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        sa.ForeignKey("namespace.id", ondelete="CASCADE"), index=True
    )
    other_namespace: Mapped[str] = mapped_column(sa.String(255), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    created_on: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("namespace_id", "other_namespace"),)


class ApiToken(Base):
    """A token minted by `POST token/` for scripts and CI: the bindings it carries, until when.
    Only its SHA-256 is kept; the token itself is shown once, to whoever minted it."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    username: Mapped[str] = mapped_column(sa.String(255))  # who minted it: whom it acts as
    groups: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"groups": [...]} at minting
    primary_namespace: Mapped[str] = mapped_column(sa.String(255))
    role_bindings: Mapped[dict[str, Any]]
    expires_on: Mapped[dt.datetime]
    created_on: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WatchedFile(Base):
    """A specification file of `CondaStore.watch_paths` (watch.py) and what became of it: the
    content last acted on (an unchanged file makes no build), its environment, the build it
    made, or why it made none."""

    __tablename__ = "watched_file"

    path: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    namespace: Mapped[str] = mapped_column(sa.String(255))
    environment: Mapped[str | None] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    build_id: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    updated_on: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GcRun(Base):
    """One garbage collection (gc.py): when, what it removed and freed, the store's bytes after
    it, or why it failed. The metrics report the last one, the same on every server."""

    __tablename__ = "gc_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_on: Mapped[dt.datetime]
    ended_on: Mapped[dt.datetime]
    dry_run: Mapped[bool]
    ok: Mapped[bool]
    builds: Mapped[int]  # prefixes collected
    packages: Mapped[int]  # package cache entries removed
    freed_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    store_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    package_cache_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(sa.Text)


def select_builds(*columns: Any, live: bool = True) -> sa.Select[Any]:
    """SELECT `columns` from builds joined to their environment and namespace. `live`: only the
    builds not deleted, of environments and namespaces not deleted."""
    query = (
        sa.select(*columns)
        .select_from(Build)
        .join(Environment, Environment.id == Build.environment_id)
        .join(Namespace, Namespace.id == Environment.namespace_id)
    )
    if live:
        query = query.where(
            Build.deleted_on.is_(None),
            Environment.deleted_on.is_(None),
            Namespace.deleted_on.is_(None),
        )
    return query
