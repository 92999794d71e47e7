"""Prometheus metrics of the store, on Jupyter Server's own `/metrics` (prometheus_client's
default registry), read from the database at each scrape: so they are the store's, whichever
server or worker did the work, and every server of a deployment reports the same.

- `conda_store_builds{state}`: builds by state (deleted ones left out);
- `conda_store_queue_depth`: builds waiting;
- `conda_store_build_duration_seconds`: finished builds, from start to end (histogram);
- `conda_store_build_phase_seconds{phase}`: completed builds' solve, install, pip and
  artifacts phases (histograms);
- `conda_store_queue_wait_seconds`: started builds, from submission to start (histogram);
- `conda_store_disk_free_bytes`: free space on the store's disk;
- `conda_store_builds_collected`: completed builds whose prefix garbage collection removed;
- `conda_store_gc_last_*`: the last garbage collection's time, duration, result (1: it
  succeeded), builds collected and bytes freed;
- `conda_store_store_bytes`, `conda_store_package_cache_bytes`: the store's bytes and its
  package cache's, as the last garbage collection measured them (a walk of the whole store is
  too slow for a scrape; collections run every CondaStore.gc_interval).
"""

from __future__ import annotations

import bisect
import logging
import shutil
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import REGISTRY, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from .db import Build, BuildStatus, GcRun
from .gc import last_run
from .store import StoreLayout

DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
PHASES = ("solve", "install", "pip", "artifacts")
WAIT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600)
log = logging.getLogger(__name__)


def histogram(name: str, documentation: str, values: Iterable[float], buckets, labels=()) -> Any:
    """A Prometheus histogram of `values` (cumulative buckets, as the format wants), with
    `labels` ((name, value) pairs) on its samples."""
    counts = [0] * (len(buckets) + 1)
    total = 0.0
    for value in values:
        counts[bisect.bisect_left(buckets, value)] += 1
        total += value
    cumulative, running = [], 0
    for bound, bucket_count in zip((*map(str, buckets), "+Inf"), counts):
        running += bucket_count
        cumulative.append((bound, running))
    family = HistogramMetricFamily(
        name, documentation, labels=[label for label, _ in labels] or None
    )
    family.add_metric([value for _, value in labels], cumulative, sum_value=total)
    return family


class StoreCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], layout: StoreLayout):
        self.sessions, self.layout = sessions, layout

    def describe(self) -> list[Any]:
        # Nothing up front: registering reads no database (and two servers of one process,
        # as in tests, can each register theirs).
        return []

    def collect(self) -> Iterator[Any]:
        try:
            with self.sessions() as session:
                states = dict(
                    session.execute(
                        sa.select(Build.status, sa.func.count())
                        .where(Build.deleted_on.is_(None))
                        .group_by(Build.status)
                    ).all()
                )
                times = session.execute(
                    sa.select(Build.scheduled_on, Build.started_on, Build.ended_on).where(
                        Build.started_on.is_not(None)
                    )
                ).all()
                phases = session.scalars(sa.select(Build.phases).where(Build.phases.is_not(None)))
                collected = session.scalar(
                    sa.select(sa.func.count(Build.id)).where(
                        Build.deleted_on.is_(None), Build.collected_on.is_not(None)
                    )
                )
                last = last_run(session)
                by_phase: dict[str, list[float]] = {phase: [] for phase in PHASES}
                for recorded in phases:
                    for phase, seconds in (recorded or {}).items():
                        if phase in by_phase:
                            by_phase[phase].append(float(seconds))
        except sa.exc.SQLAlchemyError as error:  # a scrape must not fail the others' metrics
            log.warning("conda-store: metrics not read from the database: %s", error)
            return
        builds = GaugeMetricFamily("conda_store_builds", "Builds by state", labels=["state"])
        for state in BuildStatus:
            builds.add_metric([state.value], states.get(state, 0))
        yield builds
        yield GaugeMetricFamily(
            "conda_store_queue_depth", "Builds waiting", value=states.get(BuildStatus.QUEUED, 0)
        )
        yield histogram(
            "conda_store_build_duration_seconds",
            "Finished builds, from start to end",
            ((end - start).total_seconds() for _, start, end in times if end is not None),
            DURATION_BUCKETS,
        )
        phase_family = None
        for phase, values in by_phase.items():
            family = histogram(
                "conda_store_build_phase_seconds",
                "Completed builds, seconds per phase",
                values,
                DURATION_BUCKETS,
                labels=(("phase", phase),),
            )
            if phase_family is None:
                phase_family = family
            else:
                phase_family.samples.extend(family.samples)
        yield phase_family
        yield histogram(
            "conda_store_queue_wait_seconds",
            "Started builds, from submission to start",
            ((start - scheduled).total_seconds() for scheduled, start, _ in times),
            WAIT_BUCKETS,
        )
        root = self.layout.root
        if root.exists():
            yield GaugeMetricFamily(
                "conda_store_disk_free_bytes",
                "Free space on the store's disk",
                value=shutil.disk_usage(root).free,
            )
        yield GaugeMetricFamily(
            "conda_store_builds_collected",
            "Completed builds whose prefix garbage collection removed",
            value=collected or 0,
        )
        if last is not None:
            yield from gc_metrics(last)


def gc_metrics(last: GcRun) -> Iterator[Any]:
    """The last garbage collection, and the store's bytes it measured."""
    for name, documentation, value in (
        ("gc_last_run_timestamp_seconds", "When it ended (Unix time)", last.ended_on.timestamp()),
        (
            "gc_last_duration_seconds",
            "How long it took",
            (last.ended_on - last.started_on).total_seconds(),
        ),
        ("gc_last_success", "1 if it succeeded, 0 if it failed", 1 if last.ok else 0),
        ("gc_last_collected_builds", "Builds it collected", last.builds),
        ("gc_last_freed_bytes", "Bytes it freed", last.freed_bytes),
    ):
        yield GaugeMetricFamily(
            f"conda_store_{name}", f"Last garbage collection: {documentation}", value=value
        )
    if last.store_bytes is not None:
        yield GaugeMetricFamily(
            "conda_store_store_bytes", "The store's bytes (at the last gc)", value=last.store_bytes
        )
    if last.package_cache_bytes is not None:
        yield GaugeMetricFamily(
            "conda_store_package_cache_bytes",
            "The package cache's bytes (at the last gc)",
            value=last.package_cache_bytes,
        )


def register(collector: StoreCollector) -> None:
    REGISTRY.register(collector)


def unregister(collector: StoreCollector) -> None:
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass
