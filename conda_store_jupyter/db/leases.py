"""Leases: exactly one process of a deployment holds each named lease at a time.

The holder renews its lease more often than `ttl`; any other process takes it over once it has
not been renewed for `ttl` seconds (its holder died, froze, or lost its machine). Both renewing
and taking over are one conditional UPDATE, and the first holder's INSERT is guarded by the
primary key, so two processes never both hold a lease, on PostgreSQL or SQLite.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Lease, utcnow


def hold(session: Session, name: str, holder: str, ttl: float) -> bool:
    """Renew the lease `name` for `holder`, or take it if free or expired; commit. True if
    `holder` holds it now."""
    now = utcnow()
    expired = now - datetime.timedelta(seconds=ttl)
    renewed = session.execute(
        sa.update(Lease)
        .where(Lease.name == name, sa.or_(Lease.holder == holder, Lease.renewed_on < expired))
        .values(holder=holder, renewed_on=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if renewed == 1:
        session.commit()
        return True
    exists = session.scalar(sa.select(Lease.holder).where(Lease.name == name))
    if exists is not None:
        session.commit()
        return False
    try:
        session.add(Lease(name=name, holder=holder, renewed_on=now))
        session.commit()
    except IntegrityError:  # another process made it first
        session.rollback()
        return False
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up (a clean stop), so another process takes over at once; commit."""
    session.execute(
        sa.delete(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .execution_options(synchronize_session=False)
    )
    session.commit()
