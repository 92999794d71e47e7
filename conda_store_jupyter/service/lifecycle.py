"""The store over time: restoring a build that garbage collection collected, and the collector
itself (gc.py) with the configured retention policy."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import api_models
from ..api_gc import RetentionPolicy
from ..db import Build, BuildStatus, transitions
from ..errors import Conflict
from ..gc import GarbageCollector
from .base import ServiceBase, log


class LifecycleMixin(ServiceBase):
    def restore_build(self, build_id: int, *, make_current: bool = False) -> api_models.Build:
        """Queue the reinstall of a collected build's prefix from its own lock file (no solve:
        the same packages). `make_current`: it becomes its environment's current build once
        restored. A build already being restored is only told so."""
        with self.sessions() as session, session.begin():
            self._lock_build(session, build_id)
            self._queue_restore(session, self._build(session, build_id), make_current=make_current)
        log.info("conda-store: build %s queued for a restore from its lock file", build_id)
        self._on_change()
        return self.get_build(build_id)

    def _queue_restore(self, session: Session, build: Build, *, make_current: bool) -> None:
        build_id = build.id
        if build.collected_on is None:
            raise Conflict(
                f"build {build_id} is {build.status.value} and was not collected: "
                "only a build whose prefix garbage collection removed can be restored"
            )
        if build.environment.deleted_on is not None:
            raise Conflict(f"environment of build {build_id} was deleted")
        if build.status == BuildStatus.COMPLETED:  # a new restore: room for it first
            self._check_room()
            self._check_quota(session, build.environment.namespace.name)
        transitions.queue_restore(session, build_id, make_current=make_current)

    @staticmethod
    def _lock_build(session, build_id: int) -> None:
        """Lock the build's row for this transaction (PostgreSQL), as garbage collection does
        before it collects one: a rollback and a collection of one build never interleave."""
        session.execute(sa.select(Build.id).where(Build.id == build_id).with_for_update())

    def collector(self, **policy: object) -> GarbageCollector:
        """The garbage collector of this store, with the configured retention policy (or
        those rules overridden by `policy`)."""
        rules = RetentionPolicy.from_config(self.config).model_copy(update=policy)
        return GarbageCollector(self.sessions, self.layout, rules, self.storage)
