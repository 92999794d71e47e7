"""Periodic work of the store, done by exactly one process however many servers and workers
run: whichever holds the database lease "maintenance" (db/leases.py). Every server and worker
runs a `Maintenance` thread; all but one only try the lease now and then.

The holder, every `interval`:
- fails builds whose heartbeat went stale (their worker was killed, or its machine vanished),
  removing their partial prefixes, so nothing stays BUILDING longer than `stale_after`;
- runs the executor's own periodic jobs (Celery: every QUEUED build has a message waiting);
and every `stale_after`: removes orphan prefixes and empties the trash.

A thread, not an asyncio task: a Celery worker has no event loop, and every step is blocking
database or file work anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from .db import leases
from .recovery import StoreRecovery

LEASE = "maintenance"


class Maintenance:
    def __init__(
        self,
        recovery: StoreRecovery,
        *,
        stale_after: float,
        role: str,
        jobs: tuple[Callable[[], object], ...] = (),
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        self.recovery = recovery
        self.sessions: sessionmaker[Session] = recovery.sessions
        self.stale_after = stale_after
        # Often enough that a stale build is failed soon after `stale_after`, and that a dead
        # holder's lease (`ttl` = `stale_after`) is taken over by then too.
        self.interval = min(max(stale_after / 10, 0.2), 5.0)
        self.holder = f"{role} {socket.gethostname()}:{os.getpid()}"
        self.jobs = jobs
        self.log = log or logging.getLogger(__name__)
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = time.monotonic()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="conda-store maintenance", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self.leading:
            try:
                with self.sessions() as session:
                    leases.release(session, LEASE, self.holder)
            except Exception:  # noqa: BLE001 -- the lease expires by itself
                pass
            self.leading = False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end maintenance
                self.log.exception("conda-store maintenance: error in a pass; it runs again")
            self._stop.wait(self.interval)

    def run_once(self) -> bool:
        """One pass: take or renew the lease, and if held do the work. True if held."""
        with self.sessions() as session:
            leading = leases.hold(session, LEASE, self.holder, ttl=self.stale_after)
        if leading != self.leading:
            self.log.info(
                "conda-store: %s %s the store's periodic work",
                self.holder,
                "now does" if leading else "no longer does",
            )
            self.leading = leading
        if not leading:
            return False
        self.recovery.fail_abandoned(self.stale_after)
        for job in self.jobs:
            job()
        if time.monotonic() - self._last_sweep >= self.stale_after:
            self._last_sweep = time.monotonic()
            self.recovery.remove_orphan_prefixes()
            self.recovery.layout.empty_trash()
        return True
