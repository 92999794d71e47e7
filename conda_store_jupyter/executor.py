"""Build executors. `Executor` is the base of every one (`CondaStoreApp.executor_class`);
`BuildExecutor`, the default, is the local one: the build table is the queue, each build runs
in a child process.

The server's event loop only schedules: every database call runs in a thread, every solve,
download and link in a child process (forked by the build launcher, which has the build code
imported, so a build starts in milliseconds rather than paying for interpreter start-up).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from traitlets import Bool, Float, Int, default
from traitlets.config import LoggingConfigurable
from traitlets.traitlets import MetaHasTraits

from .api_gc import RetentionPolicy
from .build import BuildSettings
from .config import CondaStore
from .db import Build, BuildStatus, claim_next_build
from .gc import GarbageCollector, PeriodicCollection
from .launcher import BuildLauncher, BuildProcess
from .loops import BackgroundLoop
from .maintenance import Maintenance
from .recovery import StoreRecovery
from .storage import storage_for
from .store import StoreLayout


@dataclass
class _Running:
    build_id: int
    claim: str  # the token every change of this build's row names (db/transitions.py)
    process: BuildProcess
    started: float  # loop time


class _ConfigurableABCMeta(MetaHasTraits, ABCMeta):
    """Traits and abstract methods both (an abstract executor cannot be instantiated)."""


class Executor(LoggingConfigurable, metaclass=_ConfigurableABCMeta):
    """Where QUEUED builds run: the base of every executor (`CondaStore.executor` picks one).

    The app constructs it with the database `sessions` and the `settings` builds run with, sets
    `on_build_end`, calls `recover()` before the server answers anything, `start()` once the
    server runs and `stop()` when it stops; `wake()` (from any thread) after every change of the
    queue. A build is claimed from the database (`db.claim_next_build`) and run under its claim
    (`build.run_build`), wherever that happens. The timings below are the same for every
    executor, and for Celery workers, which read them from the same configuration.
    """

    build_timeout = Float(
        3600.0, help="Seconds a build may run before it is killed and marked FAILED."
    ).tag(config=True)
    heartbeat_interval = Float(
        2.0,
        help="Seconds between the heartbeats each build process writes for its build (at most "
        "a quarter of stale_after).",
    ).tag(config=True)
    stale_after = Float(
        60.0,
        help="A BUILDING build whose heartbeat is older than this many seconds is considered "
        "abandoned by a dead process (or a vanished machine) and is failed by recovery. A build "
        "process that could not confirm its claim for half of this stops before writing "
        "anything more.",
    ).tag(config=True)

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: BuildSettings,
        conda_store: CondaStore | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.sessions = sessions
        self.conda_store = conda_store or CondaStore(parent=self)
        # The build process heartbeats itself, so it needs the executor's timings: at least
        # four heartbeats per `stale_after`, or a live build could be taken for a dead one.
        self.settings = dataclasses.replace(
            settings,
            heartbeat_interval=min(self.heartbeat_interval, self.stale_after / 4),
            stale_after=self.stale_after,
        )
        self.layout = StoreLayout(settings.store_dir)
        self.recovery = StoreRecovery(
            sessions, self.layout, self.log, storage_for(self.settings.storage)
        )
        # Told when a build ends, whatever the outcome (the kernel registry listens).
        self.on_build_end: Callable[[], None] = lambda: None

    def make_maintenance(self, role: str, *jobs: Callable[[], object]) -> Maintenance:
        """The periodic work of the store (maintenance.py), run by whichever process of the
        deployment holds its lease: this executor's process may be the one."""
        collection = PeriodicCollection(
            GarbageCollector(
                self.sessions,
                self.layout,
                RetentionPolicy.from_config(self.conda_store),
                storage_for(self.settings.storage),
                self.log,
            ),
            self.conda_store.gc_interval,
        )
        return Maintenance(
            self.recovery,
            stale_after=self.stale_after,
            role=role,
            jobs=(*jobs, collection),
            log=self.log,
        )

    @abstractmethod
    def recover(self) -> None:
        """At start, in a thread: end builds whose process is gone, make the environment links
        agree with the database."""

    @abstractmethod
    async def start(self) -> None:
        """Start running queued builds."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop running builds (the server stops)."""

    @abstractmethod
    def wake(self) -> None:
        """Look at the queue now (thread-safe): called after a submit or a cancel."""

    @property
    @abstractmethod
    def running_build_ids(self) -> list[int]:
        """The builds this process runs now."""


class BuildExecutor(BackgroundLoop, Executor):
    """The local executor: runs QUEUED builds, at most `max_workers` at once, each in its own
    process."""

    loop_name = "conda-store build executor"

    max_workers = Int(help="Builds run at once (default: half the cores, at least 1).").tag(
        config=True
    )
    warm_launcher = Bool(
        True,
        help="Start the build launcher (the process that forks builds; importing the build code "
        "costs it about a second of CPU) when the server starts, so that the first build starts "
        "at once. Off, it starts with the first build.",
    ).tag(config=True)
    poll_interval = Float(
        1.0, help="Seconds between looks at the queue when nothing woke the executor."
    ).tag(config=True)

    @default("max_workers")
    def _default_max_workers(self) -> int:
        return max(1, (os.cpu_count() or 2) // 2)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._running: dict[int, _Running] = {}
        self._recovered = False
        self.launcher = BuildLauncher(self.settings, log=self.log, on_exit=self.wake)
        self.maintenance = self.make_maintenance("server")

    # -- lifecycle --------------------------------------------------------------------------
    async def setup(self) -> None:
        # Started now, from the loop's thread (it outlives any worker thread, and the launcher
        # dies with the thread that started it); it imports the build code in the background,
        # so the first build does not wait for that either.
        if self.warm_launcher:
            self.launcher.start()
        if not self._recovered:
            await asyncio.to_thread(self.recover)
        self.maintenance.start()

    async def stop(self) -> None:
        """Stop scheduling; builds still running are killed and failed (a later start would
        find them abandoned anyway; doing it now says why)."""
        await super().stop()
        await asyncio.to_thread(self.maintenance.stop)
        for running in list(self._running.values()):
            await asyncio.to_thread(
                self._end_abnormally,
                running,
                BuildStatus.FAILED,
                "the server stopped during the build",
            )
        self._running.clear()
        await asyncio.to_thread(self.launcher.stop)

    @property
    def running_build_ids(self) -> list[int]:
        return list(self._running)

    @property
    def interval(self) -> float:
        return 0.2 if self._running else self.poll_interval  # builds are watched closely

    # -- the loop ---------------------------------------------------------------------------
    async def tick(self) -> None:
        await self._reap()
        if self._running:
            await asyncio.to_thread(self._watch_running)
        while not self.stopping and len(self._running) < self.max_workers:
            claimed = await asyncio.to_thread(self._claim)
            if claimed is None:
                break
            await self._spawn(*claimed)

    def _claim(self) -> tuple[int, str] | None:
        with self.sessions() as session:
            build = claim_next_build(session, self.worker_id)
            return (build.id, build.claim) if build is not None else None

    async def _spawn(self, build_id: int, claim: str) -> None:
        self.launcher.start()  # on the loop's thread, should the launcher have died
        try:
            process = await asyncio.to_thread(self.launcher.launch, build_id, self.settings, claim)
        except RuntimeError as error:
            await asyncio.to_thread(
                self._finish_build,
                build_id,
                claim,
                BuildStatus.FAILED,
                f"could not start: {error}",
            )
            return
        assert self._loop is not None
        self._running[build_id] = _Running(build_id, claim, process, self._loop.time())
        self.log.info("conda-store: build %s started (pid %s)", build_id, process.pid)

    async def _reap(self) -> None:
        for running in list(self._running.values()):
            exitcode = running.process.exitcode
            if exitcode is None:
                continue
            running.process.join(0)
            if exitcode != 0:
                how = f"killed by signal {-exitcode}" if exitcode < 0 else f"exit code {exitcode}"
                await asyncio.to_thread(
                    self._end_abnormally,
                    running,
                    BuildStatus.FAILED,
                    f"the build process died ({how})",
                )
                # It may have died after completing the build and before setting the link.
                await asyncio.to_thread(self.recovery.sync_link_of, running.build_id)
            del self._running[running.build_id]
            self.on_build_end()
            self.log.info("conda-store: build %s process ended (%s)", running.build_id, exitcode)

    def _watch_running(self) -> None:
        """Cancellations and time limits of the builds this executor runs (each build process
        heartbeats for itself)."""
        assert self._loop is not None
        now = self._loop.time()
        ids = list(self._running)
        with self.sessions() as session:
            canceled = set(
                session.scalars(
                    sa.select(Build.id).where(
                        Build.id.in_(ids), Build.status == BuildStatus.CANCELED
                    )
                )
            )
        for build_id in ids:
            running = self._running.get(build_id)
            if running is None:
                continue
            # A build leaves `_running` only once its process is dead and its prefix gone.
            if build_id in canceled:
                self._end_abnormally(running, BuildStatus.CANCELED, "canceled")
                self._running.pop(build_id)
            elif now - running.started > self.build_timeout:
                self._end_abnormally(
                    running,
                    BuildStatus.FAILED,
                    f"the build timed out after {self.build_timeout:.0f} s "
                    "(BuildExecutor.build_timeout)",
                )
                self._running.pop(build_id)

    def _end_abnormally(self, running: _Running, status: BuildStatus, reason: str) -> None:
        """Kill the child if alive, then end the build (if still ours) and remove its prefix."""
        if running.process.is_alive():
            running.process.kill()
        running.process.join(10)
        self.recovery.finish_build(running.build_id, running.claim, status, reason)

    # -- recovery ---------------------------------------------------------------------------
    def recover(self) -> None:
        """At start: fail builds left BUILDING by a dead process (or by this one, before a
        restart), then make every environment link agree with the database, and empty the
        trash."""
        self.recovery.fail_abandoned(self.stale_after, own_worker=self.worker_id)
        self.recovery.reconcile_links()
        self.recovery.remove_orphan_prefixes()
        self.layout.empty_trash()
        self._recovered = True


def executor_class_for(name: str) -> type[Executor]:
    """The executor `CondaStore.executor` names (Celery is imported only when used)."""
    if name == "celery":
        from .distributed.executor import CeleryExecutor

        return CeleryExecutor
    return BuildExecutor
