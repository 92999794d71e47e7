"""The record of a build a notebook keeps in its metadata (api_records.py), for reproducing it
elsewhere: where it was built, which specification, and its lock file itself."""

from __future__ import annotations

import hashlib

from .. import __version__
from ..api_records import BuildRecord
from ..db import BuildStatus
from ..errors import Conflict, NotFound
from .base import ServiceBase


class RecordsMixin(ServiceBase):
    def build_record(self, build_id: int) -> BuildRecord:
        with self.sessions() as session:
            build = self._build(session, build_id)
            if build.status != BuildStatus.COMPLETED:
                raise Conflict(
                    f"build {build_id} is {build.status.value}: only a completed build is "
                    "recorded (it has a lock file)"
                )
            environment = build.environment
            namespace, name = environment.namespace.name, environment.name
            specification_sha256 = build.specification.sha256
        lockfile = self.storage.read_bytes(self.layout, build_id, "lockfile")
        if lockfile is None:
            raise NotFound(f"build {build_id} has no lock file")
        return BuildRecord(
            namespace=namespace,
            environment=name,
            build_id=build_id,
            specification_sha256=specification_sha256,
            lockfile_sha256=hashlib.sha256(lockfile).hexdigest(),
            lockfile=lockfile.decode("utf-8"),
            store_version=__version__,
        )
