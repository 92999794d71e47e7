"""GET `channel/` (the channels in use) and `package/?search=` (package names for completion)."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import CondaStoreHandler


class ChannelHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        channels = self.service.channels()
        self.finish_ok(channels, page=1, size=len(channels), count=len(channels))


class PackageHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = self.page_argument(default_size=50)
        channels = self.list_argument("channel")
        names = await self.service.search_packages(self.get_argument("search", ""), channels)
        start = (page.page - 1) * page.size
        self.finish_page(names[start : start + page.size], len(names), page)
