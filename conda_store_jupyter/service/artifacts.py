"""A build's files: its log (read from an offset) and its conda-pack archive (made on demand),
wherever the storage keeps them (storage.py): in the store's directory while the build runs,
then there or in the bucket."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ..artifacts import write_conda_pack
from ..buildlog import MAX_READ, log_size, read_log
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
        local = _read_local_log(self.layout.log_path(build_id), offset)
        if local is not None:
            return local
        # No local log (any more): an ended build's log published to the bucket, or none yet.
        data = self.storage.read_range(self.layout, build_id, "logs", offset, MAX_READ)
        if not data:
            return b"", offset
        return _whole_lines(data, offset, MAX_READ)

    def ensure_archive(self, build_id: int) -> str:
        """The build's conda-pack archive, made now if the build did not make one (and then
        published as the build's other artifacts were). Its path in the store, where it is
        unless the storage moved it to a bucket (then ask the storage)."""
        with self.sessions() as session:
            build = self._build(session, build_id)
            namespace = build.environment.namespace.name
            status, build_dir = build.status, build.build_dir
        path = self.layout.artifact_path(build_id, "archive")
        if self.storage.exists(self.layout, build_id, "archive"):
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
        # The archive only: the build (completed) may still be writing its last log lines.
        self.storage.publish(self.layout, build_id, kinds=("archive",))
        return str(path)


def _read_local_log(path: Path, offset: int) -> tuple[bytes, int] | None:
    """The log file's bytes from `offset` and the next offset, or None if there is no file
    (read in that order: a log published meanwhile is found in the bucket, never missed)."""
    if offset > log_size(path):  # nothing there yet (and seek() fails on absurd offsets)
        return (b"", offset) if path.is_file() else None
    data, next_offset = read_log(path, offset)
    if data or path.is_file():
        return data, next_offset
    return None


def _whole_lines(data: bytes, offset: int, limit: int) -> tuple[bytes, int]:
    """As buildlog.read_log: only complete lines, unless one line is longer than `limit`."""
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) == limit:
        end = limit
    return data[:end], offset + end
