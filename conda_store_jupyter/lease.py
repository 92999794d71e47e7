"""A build process's hold on its claim: heartbeats, and the fence when the claim is lost.

The process that runs a build (a child of the build launcher, or of a Celery worker later)
heartbeats its own build, naming its claim token, in a thread. Recovery (on any server or
worker) takes a build over only once its heartbeat is older than `stale_after`. So:

- the heartbeat proves the builder is alive, not merely the server that started it;
- a builder that finds its claim gone (a heartbeat or a step answers "lost") is fenced: it
  kills its process group at once (itself and its uv subprocesses) and writes nothing more;
- a builder that could not confirm its claim for `stale_after / 2` (frozen, cut off from the
  database) asks the database before its next write to the store, and is fenced if it cannot
  confirm. A takeover needs `stale_after` of silence, so the fenced writer stops first.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from .db import transitions


class BuildCanceled(Exception):
    """A user canceled the build while it ran: clean up the prefix and stop."""


def kill_process_group() -> None:
    """The fence: end this build process and everything it started, now, without cleanup (the
    party that took the build over owns the cleanup). A build process leads its own group."""
    if os.getpgid(0) == os.getpid():  # never the group of whoever started us
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(137)


class BuildLease:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        build_id: int,
        claim: str,
        *,
        interval: float,
        stale_after: float,
        fence: Callable[[], None] = kill_process_group,
    ):
        self.sessions = sessions
        self.build_id = build_id
        self.claim = claim
        self.interval = interval
        self.valid_for = stale_after / 2
        self._fence = fence
        self._confirmed = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name="conda-store heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.sessions() as session, session.begin():
                    held = transitions.heartbeat(session, self.build_id, self.claim)
            except Exception:  # noqa: BLE001 -- the database is away; `guard` decides in time
                continue
            if held:
                self._confirmed = time.monotonic()
                continue
            if self._stop.is_set():
                return  # the build ended itself (completed, failed, canceled) meanwhile
            with self.sessions() as session:
                state = transitions.holder_state(session, self.build_id, self.claim)
            if state == "lost":
                self._fence()

    def state(self) -> str:
        """ "run", "canceled" or "lost" (see transitions.holder_state), from the database."""
        try:
            with self.sessions() as session:
                state = transitions.holder_state(session, self.build_id, self.claim)
        except Exception:  # noqa: BLE001
            return "run" if self._fresh() else "lost"
        if state == "run":
            self._confirmed = time.monotonic()
        return state

    def check(self) -> None:
        """At each step of the build: stop if canceled, fence if lost."""
        state = self.state()
        if state == "lost":
            self._fence()
        if state == "canceled":
            raise BuildCanceled()

    def guard(self) -> None:
        """Before a write to the store: cheap while heartbeats confirm the claim; asks the
        database once they have not for a while; fenced if the claim is lost."""
        if self._fresh():
            return
        with self._lock:
            if not self._fresh() and self.state() == "lost":
                self._fence()

    def _fresh(self) -> bool:
        return time.monotonic() - self._confirmed < self.valid_for
