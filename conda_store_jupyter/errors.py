"""Domain errors of the service layer. Handlers map them to HTTP statuses in one place; the CLI
and workers print their message. Every message names the problem in words a user can act on."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator


class CondaStoreError(Exception):
    """Base of every error the service layer raises on purpose."""

    status_code = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SpecError(CondaStoreError):
    """The specification (or another input) is invalid: malformed YAML, unknown field, bad name."""

    status_code = 400


class Forbidden(CondaStoreError):
    """The caller lacks the role, or the policy forbids it (e.g. a channel not allowed)."""

    status_code = 403


class NotFound(CondaStoreError):
    status_code = 404


class Conflict(CondaStoreError):
    """The request contradicts the current state (delete the current build, cancel a done one)."""

    status_code = 409


class StoreFull(CondaStoreError):
    """A write found the store's disk (or the database's) full. Nothing was changed: the
    transaction rolled back; the same request succeeds once there is room again."""

    status_code = 507  # Insufficient Storage


DISK_FULL_MESSAGE = "the store's disk is full"

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
_POSTGRES_DISK_FULL = "53100"  # disk_full: "could not extend file ..."


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps: SQLAlchemy's `.orig` (the driver's error), then the
    `raise ... from` and implicit chains."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(
            cause
            for cause in (getattr(current, "orig", None), current.__cause__, current.__context__)
            if isinstance(cause, BaseException)
        )


def is_disk_full(error: BaseException) -> bool:
    """Whether a fault from below is the disk (or a quota) running out, whichever layer saw it:
    a file write (ENOSPC, EDQUOT), SQLite ("database or disk is full") or PostgreSQL (disk_full,
    "could not extend file")."""
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(cause, sqlite3.Error) and (
            getattr(cause, "sqlite_errorcode", None) == _SQLITE_FULL
            or "database or disk is full" in str(cause)
        ):
            return True
        if getattr(cause, "sqlstate", None) == _POSTGRES_DISK_FULL:  # psycopg
            return True
        if getattr(cause, "pgcode", None) == _POSTGRES_DISK_FULL:  # psycopg2
            return True
    return False


def domain_error(error: BaseException) -> CondaStoreError | None:
    """The domain error `error` is or stands for (a full disk, from any layer), else None."""
    if isinstance(error, CondaStoreError):
        return error
    if is_disk_full(error):
        return StoreFull(f"{DISK_FULL_MESSAGE}; free some space and try again")
    return None


def summarize(message: str, limit: int = 400) -> str:
    """The gist of a long tool message for status_info (the full text is in the log)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = " ".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"
