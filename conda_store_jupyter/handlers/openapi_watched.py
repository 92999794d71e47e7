"""The OpenAPI route table of watched specification files (see openapi_routes.py)."""

from __future__ import annotations

from ..api_watched import WatchedSpecification
from .openapi_parts import Operation, Response

WATCHED_TABLE: list[tuple[str, list[Operation]]] = [
    (
        "/watched/",
        [
            Operation(
                "get",
                "listWatchedSpecifications",
                "The specification files the server watches, and what became of each",
                "environments",
                Response([WatchedSpecification]),
                description="Files of `CondaStore.watch_paths`, in namespaces the caller may "
                "read: each one's environment in `CondaStore.filesystem_namespace`, the build "
                "its content last made, or the `error` that kept it from building (what was "
                "built before stays).",
            )
        ],
    ),
]
