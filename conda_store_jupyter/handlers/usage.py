"""GET `usage/`: what the store uses on disk, per namespace the caller may read, and its free
space (service/usage.py)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import CondaStoreHandler


class UsageHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish_ok(await self.run(self.service.usage, self.caller))
