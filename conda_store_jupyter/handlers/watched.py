"""GET `watched/`: the specification files of `CondaStore.watch_paths` and what became of each
(the build it made, or why it made none), those of namespaces the caller may read."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..service.watched import list_watched
from .base import CondaStoreHandler


class WatchedHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        caller = self.caller
        watched = await self.run(list_watched, self.service.sessions)
        self.finish_ok([w for w in watched if caller.can("namespace::read", w.namespace)])
