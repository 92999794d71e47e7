"""The one handler recipe: authenticated, authorized, conda-store's JSON envelope."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from ..config import CondaStore

# The resource name Jupyter Server's authorizer sees for every route of this extension.
AUTH_RESOURCE = "conda_store"


class CondaStoreHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every REST handler: parse, call the service layer, answer in the envelope."""

    auth_resource = AUTH_RESOURCE

    @property
    def conda_store(self) -> CondaStore:
        return self.settings["conda_store"]

    def finish_ok(self, data: Any = None, **extra: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "ok", "data": data, "message": None, **extra}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors in conda-store's envelope, with a message a person can act on, never a trace."""
        message = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else "Error"
        exc_info = kwargs.get("exc_info")
        if exc_info:
            exc = exc_info[1]
            reason = getattr(exc, "log_message", None) or getattr(exc, "reason", None)
            if reason:
                message = reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "error", "message": message}))
