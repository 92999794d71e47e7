"""The store's revision: one short value that changes whenever anything a listing shows
changes (namespaces, environments, builds, their artifacts, namespace sharing). Conditional GETs
(handlers/base.py) derive their ETags from it, so an unchanged list is answered 304 without
running its query.

It is read from the database, never from this process's memory, because several servers (and
Celery workers, and build processes) write to one database. One aggregate statement reads it:
per table (per namespace for environments, builds and artifacts, so that a caller's ETags only
follow the namespaces they may read), the row count, the largest id and the sum of a hash of
each row's changing columns. Every write that changes a listing changes one of those:

- a new row raises the count (and the largest id); a deleted row lowers the count;
- a soft delete sets `deleted_on`, a status change sets `started_on` or `ended_on` (see
  db/transitions.py: every transition does) and the status itself, a new current build or
  description moves `current_build_id` and `updated_on`, a collection or a restore sets or
  clears `collected_on`, a role change the role: all of them are in the row's hash. Sums of
  per-row hashes (each reduced modulo a prime) do not let two changes cancel out as a plain
  sum of the columns would (short of a 1 in 2**31 collision), and unlike a max of timestamps
  they do not depend on the writers' clocks agreeing.

The result is the same in every process that reads the same state (no per-process salt), so a
client moving between servers behind one address keeps its 304s.

Columns no listing shows (heartbeats, claims) are left out: a heartbeat changes nothing.

The value is cached in the process for at most `REVISION_TTL` seconds: a change made through
another process is seen within that (an answer may be 304 for up to 0.5 s after a change
elsewhere, plus the time of the statement itself); past half of it, a request starts a new read
in the background, so that steady traffic never waits for one. A write committed through this
process's sessions invalidates the cache at once: whoever just changed something sees it on
their next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement

from ..db import (
    Build,
    BuildArtifact,
    BuildStatus,
    Environment,
    Namespace,
    NamespaceRoleMapping,
)

REVISION_TTL = 0.5  # seconds a revision read from the database is trusted in this process
REFRESH_AFTER = 0.5  # of REVISION_TTL: then the next request starts a read in the background
_PRIME = 2_147_483_647  # 2**31 - 1: every product below stays within a signed 64-bit integer
_FACTOR = 1_000_003
_STATUS = {status: code for code, status in enumerate(BuildStatus, 1)}
_ROLE = {"viewer": 1, "editor": 2, "admin": 3}
_WROTE = "conda_store_wrote"  # Session.info key: this transaction changed something


class epoch_micros(FunctionElement):
    """Microseconds since 1970 of a timestamp column, as an integer, in either database."""

    type = sa.BigInteger()
    inherit_cache = True


@compiles(epoch_micros)
def _epoch_micros_sqlite(element, compiler, **kw):  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"
    column = compiler.process(element.clauses, **kw)
    return f"CAST((julianday({column}) - 2440587.5) * 86400000000.0 AS INTEGER)"


@compiles(epoch_micros, "postgresql")
def _epoch_micros_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"


def _row_hash(row_id: Any, *values: Any) -> sa.ColumnElement[int]:
    """A polynomial hash of a row's id and changing values, modulo a prime (NULL counts as 0)."""
    # 64-bit arithmetic throughout: PostgreSQL's INTEGER products would overflow.
    hashed: Any = sa.cast(row_id, sa.BigInteger) % _PRIME
    for value in values:
        value = sa.cast(sa.func.coalesce(value, 0), sa.BigInteger)
        hashed = (hashed * _FACTOR + value % _PRIME) % _PRIME
    return hashed


def _aggregates(label: str, model: Any, namespace_id: Any, *values: Any) -> sa.Select:
    """count, largest id and hash sum of `model`'s rows, per namespace (`namespace_id`: the
    column that says whose; None: one row for the whole table)."""
    key = sa.cast(namespace_id if namespace_id is not None else sa.null(), sa.Integer)
    query = sa.select(
        sa.literal(label),
        key,
        sa.cast(sa.null(), sa.String),
        sa.func.count(),
        sa.func.coalesce(sa.func.max(model.id), 0),
        sa.func.coalesce(sa.func.sum(_row_hash(model.id, *values)), 0),
    ).select_from(model)
    return query.group_by(namespace_id) if namespace_id is not None else query


def revision_statement() -> sa.CompoundSelect:
    """One statement (one snapshot of the database) over every table a listing reads:
    what any answer may show (namespaces, sharing, the build queue, whose order gives every
    queued build its `queue_position`) as a whole, the rest per namespace."""
    status = sa.case(_STATUS, value=Build.status, else_=0)
    role = sa.case(_ROLE, value=NamespaceRoleMapping.role, else_=0)
    builds = sa.join(Build, Environment, Environment.id == Build.environment_id)
    artifacts = sa.join(BuildArtifact, builds, Build.id == BuildArtifact.build_id)
    return sa.union_all(
        sa.select(
            sa.literal("name"),
            Namespace.id,
            Namespace.name,
            sa.literal(0),
            sa.literal(0),
            sa.literal(0),
        ),
        _aggregates("namespace", Namespace, None, epoch_micros(Namespace.deleted_on)),
        _aggregates(
            "sharing",
            NamespaceRoleMapping,
            None,
            NamespaceRoleMapping.namespace_id,
            role,
        ),
        _aggregates("queue", Build, None).where(Build.status == BuildStatus.QUEUED),
        _aggregates(
            "environment",
            Environment,
            Environment.namespace_id,
            Environment.current_build_id,
            epoch_micros(Environment.updated_on),
            epoch_micros(Environment.deleted_on),
        ),
        _aggregates(
            "build",
            Build,
            Environment.namespace_id,
            status,
            epoch_micros(Build.started_on),
            epoch_micros(Build.ended_on),
            epoch_micros(Build.deleted_on),
            epoch_micros(Build.collected_on),  # a collection changes no status
            Build.size,
        ).select_from(builds),
        _aggregates(
            "build_artifact", BuildArtifact, Environment.namespace_id, BuildArtifact.build_id
        ).select_from(artifacts),
    )


# What each kind of answer shows, besides the shared part (namespaces, sharing, the queue):
# environments show their current (or pending) build and its artifacts; builds show nothing of
# the environment table (names are immutable).
ENVIRONMENTS = ("environment", "build", "build_artifact")
BUILDS = ("build", "build_artifact")
NAMESPACES = ()


class Revision:
    """The store's state at one moment: `shared` (what any answer may show) and, per namespace,
    a hash of its environments, builds and artifacts. A caller's answers depend only on the
    namespaces they may read, and a list only on the tables it shows: `scope` digests those,
    so a change in someone else's namespace, or in a table the list does not show, leaves an
    ETag alone."""

    def __init__(self, rows: list[Any]) -> None:
        self.names: dict[int, str] = {}
        shared: list[tuple] = []
        self.namespaces: dict[int, dict[str, tuple]] = {}
        for label, namespace_id, name, *numbers in rows:
            numbers = tuple(int(number) for number in numbers)
            if label == "name":
                self.names[int(namespace_id)] = name
            elif namespace_id is None:
                shared.append((label, *numbers))
            else:
                self.namespaces.setdefault(int(namespace_id), {})[label] = numbers
        self.shared = _digest(sorted(shared))
        # Everything: changes whenever any listing of any namespace would.
        self.whole = _digest([self.shared, sorted(self.namespaces.items())])
        self._scopes: dict[tuple[str, tuple[str, ...]], str] = {}
        # who -> ids of the namespaces they read: kept from one revision to the next while no
        # namespace came or went (matching 200 names against bindings is the costly part).
        self.readable: dict[str, list[int]] = {}

    def follows(self, previous: Revision) -> None:
        """Take over what `previous` learnt that still holds."""
        if previous.names == self.names:
            self.readable = previous.readable

    def scope(self, who: str, reads: Callable[[str], bool], tables: tuple[str, ...]) -> str:
        """The digest of the shared state and of `tables` in every namespace (live or
        deleted) whose name `reads` accepts; memoised per `who` (a fingerprint of the
        caller's bindings) and `tables`."""
        key = (who, tables)
        scope = self._scopes.get(key)
        if scope is None:
            readable = self.readable.get(who)
            if readable is None:
                readable = [ns for ns, name in sorted(self.names.items()) if reads(name)]
                self.readable[who] = readable
            states = [
                (namespace_id, [self.namespaces.get(namespace_id, {}).get(t) for t in tables])
                for namespace_id in (readable if tables else ())
            ]
            scope = self._scopes[key] = _digest([self.shared, tables, states])
        return scope


def _digest(parts: list[Any]) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


class StoreRevision:
    """The revision of one store (one database), cached for `REVISION_TTL` seconds."""

    def __init__(self, sessions: sessionmaker[Session], ttl: float = REVISION_TTL) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.reads = 0  # statements run: for tests and benchmarks
        self._statement = revision_statement()
        self._generations = itertools.count(1)
        self._generation = 0  # bumped by every commit of a write through `sessions`
        # (read at time.monotonic(), generation when the read began, value)
        self._cached: tuple[float, int, Revision] | None = None
        self._pending: tuple[int, asyncio.Future[Revision]] | None = None
        self._lock = threading.Lock()
        # Its own thread: a read never waits in the default executor's queue behind list
        # queries, which would let the revision age past its TTL and make requests wait.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-revision")
        weakref.finalize(self, self._thread.shutdown, wait=False)
        _watch_writes(sessions, self.invalidate)

    def invalidate(self) -> None:
        """Forget the cached revision (thread-safe): a write was just committed here."""
        self._generation = next(self._generations)

    def cached(self) -> Revision | None:
        """The revision if a fresh one is known, without touching the database."""
        cached = self._cached
        if cached is None:
            return None
        read_at, generation, value = cached
        if generation != self._generation or time.monotonic() - read_at > self.ttl:
            return None
        return value

    def read(self) -> Revision:
        """The revision from the database (blocking), cached for the next `ttl` seconds."""
        # Time and generation are taken before the statement runs: a write committed while
        # it runs makes the cached value count as stale, never as newer than it is.
        read_at, generation = time.monotonic(), self._generation
        with self.sessions() as session:
            rows = session.execute(self._statement).all()
        self.reads += 1
        value = Revision(rows)
        with self._lock:
            if self._cached is None or self._cached[0] <= read_at:
                if self._cached is not None:
                    value.follows(self._cached[2])
                self._cached = (read_at, generation, value)
        return value

    async def current(self) -> Revision:
        """The revision: the cached one, or one read in a thread shared by every request that
        asks meanwhile (300 panels polling at once make one query, not 300). A cached one past
        `REFRESH_AFTER` of its life is still used, and a read starts in the background: under
        steady traffic no request waits for the statement."""
        cached = self._cached
        value = self.cached()
        if value is not None:
            assert cached is not None
            if time.monotonic() - cached[0] > self.ttl * REFRESH_AFTER:
                self._read_soon()
            return value
        return await asyncio.shield(self._read_soon())

    def _read_soon(self) -> asyncio.Future[Revision]:
        """The read under way that began after the last write committed here, or a new one."""
        loop = asyncio.get_running_loop()
        pending = self._pending
        if (
            pending is None
            or pending[0] != self._generation
            or pending[1].get_loop() is not loop
            or (pending[1].done() and self.cached() is None)
            or (pending[1].done() and time.monotonic() - self._cached[0] > self.ttl / 2)
        ):
            future = loop.run_in_executor(self._thread, self.read)
            future.add_done_callback(_retrieve)  # a failed background read is not an error
            pending = self._pending = (self._generation, future)
        return pending[1]


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _watch_writes(sessions: sessionmaker[Session], invalidate: Any) -> None:
    """Call `invalidate` after each commit of a transaction that wrote through `sessions` (ORM
    flushes and INSERT/UPDATE/DELETE statements alike; read-only sessions do not count). The
    mark is not cleared by a rollback (one of a savepoint is followed by the commit of what came
    before it): a mark left over costs one needless read, a lost one would hide a change."""

    def wrote(session: Session, *_: Any) -> None:
        session.info[_WROTE] = True

    def executed(state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            state.session.info[_WROTE] = True

    def committed(session: Session) -> None:
        if session.info.pop(_WROTE, False):
            invalidate()

    sa.event.listen(sessions, "after_flush", wrote)
    sa.event.listen(sessions, "do_orm_execute", executed)
    sa.event.listen(sessions, "after_commit", committed)


def store_revision(service: Any) -> StoreRevision:
    """The one `StoreRevision` of a service's database (made on first use)."""
    revision = service.__dict__.get("_store_revision")
    if revision is None:
        revision = service.__dict__["_store_revision"] = StoreRevision(service.sessions)
    return revision
