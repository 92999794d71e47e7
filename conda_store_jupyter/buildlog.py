"""A build's log: timestamped lines written as they happen, readable from a byte offset.

Written by the build process only (append, flushed line by line) and read by anyone while the
build runs; the byte offset lets a client ask for "what is new since last time".
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .store import human_size

if TYPE_CHECKING:
    import rattler

MAX_READ = 1 << 20  # one answer never carries more than 1 MiB; the client asks again from there


class BuildLog:
    def __init__(self, path: Path, guard: Callable[[], None] | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Called before each write: a build process's lease check (it never returns once the
        # build was taken over), so a fenced process cannot add a line after the takeover's.
        self._guard = guard
        # Line-buffered text append: each line reaches the file (and readers) when written.
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def write(self, message: str) -> None:
        if self._guard is not None:
            self._guard()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        for line in message.rstrip("\n").split("\n"):
            self._file.write(f"{stamp} {line}\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_log(path: Path, offset: int = 0, limit: int = MAX_READ) -> tuple[bytes, int]:
    """Bytes of the log from `offset` (at most `limit`, ending on a line boundary when possible)
    and the offset to ask from next time. A missing log reads as empty."""
    if offset < 0:
        raise ValueError("offset must be >= 0")
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(limit)
    except FileNotFoundError:
        return b"", offset
    # Only complete lines: one still being written comes whole next time. A single line longer
    # than `limit` is handed out in pieces, or the reader would never move on.
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) == limit:
        end = limit
    data = data[:end]
    return data, offset + len(data)


def log_size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


class InstallReporter:
    """py-rattler's installer callbacks → build log lines (downloads with sizes, links)."""

    def __init__(self, log: BuildLog, records: list[rattler.RepoDataRecord]):
        self._log = log
        self._names: dict[int, str] = {}
        self._sizes = {record.name.normalized: record.size for record in records}

    def on_download_start(self, cache_entry: int) -> int:
        return cache_entry

    def _started(self, operation: int, package_name: str) -> int:
        self._names[operation] = package_name
        return operation

    def _done(self, what: str, operation: int) -> None:
        name = self._names.get(operation, "?")
        self._log.write(f"{what} {name} ({human_size(self._sizes.get(name))})")

    # A download (into the package cache) and a link (into the prefix) start with the package's
    # name and end with the operation's number only.
    on_populate_cache_start = on_link_start = _started

    def on_download_completed(self, download_idx: int) -> None:
        self._done("downloaded", download_idx)

    def on_link_complete(self, index: int) -> None:
        self._done("linked", index)
