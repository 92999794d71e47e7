"""POST `gc/`: a garbage collection now (gc.py), for whoever holds admin over the whole store;
`{"dry_run": true}` only says what would go. The same as `jupyter conda-store gc`."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api_gc import GcRequest
from ..errors import Forbidden, SpecError
from .base import CondaStoreHandler


class GcHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        if not self.caller.grants("*/*", ["admin"]):
            raise Forbidden("garbage collection is for the store's admins: it needs admin on */*")
        data = self.json_body(set(GcRequest.model_fields)) if self.request.body else {}
        try:
            request = GcRequest.model_validate(data)
        except ValueError as error:
            raise SpecError(f"invalid garbage collection request: {error}") from None
        rules = request.model_dump(exclude={"dry_run"}, exclude_none=True)
        report = await self.run(self._collect, rules, request.dry_run)
        self.finish_ok(report, message="dry run: nothing removed" if request.dry_run else None)

    def _collect(self, rules, dry_run):
        return self.service.collector(**rules).run(dry_run=dry_run)
