"""Every change of a build's status, each one conditional UPDATE: the build table is the queue,
and the database is the only judge of who owns a build.

    QUEUED ──claim──▶ BUILDING ──complete──▶ COMPLETED
      │                  ├──────end─────────▶ FAILED | CANCELED
      └────cancel────────┴──cancel──────────▶ CANCELED

A restore of a collected build (one whose prefix garbage collection removed, `collected_on` set)
goes round the same loop from COMPLETED: `queue_restore` makes it QUEUED again, and it is
claimed, run and ended like any build; but its ending is COMPLETED whatever happens (a failed or
canceled restore leaves it collected, with the reason in status_info), and its original times
stay. Completing it clears `collected_on`.

A claim gives the build a fresh `claim` token. Whoever acts on a BUILDING build (its build
process, the executor that started it, recovery) names the token it saw, and the change happens
only if the build is still BUILDING under that token: two parties can never both win, so a
completion and a recovery (or a cancel) cannot overwrite each other, and only the winner may
remove the prefix or move the environment's link. A build process whose claim was taken over
finds out at its next heartbeat or step, and stops without touching anything (it is fenced).

Each function commits nothing: run it in the caller's transaction (`with session.begin()`);
`claim_next_build` is the exception (a claim must be committed before its process starts).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Build, BuildStatus, Environment, utcnow

ACTIVE = (BuildStatus.QUEUED, BuildStatus.BUILDING)
FINAL = (BuildStatus.COMPLETED, BuildStatus.FAILED, BuildStatus.CANCELED)
STATUS_INFO_LIMIT = 2000


def _unless_restore(column: sa.ColumnElement, value: object) -> sa.Case:
    """`value`, except for a restore, which keeps the build's original `column`."""
    return sa.case((Build.collected_on.is_(None), sa.literal(value, column.type)), else_=column)


def _ending(status: BuildStatus) -> sa.Case:
    """A build that fails or is canceled ends so; a restore stays a COMPLETED, collected build."""
    return sa.case((Build.collected_on.is_(None), status.value), else_=BuildStatus.COMPLETED.value)


def claim_next_build(session: Session, worker: str) -> Build | None:
    """Atomically move the oldest QUEUED build to BUILDING for `worker`, under a new claim token,
    and commit; None when the queue is empty. Two processes claiming at once never get the same
    build.

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
        .values(
            status=BuildStatus.BUILDING,
            started_on=_unless_restore(Build.started_on, now),
            heartbeat_on=now,
            worker=worker,
            claim=uuid.uuid4().hex,
        )
        .returning(Build)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    build = session.scalars(claim).one_or_none()
    session.commit()
    return build


def _held(build_id: int, claim: str):
    return sa.and_(Build.id == build_id, Build.status == BuildStatus.BUILDING, Build.claim == claim)


def _changed(session: Session, statement: sa.Update) -> bool:
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1


def heartbeat(session: Session, build_id: int, claim: str) -> bool:
    """Say the holder of `claim` is alive; False when the build is no longer its to run."""
    return _changed(
        session, sa.update(Build).where(_held(build_id, claim)).values(heartbeat_on=utcnow())
    )


def holder_state(session: Session, build_id: int, claim: str) -> str:
    """What the holder of `claim` should do now: "run" (still BUILDING under this claim),
    "canceled" (a user canceled it while it ran: clean up) or "lost" (it ended, or another
    claim owns it: stop and touch nothing)."""
    row = session.execute(sa.select(Build.status, Build.claim).where(Build.id == build_id)).first()
    if row is None or row.claim != claim:
        return "lost"
    if row.status == BuildStatus.BUILDING:
        return "run"
    return "canceled" if row.status == BuildStatus.CANCELED else "lost"


def complete(
    session: Session, build_id: int, claim: str, size: int, phases: dict[str, float] | None = None
) -> bool:
    """BUILDING (under `claim`) → COMPLETED, and the build becomes its environment's current one
    (unless the environment was deleted, or it is a restore nobody asked to make current): both
    in the caller's transaction, or neither. `phases`: seconds the build spent per phase
    (metrics.py); a restore keeps the build's own."""
    if not _changed(
        session,
        sa.update(Build)
        .where(_held(build_id, claim))
        .values(
            status=BuildStatus.COMPLETED,
            ended_on=_unless_restore(Build.ended_on, utcnow()),
            size=size,
            phases=_unless_restore(Build.phases, phases),
            collected_on=None,
            status_info=None,
        ),
    ):
        return False
    environment_id = (
        sa.select(Build.environment_id)
        .where(Build.id == build_id, Build.becomes_current.is_(True))
        .scalar_subquery()
    )
    session.execute(
        sa.update(Environment)
        .where(Environment.id == environment_id, Environment.deleted_on.is_(None))
        .values(current_build_id=build_id, updated_on=utcnow())
        .execution_options(synchronize_session=False)
    )
    return True


def end(session: Session, build_id: int, claim: str, status: BuildStatus, info: str) -> bool:
    """BUILDING (under `claim`) → FAILED or CANCELED (a restore: back to COMPLETED and
    collected, `info` said as the restore's). True when this call made the change, and with it
    the duty to remove the build's prefix."""
    assert status in (BuildStatus.FAILED, BuildStatus.CANCELED)
    return _changed(
        session,
        sa.update(Build)
        .where(_held(build_id, claim))
        .values(
            status=_ending(status),
            status_info=_restore_info(info),
            ended_on=_unless_restore(Build.ended_on, utcnow()),
        ),
    )


def _restore_info(info: str) -> sa.Case:
    return sa.case(
        (Build.collected_on.is_(None), info[:STATUS_INFO_LIMIT]),
        else_=f"restore ended: {info}"[:STATUS_INFO_LIMIT],
    )


def cancel(session: Session, build_ids: list[int], info: str) -> list[int]:
    """QUEUED or BUILDING → CANCELED, for a user. The claim stays: whoever runs a canceled build
    (its executor) still holds it, kills the process, and then removes the prefix."""
    if not build_ids:
        return []
    return list(
        session.scalars(
            sa.update(Build)
            .where(Build.id.in_(build_ids), Build.status.in_(ACTIVE))
            .values(
                status=_ending(BuildStatus.CANCELED),
                status_info=_restore_info(info),
                ended_on=_unless_restore(Build.ended_on, utcnow()),
            )
            .returning(Build.id)
            .execution_options(synchronize_session=False)
        )
    )


def queue_restore(session: Session, build_id: int, *, make_current: bool) -> bool:
    """A collected COMPLETED build → QUEUED, to be reinstalled from its lock file; or, already
    being restored, only asked to become current. `make_current`: it becomes its environment's
    current build once restored (a rollback to it). False if it is not collected."""
    values: dict[str, object] = {"becomes_current": True} if make_current else {}
    restoring = session.execute(
        sa.update(Build)
        .where(
            Build.id == build_id,
            Build.collected_on.is_not(None),
            Build.deleted_on.is_(None),
            Build.status.in_(ACTIVE),
        )
        .values(**values or {"becomes_current": Build.becomes_current})
        .execution_options(synchronize_session=False)
    ).rowcount
    if restoring:
        return True
    return _changed(
        session,
        sa.update(Build)
        .where(
            Build.id == build_id,
            Build.collected_on.is_not(None),
            Build.deleted_on.is_(None),
            Build.status == BuildStatus.COMPLETED,
        )
        .values(
            status=BuildStatus.QUEUED,
            status_info=None,
            scheduled_on=utcnow(),
            claim=None,
            worker=None,
            becomes_current=make_current,
        ),
    )
