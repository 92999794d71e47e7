"""Garbage collection of the store: old builds' prefixes, and package cache entries no prefix
uses.

    plan (database + disk) ──▶ collect each build: database first, then its files
                           ──▶ clean the package cache ──▶ report (and a gc_run row)

A completed build the retention policy (api_gc.RetentionPolicy) lets go is *collected*: its
prefix and conda-pack archive go, its log, lock file, specification and package list stay, and
`collected_on` says so. It can be restored from its lock file (locked.py), package for package.
Never collected: an environment's current build, a queued or running one (not COMPLETED), and
one a kernel runs (its prefix is locked by the kernel's activation script; see store.py).

Files a prefix holds are hard links into the package cache, so removing a prefix frees only
what the cache no longer holds; the cache entries that no prefix on disk uses go next, unless a
build is queued or running (it may be fetching into the cache right now).

One run at a time per deployment: the periodic run is a job of the maintenance leader
(maintenance.py), and `jupyter conda-store gc` is for an administrator.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from .api_gc import CollectedBuild, GcReport, RetentionPolicy
from .db import (
    Build,
    BuildArtifact,
    BuildArtifactType,
    BuildStatus,
    Environment,
    GcRun,
    Namespace,
    select_builds,
    transitions,
    utcnow,
)
from .store import StoreLayout

log = logging.getLogger(__name__)
# A package cache entry touched this recently is kept even if no prefix uses it: a build may have
# just fetched it, and be about to link it (the check for running builds can miss one that
# starts right after it).
CACHE_GRACE_SECONDS = 600.0


class GarbageCollector:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        layout: StoreLayout,
        policy: RetentionPolicy,
        storage: Any,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        self.sessions, self.layout, self.policy, self.storage = sessions, layout, policy, storage
        self.log = logger or log

    # -- one run ----------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False) -> GcReport:
        """Collect (or, `dry_run`, only say) what the policy lets go; record a real run."""
        started, clock = utcnow(), time.monotonic()
        try:
            report = self._run(dry_run, clock)
        except Exception as error:
            if not dry_run:
                self._record(started, None, error)
            raise
        if not dry_run:
            self._record(started, report, None)
        return report

    def _run(self, dry_run: bool, clock: float) -> GcReport:
        collect, kept_running = self.plan()
        prefixes = [self._prefix(build) for build in collect]
        archives = [self.layout.artifact_path(build.build_id, "archive") for build in collect]
        if dry_run:
            packages, skipped = self._unused_packages(leaving={p.name for p in prefixes})
            freed = freed_bytes([*prefixes, *archives, *self._cache_paths(packages)])
        else:
            freed = freed_bytes([*prefixes, *archives])  # before they go; the cache's after
            collected = [build for build in collect if self._collect(build)]
            for build in collect:
                if build not in collected:
                    kept_running.append(build)  # raced: rolled back to, or in use meanwhile
            collect = collected
            packages, skipped = self._unused_packages(leaving=set())
            cache_paths = self._cache_paths(packages)
            freed += freed_bytes(cache_paths)
            packages = [name for name in packages if self._remove_cache_entry(name)]
        report = GcReport(
            dry_run=dry_run,
            policy=self.policy,
            builds=collect,
            kept_running=kept_running,
            packages=packages,
            package_cache_skipped=skipped,
            freed_bytes=freed,
            duration_seconds=0.0,
        )
        if not dry_run:
            report.store_bytes, report.package_cache_bytes, _ = self.layout.measure()
        report.duration_seconds = round(time.monotonic() - clock, 3)
        return report

    def plan(self) -> tuple[list[CollectedBuild], list[CollectedBuild]]:
        """(builds to collect, builds the policy lets go that a running kernel keeps)."""
        if not self.policy.collects_builds:
            return [], []
        now = utcnow()
        with self.sessions() as session:
            rows = session.execute(
                select_builds(
                    Build.id,
                    Namespace.name,
                    Environment.name,
                    Build.size,
                    Build.ended_on,
                    Build.collected_on,
                    Build.build_dir,
                    Environment.current_build_id,
                )
                .where(Build.status == BuildStatus.COMPLETED)
                .order_by(Environment.id, Build.id.desc())
            ).all()
        collect, kept_running = [], []
        rank, environment = 0, None
        for row in rows:
            key = (row[1], row[2])
            rank = rank + 1 if key == environment else 1
            environment = key
            if row.collected_on is not None or row.id == row.current_build_id or not row.build_dir:
                continue
            if self.policy.keeps(rank, row.ended_on, now):
                continue
            build = CollectedBuild(
                build_id=row.id,
                namespace=row[1],
                environment=row[2],
                size=row.size or 0,
                ended_on=row.ended_on,
            )
            build._build_dir = row.build_dir
            prefix = self._prefix(build)
            (kept_running if self.layout.in_use(prefix) else collect).append(build)
        return collect, kept_running

    # -- builds -----------------------------------------------------------------------------
    def _prefix(self, build: CollectedBuild) -> Path:
        return self.layout.build_prefix(build.namespace, build._build_dir)

    def _collect(self, build: CollectedBuild) -> bool:
        """Mark it collected and drop its archive's row, then remove its files. False when it
        changed meanwhile (a rollback made it current, or it was deleted or restored). The build
        row is locked first, as a rollback locks it: so a rollback either sees it collected
        (and restores it) or made it current before this looks."""
        with self.sessions() as session, session.begin():
            row = session.scalar(
                sa.select(Build)
                .where(Build.id == build.build_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            current = session.scalar(
                sa.select(Environment.current_build_id).where(
                    Environment.id
                    == sa.select(Build.environment_id)
                    .where(Build.id == build.build_id)
                    .scalar_subquery()
                )
            )
            if (
                row is None
                or row.status != BuildStatus.COMPLETED
                or row.collected_on is not None
                or row.deleted_on is not None
                or current == row.id
            ):
                return False
            row.collected_on = utcnow()
            session.execute(
                sa.delete(BuildArtifact).where(
                    BuildArtifact.build_id == row.id,
                    BuildArtifact.artifact_type == BuildArtifactType.CONDA_PACK,
                )
            )
        # Committed: now the files. A kernel that started meanwhile keeps its prefix until it
        # stops (the sweep of orphan prefixes takes a collected build's then).
        if not self.layout.remove_unless_running(self._prefix(build)):
            self.log.info("conda-store gc: build %s kept while a kernel runs it", build.build_id)
        self.storage.delete(self.layout, build.build_id, "archive")
        self.log.info(
            "conda-store gc: collected build %s of %s/%s",
            build.build_id,
            build.namespace,
            build.environment,
        )
        return True

    # -- the package cache ------------------------------------------------------------------
    def _unused_packages(self, leaving: set[str]) -> tuple[list[str], str | None]:
        """Cache entries (package directory names) that no prefix on disk uses, but for the
        prefixes in `leaving` (a dry run's plan); or why the cache is left alone."""
        if not self.policy.package_cache:
            return [], "CondaStore.gc_package_cache is off"
        with self.sessions() as session:
            active = session.scalar(
                sa.select(sa.func.count(Build.id)).where(Build.status.in_(transitions.ACTIVE))
            )
        if active:
            return [], f"{active} build(s) queued or running may be using it"
        cache = self.layout.package_cache
        if not cache.is_dir():
            return [], None
        used: set[str] = set()
        for namespace, build_dir in self.layout.build_dirs():
            if build_dir in leaving:
                continue
            meta = self.layout.build_prefix(namespace, build_dir) / "conda-meta"
            try:
                used.update(
                    entry.name[:-5] for entry in os.scandir(meta) if entry.name.endswith(".json")
                )
            except OSError:
                continue
        settled = time.time() - CACHE_GRACE_SECONDS
        cached = [
            entry.name
            for entry in os.scandir(cache)
            if entry.is_dir(follow_symlinks=False)
            and not entry.name.startswith(".")
            and entry.name not in used
            and _last_touched(cache, entry.name) < settled
        ]
        return sorted(cached), None

    def _cache_paths(self, names: Iterable[str]) -> list[Path]:
        cache = self.layout.package_cache
        return [cache / name for name in names]

    def _remove_cache_entry(self, name: str) -> bool:
        """Remove a package's cache directory (and its archive, if kept), under the lock the
        package cache takes on it; False if someone holds that lock now."""
        cache = self.layout.package_cache
        lock_path = cache / f"{name}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            fd = None
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
            self.layout.remove_tree(cache / name)
            for suffix in (".conda", ".tar.bz2"):
                (cache / f"{name}{suffix}").unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
        finally:
            if fd is not None:
                os.close(fd)
        return True

    # -- its record -------------------------------------------------------------------------
    def _record(self, started, report: GcReport | None, error: Exception | None) -> None:
        try:
            with self.sessions() as session, session.begin():
                session.add(
                    GcRun(
                        started_on=started,
                        ended_on=utcnow(),
                        dry_run=False,
                        ok=error is None,
                        builds=len(report.builds) if report else 0,
                        packages=len(report.packages) if report else 0,
                        freed_bytes=report.freed_bytes if report else 0,
                        store_bytes=report.store_bytes if report else None,
                        package_cache_bytes=report.package_cache_bytes if report else None,
                        error=f"{type(error).__name__}: {error}"[:2000] if error else None,
                    )
                )
        except Exception:  # the record is for the metrics: never worth failing a collection
            self.log.exception("conda-store gc: could not record the run")


def last_run(session: Session) -> GcRun | None:
    return session.scalar(sa.select(GcRun).order_by(GcRun.id.desc()).limit(1))


class PeriodicCollection:
    """A maintenance job (maintenance.py): a collection every `interval` seconds, timed from the
    last one recorded in the database, so a new leader does not start one again at once."""

    def __init__(self, collector: GarbageCollector, interval: float):
        self.collector, self.interval = collector, interval
        # When to ask the database again (time.monotonic): not before the next one can be due.
        self._next_look = 0.0

    def __call__(self) -> None:
        if not self.interval or time.monotonic() < self._next_look:
            return
        with self.collector.sessions() as session:
            last = last_run(session)
        if last is not None:
            age = (utcnow() - last.started_on).total_seconds()
            if age < self.interval:
                self._next_look = time.monotonic() + self.interval - age
                return
        self._next_look = time.monotonic() + self.interval
        try:
            report = self.collector.run()
        except Exception:
            self.collector.log.exception("conda-store gc: the periodic collection failed")
            return
        if report.builds or report.packages:
            self.collector.log.info(
                "conda-store gc: %d build(s) and %d package(s) collected, %d bytes freed",
                len(report.builds),
                len(report.packages),
                report.freed_bytes,
            )


def _last_touched(cache: Path, name: str) -> float:
    """When a cache entry (its directory, or the lock file beside it) last changed."""
    times = [0.0]
    for path in (cache / name, cache / f"{name}.lock"):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            pass
    return max(times)


def freed_bytes(paths: Iterable[Path]) -> int:
    """Bytes removing every path in `paths` frees: files all of whose hard links are among
    them (a link elsewhere, say in the package cache, keeps the file's blocks)."""
    links: dict[tuple[int, int], list[int]] = {}  # inode → [links seen, nlink, size]
    for path in paths:
        for directory, dirs, files in os.walk(path):
            names = [*files, *(d for d in dirs if os.path.islink(os.path.join(directory, d)))]
            for name in names:
                try:
                    stat = os.lstat(os.path.join(directory, name))
                except FileNotFoundError:
                    continue
                seen = links.setdefault(
                    (stat.st_dev, stat.st_ino), [0, stat.st_nlink, stat.st_size]
                )
                seen[0] += 1
        if path.is_file() or path.is_symlink():
            stat = path.lstat()
            seen = links.setdefault((stat.st_dev, stat.st_ino), [0, stat.st_nlink, stat.st_size])
            seen[0] += 1
    return sum(size for count, nlink, size in links.values() if count >= nlink)
