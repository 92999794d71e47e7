"""Prometheus metrics of the store, on Jupyter Server's own `/metrics` (prometheus_client's
default registry), read from the database at each scrape: so they are the store's, whichever
server or worker did the work, and every server of a deployment reports the same.

- `conda_store_builds{state}`: builds by state (deleted ones left out);
- `conda_store_queue_depth`: builds waiting;
- `conda_store_build_duration_seconds`: finished builds, from start to end (histogram);
- `conda_store_build_phase_seconds{phase}`: completed builds' solve, install, pip and
  artifacts phases (histograms);
- `conda_store_queue_wait_seconds`: started builds, from submission to start (histogram);
- `conda_store_disk_free_bytes`: free space on the store's disk.
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

from .db import Build, BuildStatus
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


def register(collector: StoreCollector) -> None:
    REGISTRY.register(collector)


def unregister(collector: StoreCollector) -> None:
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass
