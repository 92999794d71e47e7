"""What the kernel registry last wrote, for the users' servers of a shared store.

In a JupyterHub, kernels run in each user's own server, not in the central service. The
registry of the central service writes its kernel specs where every user's server can read
them (the shared store's `.kernels/`), and publishes here what it wrote: a `KernelListing`, with
a revision that changes whenever a spec does. `GET kernelspecs/` (handlers/kernelspecs.py)
serves each caller the part of it they may read, and holds a conditional request open until
the revision changes (a long poll): so a kernel reaches a user's server as soon as the registry
has written it, and an idle hub costs one request per user every `wait` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PublishedKernel:
    name: str
    namespace: str
    environment: str
    spec: dict[str, Any]
    resource_dir: str


@dataclass(frozen=True)
class KernelListing:
    revision: str
    kernels: tuple[PublishedKernel, ...]

    @classmethod
    def of(cls, kernels: list[PublishedKernel]) -> KernelListing:
        ordered = tuple(sorted(kernels, key=lambda kernel: kernel.name))
        digest = hashlib.sha256(
            json.dumps([(k.name, k.spec, k.resource_dir) for k in ordered], sort_keys=True).encode()
        ).hexdigest()
        return cls(revision=digest[:32], kernels=ordered)


EMPTY = KernelListing.of([])


class ListingBoard:
    """The current listing, replaced whole (readers on any thread see one or the other), and a
    way for the event loop's requests to wait for the next one."""

    def __init__(self) -> None:
        self.listing = EMPTY
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._changed = asyncio.Event()

    def publish(self, listing: KernelListing) -> None:
        """Thread-safe: the registry syncs in a worker thread."""
        if listing.revision == self.listing.revision:
            return
        self.listing = listing
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_waiters)

    def _wake_waiters(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until the next publication, or `timeout` seconds (on the board's event loop)."""
        changed = self._changed
        if changed is None:
            await asyncio.sleep(timeout)
            return
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            pass
