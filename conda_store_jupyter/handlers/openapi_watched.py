"""The OpenAPI route table of the store's lifecycle: watched specification files, disk usage
and garbage collection (see openapi_routes.py)."""

from __future__ import annotations

from ..api_gc import GcReport, GcRequest
from ..api_usage import Usage
from ..api_watched import WatchedSpecification
from .openapi_parts import Body, Operation, Response

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
    (
        "/usage/",
        [
            Operation(
                "get",
                "getUsage",
                "What the store uses on disk, per namespace, and the space left",
                "namespaces",
                Response(Usage),
                description="Per namespace the caller may read: live environments, builds and "
                "the bytes of its prefixes (each hard-linked file counted once, as `du` does). "
                "For the store: its bytes, its package cache's, the free space on its disk and "
                "the storage threshold below which new builds are refused. Measured by walking "
                "the store: seconds on a large one.",
            )
        ],
    ),
    (
        "/gc/",
        [
            Operation(
                "post",
                "collectGarbage",
                "Collect old builds and unused packages now (store admins)",
                "namespaces",
                Response(GcReport),
                (400,),
                body=Body(GcRequest, {"dry_run": True, "keep_builds": 2}),
                description="What `jupyter conda-store gc` does: builds the retention rules "
                "(CondaStore.keep_builds, keep_days, or the body's) let go are collected (prefix "
                "and archive removed; log, lock file and specification kept; restorable), "
                "never an environment's current build, a queued or running one, or one a "
                "kernel runs; then package cache entries no prefix uses. `dry_run`: only the "
                "report. Needs the admin role over `*/*`.",
            )
        ],
    ),
]
