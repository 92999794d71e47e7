"""The OpenAPI route table of the kernel specs a user's server reads in remote mode (see
openapi_routes.py)."""

from __future__ import annotations

from ..api_kernels import KernelSpecListing
from .kernelspecs import MAX_WAIT
from .openapi_parts import Operation, Response, query

WAIT = query(
    "wait",
    "With `If-None-Match`: seconds to hold the request while the answer stays the same.",
    {"type": "integer", "minimum": 0, "maximum": MAX_WAIT, "default": 0},
)

KERNELSPECS_TABLE: list[tuple[str, list[Operation]]] = [
    (
        "/kernelspecs/",
        [
            Operation(
                "get",
                "listKernelSpecs",
                "The kernel specs of the environments the caller may read",
                "environments",
                Response(KernelSpecListing),
                (400,),
                (WAIT,),
                description="What a user's Jupyter server in remote mode (a JupyterHub user's "
                "server pointed at the hub's central service) offers as kernels, run from the "
                "shared store. The answer has an `ETag`; a request with `If-None-Match` naming "
                "it is answered 304 when nothing changed, after holding it up to `wait` seconds "
                "for a change (a long poll: a new kernel arrives as soon as it is written).",
            )
        ],
    ),
]
