"""GET `kernelspecs/`: the kernel specs of the environments the caller may read, for their own
Jupyter server in remote mode (remote_kernels.py), as a long poll (kernel_listing.py).

With `If-None-Match` naming the current answer and `wait=N`, the request is held until the
answer changes (the registry wrote a spec, or what is shared with the caller changed) or N
seconds have passed, and then answers 200 with the new one or 304.
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api_kernels import KernelSpecEntry, KernelSpecListing
from ..kernel_listing import KernelListing
from ..kernels import KernelRegistry
from .base import CondaStoreHandler, entity_tag, requested_tags

MAX_WAIT = 60
# How often a held request re-reads what is shared with its caller (the registry's changes
# wake it at once; sharing is in the database, read through the roles cache).
RECHECK_SECONDS = 1.0


class KernelSpecsHandler(CondaStoreHandler):
    @property
    def registry(self) -> KernelRegistry:
        return self.settings["conda_store_kernels"]

    def _etag(self, listing: KernelListing) -> str:
        # The caller (name, groups, bindings after sharing) and what the registry wrote.
        return entity_tag(listing.revision, repr(self.caller))

    def _unchanged(self, etag: str) -> bool:
        _, tags = requested_tags(self.request.headers.get("If-None-Match"))
        return etag.removeprefix("W/") in tags

    @web.authenticated
    @authorized
    async def get(self) -> None:
        wait = self.int_argument("wait", 0, minimum=0, maximum=MAX_WAIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            listing = self.registry.board.listing
            etag = self._etag(listing)
            if not self._unchanged(etag):
                break
            remaining = deadline - loop.time()
            if remaining <= 0 or self.request.connection.stream.closed():
                self.set_header("ETag", etag)
                self.set_status(304)
                self.finish()
                return
            await self.registry.board.wait(min(remaining, RECHECK_SECONDS))
            await self.load_shared_bindings()
        caller = self.caller
        kernels = {
            kernel.name: KernelSpecEntry(spec=kernel.spec, resource_dir=kernel.resource_dir)
            for kernel in listing.kernels
            if caller.can("environment::read", kernel.namespace, kernel.environment)
        }
        self.set_header("ETag", etag)
        self.set_header("Cache-Control", "private, no-cache")
        self.finish_ok(KernelSpecListing(username=caller.username, kernelspecs=kernels))
