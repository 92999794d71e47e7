"""The OpenAPI route table of the store's lifecycle: watched specification files, disk usage,
garbage collection, and environments exported, imported, copied and renamed (see
openapi_routes.py)."""

from __future__ import annotations

from ..api_gc import GcReport, GcRequest
from ..api_models import Environment
from ..api_transfer import ImportedEnvironment, MoveRequest
from ..api_usage import Usage
from ..api_watched import WatchedSpecification
from .openapi_parts import (
    DISPOSITION,
    Body,
    Operation,
    Response,
    environment_in_path,
    name_in_path,
    query,
)

BINARY = {"type": "string", "format": "binary"}
ARCHIVE = Response(BINARY, "file", "a gzipped tar", "application/gzip", headers=DISPOSITION)

MOVES = {
    "copy": Operation(
        "post",
        "copyEnvironment",
        "Copy an environment, within or across namespaces",
        "environments",
        Response(Environment),
        (400, 404, 409, 507),
        environment_in_path(),
        body=Body(MoveRequest, {"name": "demo-copy"}),
        description="The environment's history under another name or namespace; its current "
        "build is restored from its lock file, sharing the source's files through hard links "
        "(almost no disk).",
    ),
    "rename": Operation(
        "post",
        "renameEnvironment",
        "Rename an environment, or move it to another namespace",
        "environments",
        Response(Environment),
        (400, 404, 409, 507),
        environment_in_path(),
        body=Body(MoveRequest, {"name": "demo-2"}),
        description="Within a namespace, the same environment under a new name (its link "
        "and kernel follow); across namespaces, a copy there and a delete here.",
    ),
}

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
    (
        "/environment/{namespace}/{environment}/export/",
        [
            Operation(
                "get",
                "exportEnvironment",
                "The environment's history as an archive, to import elsewhere",
                "environments",
                ARCHIVE,
                (400, 404),
                environment_in_path(),
                description="A gzipped tar of `manifest.json` (the environment, its current "
                "build, and each completed build's specification, times, size and packages) "
                "and each build's lock file and log. `environment/import/` recreates it.",
            )
        ],
    ),
    (
        "/namespace/{namespace}/export/",
        [
            Operation(
                "get",
                "exportNamespace",
                "Every environment of a namespace the caller may read, as one archive",
                "namespaces",
                ARCHIVE,
                (400, 404),
                (name_in_path("namespace", "default"),),
            )
        ],
    ),
    (
        "/environment/import/",
        [
            Operation(
                "post",
                "importEnvironments",
                "Recreate the environments of an archive (from export/) here",
                "environments",
                Response([ImportedEnvironment]),
                (400, 409, 507),
                (
                    query("namespace", "Import into this namespace.", {"type": "string"}),
                    query(
                        "name", "The environment's name (an archive of one).", {"type": "string"}
                    ),
                ),
                body=Body(None, content_type="application/octet-stream", schema=BINARY),
                description="Each environment gets its builds back, with their "
                "specifications, packages, lock files and logs, as collected builds (no "
                "prefix, restorable from the lock file); its current build is restored at once "
                "(no solve: the very packages) and becomes current when it is. 409 if an "
                "environment of that name exists.",
            )
        ],
    ),
    *(
        (f"/environment/{{namespace}}/{{environment}}/{verb}/", [operation])
        for verb, operation in MOVES.items()
    ),
]
