"""Ending builds whose process is gone, and keeping the store in step with the database.

Shared by every executor and by the periodic maintenance (maintenance.py): the local executor
ends the builds of children it saw die, a Celery worker those it supervises, and whichever
process leads maintenance ends builds whose heartbeat went stale anywhere (a worker killed, a
machine gone). Every ending is conditional on the claim seen (db/transitions.py), so two of them
racing, or a build process completing meanwhile, never both win.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from .buildlog import BuildLog
from .db import (
    Build,
    BuildStatus,
    Environment,
    Namespace,
    select_builds,
    transitions,
    utcnow,
)
from .envlinks import sync_environment_link
from .storage import ArtifactStorage, StorageSettings, continue_log
from .store import StoreLayout


class StoreRecovery:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        layout: StoreLayout,
        log: logging.Logger,
        storage: ArtifactStorage | None = None,
    ) -> None:
        self.sessions = sessions
        self.layout = layout
        self.log = log
        self.storage = storage or ArtifactStorage(StorageSettings())  # (local: the store's dir)

    def finish_build(
        self, build_id: int, claim: str | None, status: BuildStatus, reason: str
    ) -> bool:
        """End a build whose process is dead (or never started), if it is still BUILDING under
        `claim`, or canceled by a user while it was. Only then is its prefix ours to remove: a
        build that completed, or that another party took over, is left alone. True if it was."""
        with self.sessions() as session, session.begin():
            won = transitions.end(session, build_id, claim, status, reason)
            if not won and transitions.holder_state(session, build_id, claim) != "canceled":
                return False
            namespace, _, build_dir = where_built(session, build_id)
        if build_dir:
            self.layout.remove_prefix(namespace, build_dir)
        ended = status.value if won else BuildStatus.CANCELED.value
        continue_log(self.storage, self.layout, build_id)  # (it may have published it)
        with BuildLog(self.layout.log_path(build_id)) as log:
            log.write(f"build {ended}: {reason if won else 'canceled'}; partial prefix removed")
        self.storage.publish(self.layout, build_id)
        self.log.info("conda-store: build %s %s: %s", build_id, ended, reason)
        return True

    def sync_link_of(self, build_id: int) -> None:
        """After a build process died: it may have completed the build before setting the link."""
        with self.sessions() as session:
            namespace, name, _ = where_built(session, build_id)
        sync_environment_link(self.layout, self.sessions, namespace, name)

    def fail_abandoned(self, stale_after: float, own_worker: str | None = None) -> list[int]:
        """Fail BUILDING builds nobody runs any more: heartbeat older than `stale_after`, a dead
        process of this machine, or one claimed under `own_worker` (this process, restarted)."""
        host = socket.gethostname()
        stale_before = utcnow() - datetime.timedelta(seconds=stale_after)
        with self.sessions() as session:
            abandoned = []
            for build in session.scalars(
                sa.select(Build).where(Build.status == BuildStatus.BUILDING)
            ):
                dead_here = _dead_process_of(host, build.worker)
                stale = build.heartbeat_on is None or build.heartbeat_on < stale_before
                if dead_here or stale or (own_worker and build.worker == own_worker):
                    abandoned.append((build.id, build.claim, build.worker, build.heartbeat_on))
        ended = []
        for build_id, claim, worker, heartbeat in abandoned:
            # Conditional on the claim seen above: if its process completes (or fails) the
            # build meanwhile, that process won, and this changes and removes nothing.
            if self.finish_build(
                build_id,
                claim,
                BuildStatus.FAILED,
                f"the process building it stopped (worker {worker}, last heartbeat "
                f"{heartbeat.isoformat() if heartbeat else 'never'})",
            ):
                ended.append(build_id)
        return ended

    def reconcile_links(self) -> None:
        """Every envs/<name> link, and every live environment's, set from the database."""
        with self.sessions() as session:
            names = set(
                tuple(row)
                for row in session.execute(
                    sa.select(Namespace.name, Environment.name)
                    .join(Namespace, Namespace.id == Environment.namespace_id)
                    .where(Environment.deleted_on.is_(None))
                ).all()
            )
        names |= set(self.layout.linked_environments())
        for namespace, name in sorted(names):
            before = self.layout.linked_build_dir(namespace, name)
            after = sync_environment_link(self.layout, self.sessions, namespace, name)
            if before != after:
                self.log.warning(
                    "conda-store: %s/%s pointed at %s; now at %s (the database's current build)",
                    namespace,
                    name,
                    before or "nothing",
                    after or "nothing",
                )

    def remove_orphan_prefixes(self) -> None:
        """Remove build prefixes the database does not keep (failed, canceled, deleted or
        collected builds, builds of deleted environments): left by a process that died, or that was
        fenced, after its prefix had been removed once, or kept while a kernel ran it. Prefixes
        of queued, running and live completed builds stay."""
        on_disk = self.layout.build_dirs()
        if not on_disk:
            return
        kept = (BuildStatus.QUEUED, BuildStatus.BUILDING, BuildStatus.COMPLETED)
        with self.sessions() as session:
            keep = set(
                session.scalars(
                    sa.select(Build.build_dir)
                    .join(Environment, Environment.id == Build.environment_id)
                    .where(
                        Build.build_dir.in_({build_dir for _, build_dir in on_disk}),
                        Build.status.in_(kept),
                        # a collected one's prefix went, or goes once its last kernel stopped
                        sa.or_(Build.collected_on.is_(None), Build.status != BuildStatus.COMPLETED),
                        Build.deleted_on.is_(None),
                        Environment.deleted_on.is_(None),  # a deleted one's builds are freed
                    )
                )
            )
        for namespace, build_dir in on_disk:
            if build_dir not in keep and self.layout.remove_prefix(namespace, build_dir):
                # (one a kernel still runs is kept, and taken at a sweep after it stopped)
                self.log.warning("conda-store: removed orphan prefix %s/%s", namespace, build_dir)


def where_built(session: Session, build_id: int) -> tuple[str, str, str | None]:
    """(namespace, environment name, build directory) of a build."""
    return tuple(  # type: ignore[return-value]
        session.execute(
            select_builds(Namespace.name, Environment.name, Build.build_dir, live=False).where(
                Build.id == build_id
            )
        ).one()
    )


def worker_host(worker: str | None) -> str:
    """The machine of a claim's worker name: "host:pid", or Celery's "name@host:pid"."""
    host, _, _ = (worker or "").rpartition(":")
    return host.rpartition("@")[2]


def _dead_process_of(host: str, worker: str | None) -> bool:
    """Whether `worker` names a process of this machine that is gone (no need to wait for its
    heartbeat to go stale)."""
    _, _, pid = (worker or "").rpartition(":")
    return worker_host(worker) == host and pid.isdigit() and not _pid_alive(int(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
