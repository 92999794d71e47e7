"""`ClaimedBuildRunner`: what a Celery worker does with each message, in one of its threads.

Claim the oldest QUEUED build (the database decides which, and that it is claimed once), run it
in a child of the worker's build launcher (forked in milliseconds, its own process group), and
watch it until it ends: a cancel seen in the database (looked at every `watch_interval`, so a
cancel made through any server reaches the build within it) or the time limit kill exactly that
build; a build process that died is failed. Every ending is conditional on the claim
(recovery.StoreRecovery.finish_build), as in the local executor.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from ..build import BuildSettings
from ..db import Build, BuildStatus, claim_next_build
from ..launcher import BuildLauncher, BuildProcess
from ..recovery import StoreRecovery


class ClaimedBuildRunner:
    watch_interval = 0.25  # seconds between looks at a running build's row (cancel)

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: BuildSettings,
        recovery: StoreRecovery,
        worker_id: str,
        build_timeout: float,
        log: logging.Logger | logging.LoggerAdapter,
    ):
        self.sessions = sessions
        self.settings = settings
        self.recovery = recovery
        self.worker_id = worker_id
        self.build_timeout = build_timeout
        self.log = log
        self.launcher = BuildLauncher(settings, log=log)
        self._running: dict[int, str] = {}  # build id → claim, of the builds this worker runs

    def start(self) -> None:
        """Start the launcher. Call it from the worker's main thread: the launcher dies with the
        thread that started it, and the builds with the launcher (so a SIGKILL of the worker
        takes its builds with it; recovery then fails them)."""
        self.launcher.start()
        self.launcher.wait_ready()

    def stop(self) -> None:
        """The worker stops: kill what still runs (a cold shutdown; a warm one waited for the
        builds) and fail it now rather than when its heartbeat goes stale."""
        self.launcher.stop()
        for build_id, claim in list(self._running.items()):
            self.recovery.finish_build(
                build_id, claim, BuildStatus.FAILED, f"the worker {self.worker_id} stopped"
            )

    def run_next(self) -> int | None:
        """Claim the next QUEUED build and run it to its end; its id, or None if none waits."""
        with self.sessions() as session:
            build = claim_next_build(session, self.worker_id)
            if build is None:
                return None
            build_id, claim = build.id, build.claim
        self.log.info("conda-store: build %s claimed by %s", build_id, self.worker_id)
        try:
            process = self.launcher.launch(build_id, self.settings, claim)
        except RuntimeError as error:
            self.recovery.finish_build(
                build_id, claim, BuildStatus.FAILED, f"could not start: {error}"
            )
            return build_id
        self._running[build_id] = claim
        try:
            self._watch(process, claim)
        finally:
            self._running.pop(build_id, None)
        return build_id

    def _watch(self, process: BuildProcess, claim: str) -> None:
        build_id = process.build_id
        started = time.monotonic()
        while True:
            process.join(self.watch_interval)
            if process.exitcode is not None:
                break
            if self._canceled(build_id):
                self._end(process, claim, BuildStatus.CANCELED, "canceled")
                return
            if time.monotonic() - started > self.build_timeout:
                self._end(
                    process,
                    claim,
                    BuildStatus.FAILED,
                    f"the build timed out after {self.build_timeout:.0f} s "
                    "(CeleryExecutor.build_timeout)",
                )
                return
        if process.exitcode != 0:
            code = process.exitcode
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            self.recovery.finish_build(
                build_id, claim, BuildStatus.FAILED, f"the build process died ({how})"
            )
            # It may have died after completing the build and before setting the link.
            self.recovery.sync_link_of(build_id)
        self.log.info("conda-store: build %s process ended (%s)", build_id, process.exitcode)

    def _canceled(self, build_id: int) -> bool:
        with self.sessions() as session:
            status = session.scalar(sa.select(Build.status).where(Build.id == build_id))
        return status == BuildStatus.CANCELED

    def _end(self, process: BuildProcess, claim: str, status: BuildStatus, reason: str) -> None:
        """Kill the build's process group, wait for it, then end the build (if still ours) and
        remove its prefix."""
        process.kill()
        process.join(10)
        self.recovery.finish_build(process.build_id, claim, status, reason)
