"""`LeaderThread`: a thread of periodic work that exactly one process of a deployment does,
whichever holds the database lease `lease` (db/leases.py). Every process runs one; all but the
holder only try the lease now and then. Subclasses: maintenance.py, watch.py.

A thread, not an asyncio task: a Celery worker has no event loop, and the work is blocking
database or file work anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from sqlalchemy.orm import Session, sessionmaker

from .db import leases


class LeaderThread:
    lease = ""  # the lease's name
    work = ""  # what the holder does, for the log ("does the store's periodic work")
    thread_name = "conda-store"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float,
        role: str,
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        self.sessions = sessions
        self.ttl = ttl
        self.holder = f"{role} {socket.gethostname()}:{os.getpid()}"
        self.log = log or logging.getLogger(__name__)
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self.leading:
            try:
                with self.sessions() as session:
                    leases.release(session, self.lease, self.holder)
            except Exception:  # noqa: BLE001 -- the lease expires by itself
                pass
            self.leading = False

    def hold(self) -> bool:
        """Take or renew the lease; True if this process holds it now."""
        with self.sessions() as session:
            leading = leases.hold(session, self.lease, self.holder, ttl=self.ttl)
        if leading != self.leading:
            self.log.info(
                "conda-store: %s %s %s",
                self.holder,
                "now" if leading else "no longer",
                self.work,
            )
            self.leading = leading
        return leading

    def _run(self) -> None:
        raise NotImplementedError
