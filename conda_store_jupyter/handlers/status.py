"""GET `api/v1/`: is the service up, and which version."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import __version__
from .base import CondaStoreHandler


class StatusHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish_ok({"version": __version__})
