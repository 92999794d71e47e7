"""Periodic work of the store, done by exactly one process however many servers and workers
run: whichever holds the database lease "maintenance" (db/leases.py). Every server and worker
runs a `Maintenance` thread; all but one only try the lease now and then.

The holder, every `interval`:
- fails builds whose heartbeat went stale (their worker was killed, or its machine vanished),
  removing their partial prefixes, so nothing stays BUILDING longer than `stale_after`;
- runs the executor's own periodic jobs (Celery: every QUEUED build has a message waiting);
and every `stale_after`: removes orphan prefixes and empties the trash.

A `LeaderThread` (leader.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .leader import LeaderThread
from .recovery import StoreRecovery

LEASE = "maintenance"


class Maintenance(LeaderThread):
    lease = LEASE
    work = "does the store's periodic work"
    thread_name = "conda-store maintenance"

    def __init__(
        self,
        recovery: StoreRecovery,
        *,
        stale_after: float,
        role: str,
        jobs: tuple[Callable[[], object], ...] = (),
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        # A dead holder's lease (`ttl` = `stale_after`) is taken over by the time its builds
        # are found stale.
        super().__init__(recovery.sessions, ttl=stale_after, role=role, log=log)
        self.recovery = recovery
        self.stale_after = stale_after
        # Often enough that a stale build is failed soon after `stale_after`.
        self.interval = min(max(stale_after / 10, 0.2), 5.0)
        self.jobs = jobs
        self._last_sweep = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end maintenance
                self.log.exception("conda-store maintenance: error in a pass; it runs again")
            self._stop.wait(self.interval)

    def run_once(self) -> bool:
        """One pass: take or renew the lease, and if held do the work. True if held."""
        if not self.hold():
            return False
        self.recovery.fail_abandoned(self.stale_after)
        for job in self.jobs:
            job()
        if time.monotonic() - self._last_sweep >= self.stale_after:
            self._last_sweep = time.monotonic()
            self.recovery.remove_orphan_prefixes()
            self.recovery.layout.empty_trash()
        return True
