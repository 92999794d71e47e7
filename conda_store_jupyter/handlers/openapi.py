"""GET `openapi.json`: the OpenAPI 3.1 document of the whole API, built from the route table in
`openapi_routes` (and `openapi_builds`) and the JSON Schemas of the API models (`api_models`),
once per process.

Only operations the handlers really route are documented (the table is checked against
`handlers.ROUTES`), so a route-table entry for a handler not yet registered stays out of it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel
from tornado import web

from .. import __version__
from .base import CondaStoreHandler
from .openapi_parts import (
    ERROR_RESPONSES,
    INFO_DESCRIPTION,
    SECURITY_SCHEME,
    SHARED_PARAMETERS,
    TAGS,
    Body,
    Operation,
    Response,
    component_response,
)
from .openapi_routes import TABLE

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
METHODS = ("get", "post", "put", "patch", "delete")


class Schemas:
    """components/schemas, filled from models as the operations name them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, str]:
        name = model.__name__
        if name not in self.components:
            schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
            for def_name, definition in schema.pop("$defs", {}).items():
                self.components.setdefault(def_name, definition)
            self.components[name] = schema
        return {"$ref": REF.format(model=name)}

    def resolve(self, value: Any) -> Any:
        """A schema written in the table: models (classes) become references, lists of them
        arrays of references; plain dicts are copied with their models resolved."""
        if isinstance(value, type) and issubclass(value, BaseModel):
            return self.ref(value)
        if isinstance(value, list) and len(value) == 1:
            return {"type": "array", "items": self.resolve(value[0])}
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return copy.deepcopy(value)


def envelope(data: dict[str, Any], message: dict[str, Any] | None = None, **extra: Any) -> dict:
    """conda-store's answer: `{status: "ok", data, message}` (+ `extra` top-level keys)."""
    return {
        "type": "object",
        "required": ["status", "data", "message", *extra],
        "properties": {
            "status": {"type": "string", "const": "ok"},
            "data": data,
            "message": message or {"type": ["string", "null"]},
            **extra,
        },
    }


def response_object(response: Response, schemas: Schemas) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": response.description}
    if response.headers:
        answer["headers"] = copy.deepcopy(response.headers)
    if response.kind == "page":
        schema: dict[str, Any] = {
            "allOf": [{"$ref": REF.format(model="PageEnvelope")}],
            "properties": {"data": schemas.resolve([response.schema])},
        }
    elif response.kind == "ok":
        message = {"type": "string", "const": response.message} if response.message else None
        extra = {key: schemas.resolve(value) for key, value in response.extra.items()}
        schema = envelope(schemas.resolve(response.schema), message, **extra)
    else:  # a file or a stream: the schema of its content as written
        schema = schemas.resolve(response.schema)
    answer["content"] = {response.content_type: {"schema": schema}}
    if response.links:
        answer["links"] = copy.deepcopy(response.links)
    return answer


def operation_object(operation: Operation, schemas: Schemas) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
    }
    if operation.description:
        document["description"] = operation.description
    if operation.parameters:
        document["parameters"] = [
            {"$ref": f"#/components/parameters/{p}"} if isinstance(p, str) else copy.deepcopy(p)
            for p in operation.parameters
        ]
    if operation.body is not None:
        document["requestBody"] = body_object(operation.body, schemas)
    responses: dict[str, Any] = {"200": response_object(operation.response, schemas)}
    for status in sorted({403, *operation.errors}):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    document["responses"] = responses
    return document


def body_object(body: Body, schemas: Schemas) -> dict[str, Any]:
    schema = body.schema if body.model is None else schemas.ref(body.model, mode="validation")
    content: dict[str, Any] = {"schema": schema}
    if body.example is not None:
        content["example"] = copy.deepcopy(body.example)
    return {"required": True, "content": {body.content_type: content}}


def routed_operations() -> set[tuple[str, str]]:
    """(path template, verb) of every operation the table documents that a handler in
    `handlers.ROUTES` answers: the first route matching the path (as tornado picks), if it
    implements the verb."""
    from . import API_PREFIX, ROUTES

    routed = set()
    for path, operations in TABLE:
        concrete = API_PREFIX + re.sub(r"\{[^}]+\}", "x", path)
        handler = next(
            (handler for pattern, handler in ROUTES if re.fullmatch(pattern, concrete)), None
        )
        if handler is None:
            continue
        for operation in operations:
            implementation = getattr(handler, operation.verb, None)
            if implementation is not getattr(CondaStoreHandler, operation.verb, None):
                routed.add((path, operation.verb))
    return routed


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (without `servers`: where it is served says that). Built once;
    callers must not change it (copy it first)."""
    from ..api_models import Error, PageEnvelope

    schemas = Schemas()
    schemas.ref(Error)
    schemas.ref(PageEnvelope)
    routed = routed_operations()
    paths: dict[str, Any] = {}
    for path, operations in TABLE:
        item = {
            operation.verb: operation_object(operation, schemas)
            for operation in operations
            if (path, operation.verb) in routed
        }
        if item:
            paths[path] = item
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "conda-store-jupyter",
            "version": __version__,
            "description": INFO_DESCRIPTION,
            "license": {"name": "BSD-3-Clause"},
        },
        "security": [{"jupyterToken": []}],
        "tags": [{"name": tag} for tag in TAGS],
        "paths": paths,
        "components": {
            "securitySchemes": {"jupyterToken": SECURITY_SCHEME},
            "parameters": SHARED_PARAMETERS,
            "responses": {
                name: component_response(status, description, {"$ref": REF.format(model="Error")})
                for status, (name, description) in ERROR_RESPONSES.items()
            },
            "schemas": schemas.components,
        },
    }


def document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


@functools.lru_cache(maxsize=8)
def served_text(api_url: str) -> str:
    """The document as served at `api_url` (its `servers`), serialized once per URL."""
    return document_text({**document(), "servers": [{"url": api_url}]})


class OpenAPIHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        # Served under the server's base_url: tell clients where the API really is.
        self.set_header("Content-Type", "application/json")
        self.finish(served_text(self.base_url.rstrip("/") + "/conda-store/api/v1"))
