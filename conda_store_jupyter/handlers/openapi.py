"""GET `openapi.json`: the OpenAPI 3 document of the whole API, kept beside the handlers."""

import json
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import CondaStoreHandler

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


class OpenAPIHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        document = json.loads(OPENAPI_PATH.read_text())
        # Served under the server's base_url: tell clients where the API really is.
        document["servers"] = [{"url": self.base_url.rstrip("/") + "/conda-store/api/v1"}]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(document))
