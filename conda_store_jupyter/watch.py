"""`SpecWatch`: the watch on `CondaStore.watch_paths`, run by exactly one process of a
deployment, whichever holds the database lease "watch" (db/leases.py); every server tries it.

The holder scans every file once (what changed while nobody watched), then follows inotify
events through `watchfiles` (a change is acted on about 0.2 s after the last write to it, not at
the next 60 s poll) and renews its lease between events. What a change does is
service/watched.py's. A thread: `watchfiles.watch` blocks, and so does the service layer.
"""

from __future__ import annotations

import logging
from pathlib import Path

import watchfiles
from sqlalchemy.orm import Session, sessionmaker

from .leader import LeaderThread
from .service.watched import WatchedSpecifications, is_specification_file

LEASE = "watch"
TTL = 10.0  # seconds: another server takes the watch over this long after its holder died
RENEW_EVERY_MS = 2_000
DEBOUNCE_MS = 200  # watchfiles' default, 1.6 s, would make "within a second" two


class SpecWatch(LeaderThread):
    lease = LEASE
    thread_name = "conda-store watch"

    def __init__(
        self,
        watched: WatchedSpecifications,
        sessions: sessionmaker[Session],
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        super().__init__(sessions, ttl=TTL, role="server", log=log)
        self.watched = watched
        self.work = "watches " + ", ".join(watched.paths)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.hold():
                    self._watch()
            except Exception:  # a database hiccup, a directory gone: try again
                self.log.exception("conda-store: the watch of watch_paths stopped; it restarts")
            self._stop.wait(TTL / 4)

    def _roots(self) -> list[Path]:
        """What inotify watches: the directories, and the directory of each file (so that a
        file replaced by a rename, as editors save, is still seen)."""
        roots = set()
        for raw in self.watched.paths:
            path = Path(raw).absolute()
            if path.is_dir():
                roots.add(path)
            elif path.parent.is_dir():
                roots.add(path.parent)
            else:
                self.log.warning("conda-store: watch path %s does not exist (yet)", path)
        return sorted(roots)

    def _watch(self) -> None:
        """Scan, then follow changes while the lease is held; returns to rescan when the set of
        roots may have changed (one that did not exist), or the lease is lost."""
        roots = self._roots()
        self.watched.scan()
        if not roots:
            return
        for changes in watchfiles.watch(
            *roots,
            stop_event=self._stop,
            debounce=DEBOUNCE_MS,
            step=50,
            rust_timeout=RENEW_EVERY_MS,
            yield_on_timeout=True,
            recursive=True,
        ):
            for path in sorted({Path(path) for _, path in changes}):
                if is_specification_file(path, self.watched.paths):
                    self.watched.apply(path)
            if not self.hold():
                return
            if self._roots() != roots:
                return
