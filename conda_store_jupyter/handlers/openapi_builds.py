"""The OpenAPI route table of builds, channels and packages (see openapi_routes.py)."""

from __future__ import annotations

from ..api_models import Build, BuildArtifactType, BuildId, Channel, Diff, Package, PackageName
from ..api_records import BuildKernel, BuildRecord
from .base import MAX_PAGE_SIZE
from .openapi_parts import (
    ENVIRONMENT_YAML,
    LOCKFILE,
    NAME_QUERY,
    NOTHING,
    OFFSET,
    SERVER_SENT_EVENT,
    STATUSES,
    Operation,
    Response,
    build_in_path,
    build_links,
    download,
    query,
    query_list,
    sorting,
)

BUILD_TABLE: list[tuple[str, list[Operation]]] = [
    (
        "/build/",
        [
            Operation(
                "get",
                "listBuilds",
                "List builds of the environments the caller may read",
                "builds",
                Response(Build, "page", "One page of the list"),
                (400,),
                (
                    *sorting(
                        ["id", "scheduled_on", "started_on", "ended_on", "status", "size"], "id"
                    ),
                    "status",
                    query("environment_id", "Only builds of this environment.", OFFSET),
                    query("namespace", "Only this namespace.", NAME_QUERY),
                    query("name", "Only environments of this name.", NAME_QUERY),
                    query_list("packages", "Only builds with every one of these packages."),
                    query(
                        "artifact",
                        "Only builds with an artifact of this type.",
                        {"type": "string", "enum": [kind.value for kind in BuildArtifactType]},
                    ),
                ),
                description="In lists, a build's `specification` is null (get the build for it).",
            )
        ],
    ),
    (
        "/build/{build_id}/",
        [
            Operation(
                "get",
                "getBuild",
                "Get a build, with its specification and artifacts",
                "builds",
                Response(Build),
                (400, 404),
                (build_in_path(),),
                description="A build belongs to an environment; a caller who may not read that "
                "environment gets 404. A FAILED build whose solve failed has `problems`: the "
                "solver's complaints in plain words, each at the line and column of its "
                "dependency in the specification as YAML, as in `validate/specification/`. A "
                "QUEUED build has its `queue_position`.",
            ),
            Operation(
                "put",
                "rebuildBuild",
                "Rebuild: a new build of the same specification",
                "builds",
                Response(BuildId, message="rebuild triggered", links=build_links()),
                (400, 404, 409, 507),
                (build_in_path(),),
            ),
            Operation(
                "delete",
                "deleteBuild",
                "Delete a finished build that is not current",
                "builds",
                NOTHING,
                (400, 404, 409, 507),
                (build_in_path(1),),
                description="409 if the build is queued or running, or is its environment's "
                "current build. Its prefix goes; its log and lock file stay.",
            ),
        ],
    ),
    (
        "/build/{build_id}/cancel/",
        [
            Operation(
                "put",
                "cancelBuild",
                "Cancel a queued or running build",
                "builds",
                Response(Build, message="build canceled"),
                (400, 404, 409, 507),
                (build_in_path(),),
                description="409 if the build is already COMPLETED, FAILED or CANCELED.",
            )
        ],
    ),
    (
        "/build/{build_id}/restore/",
        [
            Operation(
                "post",
                "restoreBuild",
                "Restore a collected build from its lock file",
                "builds",
                Response(Build, message="restore queued"),
                (400, 404, 409, 507),
                (build_in_path(),),
                description="A build garbage collection collected (`collected_on` set) is "
                "queued to reinstall its prefix from its own lock file, with no solve: the same "
                "packages. It stays its environment's current build or not as it was. 409 if it "
                "was not collected; 507 if the store's disk or the namespace's quota is full.",
            )
        ],
    ),
    (
        "/build/{build_id}/record/",
        [
            Operation(
                "get",
                "getBuildRecord",
                "What a notebook records of the build it ran on",
                "builds",
                Response(BuildRecord),
                (400, 404, 409),
                (build_in_path(),),
                description="The `conda_store` section the panel writes into a notebook's "
                "metadata when it is saved on a kernel of this build: its namespace, "
                "environment, id, specification hash, and its lock file with that file's "
                "sha256, so `jupyter conda-store reproduce` can recreate the very packages on "
                "any store. 409 unless the build COMPLETED.",
            )
        ],
    ),
    (
        "/build/{build_id}/kernel/",
        [
            Operation(
                "post",
                "requestBuildKernel",
                "A kernel of this very build, not the environment's current one",
                "builds",
                Response(BuildKernel),
                (400, 404, 409, 507),
                (build_in_path(),),
                description="For a notebook recorded on an older build: the kernel registry "
                "keeps a kernel spec, `kernel_name`, that runs this build's own prefix, while "
                "the build has it (a collected build is restored first: `restoring`). Kernels "
                "of a build are made only when asked for, never for every build.",
            )
        ],
    ),
    (
        "/build/{build_id}/packages/",
        [
            Operation(
                "get",
                "listBuildPackages",
                "The packages a build installed",
                "builds",
                Response(Package, "page", "One page of the list"),
                (400, 404),
                (
                    build_in_path(),
                    *sorting(["name", "version", "size"], "name"),
                    query(
                        "search",
                        "Package name contains this (case-insensitive).",
                        {"type": "string"},
                    ),
                ),
            )
        ],
    ),
    (
        "/build/{build_id}/logs/",
        [
            Operation(
                "get",
                "getBuildLogs",
                "The build log",
                "builds",
                Response(
                    {"type": "string"},
                    "file",
                    "Without `offset`: the whole log as a download (404 before the build has "
                    "started). With `offset`: the bytes from that offset on (possibly none), for "
                    "clients that poll.",
                    "text/plain",
                    headers={
                        "X-Log-Offset": {
                            "description": "With `offset`: where to ask from next time.",
                            "schema": {"type": "integer"},
                        },
                        "X-Build-Status": {
                            "description": "With `offset`: the build's status; more lines come "
                            "only while QUEUED or BUILDING.",
                            "schema": {"type": "string", "enum": STATUSES},
                        },
                        "Content-Disposition": {
                            "description": "Without `offset`.",
                            "schema": {"type": "string"},
                        },
                    },
                ),
                (400, 404),
                (build_in_path(), query("offset", "Byte offset to read from.", OFFSET)),
            )
        ],
    ),
    (
        "/build/{build_id}/logs/stream/",
        [
            Operation(
                "get",
                "streamBuildLogs",
                "The build log, live, as server-sent events",
                "builds",
                Response(
                    SERVER_SENT_EVENT,
                    "file",
                    '`event: status` (data `{"status": ...}`) whenever the build\'s status '
                    "changes; `event: log` per log line (data: the line; id: the byte offset "
                    'after it); `event: end` (data `{"status": ...}`) when the build is final, '
                    "then the stream closes.",
                    "text/event-stream",
                ),
                (400, 404),
                (
                    build_in_path(),
                    query("offset", "Byte offset to start from (default 0).", OFFSET),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "description": "Resume after this event id (a byte offset); wins over "
                        "`offset`.",
                        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    },
                ),
            )
        ],
    ),
    (
        "/build/{build_id}/lockfile/",
        [
            download(
                "getBuildLockfile",
                "The build's conda-lock file",
                "conda-lock.yml",
                "text/yaml",
                LOCKFILE,
            )
        ],
    ),
    (
        "/build/{build_id}/yaml/",
        [
            download(
                "getBuildYaml",
                "The build's environment YAML with exact pins",
                "environment.yaml",
                "text/yaml",
                ENVIRONMENT_YAML,
            )
        ],
    ),
    (
        "/build/{build_id}/explicit/",
        [
            download(
                "getBuildExplicit",
                "The build's explicit spec (`@EXPLICIT` URLs with hashes)",
                "explicit.txt",
                "text/plain",
                {"type": "string"},
            )
        ],
    ),
    (
        "/build/{build_id}/archive/",
        [
            download(
                "getBuildArchive",
                "The build's conda-pack archive (made on first request)",
                "environment.tar.gz; 404 unless the build is COMPLETED",
                "application/gzip",
                {"type": "string", "format": "binary"},
                507,
            )
        ],
    ),
    (
        "/build/{build_id}/diff/{other_build_id}/",
        [
            Operation(
                "get",
                "diffBuilds",
                "Packages added, removed and changed from one build to another",
                "builds",
                Response(Diff),
                (400, 404),
                (
                    build_in_path(description="the old build"),
                    build_in_path(2, "other_build_id", "the new build"),
                ),
            )
        ],
    ),
    (
        "/channel/",
        [
            Operation(
                "get",
                "listChannels",
                "The configured channels",
                "search",
                Response(Channel, "page", "All of them, on one page"),
            )
        ],
    ),
    (
        "/package/",
        [
            Operation(
                "get",
                "searchPackages",
                "Package names in the channels (for completion)",
                "search",
                Response(
                    PackageName, "page", "Names containing `search`, those starting with it first"
                ),
                (400,),
                (
                    query("search", "Part of a package name.", {"type": "string"}, example="al"),
                    query_list(
                        "channel",
                        "Channels to search (default: the configured channels; must be allowed).",
                    ),
                    query(
                        "size",
                        "Items per page.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50},
                    ),
                    "page",
                    "order",
                ),
            )
        ],
    ),
]
