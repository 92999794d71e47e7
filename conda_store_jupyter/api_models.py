"""API models: how namespaces, environments, builds and packages look on the wire.

Pydantic models of conda-store-server's api/v1 shapes, separate from the ORM so the database can
change without changing the API. The service builds them from its rows inside its session
(`from_row`) and hands them out detached from it; handlers answer with `model_dump(mode="json")`
and the OpenAPI document takes their JSON Schemas. Datetimes stay datetimes in Python and go out
as ISO 8601 in UTC without a zone suffix (as conda-store writes them).

A few fields are the service's and not the API's (`Field(exclude=True)`: never serialized, not in
the schema): where a build lives (`namespace`, `environment_name`, `build_dir`) and whether an
environment's current build is only its pending one.

The models of checking a specification (its problems, what a solve would install) are
api_checks.py's, imported here with the others; those of permissions and tokens are
api_tokens.py's.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.orm import object_session

from . import db
from .api_checks import CheckedPackage, Problem, SpecificationCheck, Validation  # noqa: F401
from .db import BuildArtifactType, BuildStatus, PackageManager

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
ISO_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"
ISO_DESCRIPTION = "ISO 8601, UTC, without a zone suffix (as conda-store writes them)"


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()


Timestamp = Annotated[
    datetime.datetime,
    PlainSerializer(iso, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": ISO_PATTERN, "description": ISO_DESCRIPTION},
        mode="serialization",
    ),
]


class ApiModel(BaseModel):
    """Base of the wire models: immutable values, built from rows by attribute."""

    model_config = ConfigDict(
        frozen=True, from_attributes=True, json_schema_serialization_defaults_required=True
    )


class Namespace(ApiModel):
    id: int
    name: str
    metadata_: dict[str, Any] = Field(default_factory=dict)
    role_mappings: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def from_row(cls, row: db.Namespace) -> Namespace:
        return cls(id=row.id, name=row.name, metadata_=row.metadata_ or {}, role_mappings=[])


class NamespaceRole(ApiModel):
    """A namespace shared with another (conda-store's v2 role mapping)."""

    id: int
    namespace: str
    other_namespace: str = Field(
        description="Whoever's namespace this is (a user's primary namespace, or a group's) "
        "holds `role` on every environment of `namespace`"
    )
    role: str = Field(examples=["viewer"], description="viewer, editor or admin")

    @classmethod
    def from_row(cls, row: db.NamespaceRoleMapping, namespace: str) -> NamespaceRole:
        return cls(
            id=row.id, namespace=namespace, other_namespace=row.other_namespace, role=row.role
        )


class NamespaceRoleChange(ApiModel):
    """The body of POST, PUT and DELETE `namespace/{namespace}/role`."""

    other_namespace: str = Field(examples=["bob"])
    role: str | None = Field(
        default=None,
        examples=["viewer"],
        description="viewer, editor (or developer) or admin; not needed to delete",
    )


class Specification(ApiModel):
    id: int
    name: str
    spec: dict[str, Any] = Field(
        description="The normalised environment (name, channels, dependencies, variables) or, "
        "for a lock file, `{name, lockfile}`."
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    is_lockfile: bool
    created_on: Timestamp

    @classmethod
    def from_row(cls, row: db.Specification) -> Specification:
        return cls(
            id=row.id,
            name=row.name,
            spec=row.spec,
            sha256=row.sha256,
            is_lockfile=row.is_lockfile,
            created_on=row.created_on,
        )


class BuildArtifact(ApiModel):
    id: int
    artifact_type: BuildArtifactType
    key: str = Field(description="Path relative to the store")

    @classmethod
    def from_row(cls, row: db.BuildArtifact) -> BuildArtifact:
        return cls(id=row.id, artifact_type=row.artifact_type, key=row.key)


class Package(ApiModel):
    id: int
    name: str
    version: str
    build: str = Field(description="The build string")
    build_number: int
    channel: str
    subdir: str
    url: str
    sha256: str | None
    md5: str | None
    size: int | None
    manager: PackageManager

    @classmethod
    def from_row(cls, row: db.BuildPackage) -> Package:
        return cls.model_validate(row)


class Build(ApiModel):
    id: int
    environment_id: int
    specification: Specification | None
    packages: list[Package] | None = Field(
        default=None, description="Always null: see `build/{id}/packages/`"
    )
    status: BuildStatus
    status_info: str | None
    size: int = Field(ge=0, description="Bytes of the prefix")
    collected_on: Timestamp | None = Field(
        default=None,
        description="When garbage collection removed its prefix and archive (its log, lock file "
        "and specification stay: `restore/` reinstalls it); null while it has them. A restore "
        "in progress: QUEUED or BUILDING with this still set",
    )
    scheduled_on: Timestamp
    started_on: Timestamp | None
    ended_on: Timestamp | None
    build_artifacts: list[BuildArtifact]
    worker: str | None = Field(
        default=None,
        description="The process that ran (or runs) the build, as host:pid (a Celery worker: "
        "its node name, e.g. w1@host, and pid); null while QUEUED",
        examples=["celery@build-host-1:4242"],
    )
    queue_position: int | None = Field(
        default=None,
        ge=1,
        description="For a QUEUED build, its 1-based place among all QUEUED builds of the store "
        "in the order the executor starts them (oldest first); null otherwise",
    )
    problems: list[Problem] = Field(
        default_factory=list,
        description="Only from `build/{id}/`, for a FAILED build whose solve failed: each "
        "complaint of the solver in plain words, placed at its dependency's line and column of "
        "the build's specification as YAML (name, channels, dependencies, variables; lists "
        "indented, one entry a line) and at its `path` in `specification.spec`. [] otherwise.",
    )
    # Where the build lives: for the service's callers (role checks, paths), not on the wire.
    namespace: str = Field(exclude=True)
    environment_name: str = Field(exclude=True)
    build_dir: str | None = Field(default=None, exclude=True)

    @classmethod
    def from_row(
        cls, row: db.Build, *, with_specification: bool = True, with_packages: bool = False
    ) -> Build:
        """Reads the row's relationships (in the caller's session): its environment and
        namespace, its artifacts, and its specification and packages if asked for."""
        environment = row.environment
        return cls(
            id=row.id,
            environment_id=row.environment_id,
            specification=Specification.from_row(row.specification) if with_specification else None,
            packages=[Package.from_row(p) for p in row.packages] if with_packages else None,
            status=row.status,
            status_info=row.status_info,
            size=row.size or 0,
            collected_on=row.collected_on,
            scheduled_on=row.scheduled_on,
            started_on=row.started_on,
            ended_on=row.ended_on,
            build_artifacts=[BuildArtifact.from_row(a) for a in row.artifacts],
            worker=row.worker,
            queue_position=queue_position(row),
            namespace=environment.namespace.name,
            environment_name=environment.name,
            build_dir=row.build_dir,
        )


_QUEUE_POSITIONS = "csj_queue_positions"


def queue_position(row: db.Build) -> int | None:
    """A QUEUED build's 1-based place in the queue, in the executor's order (oldest
    `scheduled_on` first, then id: `db.claim_next_build`). One query per transaction, not per
    row: the order of the whole queue is kept in the session's `info` until the transaction ends
    (read again if the build is not in it, e.g. queued by this transaction since)."""
    if row.status != BuildStatus.QUEUED:
        return None
    session = object_session(row)
    if session is None:
        return None
    positions = session.info.get(_QUEUE_POSITIONS)
    if positions is None or row.id not in positions:
        queued = session.scalars(
            sa.select(db.Build.id)
            .where(db.Build.status == BuildStatus.QUEUED)
            .order_by(db.Build.scheduled_on, db.Build.id)
        )
        positions = {build_id: place for place, build_id in enumerate(queued, 1)}
        session.info[_QUEUE_POSITIONS] = positions
        if not sa.event.contains(session, "after_transaction_end", _forget_queue):
            sa.event.listen(session, "after_transaction_end", _forget_queue)
    return positions.get(row.id)


def _forget_queue(session: Any, _transaction: Any) -> None:
    session.info.pop(_QUEUE_POSITIONS, None)


class Environment(ApiModel):
    id: int
    namespace: Namespace
    name: str
    current_build_id: int | None
    current_build: Build | None
    description: str
    updated_on: Timestamp | None
    # True when `current_build` is the environment's newest build shown until its first build
    # completes: the database has no current build yet (no link, no kernel, no lock file).
    pending: bool = Field(default=False, exclude=True)

    @classmethod
    def from_row(cls, row: db.Environment, pending_build: db.Build | None = None) -> Environment:
        """`pending_build`: the newest build of an environment that has no completed build yet,
        reported as its current one (as conda-store does, so its clients can wait on
        `namespace/name` right after creating it). Ignored once the environment has a current
        build."""
        current = row.current_build
        pending = current is None and pending_build is not None
        if pending:
            current = pending_build
        return cls(
            id=row.id,
            namespace=Namespace.from_row(row.namespace),
            name=row.name,
            current_build_id=current.id if current is not None else None,
            current_build=Build.from_row(current, with_specification=False)
            if current is not None
            else None,
            description=row.description,
            updated_on=row.updated_on,
            pending=pending,
        )


class PackageBrief(ApiModel):
    name: str
    version: str
    build: str
    manager: PackageManager

    @classmethod
    def from_row(cls, row: db.BuildPackage) -> PackageBrief:
        return cls(name=row.name, version=row.version, build=row.build, manager=row.manager)


class PackageChange(ApiModel):
    name: str
    old: PackageBrief
    new: PackageBrief


class Diff(ApiModel):
    added: list[PackageBrief]
    removed: list[PackageBrief]
    changed: list[PackageChange]


class SolvedPackage(ApiModel):
    name: str
    version: str
    build: str
    channel: str
    subdir: str
    url: str


class Channel(ApiModel):
    id: int
    name: str


class PackageName(ApiModel):
    name: str


class Version(ApiModel):
    version: str


class BuildId(ApiModel):
    build_id: int


class Solve(ApiModel):
    packages: list[SolvedPackage]


# -- request bodies ------------------------------------------------------------------------------


class SpecificationCreate(BaseModel):
    """The body of POST `specification/` (as documented; the handler checks each field)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"required": ["is_lockfile"], "properties": {"is_lockfile": {"const": True}}},
            "then": {
                "description": "A lock file is text and needs the environment's name",
                "required": ["environment_name"],
                "properties": {
                    "specification": {"type": "string"},
                    "environment_name": {"type": "string"},
                },
            },
        },
    )

    namespace: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Default: the server's default namespace"
    )
    specification: str | dict[str, Any] = Field(
        description="The environment YAML (name, channels, dependencies with an optional `pip:` "
        "list, variables) or, with `is_lockfile`, a conda-lock file's text. The environment as a "
        "JSON object is accepted too."
    )
    is_lockfile: bool = False
    environment_name: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Overrides the spec's `name` (required with a lock file)",
    )
    environment_description: str | None = None


class EnvironmentUpdate(BaseModel):
    """The body of PUT `environment/{namespace}/{environment}/`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Optional but never null: no `default: null` in the schema either.
    build_id: int | SkipJsonSchema[None] = Field(
        default=None,
        description="Make this COMPLETED build current",
        json_schema_extra=lambda schema: schema.pop("default"),
    )
    description: str | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=lambda schema: schema.pop("default")
    )


# -- envelopes -----------------------------------------------------------------------------------


class PageEnvelope(BaseModel):
    """conda-store's answer with one page of a list."""

    status: Literal["ok"]
    data: list[Any]
    message: str | None
    page: int = Field(ge=1)
    size: int = Field(ge=0)
    count: int = Field(ge=0, description="Items in the whole list")


class Error(BaseModel):
    """conda-store's answer to a request that failed."""

    status: Literal["error"]
    message: str = Field(description="What is wrong, in words")
