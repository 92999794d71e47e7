"""The route table of the OpenAPI document: for each path, its operations (verb, summary,
parameters, request body model, response, documented errors). `openapi.document()` turns it into
OpenAPI 3.1 with the API models' JSON Schemas. Examples name what the schemathesis test seeds
(builds 1-3, default/demo, scratch/doomed). Builds, channels and packages: openapi_builds.py."""

from __future__ import annotations

import dataclasses

from ..api_models import (
    BuildId,
    Environment,
    EnvironmentUpdate,
    Namespace,
    Solve,
    SolvedPackage,
    SpecificationCheck,
    SpecificationCreate,
    Validation,
    Version,
)
from ..api_tokens import Permission
from ..service.kernels import RunningKernel
from .openapi_builds import BUILD_TABLE
from .openapi_kernels import KERNELSPECS_TABLE
from .openapi_parts import (
    LOCKFILE,
    NAME_QUERY,
    NOTHING,
    Body,
    Operation,
    Response,
    build_links,
    environment_in_path,
    name_in_path,
    query,
    query_list,
    sorting,
)
from .openapi_roles import ROLES_TABLE, TOKEN_TABLE
from .openapi_watched import WATCHED_TABLE

# -- the table -----------------------------------------------------------------------------------

NAMESPACE = name_in_path("namespace", "default")
TABLE: list[tuple[str, list[Operation]]] = [
    (
        "/",
        [Operation("get", "getStatus", "Service status and version", "status", Response(Version))],
    ),
    (
        "/openapi.json",
        [
            Operation(
                "get",
                "getOpenAPI",
                "This OpenAPI document",
                "status",
                Response(
                    {"type": "object", "required": ["openapi", "paths"]},
                    "file",
                    "The OpenAPI 3 document of the API, `servers` set to where it is served.",
                ),
            )
        ],
    ),
    (
        "/permission/",
        [
            Operation(
                "get",
                "getPermissions",
                "The caller's identity, primary namespace and role bindings",
                "status",
                Response(Permission),
            )
        ],
    ),
    (
        "/namespace/",
        [
            Operation(
                "get",
                "listNamespaces",
                "List the namespaces the caller may read",
                "namespaces",
                Response(Namespace, "page", "One page of the list"),
                (400,),
                sorting(["name", "id"], "name"),
            )
        ],
    ),
    (
        "/namespace/{namespace}/",
        [
            Operation(
                "get",
                "getNamespace",
                "Get a namespace",
                "namespaces",
                Response(Namespace),
                (400, 404),
                (NAMESPACE,),
                description="A namespace the caller may not read answers 404, as if it did not "
                "exist.",
            ),
            Operation(
                "post",
                "createNamespace",
                "Create a namespace",
                "namespaces",
                dataclasses.replace(
                    NOTHING,
                    links={
                        link: {
                            "operationId": operation,
                            "parameters": {"namespace": "$request.path.namespace"},
                        }
                        for link, operation in (
                            ("GetNamespace", "getNamespace"),
                            ("DeleteNamespace", "deleteNamespace"),
                        )
                    },
                ),
                (400, 409, 507),
                (name_in_path("namespace", "team-a"),),
            ),
            Operation(
                "delete",
                "deleteNamespace",
                "Delete a namespace and every environment in it",
                "namespaces",
                NOTHING,
                (400, 404, 507),
                (name_in_path("namespace", "scratch"),),
                description="Prefixes are removed; the builds' logs and lock files are kept.",
            ),
        ],
    ),
    (
        "/environment/",
        [
            Operation(
                "get",
                "listEnvironments",
                "List the environments the caller may read",
                "environments",
                Response(Environment, "page", "One page of the list"),
                (400,),
                (
                    *sorting(["name", "namespace", "id", "updated_on"], "namespace, name"),
                    query("namespace", "Only this namespace.", NAME_QUERY),
                    query("name", "Only environments of this name.", NAME_QUERY),
                    "status",
                    query(
                        "search",
                        "Environment name contains this (case-insensitive).",
                        {"type": "string"},
                    ),
                    query_list(
                        "packages",
                        "Only environments whose current build has every one of these packages "
                        "(names; repeat or separate with commas).",
                    ),
                ),
                description="`status` and `packages` filter on the environment's current build.",
            )
        ],
    ),
    (
        "/environment/{namespace}/{environment}/",
        [
            Operation(
                "get",
                "getEnvironment",
                "Get an environment, with its current build",
                "environments",
                Response(
                    Environment,
                    links={
                        "GetCurrentBuild": {
                            "operationId": "getBuild",
                            "parameters": {"build_id": "$response.body#/data/current_build_id"},
                        },
                        "GetEnvironmentLockfile": {
                            "operationId": "getEnvironmentLockfile",
                            "parameters": {
                                "namespace": "$request.path.namespace",
                                "environment": "$request.path.environment",
                            },
                        },
                    },
                ),
                (400, 404),
                environment_in_path(),
            ),
            Operation(
                "put",
                "updateEnvironment",
                "Roll back to an older build and/or change the description",
                "environments",
                Response(Environment),
                (400, 404, 409, 413, 507),
                environment_in_path(),
                Body(EnvironmentUpdate, {"description": "rolled back"}),
                description="`build_id` makes that COMPLETED build of this environment current "
                "again (nothing is rebuilt; 409 if it is not a completed build of this "
                "environment); `description` replaces the description.",
            ),
            Operation(
                "delete",
                "deleteEnvironment",
                "Delete an environment",
                "environments",
                NOTHING,
                (400, 404, 507),
                environment_in_path("scratch", "doomed"),
                description="Running builds of it are canceled, prefixes removed; logs and lock "
                "files are kept.",
            ),
        ],
    ),
    (
        "/environment/{namespace}/{environment}/lockfile/",
        [
            Operation(
                "get",
                "getEnvironmentLockfile",
                "The conda-lock file of the environment's current build",
                "environments",
                Response(
                    LOCKFILE,
                    "file",
                    "conda-lock.yml",
                    "text/yaml",
                    headers={"Content-Disposition": {"schema": {"type": "string"}}},
                ),
                (400, 404),
                environment_in_path(),
            )
        ],
    ),
    (
        "/specification/",
        [
            Operation(
                "post",
                "createSpecification",
                "Create or update an environment from a specification",
                "specifications",
                Response(
                    BuildId,
                    description="The build of the specification (queued now, or the existing "
                    "build of the same specification).",
                    links=build_links(),
                ),
                (400, 413, 507),
                body=Body(
                    SpecificationCreate,
                    {
                        "namespace": "default",
                        "specification": "name: example\ndependencies:\n  - gamma\n",
                    },
                ),
                description="Answers at once with the build id; the build runs in the "
                "background. Submitting the same specification for the same environment again "
                "makes no new build. A missing namespace is created (needs `namespace::create`).",
            ),
            Operation(
                "get",
                "solveSpecification",
                "Dry-run solve: the packages a specification would install",
                "specifications",
                Response(
                    Solve,
                    description="The solved package set (in `data.packages` and, for "
                    "conda-store's client, in `solve`).",
                    extra={"solve": [SolvedPackage]},
                ),
                (400,),
                (
                    query(
                        "namespace",
                        "The namespace to solve in: the caller needs the `environment::solve` "
                        "permission there (the editor role). Default: the caller's primary "
                        "namespace (see `permission/`).",
                        {"type": "string"},
                        example="default",
                    ),
                    query_list(
                        "channel", "Channels (default: the configured channels; must be allowed)."
                    ),
                    query_list(
                        "channels",
                        "Alias of `channel` (what conda-store's client sends).",
                        deprecated=True,
                    ),
                    query_list("conda", "Conda match specs (at least one).", example=["gamma"]),
                    query_list("pip", "pip requirements."),
                ),
                description="Solves for the server's platform without building anything. "
                "Repeat a parameter or separate values with commas. Needs `environment::solve` "
                "in the namespace (403 otherwise), as in conda-store.",
            ),
        ],
    ),
    (
        "/schema/specification/",
        [
            Operation(
                "get",
                "getSpecificationSchema",
                "The JSON Schema of a specification (environment YAML)",
                "specifications",
                Response(
                    {"type": "object", "description": "A JSON Schema (draft 2020-12)"},
                    description="What the panel's spec editor validates and completes against.",
                ),
            )
        ],
    ),
    (
        "/validate/specification/",
        [
            Operation(
                "post",
                "validateSpecification",
                "Check a specification without submitting it",
                "specifications",
                Response(
                    Validation,
                    description="Whether it is valid, every problem found and, with `solve`, "
                    "what it would install",
                ),
                (400, 413),
                body=Body(
                    SpecificationCheck,
                    {"specification": "name: example\ndependencies:\n  - gamma\n", "solve": True},
                ),
                description="The same checks as `specification/` makes before building, each "
                "problem with where it is (line, column, path in the document). Nothing is "
                "stored. With `solve` (the panel's Check) and no other problem, the "
                "specification is also solved as a build would solve it (its channels under the "
                "store's policy, for every platform a build locks; `pip:` entries are not "
                "solved): `solved` and the `packages` it would install on the server's platform "
                "(`requested` for those its dependencies name, `requested_as` the entry), or the "
                "solver's complaints as problems in plain words at the line of each dependency "
                "they concern (`line` null when none), with the solver's own text as `detail`. "
                "A package name the channels do not have has `suggestions` (close names of the "
                "channels). A problem is an answer (`valid: false`), not an error. Solving needs "
                "`environment::solve` in `namespace` (default: the caller's primary namespace): "
                "403 without it, as for the dry-run solve.",
            )
        ],
    ),
    *ROLES_TABLE,
    *TOKEN_TABLE,
    *BUILD_TABLE,
    (
        "/kernels/",
        [
            Operation(
                "get",
                "listKernels",
                "The running kernels of the store's environments",
                "environments",
                Response([RunningKernel]),
                description="Each kernel with the build it runs and its environment's current "
                "build: `stale` when they differ (restarting the kernel runs the current build). "
                "Only kernels of environments the caller may read, and none for a caller Jupyter "
                "Server does not let list its kernels.",
            )
        ],
    ),
    *KERNELSPECS_TABLE,
    *WATCHED_TABLE,
]
