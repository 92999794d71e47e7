"""The one handler recipe: authenticated, authorized, conda-store's JSON envelope, and domain
errors translated to HTTP statuses in one place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..auth import Caller
from ..config import CondaStore
from ..errors import CondaStoreError, NotFound, SpecError
from ..service import CondaStoreService, Page
from ..spec import validate_name

# The resource name Jupyter Server's authorizer sees for every route of this extension.
AUTH_RESOURCE = "conda_store"
MAX_BODY_BYTES = 12_000_000  # a lock file for several platforms can be a few MB
MAX_PAGE_SIZE = 1000
MAX_ID = 2**62

T = TypeVar("T")


class CondaStoreHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every REST handler: parse, call the service layer, answer in the envelope."""

    auth_resource = AUTH_RESOURCE

    @property
    def conda_store(self) -> CondaStore:
        return self.settings["conda_store"]

    @property
    def service(self) -> CondaStoreService:
        return self.settings["conda_store_service"]

    @property
    def caller(self) -> Caller:
        user = self.current_user
        username = getattr(user, "username", None) or str(user or "")
        return Caller.for_user(username, self.settings["conda_store_role_bindings"])

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the (blocking) service layer off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    # -- input ------------------------------------------------------------------------------
    def json_body(self, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
        body = self.request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise web.HTTPError(413, f"request body too large: {len(body)} bytes, at most {MAX_BODY_BYTES}")
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SpecError(f"request body is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise SpecError("request body must be a JSON object")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        missing = sorted(required - set(data))
        if missing:
            raise SpecError(f"missing field(s): {', '.join(missing)}")
        return data

    def int_argument(self, name: str, default: int, minimum: int = 0, maximum: int = MAX_ID) -> int:
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SpecError(f"{name} must be an integer, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise SpecError(f"{name} must be between {minimum} and {maximum}, got {value}")
        return value

    def page_argument(self, default_size: int = 100) -> Page:
        order = self.get_argument("order", "asc").lower()
        if order not in ("asc", "desc"):
            raise SpecError(f"order must be asc or desc, got {order!r}")
        sort_by = tuple(self.list_argument("sort_by"))
        return Page(
            page=self.int_argument("page", 1, minimum=1, maximum=10**9),
            size=self.int_argument("size", default_size, minimum=1, maximum=MAX_PAGE_SIZE),
            sort_by=sort_by,
            order=order,
        )

    @staticmethod
    def name_argument(kind: str, value: str) -> str:
        return validate_name(kind, value)

    def optional_name_argument(self, kind: str, argument: str) -> str | None:
        """A validated name from the query (`?namespace=...`), or None when absent."""
        value = self.get_argument(argument, None)
        return None if value is None else validate_name(kind, value)

    def list_argument(self, argument: str) -> list[str]:
        """Repeated and comma-separated values alike: `?packages=a&packages=b,c`."""
        return [item for value in self.get_arguments(argument) for item in value.split(",") if item]

    @staticmethod
    def id_argument(value: str) -> int:
        if not (value.isascii() and value.isdigit()):
            shown = value if len(value) <= 40 else f"{value[:40]}..."
            raise SpecError(f"build id must be a non-negative integer, got {shown!r}")
        number = int(value)
        if number > MAX_ID:
            raise NotFound(f"build {value} does not exist")
        return number

    # -- output -----------------------------------------------------------------------------
    def finish_ok(self, data: Any = None, message: str | None = None, **extra: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "ok", "data": data, "message": message, **extra}))

    def finish_page(self, items: list[Any], count: int, page: Page) -> None:
        self.finish_ok(items, page=page.page, size=page.size, count=count)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors in conda-store's envelope, with a message a person can act on, never a trace."""
        message = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else "Error"
        exc_info = kwargs.get("exc_info")
        if exc_info:
            error = exc_info[1]
            if isinstance(error, CondaStoreError):
                self.set_status(error.status_code)
                message = error.message
            elif isinstance(error, web.HTTPError) and error.log_message:
                message = error.log_message % error.args if error.args else error.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "error", "message": message}))

    def log_exception(self, typ, value, tb) -> None:  # noqa: ANN001
        # Refusals are expected answers, not server errors: no traceback in the log.
        if isinstance(value, CondaStoreError):
            self.log.info("conda-store: %s %s -> %s: %s", self.request.method, self.request.path,
                          value.status_code, value.message)
            return
        super().log_exception(typ, value, tb)
