"""The pieces the OpenAPI route tables are written with: the operation, body and response
descriptions, the shared parameters and error responses, and helpers for path and query
parameters. The tables are openapi_routes.py (status, namespaces, environments,
specifications) and openapi_builds.py (builds, channels, packages)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

from ..api_models import (
    NAME_PATTERN,
)
from ..db import BuildStatus
from .base import MAX_ID, MAX_PAGE_SIZE

INFO_DESCRIPTION = (
    "conda-store's REST API v1, served by a Jupyter Server extension. Responses use "
    'conda-store\'s envelope `{"status": "ok"|"error", "data": ..., "message": ...}`; lists add '
    '`page`, `size` and `count`. Errors are `{"status": "error", "message": ...}` with 400 '
    "(invalid input), 403 (not allowed / not authenticated), 404 (missing, or not readable by the "
    "caller), 409 (conflicts with the current state) or 413 (body too large). Every path also "
    "answers without its trailing slash. The lists and reads of one namespace or environment "
    "carry an ETag (`Cache-Control: private, no-cache`): sent back in If-None-Match, an "
    "unchanged answer is a 304 without a body."
)
TAGS = ("status", "namespaces", "environments", "specifications", "builds", "search")
SECURITY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "Jupyter Server's authentication: `Authorization: token <token>` (`Bearer "
    "<token>`, as conda-store's client sends it, works too). A browser session uses Jupyter's "
    "cookie and `_xsrf` instead.",
}
# status -> (components/responses name, description)
ERROR_RESPONSES = {
    400: ("BadRequest", "Invalid input (name, parameter, body or specification)"),
    403: ("Forbidden", "Not authenticated, or the caller's roles do not allow it"),
    404: ("NotFound", "No such resource (or the caller may not read it)"),
    409: ("Conflict", "The request contradicts the current state"),
    304: (
        "NotModified",
        "Unchanged since the answer whose ETag was sent in If-None-Match: no body; the client "
        "uses the answer it holds.",
    ),
    413: ("TooLarge", "Request body too large"),
    507: (
        "StoreFull",
        "The store's disk (or its database's) is full: nothing was changed; the same request "
        'succeeds once there is room again. The message starts with "the store\'s disk is full".',
    ),
}
STATUSES = [status.value for status in BuildStatus]
SHARED_PARAMETERS = {
    "page": {
        "name": "page",
        "in": "query",
        "required": False,
        "description": "1-based page number.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 10**9, "default": 1},
    },
    "size": {
        "name": "size",
        "in": "query",
        "required": False,
        "description": "Items per page.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 100},
    },
    "order": {
        "name": "order",
        "in": "query",
        "required": False,
        "description": "Sort order.",
        "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
    },
    "status": {
        "name": "status",
        "in": "query",
        "required": False,
        "description": "Only builds in this state (for environments: current build's).",
        "schema": {"type": "string", "enum": STATUSES},
    },
}


# -- conditional GETs (handlers/base.py, `answered_unchanged`) -----------------------------------

# The GETs answered with an ETag and 304 when unchanged: the lists the panel polls, and reads of
# one namespace or environment.
CONDITIONAL = frozenset(
    {"listNamespaces", "getNamespace", "listEnvironments", "getEnvironment", "listBuilds"}
)
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "ETags of answers the client holds (or `*`): 304 with no body if the answer "
    "would be the same. Browsers send it by themselves for answers they keep.",
    "schema": {"type": "string"},
}
VALIDATORS = {
    "ETag": {
        "description": "A weak tag of this answer: the store's state, who asked and the URL. It "
        "changes within 0.5 s of any change the answer shows.",
        "schema": {"type": "string", "pattern": '^W/"[0-9a-f]+"$'},
    },
    "Cache-Control": {
        "description": "`private, no-cache`: keep it, but revalidate it (If-None-Match) every "
        "time.",
        "schema": {"type": "string"},
    },
}


def component_response(status: int, description: str, error: dict[str, Any]) -> dict[str, Any]:
    """A shared response of components/responses: an `error` body, or none for 304."""
    if status == 304:
        return {"description": description, "headers": VALIDATORS}
    return {"description": description, "content": {"application/json": {"schema": error}}}


def as_conditional(operation: Operation) -> Operation:
    """`operation` with If-None-Match, the 304 answer and its 200's validators documented."""
    response = dataclasses.replace(
        operation.response, headers={**(operation.response.headers or {}), **VALIDATORS}
    )
    return dataclasses.replace(
        operation,
        response=response,
        errors=(304, *operation.errors),
        parameters=(*operation.parameters, IF_NONE_MATCH),
        conditional=False,
    )


@dataclasses.dataclass(frozen=True)
class Response:
    """The 200 answer. kind: "ok" (the envelope around `schema`), "page" (the page envelope
    around a list of `schema`) or "file" (`schema` is the content's, of `content_type`).
    A schema is a model class, `[model]` for a list of them, or a JSON Schema dict."""

    schema: Any
    kind: str = "ok"
    description: str = "OK"
    content_type: str = "application/json"
    message: str | None = None  # a fixed `message` of the envelope
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more top-level keys
    headers: dict[str, Any] | None = None
    links: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Body:
    model: type[BaseModel] | None
    example: dict[str, Any] | None = None
    # A body that is not JSON (an uploaded archive): its content type and schema.
    content_type: str = "application/json"
    schema: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Operation:
    verb: str
    operation_id: str
    summary: str
    tag: str
    response: Response
    errors: tuple[int, ...] = ()  # 403 is always documented
    parameters: tuple[dict[str, Any] | str, ...] = ()  # a str names a shared parameter
    body: Body | None = None
    description: str | None = None
    conditional: bool = True  # documented as conditional if its id is in CONDITIONAL

    def __post_init__(self) -> None:
        # Applied here, so that whichever table an operation is written in (openapi_routes.py,
        # openapi_builds.py), its documentation follows the handlers' one list.
        if self.conditional and self.operation_id in CONDITIONAL:
            done = as_conditional(self)
            for field in ("response", "errors", "parameters", "conditional"):
                object.__setattr__(self, field, getattr(done, field))


# -- parameters ----------------------------------------------------------------------------------


def name_in_path(kind: str, example: str) -> dict[str, Any]:
    return {
        "name": kind,
        "in": "path",
        "required": True,
        "description": f"{kind} name",
        "schema": {"type": "string", "pattern": NAME_PATTERN},
        "example": example,
    }


def environment_in_path(namespace: str = "default", name: str = "demo") -> tuple[dict, dict]:
    return name_in_path("namespace", namespace), name_in_path("environment", name)


def build_in_path(example: int = 3, name: str = "build_id", description: str = "build id") -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
        "example": example,
    }


def query(name: str, description: str, schema: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **more}  # fmt: skip


def query_list(name: str, description: str, **more: Any) -> dict[str, Any]:
    schema = {"type": "array", "items": {"type": "string"}}
    return query(name, description, schema, style="form", explode=True, **more)


def sorting(columns: list[str], default: str) -> tuple[str | dict[str, Any], ...]:
    sort_by = {
        "name": "sort_by",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "description": "Columns to sort by, in order (repeat the parameter or separate names "
        f"with commas); default: {default}.",
        "schema": {"type": "array", "items": {"type": "string", "enum": columns}},
    }
    return ("page", "size", sort_by, "order")


NAME_QUERY = {"type": "string", "pattern": NAME_PATTERN}
OFFSET = {"type": "integer", "minimum": 0, "maximum": MAX_ID}

# -- responses -----------------------------------------------------------------------------------

NOTHING = Response({"type": "null"})


def build_links() -> dict[str, Any]:
    ref = "$response.body#/data/build_id"
    return {
        link: {"operationId": operation, "parameters": {"build_id": ref}}
        for link, operation in (
            ("GetBuild", "getBuild"),
            ("CancelBuild", "cancelBuild"),
            ("GetBuildLogs", "getBuildLogs"),
            ("ListBuildPackages", "listBuildPackages"),
        )
    }


DISPOSITION = {
    "Content-Disposition": {
        "description": '`attachment; filename="<environment>-<build id><suffix>"`',
        "schema": {"type": "string"},
    }
}
LOCKFILE = {
    "type": "object",
    "required": ["version", "metadata", "package"],
    "description": "A conda-lock file (format version 1), as `conda-lock install` reads it",
    "properties": {
        "version": {"type": "integer", "const": 1},
        "metadata": {"type": "object", "required": ["channels", "platforms"]},
        "package": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "version", "manager", "platform", "url"],
            },
        },
    },
}
ENVIRONMENT_YAML = {
    "type": "object",
    "required": ["name", "channels", "dependencies"],
    "description": "A conda environment file pinning every package exactly",
    "properties": {
        "name": {"type": "string"},
        "channels": {"type": "array", "items": {"type": "string"}},
        "dependencies": {"type": "array"},
    },
}
SERVER_SENT_EVENT = {
    "description": "One server-sent event",
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["status", "log", "end"]},
        "data": {"type": "string"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
    },
}


def download(
    operation_id: str, summary: str, description: str, content_type: str, schema: dict, *errors
) -> Operation:
    return Operation(
        "get",
        operation_id,
        summary,
        "builds",
        Response(schema, "file", description, content_type, headers=DISPOSITION),
        (400, 404, *errors),
        (build_in_path(),),
    )
