"""A build's files: its log (read from an offset) and its conda-pack archive (made on demand)."""

from __future__ import annotations

import sqlalchemy as sa

from ..artifacts import write_conda_pack
from ..buildlog import log_size, read_log
from ..db import BuildArtifact, BuildArtifactType, BuildStatus
from ..errors import NotFound, SpecError
from .base import ServiceBase


class ArtifactsMixin(ServiceBase):
    def read_log(self, build_id: int, offset: int = 0, *, known: bool = False) -> tuple[bytes, int]:
        """The build log from a byte offset, and where to read from next time. `known`: the
        caller has just read the build (the live log polls this, and its status, five times a
        second per client), so the database is not asked again whether it exists."""
        if not known:
            with self.sessions() as session:
                self._build(session, build_id)
        if offset < 0:
            raise SpecError("offset must be 0 or more")
        path = self.layout.log_path(build_id)
        if offset > log_size(path):  # nothing there yet (and seek() fails on absurd offsets)
            return b"", offset
        return read_log(path, offset)

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
