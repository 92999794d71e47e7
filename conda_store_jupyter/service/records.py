"""The record of a build a notebook keeps in its metadata (api_records.py), for reproducing it
elsewhere: where it was built, which specification, and its lock file itself."""

from __future__ import annotations

import hashlib

from .. import __version__
from ..api_records import BuildRecord
from ..db import BuildStatus, utcnow
from ..errors import Conflict, NotFound
from .lifecycle import LifecycleMixin


class RecordsMixin(LifecycleMixin):
    def request_build_kernel(self, build_id: int) -> bool:
        """Ask for a kernel of this very build (a notebook recorded on it runs there again):
        the kernel registry keeps one while the build has its prefix. A collected build is
        restored first. True if its prefix is there now (the kernel follows in a moment)."""
        with self.sessions() as session, session.begin():
            self._lock_build(session, build_id)
            build = self._build(session, build_id)
            if build.status != BuildStatus.COMPLETED and build.collected_on is None:
                raise Conflict(
                    f"build {build_id} is {build.status.value}: only a completed build has a kernel"
                )
            if build.environment.deleted_on is not None:
                raise Conflict(f"the environment of build {build_id} was deleted")
            if build.kernel_requested_on is None:
                build.kernel_requested_on = utcnow()
            ready = build.collected_on is None
            if build.collected_on is not None and build.status == BuildStatus.COMPLETED:
                self._queue_restore(session, build, make_current=False)
        self._on_change()
        return ready

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
