"""The OpenAPI route table of namespaces shared with other namespaces, and of tokens (see
openapi_routes.py)."""

from __future__ import annotations

from ..api_models import NamespaceRole, NamespaceRoleChange
from ..api_tokens import Token, TokenRequest
from .openapi_parts import NOTHING, Body, Operation, Response, name_in_path, query

NAMESPACE = name_in_path("namespace", "default")
OTHER_QUERY = query(
    "other_namespace",
    "The namespace it is shared with.",
    {"type": "string"},
    required=True,
    example="bob",
)
SHARE = Body(NamespaceRoleChange, {"other_namespace": "bob", "role": "viewer"})
UNSHARE = Body(NamespaceRoleChange, {"other_namespace": "bob"})
TAG = "namespaces"

ROLES_TABLE: list[tuple[str, list[Operation]]] = [
    (
        "/namespace/{namespace}/roles/",
        [
            Operation(
                "get",
                "listNamespaceRoles",
                "Which namespaces a namespace is shared with, and their roles",
                TAG,
                Response([NamespaceRole]),
                (400, 404),
                (NAMESPACE,),
            ),
            Operation(
                "delete",
                "deleteNamespaceRoles",
                "Stop sharing a namespace with any other",
                TAG,
                NOTHING,
                (400, 404),
                (NAMESPACE,),
            ),
        ],
    ),
    (
        "/namespace/{namespace}/role/",
        [
            Operation(
                "get",
                "getNamespaceRole",
                "The role a namespace gives another",
                TAG,
                Response(NamespaceRole),
                (400, 404),
                (NAMESPACE, OTHER_QUERY),
            ),
            Operation(
                "post",
                "createNamespaceRole",
                "Share a namespace with another: whoever's namespace `other_namespace` is (a "
                "user, or a group) holds `role` on all of its environments",
                TAG,
                NOTHING,
                (400, 404, 409),
                (NAMESPACE,),
                SHARE,
            ),
            Operation(
                "put",
                "updateNamespaceRole",
                "Change the role a namespace gives another",
                TAG,
                NOTHING,
                (400, 404),
                (NAMESPACE,),
                SHARE,
            ),
            Operation(
                "delete",
                "deleteNamespaceRole",
                "Stop sharing a namespace with another",
                TAG,
                NOTHING,
                (400, 404),
                (NAMESPACE,),
                UNSHARE,
            ),
        ],
    ),
]

TOKEN_TABLE: list[tuple[str, list[Operation]]] = [
    (
        "/token/",
        [
            Operation(
                "post",
                "createToken",
                "Mint a token for scripts and CI: the caller's bindings or fewer, until "
                "`expiration` at most (present it as `Authorization: token ...` or `Bearer ...`)",
                "status",
                Response(Token),
                (400,),
                (),
                Body(TokenRequest, {"role_bindings": {"default/*": ["viewer"]}}),
            )
        ],
    )
]
