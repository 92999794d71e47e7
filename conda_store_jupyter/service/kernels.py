"""The running kernels of the store's environments: which build each one runs, and whether the
environment has moved on to another build since it started (a restart runs the current one).

Pure Python: the handler hands in what Jupyter Server's kernel manager knows of each kernel (its
id, its kernel spec's `conda_store` metadata, its connection file); the build a kernel runs is
what its activation script recorded beside the connection file (`kernels.running_prefix_file`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

from ..api_models import ApiModel
from ..auth import Caller
from ..db import Environment, Namespace
from ..kernels import MANAGED_BY, RUNNING_PREFIX, running_prefix_file
from ..store import StoreLayout


class RunningKernel(ApiModel):
    """A running kernel of one of the store's environments."""

    kernel_id: str
    kernel_name: str
    namespace: str
    environment: str
    build_id: int | None = Field(
        description="The build the kernel runs (null: not known, e.g. started by an older "
        "version of the extension)."
    )
    current_build_id: int | None = Field(
        description="The environment's current build (null: the environment was deleted)."
    )
    stale: bool = Field(
        description="The environment's current build is another one: a restart of the kernel "
        "runs it."
    )


@dataclasses.dataclass(frozen=True)
class KernelProcess:
    """What the kernel manager knows of one running kernel."""

    kernel_id: str
    kernel_name: str
    metadata: Mapping[str, Any]  # its kernel spec's `conda_store` metadata (may be empty)
    connection_file: str


def running_build_id(layout: StoreLayout, kernel: KernelProcess) -> int | None:
    """The build the kernel's activation script resolved the environment's link to."""
    if not kernel.connection_file:
        return None
    try:
        prefix = Path(running_prefix_file(kernel.connection_file).read_text().rstrip("\n"))
    except (OSError, UnicodeDecodeError):
        return None
    expected = os.path.realpath(layout.namespace_dir(str(kernel.metadata["namespace"])))
    if os.path.realpath(prefix.parent) != expected:
        return None  # not a build prefix of this environment's namespace
    return layout.build_id_of(prefix.name)


def describe_kernels(
    sessions: sessionmaker[Session],
    layout: StoreLayout,
    caller: Caller,
    kernels: Iterable[KernelProcess],
) -> list[RunningKernel]:
    """The kernels of this store's environments that the caller may read, each with the build it
    runs and its environment's current build (from the database)."""
    store_dir = os.path.realpath(layout.root)
    ours = [
        kernel
        for kernel in kernels
        if environment_of(kernel) is not None
        and kernel.metadata.get("store_dir") == store_dir
        and caller.can("environment::read", *environment_of(kernel))
    ]
    if not ours:
        return []
    names = {environment_of(kernel) for kernel in ours}
    with sessions() as session:
        current = {
            (namespace, name): build_id
            for namespace, name, build_id in session.execute(
                sa.select(Namespace.name, Environment.name, Environment.current_build_id)
                .join(Namespace, Namespace.id == Environment.namespace_id)
                .where(
                    Environment.deleted_on.is_(None),
                    Namespace.deleted_on.is_(None),
                    sa.tuple_(Namespace.name, Environment.name).in_(sorted(names)),
                )
            )
        }
    return describe(ours, current)


def environment_of(kernel: KernelProcess) -> tuple[str, str] | None:
    """(namespace, environment) of a kernel of a conda store's environment, else None."""
    metadata = kernel.metadata
    namespace, environment = metadata.get("namespace"), metadata.get("environment")
    if metadata.get("managed_by") != MANAGED_BY or not isinstance(metadata.get("store_dir"), str):
        return None
    if not isinstance(namespace, str) or not isinstance(environment, str):
        return None
    return namespace, environment


def describe(
    kernels: Iterable[KernelProcess], current: Mapping[tuple[str, str], int | None]
) -> list[RunningKernel]:
    """Kernels of a store's environments (see `environment_of`) with the build each one runs
    and `current`, the current build of each environment (absent: deleted). The local store's
    come from its database; in remote mode, from the central store's kernel listing."""
    result = []
    for kernel in kernels:
        namespace, environment = environment_of(kernel) or ("", "")
        build_id = running_build_id(StoreLayout(kernel.metadata["store_dir"]), kernel)
        current_build_id = current.get((namespace, environment))
        result.append(
            RunningKernel(
                kernel_id=kernel.kernel_id,
                kernel_name=kernel.kernel_name,
                namespace=namespace,
                environment=environment,
                build_id=build_id,
                current_build_id=current_build_id,
                # (a kernel of one build, asked for on purpose, is never out of date)
                stale=not kernel.metadata.get("pinned")
                and None not in (build_id, current_build_id)
                and build_id != current_build_id,
            )
        )
    return sorted(result, key=lambda k: (k.namespace, k.environment, k.kernel_id))


def forget_stopped_kernels(connection_dir: str) -> None:
    """Remove the records of kernels that stopped: jupyter_client removes a kernel's connection
    file when it shuts the kernel down (not when it restarts it), and knows nothing of ours."""
    try:
        entries = list(os.scandir(connection_dir))
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(RUNNING_PREFIX):
            connection_file = entry.path.removesuffix(RUNNING_PREFIX) + ".json"
            if not os.path.exists(connection_file):
                Path(entry.path).unlink(missing_ok=True)
