"""What a notebook records of the build it ran on (its `conda_store` metadata section), and
what `jupyter conda-store reproduce` reads back: `GET build/{id}/record/`."""

from __future__ import annotations

from pydantic import BaseModel, Field

# The key of the section in a notebook's metadata.
NOTEBOOK_METADATA_KEY = "conda_store"


class BuildRecord(BaseModel):
    namespace: str
    environment: str
    build_id: int = Field(description="The build the notebook's kernel ran, in its store.")
    specification_sha256: str = Field(description="The hash naming its specification.")
    lockfile_sha256: str = Field(description="sha256 of `lockfile`, as written.")
    lockfile: str = Field(
        description="The build's conda-lock file: enough to recreate the very packages "
        "anywhere, with no solve, even without this store."
    )
    store_version: str = Field(description="The conda-store-jupyter that recorded it.")


class BuildKernel(BaseModel):
    """POST `build/{id}/kernel/`: the kernel of one build, registered on demand."""

    kernel_name: str = Field(description="The kernel spec's name (it appears in a moment).")
    build_id: int
    restoring: bool = Field(
        description="The build was collected: it is restored first, then its kernel appears."
    )
