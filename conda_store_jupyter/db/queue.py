"""The build table is the build queue: claiming a build is one conditional UPDATE."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Build, BuildStatus, utcnow


def claim_next_build(session: Session, worker: str) -> Build | None:
    """Atomically move the oldest QUEUED build to BUILDING for `worker` and commit; None when the
    queue is empty. Two processes claiming at once never get the same build.

    It commits the session, so call it on one without pending changes of its caller.

    - PostgreSQL: the subquery locks the oldest queued row FOR UPDATE SKIP LOCKED, so concurrent
      claimers each lock a different row without waiting for each other.
    - SQLite (no row locks; FOR UPDATE is not rendered): the statement runs under the database's
      single write lock, so the subquery and the update see the same state.
    In both, `status = 'QUEUED'` in the outer WHERE guarantees a build leaves QUEUED once.
    """
    oldest_queued = (
        sa.select(Build.id)
        .where(Build.status == BuildStatus.QUEUED)
        .order_by(Build.scheduled_on, Build.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    now = utcnow()
    claim = (
        sa.update(Build)
        .where(Build.id == oldest_queued, Build.status == BuildStatus.QUEUED)
        .values(status=BuildStatus.BUILDING, started_on=now, heartbeat_on=now, worker=worker)
        .returning(Build)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    build = session.scalars(claim).one_or_none()
    session.commit()
    return build
