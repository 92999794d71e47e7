"""envs/<name> follows the database: one rule, used by builds, rollbacks, deletes and recovery.

The database decides which build is an environment's current one (in the same transaction that
completes the build, or that rolls back); the link is then set from what the database says,
under the environment's lock, never from what the caller believed. So the link only ever points
at a COMPLETED build of a live environment, and concurrent writers converge on the database's
answer whatever order they run in.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from .db import Build, BuildStatus, Environment, Namespace
from .store import StoreLayout


def current_build_dir(session: Session, namespace: str, name: str) -> str | None:
    """The prefix directory envs/<name> must point at, or None if there must be no link."""
    return session.scalar(
        sa.select(Build.build_dir)
        .join(Environment, Environment.current_build_id == Build.id)
        .join(Namespace, Namespace.id == Environment.namespace_id)
        .where(
            Namespace.name == namespace,
            Namespace.deleted_on.is_(None),
            Environment.name == name,
            Environment.deleted_on.is_(None),
            Build.status == BuildStatus.COMPLETED,
            Build.deleted_on.is_(None),
        )
    )


def sync_environment_link(
    layout: StoreLayout, sessions: sessionmaker[Session], namespace: str, name: str
) -> str | None:
    """Set envs/<name> to what the database says now; return the build directory it points at."""
    with layout.environment_lock(namespace, name):
        with sessions() as session:
            build_dir = current_build_dir(session, namespace, name)
        if build_dir is None:
            layout.remove_environment_link(namespace, name)
        elif layout.linked_build_dir(namespace, name) != build_dir:
            layout.point_environment(namespace, name, build_dir)
        return build_dir
