"""The one handler recipe: authenticated, authorized, conda-store's JSON envelope, and domain
errors translated to HTTP statuses in one place."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel
from tornado import web

from .. import __version__
from ..auth import TOKEN_ATTRIBUTE, Caller, caller_for, hub_identity, merge_bindings
from ..config import CondaStore
from ..errors import NotFound, SpecError, StoreFull, domain_error
from ..service import CondaStoreService, Page
from ..service.revision import store_revision
from ..service.tokens import TokenIdentity
from ..spec import MAX_YAML_DEPTH, validate_name

# The resource name Jupyter Server's authorizer sees for every route of this extension.
AUTH_RESOURCE = "conda_store"
MAX_BODY_BYTES = 12_000_000  # a lock file for several platforms can be a few MB
MAX_PAGE_SIZE = 1000
MAX_ID = 2**62
# JSON bodies nest as deep as a specification's YAML may (a request nests 3-5 levels).
MAX_JSON_DEPTH = MAX_YAML_DEPTH

T = TypeVar("T")

# -- numbers and JSON from clients: one rule each, for every route ------------------------------

# ASCII digits only: int() alone also takes "1_000", " 12 ", "+3" and any Unicode digit ("٣").
_INTEGER = re.compile(r"-?[0-9]+")
# More digits than any bound here has (MAX_ID has 19): longer numbers are not converted at all
# (int() refuses more than 4,300 digits with a ValueError and is slow far below that).
MAX_DIGITS = 20
_HUGE = 10**MAX_DIGITS


def to_wire(value: Any) -> Any:
    """What goes into a JSON answer: API models (alone, or in lists, tuples and dicts) as their
    JSON form, anything else as it is."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    return value


def shown(raw: str) -> str:
    """A client's value for a message: quoted, and cut short if it is long."""
    return repr(raw) if len(raw) <= 40 else f"{raw[:40]!r}... ({len(raw):,} characters)"


def read_integer(raw: str) -> int | None:
    """The one rule for every integer a client writes as text (ids in paths, query arguments,
    headers): an optional '-' and ASCII digits. None if `raw` is not such a number; one of more
    than MAX_DIGITS digits (leading zeros count) reads as ±10**MAX_DIGITS, outside every bound
    of the API."""
    if not _INTEGER.fullmatch(raw):
        return None
    digits = raw.removeprefix("-")
    value = _HUGE if len(digits) > MAX_DIGITS else int(digits)
    return -value if raw.startswith("-") else value


def parse_integer(what: str, raw: str, minimum: int = 0, maximum: int = MAX_ID) -> int:
    value = read_integer(raw)
    if value is None:
        raise SpecError(f"{what} must be an integer (digits 0-9), got {shown(raw)}")
    if not minimum <= value <= maximum:
        raise SpecError(f"{what} must be between {minimum} and {maximum}, got {shown(raw)}")
    return value


def parse_id(raw: str) -> int:
    """A build id in a path: a non-negative integer (400 otherwise); one past MAX_ID names no
    build (404)."""
    value = read_integer(raw)
    if value is None or value < 0:
        raise SpecError(f"build id must be a non-negative integer, got {shown(raw)}")
    if value > MAX_ID:
        raise NotFound(f"build {shown(raw)} does not exist")
    return value


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_nesting(text: str) -> int:
    """How deep `text` nests arrays and objects, found without decoding it (strings skipped;
    iterative, so any depth is measured safely: json.loads recurses and fails at ~1,000)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    opening = brackets.count("[") + brackets.count("{")
    if opening <= MAX_JSON_DEPTH:
        return opening  # an upper bound, and small: no need to walk them
    return max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _json_int(text: str) -> int:
    digits = text.removeprefix("-")
    if len(digits) > MAX_DIGITS:
        raise SpecError(
            f"request body has a number of {len(digits):,} digits; at most {MAX_DIGITS} are allowed"
        )
    return int(text)


def _json_constant(name: str) -> Any:
    raise SpecError(f"request body is not valid JSON: {name} is not a JSON value")


def parse_json_body(body: bytes) -> Any:
    """A request body as JSON, within the same bounds for every route: its size, UTF-8, its
    nesting and the length of its numbers are checked before or while decoding."""
    if len(body) > MAX_BODY_BYTES:
        raise web.HTTPError(
            413, f"request body too large: {len(body):,} bytes, at most {MAX_BODY_BYTES:,}"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"request body is not valid UTF-8: {error.reason} at byte {error.start}"
        ) from None
    if json_nesting(text) > MAX_JSON_DEPTH:
        raise SpecError(f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text or "{}", parse_int=_json_int, parse_constant=_json_constant)
    except json.JSONDecodeError as error:
        raise SpecError(f"request body is not valid JSON: {error}") from None
    except RecursionError:  # not reached after the nesting check; never a 500 all the same
        raise SpecError(f"request body is nested deeper than {MAX_JSON_DEPTH} levels") from None


# -- conditional GETs: ETag / If-None-Match -------------------------------------------------------

# `private`: per-caller answers stay out of shared caches; `no-cache`: a browser keeps the answer
# but revalidates it every time (fetch()'s cache modes "default" and "no-cache" send
# If-None-Match by themselves and hand the stored body to the page on a 304). JupyterLab's
# ServerConnection asks for "no-store" (plus a time stamp in the URL) unless told otherwise: a
# request must pass `cache: 'no-cache'` to benefit.
REVALIDATE = "private, no-cache"
_READ = frozenset({"environment::read", "namespace::read"})
_ENTITY_TAG = re.compile(r'\*|(?:W/)?"[^"]*"')


def entity_tag(*parts: str) -> str:
    """A weak ETag: it names what was answered (the store's revision, who asked, what), not the
    bytes, which gzip or a new JSON encoder may change."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"), digest_size=16)
    return f'W/"{digest.hexdigest()}"'


def reads_in(caller: Caller, namespace: str) -> bool:
    """Whether any of the caller's lists may show something of `namespace`: the test of
    `Caller.readable_filter`, on one namespace, ignoring the environment side (a binding to
    some environments of it counts: wider than needed is safe for an ETag)."""
    return any(
        rule.permissions & _READ and rule.namespace.matches(namespace) for rule in caller.rules
    )


def requested_tags(header: str | None) -> tuple[bool, frozenset[str]]:
    """(`*` was sent, the opaque tags sent) of an If-None-Match header; comparison is weak
    (RFC 9110 13.1.2), so `W/` is dropped. Anything malformed in it matches nothing."""
    tags = _ENTITY_TAG.findall(header or "")
    return "*" in tags, frozenset(tag.removeprefix("W/") for tag in tags if tag != "*")


def reload_shared_bindings(service: CondaStoreService) -> asyncio.Future[Any]:
    """The reload of what namespaces shared (service/roles.py) under way, or a new one."""
    loop = asyncio.get_running_loop()
    reload = service.__dict__.get("_shared_reload")
    if reload is None or reload.done() or reload.get_loop() is not loop:
        reload = asyncio.ensure_future(asyncio.to_thread(service.shared_bindings, ()))
        service.__dict__["_shared_reload"] = reload
    return asyncio.shield(reload)


class CondaStoreHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every REST handler: parse, call the service layer, answer in the envelope."""

    auth_resource = AUTH_RESOURCE

    @property
    def conda_store(self) -> CondaStore:
        return self.settings["conda_store"]

    @property
    def service(self) -> CondaStoreService:
        return self.settings["conda_store_service"]

    _shared_bindings: dict[str, list[str]] | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        await self.load_shared_bindings()

    async def load_shared_bindings(self) -> None:
        """(Re)read what was shared with the caller (a long poll does, as it waits)."""
        user = self.current_user
        service = self.settings.get("conda_store_service")
        if user is not None and service is not None and self.minted_token is None:
            # What other namespaces shared with the caller's (service/roles.py): cached, so
            # nearly always without a query, but read off the event loop when it is not.
            groups, _ = hub_identity(user)
            holders = [self.primary_namespace, *groups]
            cached = service.cached_shared_bindings(holders)
            if cached is None:
                # One reload for every request that finds the cache stale (hundreds a second
                # on a hub), not one thread each, all queued behind one lock.
                await reload_shared_bindings(service)
                cached = service.cached_shared_bindings(holders)
            self._shared_bindings = (
                cached if cached is not None else await self.run(service.shared_bindings, holders)
            )

    @property
    def bindings(self) -> Mapping[str, Sequence[str]]:
        """The configured role bindings, and what other namespaces shared with the caller's."""
        bindings = self.settings["conda_store_role_bindings"]
        if self._shared_bindings:
            bindings = merge_bindings(bindings, self._shared_bindings)
        return bindings

    @property
    def caller(self) -> Caller:
        # The store's administrator (the holder of `jupyter conda-store`'s token, marked by its
        # identity provider) and JupyterHub's admins are admin everywhere; a minted token holds
        # its own bindings; anyone else `bindings`.
        return caller_for(self.current_user, self.bindings)

    def caller_fingerprint(self, caller: Caller) -> str:
        """Everything about the caller an answer depends on: their name, groups and bindings
        (with what was shared with them), in a stable order (no set or dict order)."""
        rules = [(r.namespace.parts, r.name.parts, r.roles) for r in caller.rules]
        return repr((caller.username, caller.groups, rules))

    async def answered_unchanged(
        self, caller: Caller, shows: tuple[str, ...], namespace: str | None = None
    ) -> bool:
        """Set this GET's ETag and, if the client holds that very tag, answer 304 at once: no
        list query, no thread (the revision is nearly always cached). Call it once the request
        is validated and before any work. The tag is made of the state of what the caller may
        read (service/revision.py: the shared part and the namespaces they read), who they are
        and the URL; the state is read before the answer's own query, so a change made
        meanwhile only ever makes the tag older than the answer (the next request gets a 200
        again), never newer. Staleness: a change made through another process shows within
        REVISION_TTL (0.5 s), one made through this one at once. `shows`: the tables the answer
        shows, per namespace (revision.ENVIRONMENTS, BUILDS, NAMESPACES); `namespace`: the one
        namespace the answer shows, when the request names it (a change elsewhere, in a
        namespace every user reads, must not refresh every user's panel).
        `If-None-Match: *` (any current representation) answers 304 only after the work showed
        there is one (`finish_ok`)."""
        revision = await store_revision(self.service).current()
        who = self.caller_fingerprint(caller)
        scope = revision.scope(
            who if namespace is None else f"{who}\0{namespace}",
            lambda name: reads_in(caller, name) and namespace in (None, name),
            shows,
        )
        tag = entity_tag(__version__, scope, who, self.request.uri or "")
        self.set_header("ETag", tag)
        self.set_header("Cache-Control", REVALIDATE)
        star, tags = requested_tags(self.request.headers.get("If-None-Match"))
        self._any_tag = star
        if tag.removeprefix("W/") in tags:
            self.set_status(304)
            self.finish()
            return True
        return False

    _any_tag = False

    @property
    def minted_token(self) -> TokenIdentity | None:
        """The minted token (service/tokens.py) the request was authenticated with, if any."""
        return getattr(self.current_user, TOKEN_ATTRIBUTE, None)

    @property
    def primary_namespace(self) -> str:
        """The caller's primary namespace: a token's own, or the one their name gives."""
        if self.minted_token is not None:
            return self.minted_token.primary_namespace
        user = self.current_user
        return self.settings["conda_store_primary_namespace"](
            getattr(user, "username", None) or str(user or "")
        )

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the (blocking) service layer off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    # -- input ------------------------------------------------------------------------------
    def json_body(self, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
        data = parse_json_body(self.request.body or b"")
        if not isinstance(data, dict):
            raise SpecError("request body must be a JSON object")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        missing = sorted(required - set(data))
        if missing:
            raise SpecError(f"missing field(s): {', '.join(missing)}")
        return data

    def int_argument(self, name: str, default: int, minimum: int = 0, maximum: int = MAX_ID) -> int:
        raw = self.get_argument(
            name, None, strip=False
        )  # " 1" is no more a number here than in a path
        if raw is None:
            return default
        return parse_integer(name, raw, minimum, maximum)

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
        return parse_id(value)

    # -- output -----------------------------------------------------------------------------
    def finish_ok(self, data: Any = None, message: str | None = None, **extra: Any) -> None:
        if self._any_tag:  # `If-None-Match: *` and there is a current representation
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Type", "application/json")
        answer = {"status": "ok", "data": data, "message": message, **extra}
        self.finish(json.dumps(to_wire(answer)))

    def finish_page(self, items: list[Any], count: int, page: Page) -> None:
        self.finish_ok(items, page=page.page, size=page.size, count=count)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors in conda-store's envelope, with a message a person can act on, never a trace."""
        message = (
            HTTPStatus(status_code).phrase
            if status_code in HTTPStatus._value2member_map_
            else "Error"
        )
        exc_info = kwargs.get("exc_info")
        if exc_info:
            error = exc_info[1]
            domain = domain_error(error)  # a full disk from any layer is one answer: 507
            if domain is not None:
                self.set_status(domain.status_code)
                message = domain.message
            elif isinstance(error, web.HTTPError) and error.log_message:
                message = error.log_message % error.args if error.args else error.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "error", "message": message}))

    def log_exception(self, typ, value, tb) -> None:
        # Refusals are expected answers, not server errors: no traceback in the log.
        domain = domain_error(value)
        if domain is not None:
            log = self.log.warning if isinstance(domain, StoreFull) else self.log.info
            log(
                "conda-store: %s %s -> %s: %s",
                self.request.method,
                self.request.path,
                domain.status_code,
                domain.message,
            )
            return
        super().log_exception(typ, value, tb)
