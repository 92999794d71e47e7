"""Remote mode's kernels: in a JupyterHub user's server, a kernel for every environment of the
central store that the user may read, run straight from the shared store (mounted at the same
path), with nothing written here.

`RemoteKernelWatch` long-polls the central service's `GET kernelspecs/` (kernel_listing.py) as
this user: the answer comes as soon as the central registry has written a new or changed spec
(a build completed, a rollback, a deletion, a namespace shared), and otherwise every
`WAIT_SECONDS` as a 304. `RemoteKernelSpecManager` serves what it got from memory beside the
server's own kernel specs, so listing a thousand of them reads no file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
from typing import Any

import httpx
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_server.utils import url_path_join
from traitlets import List, Unicode

from .client_discovery import ServerAddress
from .kernels import MARKER

WAIT_SECONDS = 25  # the long poll's length (under the 60 s idle timeouts of common proxies)
RETRY_SECONDS = (1, 2, 5, 10, 30)  # after failures, in turn, then the last one again


class RemoteKernelSpecManager(KernelSpecManager):
    """Jupyter's own kernel specs, plus the central store's (see module doc), from memory."""

    conda_store_namespaces = List(
        Unicode(),
        default_value=["*"],
        help="Namespaces (glob patterns) of the central store whose environments get kernels "
        "here, among those the user may read: e.g. ['{username}', 'team-*'].",
    ).tag(config=True)

    _remote: dict[str, KernelSpec]
    _models: dict[str, dict[str, Any]]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._remote, self._models = {}, {}

    def set_remote(self, answer: dict[str, dict[str, Any]], username: str) -> None:
        """Replace the central store's kernels with `answer` ({name: {spec, resource_dir}}),
        of the namespaces `conda_store_namespaces` names for `username`."""
        patterns = [p.replace("{username}", username) for p in self.conda_store_namespaces]
        remote, models = {}, {}
        for name, entry in answer.items():
            namespace = (entry["spec"].get("metadata", {}).get(MARKER) or {}).get("namespace", "")
            if any(fnmatch.fnmatchcase(namespace, pattern) for pattern in patterns):
                spec = KernelSpec(resource_dir=entry["resource_dir"], **entry["spec"])
                remote[name], models[name] = spec, self._model(name, spec)
        # Replaced whole: a listing sees the old set or the new one.
        self._remote, self._models = remote, models

    def _model(self, name: str, spec: KernelSpec) -> dict[str, Any]:
        """Jupyter Server's REST model of a kernel spec (kernelspec_model), made once here:
        GET /api/kernelspecs takes models as they are, where it would look for every spec's
        logos in a thread of its own at every request (1,000 specs: ~140 ms)."""
        base = url_path_join(getattr(self.parent, "base_url", "/"), "kernelspecs", name)
        resources = {}
        try:
            files = sorted(os.listdir(spec.resource_dir))
        except OSError:
            files = []
        for file_name in files:
            if file_name in ("kernel.js", "kernel.css"):
                resources[file_name] = url_path_join(base, file_name)
            elif file_name.startswith("logo-"):
                resources[os.path.splitext(file_name)[0]] = url_path_join(base, file_name)
        # resource_dir too, for whoever reads get_all_specs as jupyter_client writes it.
        return {
            "name": name,
            "spec": spec.to_dict(),
            "resources": resources,
            "resource_dir": spec.resource_dir,
        }

    def current_builds(self) -> dict[tuple[str, str], int]:
        """The current build of each environment that has a kernel here (its spec names it)."""
        current = {}
        for spec in self._remote.values():
            marker = spec.metadata.get(MARKER) or {}
            current[(marker.get("namespace"), marker.get("environment"))] = marker.get("build_id")
        return current

    def find_kernel_specs(self) -> dict[str, str]:
        found = super().find_kernel_specs()
        found.update({name: spec.resource_dir for name, spec in self._remote.items()})
        return found

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        spec = self._remote.get(kernel_name.lower())
        return spec if spec is not None else super().get_kernel_spec(kernel_name)

    def get_all_specs(self) -> dict[str, Any]:
        remote = self._models
        specs = {
            name: entry
            for name, entry in self._local_specs().items()
            if name not in remote  # the central store's spec of that name wins
        }
        specs.update(self._models)
        return specs

    def _local_specs(self) -> dict[str, Any]:
        # KernelSpecManager.get_all_specs as it does it for itself (one directory scan).
        specs = {}
        for name, resource_dir in super().find_kernel_specs().items():
            try:
                spec = self._get_kernel_spec_by_name(name, resource_dir)
            except NoSuchKernel:
                continue
            except Exception:  # as jupyter_client does: one bad spec does not hide the others
                self.log.warning("Error loading kernelspec %r", name, exc_info=True)
                continue
            specs[name] = {"resource_dir": resource_dir, "spec": spec.to_dict()}
        return specs


class RemoteKernelWatch:
    """Keeps a RemoteKernelSpecManager's kernels those of the central store (see module doc)."""

    def __init__(
        self,
        manager: RemoteKernelSpecManager,
        remote: ServerAddress,
        client: httpx.AsyncClient,
        log: logging.Logger,
    ):
        self.manager, self.remote, self.client, self.log = manager, remote, client, log
        self.etag: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, first_within: float = 5.0) -> None:
        """Get the first listing (for at most `first_within` s: kernels are there when the
        page loads), then follow it in the background."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.poll(wait=0), first_within)
        self._task = asyncio.create_task(self._follow(), name="conda-store remote kernels")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def poll(self, wait: float) -> None:
        headers = {"Accept": "application/json"}
        if self.remote.token:
            headers["Authorization"] = f"token {self.remote.token}"
        if self.etag:
            headers["If-None-Match"] = self.etag
        response = await self.client.get(
            f"{self.remote.url}api/v1/kernelspecs/",
            params={"wait": int(wait)},
            headers=headers,
            timeout=httpx.Timeout(10.0, read=wait + 30),
        )
        if response.status_code == 304:
            return
        response.raise_for_status()
        data = response.json()["data"]
        # Off the event loop: it lists each kernel's directory (logos) once.
        await asyncio.to_thread(self.manager.set_remote, data["kernelspecs"], data["username"])
        self.etag = response.headers.get("ETag")
        self.log.debug("conda-store: %d kernels of the central store", len(self.manager._remote))

    async def _follow(self) -> None:
        failures = 0
        while True:
            try:
                await self.poll(wait=WAIT_SECONDS)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: keep the kernels, retry
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log = self.log.warning if failures == 1 else self.log.debug
                log(
                    "conda-store: kernels of %s not refreshed (%s); retrying in %d s",
                    self.remote.url,
                    error or type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
