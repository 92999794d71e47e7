"""Wire models of `GET kernelspecs/` (handlers/kernelspecs.py): what a user's server in remote
mode needs to run the central store's kernels (remote_kernels.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class KernelSpecEntry(BaseModel):
    spec: dict[str, Any] = Field(
        description="The kernel.json of the kernel, as Jupyter's kernel spec managers read it: "
        "its argv runs the activation script in `resource_dir` on the environment's link "
        "(the current build, resolved when the kernel starts), and `metadata.conda_store` "
        "names the namespace, environment and build."
    )
    resource_dir: str = Field(
        description="The kernel's directory in the shared store (its activation script, "
        "variables and logos), at the path where every user's server mounts the store."
    )


class KernelSpecListing(BaseModel):
    username: str = Field(description="Who asked: `{username}` in narrowing patterns.")
    kernelspecs: dict[str, KernelSpecEntry] = Field(
        description="By kernel name: a kernel of every environment the caller may read whose "
        "current build can run one."
    )
