"""Disk accounting: per namespace, its environments, builds and bytes; for the store, its
bytes, its package cache's and the free space left. Bytes are measured on disk (a walk of the
tree, each hard-linked file counted once: prefixes share their files with the package cache),
not summed from the builds' recorded sizes, which count shared files in every prefix."""

from __future__ import annotations

import shutil

import sqlalchemy as sa

from ..api_usage import NamespaceUsage, StoreUsage, Usage
from ..auth import Caller
from ..db import Build, Environment, Namespace
from .base import ServiceBase, held_bytes


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
        store_bytes, cache_bytes, by_directory = self.layout.measure()  # one walk
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
