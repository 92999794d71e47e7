"""Environments moved between stores, and copied or renamed within one.

    export: environment(s) ─► archive (manifest.json + each completed build's lock file and log)
    import: archive ─► the same history here: each build a *collected* build (its specification,
            packages, lock file and log, no prefix), then the current one restored from its lock
            file (locked.py: no solve) and made current once it is.

So an imported build is what garbage collection leaves of one (gc.py), and any of them can be
restored on demand. A copy is an export imported under another name (its restore installs
from the package cache the source filled: hard links, almost no disk); a rename within a
namespace changes the name, and across namespaces is a copy and a delete (prefixes hold their
absolute path, so they cannot move).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from typing import IO

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import __version__
from ..api_transfer import (
    FORMAT,
    MANIFEST,
    VERSION,
    ExportedBuild,
    ExportedEnvironment,
    ExportedPackage,
    ExportedSpecification,
    ImportedEnvironment,
    Manifest,
)
from ..auth import Caller
from ..db import (
    Build,
    BuildArtifact,
    BuildArtifactType,
    BuildPackage,
    BuildStatus,
    Environment,
    Namespace,
    PackageManager,
    utcnow,
)
from ..errors import Conflict, SpecError
from ..spec import LockfileSpecification, parse_specification, validate_name
from ..store import ARTIFACT_FILE_NAMES, StoreLayout
from .environments import EnvironmentsMixin

# What an archive may hold per build: these files, no larger than this (read, never extracted).
FILES = {"lockfile": BuildArtifactType.LOCKFILE, "logs": BuildArtifactType.LOGS}
MAX_FILE_BYTES = 64 * 1024 * 1024


def _member(build_id: int, kind: str) -> str:
    return f"builds/{build_id}/{ARTIFACT_FILE_NAMES[kind]}"


class TransferMixin(EnvironmentsMixin):
    # -- export -------------------------------------------------------------------------------
    def export_environments(self, targets: Sequence[tuple[str, str]], out: IO[bytes]) -> None:
        """Write the archive of these environments' completed builds to `out`."""
        environments, files = [], {}
        with self.sessions() as session:
            for namespace, name in targets:
                environment = self._environment(session, namespace, name)
                builds = []
                for build in environment.builds:
                    if build.status != BuildStatus.COMPLETED or build.deleted_on is not None:
                        continue
                    lockfile = self.storage.read_bytes(self.layout, build.id, "lockfile")
                    if lockfile is None:
                        continue  # (nothing to recreate it from)
                    files[_member(build.id, "lockfile")] = lockfile
                    log = self.storage.read_bytes(self.layout, build.id, "logs")
                    if log is not None:
                        files[_member(build.id, "logs")] = log
                    builds.append(_exported_build(build))
                current = environment.current_build_id
                environments.append(
                    ExportedEnvironment(
                        namespace=namespace,
                        name=name,
                        description=environment.description,
                        current_build_id=current if current in {b.id for b in builds} else None,
                        builds=builds,
                    )
                )
        manifest = Manifest(
            exported_on=utcnow(), store_version=__version__, environments=environments
        )
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for member, content in [
                (MANIFEST, manifest.model_dump_json(indent=1).encode()),
                *files.items(),
            ]:
                info = tarfile.TarInfo(member)
                info.size, info.mode = len(content), 0o644
                info.mtime = int(manifest.exported_on.timestamp())
                tar.addfile(info, io.BytesIO(content))

    def namespace_environments(self, namespace: str) -> list[tuple[str, str]]:
        with self.sessions() as session:
            self._namespace(session, namespace)
            names = session.scalars(
                sa.select(Environment.name)
                .join(Namespace)
                .where(
                    Namespace.name == namespace,
                    Namespace.deleted_on.is_(None),
                    Environment.deleted_on.is_(None),
                )
                .order_by(Environment.name)
            )
            return [(namespace, name) for name in names]

    # -- import -------------------------------------------------------------------------------
    def import_archive(
        self,
        source: IO[bytes],
        *,
        namespace: str | None = None,
        name: str | None = None,
        caller: Caller | None = None,
    ) -> list[ImportedEnvironment]:
        """Recreate the archive's environments here (in `namespace`, and as `name` when it
        holds one environment): their builds as collected builds, the current one restored."""
        manifest, files = read_archive(source)
        if name is not None and len(manifest.environments) != 1:
            raise SpecError("a name can be given only to an archive of one environment")
        imported = []
        for exported in manifest.environments:
            target = validate_name("namespace", namespace or exported.namespace)
            new_name = validate_name("environment", name or exported.name)
            if caller is not None:
                caller.require("environment::create", target, new_name)
            imported.append(self._import_one(exported, files, target, new_name, caller))
        self._on_change()
        return imported

    def _import_one(
        self,
        exported: ExportedEnvironment,
        files: dict[str, bytes],
        namespace: str,
        name: str,
        caller: Caller | None,
    ) -> ImportedEnvironment:
        with self.sessions() as session:
            exists = self._find_namespace(session, namespace) is not None
        if not exists:
            if caller is not None:
                caller.require_namespace_creation(namespace)
            self._check_namespace_path(namespace)
        self._check_room()
        specs = {build.id: _parsed(build.specification) for build in exported.builds}
        written: list[tuple[int, str, bytes]] = []
        with self.sessions() as session, session.begin():
            namespace_row = self._find_namespace(session, namespace) or Namespace(name=namespace)
            session.add(namespace_row)
            if session.scalar(
                sa.select(Environment.id).where(
                    Environment.namespace == namespace_row,
                    Environment.name == name,
                    Environment.deleted_on.is_(None),
                )
            ):
                raise Conflict(f"environment {namespace}/{name} exists already")
            environment = Environment(
                namespace=namespace_row, name=name, description=exported.description
            )
            session.add(environment)
            session.flush()
            ids = {}
            for build in exported.builds:
                row = self._collected_build(session, environment, build, specs[build.id])
                ids[build.id] = row.id
                for kind, artifact_type in FILES.items():
                    content = files.get(_member(build.id, kind))
                    if content is None:
                        continue
                    path = self.layout.artifact_path(row.id, kind)
                    session.add(
                        BuildArtifact(
                            build_id=row.id,
                            artifact_type=artifact_type,
                            key=str(path.relative_to(self.layout.root)),
                            size=len(content),
                        )
                    )
                    written.append((row.id, kind, content))
        # Committed: the files (none can belong to another build: the ids are ours now).
        for build_id, kind, content in written:
            path = self.layout.artifact_path(build_id, kind)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        for build_id in ids.values():
            self.storage.publish(self.layout, build_id)
        current = ids.get(exported.current_build_id) if exported.current_build_id else None
        if current is not None:
            with self.sessions() as session, session.begin():
                self._queue_restore(session, self._build(session, current), make_current=True)
        return ImportedEnvironment(
            namespace=namespace, name=name, builds=ids, current_build_id=current
        )

    def _collected_build(
        self, session: Session, environment: Environment, build: ExportedBuild, spec
    ) -> Build:
        spec_row = self._specification_row(session, spec, build.specification.is_lockfile)
        row = Build(
            environment=environment,
            specification=spec_row,
            status=BuildStatus.COMPLETED,
            scheduled_on=build.scheduled_on,
            started_on=build.started_on,
            ended_on=build.ended_on,
            size=build.size,
            phases=build.phases,
            collected_on=utcnow(),
            becomes_current=False,
        )
        session.add(row)
        session.flush()
        row.build_dir = StoreLayout.build_dir_name(
            spec_row.sha256, int(row.scheduled_on.timestamp()), row.id, environment.name
        )
        for package in build.packages:
            fields = package.model_dump()
            fields["manager"] = PackageManager(fields["manager"])
            session.add(BuildPackage(build_id=row.id, **fields))
        return row

    # -- copy and rename ------------------------------------------------------------------------
    def copy_environment(
        self, namespace: str, name: str, to_namespace: str, to_name: str, caller: Caller | None
    ) -> ImportedEnvironment:
        """A copy with its history, under another name or namespace (see the module's doc)."""
        archive = io.BytesIO()
        self.export_environments([(namespace, name)], archive)
        archive.seek(0)
        return self.import_archive(archive, namespace=to_namespace, name=to_name, caller=caller)[0]

    def rename_environment(
        self, namespace: str, name: str, to_namespace: str, to_name: str, caller: Caller | None
    ) -> ImportedEnvironment | None:
        """Within a namespace, the name changes (prefixes, builds and link stay); across
        namespaces, a copy there and a delete here."""
        validate_name("environment", to_name)
        if to_namespace != namespace:
            copied = self.copy_environment(namespace, name, to_namespace, to_name, caller)
            self.delete_environment(namespace, name)
            return copied
        with self.sessions() as session, session.begin():
            environment = self._environment(session, namespace, name)
            if session.scalar(
                sa.select(Environment.id).where(
                    Environment.namespace_id == environment.namespace_id,
                    Environment.name == to_name,
                    Environment.deleted_on.is_(None),
                )
            ):
                raise Conflict(f"environment {namespace}/{to_name} exists already")
            environment.name = to_name
            environment.updated_on = utcnow()
        self._sync_link_after_delete(namespace, name)  # the old name's link goes
        self._sync_link(namespace, to_name)
        self._on_change()
        return None


def _exported_build(build: Build) -> ExportedBuild:
    return ExportedBuild(
        id=build.id,
        specification=ExportedSpecification.model_validate(
            build.specification, from_attributes=True
        ),
        scheduled_on=build.scheduled_on,
        started_on=build.started_on,
        ended_on=build.ended_on,
        size=build.size or 0,
        phases=build.phases,
        packages=[
            ExportedPackage.model_validate(package, from_attributes=True)
            for package in build.packages
        ],
    )


def _parsed(exported: ExportedSpecification):
    """The specification as this store reads it; its hash must be the one recorded."""
    if exported.is_lockfile:
        spec = LockfileSpecification.from_dict(exported.spec)
    else:
        spec = parse_specification(exported.spec)
    if spec.sha256 != exported.sha256:
        raise SpecError(
            f"the archive's specification {exported.sha256[:12]} of {exported.name} does not "
            "hash to its recorded sha256 here: the archive was altered"
        )
    return spec


def read_archive(source: IO[bytes]) -> tuple[Manifest, dict[str, bytes]]:
    """The manifest and the build files of an archive, read (never extracted to disk: member
    names come from the manifest's build ids, not from the archive)."""
    try:
        with tarfile.open(fileobj=source, mode="r:gz") as tar:
            manifest = Manifest.model_validate(json.loads(_read(tar, MANIFEST) or b"null"))
            if manifest.format != FORMAT or manifest.version > VERSION:
                raise SpecError(
                    f"not an archive this server reads: {manifest.format} version "
                    f"{manifest.version} (it reads {FORMAT} up to version {VERSION})"
                )
            files = {}
            for environment in manifest.environments:
                for build in environment.builds:
                    for kind in FILES:
                        content = _read(tar, _member(build.id, kind))
                        if content is not None:
                            files[_member(build.id, kind)] = content
                    if _member(build.id, "lockfile") not in files:
                        raise SpecError(f"the archive has no lock file for build {build.id}")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise SpecError(f"not an environment archive (a gzipped tar): {error}") from None
    except (ValueError, pydantic.ValidationError) as error:
        if isinstance(error, SpecError):
            raise
        raise SpecError(f"the archive's {MANIFEST} is not valid: {error}") from None
    return manifest, files


def _read(tar: tarfile.TarFile, member: str) -> bytes | None:
    try:
        info = tar.getmember(member)
    except KeyError:
        return None
    if not info.isfile() or info.size > MAX_FILE_BYTES:
        raise SpecError(f"{member} in the archive is not a file of at most {MAX_FILE_BYTES} bytes")
    extracted = tar.extractfile(info)
    return extracted.read() if extracted else None
