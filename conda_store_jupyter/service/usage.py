"""Disk accounting: per namespace, its environments, builds and bytes; for the store, its
bytes, its package cache's and the free space left. Bytes are measured on disk (a walk of the
tree, each hard-linked file counted once: prefixes share their files with the package cache),
not summed from the builds' recorded sizes, which count shared files in every prefix.

A walk of a large store takes seconds, and every panel asks for usage (at most once a minute
each, but a hub has hundreds): one walk serves every caller while the store's revision
(service/revision.py: its environments, builds and artifacts) is unchanged, for at most
`MEASUREMENT_MAX_AGE` seconds (a build under way grows its prefix before the revision says so).
Callers arriving during a walk wait for it rather than start another."""

from __future__ import annotations

import shutil
import threading
import time

import sqlalchemy as sa

from ..api_usage import NamespaceUsage, StoreUsage, Usage
from ..auth import Caller
from ..db import Build, Environment, Namespace
from ..store import StoreLayout
from .base import ServiceBase, held_bytes
from .revision import store_revision

MEASUREMENT_MAX_AGE = 30.0


class StoreMeasurement:
    """`StoreLayout.measure()`, reused while the store's revision is the one it was taken at
    (and it is younger than `MEASUREMENT_MAX_AGE`); one walk at a time."""

    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout
        self.walks = 0  # for tests and benchmarks
        self._lock = threading.Lock()
        self._last: tuple[float, str, tuple[int, int, dict[str, int]]] | None = None

    def get(self, revision: str) -> tuple[int, int, dict[str, int]]:
        with self._lock:
            last = self._last
            if (
                last is not None
                and last[1] == revision
                and time.monotonic() - last[0] < MEASUREMENT_MAX_AGE
            ):
                return last[2]
            taken_at = time.monotonic()  # before the walk: its age never looks younger
            measured = self.layout.measure()
            self.walks += 1
            self._last = (taken_at, revision, measured)
            return measured


def store_measurement(service: ServiceBase) -> StoreMeasurement:
    """The one `StoreMeasurement` of a service (made on first use)."""
    measurement = service.__dict__.get("_store_measurement")
    if measurement is None:
        measurement = service.__dict__["_store_measurement"] = StoreMeasurement(service.layout)
    return measurement


class UsageMixin(ServiceBase):
    def usage(self, caller: Caller | None) -> Usage:
        """What the store uses (namespaces: those `caller` may read; None: all). Walks the
        store on disk: seconds on a large one, so it runs in a thread."""
        with self.sessions() as session:
            query = (
                sa.select(
                    Namespace.name,
                    sa.func.count(sa.distinct(Environment.id)),
                    sa.func.count(sa.distinct(Build.id)),
                )
                .select_from(Namespace)
                .outerjoin(
                    Environment,
                    sa.and_(
                        Environment.namespace_id == Namespace.id, Environment.deleted_on.is_(None)
                    ),
                )
                .outerjoin(
                    Build,
                    sa.and_(Build.environment_id == Environment.id, Build.deleted_on.is_(None)),
                )
                .where(Namespace.deleted_on.is_(None))
                .group_by(Namespace.name)
                .order_by(Namespace.name)
            )
            if caller is not None:
                query = query.where(caller.readable_filter(Namespace.name))
            counts = session.execute(query).all()
            held = held_bytes(session, [name for name, _, _ in counts])
        root = self.layout.root
        revisions = store_revision(self)  # read after the counts: never older than they are
        revision = (revisions.cached() or revisions.read()).whole
        store_bytes, cache_bytes, by_directory = store_measurement(self).get(revision)
        namespaces = [
            NamespaceUsage(
                namespace=name,
                environments=environments,
                builds=builds,
                bytes=by_directory.get(name, 0),
                quota=self.config.quota_of(name) or None,
                quota_used=held.get(name, 0),
            )
            for name, environments, builds in counts
        ]
        present = root if root.exists() else root.parent
        return Usage(
            namespaces=namespaces,
            store=StoreUsage(
                bytes=store_bytes,
                package_cache_bytes=cache_bytes,
                free_bytes=shutil.disk_usage(present).free,
                storage_threshold=self.config.storage_threshold,
            ),
        )
