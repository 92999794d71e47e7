"""Specification files of `CondaStore.watch_paths`: each one's content, when it appears or
changes, is submitted into `CondaStore.filesystem_namespace`, as conda-store's `watch_paths`
does. Pure Python: watch.py decides when (inotify, under a lease), this decides what.

- An unchanged file (same SHA-256 as the content last acted on) does nothing: a rollback made
  meanwhile by a person stays.
- A file with errors leaves whatever was built alone; its message goes to the log and to
  `GET watched/` (and stays until the file changes).
- A deleted file leaves its environment alone, unless `watch_deletes_environments`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from ..api_watched import WatchedSpecification
from ..db import WatchedFile, utcnow
from ..errors import CondaStoreError, NotFound
from ..spec import MAX_SPEC_BYTES

if TYPE_CHECKING:
    from . import CondaStoreService

SUFFIXES = (".yml", ".yaml")


def specification_files(paths: Iterable[str]) -> set[Path]:
    """The files `paths` name: files as they are, directories' *.yml and *.yaml (recursively,
    hidden ones left out: editors' temporary files)."""
    found = set()
    for raw in paths:
        path = Path(raw).absolute()
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(
                file
                for file in path.rglob("*")
                if file.suffix in SUFFIXES
                and file.is_file()
                and not any(part.startswith(".") for part in file.relative_to(path).parts)
            )
    return found


def is_specification_file(path: Path, paths: Iterable[str]) -> bool:
    """Whether `path` is one of the files `paths` name (see `specification_files`)."""
    path = path.absolute()
    for raw in paths:
        root = Path(raw).absolute()
        if path == root:
            return True
        if path.suffix in SUFFIXES and path.is_relative_to(root):
            return not any(part.startswith(".") for part in path.relative_to(root).parts)
    return False


class WatchedSpecifications:
    def __init__(
        self,
        service: CondaStoreService,
        sessions: sessionmaker[Session],
        *,
        paths: list[str],
        namespace: str,
        delete_environments: bool = False,
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        self.service, self.sessions, self.paths = service, sessions, paths
        self.namespace, self.delete_environments = namespace, delete_environments
        self.log = log or logging.getLogger(__name__)

    def scan(self) -> None:
        """Act on every file as it is now: new and changed ones, and those gone meanwhile."""
        present = specification_files(self.paths)
        for path in sorted(present):
            self.apply(path)
        with self.sessions() as session:
            known = set(session.scalars(sa.select(WatchedFile.path)))
        for gone in sorted(known - {str(path) for path in present}):
            self.apply(Path(gone))

    def apply(self, path: Path) -> None:
        """Act on one file's change (created, modified or deleted)."""
        path = path.absolute()
        try:
            content = path.read_bytes() if path.is_file() else None
        except OSError as error:
            self.log.warning("conda-store: watched %s could not be read: %s", path, error)
            return
        if content is None:
            self._forget(path)
            return
        sha256 = hashlib.sha256(content).hexdigest()
        with self.sessions() as session:
            record = session.get(WatchedFile, str(path))
            if record is not None and record.sha256 == sha256:
                return  # acted on already (built, or refused with its message)
        environment, build_id, error = record and record.environment, None, None
        try:
            if len(content) > MAX_SPEC_BYTES:
                raise CondaStoreError(
                    f"the file is {len(content):,} bytes; at most {MAX_SPEC_BYTES:,} are allowed"
                )
            build = self.service.submit_specification(self.namespace, content)
            environment, build_id = build.environment_name, build.id
            self.log.info(
                "conda-store: watched %s -> %s/%s build %s",
                path,
                self.namespace,
                environment,
                build_id,
            )
        except CondaStoreError as refused:
            error = getattr(refused, "message", None) or str(refused)
            self.log.warning("conda-store: watched %s not built: %s", path, error)
        self._record(path, sha256, environment, build_id, error)

    def _record(
        self, path: Path, sha256: str, environment: str | None, build_id: int | None, error
    ) -> None:
        with self.sessions() as session, session.begin():
            record = session.get(WatchedFile, str(path)) or WatchedFile(path=str(path))
            record.namespace, record.environment, record.sha256 = (
                self.namespace,
                environment,
                sha256,
            )
            record.build_id = build_id if error is None else record.build_id
            record.error, record.updated_on = error, utcnow()
            session.add(record)

    def _forget(self, path: Path) -> None:
        with self.sessions() as session, session.begin():
            record = session.get(WatchedFile, str(path))
            if record is None:
                return
            environment = record.environment
            session.delete(record)
        if self.delete_environments and environment:
            try:
                self.service.delete_environment(self.namespace, environment)
            except NotFound:
                return
            self.log.info(
                "conda-store: watched %s deleted: %s/%s deleted", path, self.namespace, environment
            )
        else:
            self.log.info("conda-store: watched %s deleted; its environment is left", path)


def list_watched(sessions: sessionmaker[Session]) -> list[WatchedSpecification]:
    with sessions() as session:
        return [
            WatchedSpecification.model_validate(record, from_attributes=True)
            for record in session.scalars(sa.select(WatchedFile).order_by(WatchedFile.path))
        ]
