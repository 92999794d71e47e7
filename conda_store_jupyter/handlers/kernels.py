"""GET `kernels/`: the running kernels of the store's environments, each with the build it runs
and whether its environment has moved on to another build (a restart then runs that one)."""

from __future__ import annotations

from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..kernels import MARKER
from ..remote_kernels import RemoteKernelSpecManager
from ..service.kernels import (
    KernelProcess,
    describe,
    describe_kernels,
    environment_of,
    forget_stopped_kernels,
)
from .base import CondaStoreHandler


class KernelListHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        kernels = await self.running_processes()
        running = kernels and await self.run(
            describe_kernels, self.service.sessions, self.service.layout, self.caller, kernels
        )
        self.finish_ok(running or [])

    async def running_processes(self) -> list[KernelProcess]:
        """This server's running kernels, by Jupyter Server's own rule: whoever may not list its
        kernels sees none (`jupyter conda-store` closes them to everyone)."""
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", "kernels")
        )
        manager = self.settings.get("kernel_manager")
        if not allowed or manager is None:
            return []
        kernels = [kernel for kernel in map(self._process, manager.list_kernel_ids()) if kernel]
        await self.run(forget_stopped_kernels, manager.connection_dir)
        return kernels

    def _process(self, kernel_id: str) -> KernelProcess | None:
        try:
            kernel: Any = self.settings["kernel_manager"].get_kernel(kernel_id)
            # The spec the kernel was started with, kept by its manager (no disk read).
            spec = kernel.kernel_spec
        except KeyError:  # stopped meanwhile, or its spec is gone (NoSuchKernel): not ours
            return None
        metadata = (getattr(spec, "metadata", None) or {}).get(MARKER)
        if not isinstance(metadata, dict):
            return None
        return KernelProcess(
            kernel_id=kernel_id,
            kernel_name=str(kernel.kernel_name),
            metadata=metadata,
            connection_file=str(kernel.connection_file or ""),
        )


class RemoteKernelListHandler(KernelListHandler):
    """Remote mode: the kernels run here, not on the central service; the current build of each
    environment is the one of its kernel spec, from the central store (remote_kernels.py)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        kernels = await self.running_processes()
        manager = self.settings.get("kernel_spec_manager")
        current = manager.current_builds() if isinstance(manager, RemoteKernelSpecManager) else {}
        ours = [kernel for kernel in kernels if environment_of(kernel) is not None]
        self.finish_ok(await self.run(describe, ours, current))
