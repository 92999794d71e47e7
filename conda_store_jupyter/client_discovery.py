"""Where the Python client finds its server: arguments, $CONDA_STORE_URL/$CONDA_STORE_TOKEN, or
the Jupyter server this process (a kernel, a terminal's shell) runs under, by its
jpserver-<pid>.json in Jupyter's runtime dir."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client_errors import ServerNotFound

WILDCARD_HOSTS = ("", "0.0.0.0", "::", "*")


def conda_store_url(url: str) -> str:
    """The conda-store base URL (ending in `conda-store/`) of a URL given with or without that
    suffix, or as the API's own URL (`.../conda-store/api/v1/`)."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ServerNotFound(f"conda-store URL must start with http:// or https://, got {url!r}")
    base = base.removesuffix("/api/v1")
    if not base.endswith("/conda-store"):
        base += "/conda-store"
    return base + "/"


@dataclass(frozen=True)
class ServerAddress:
    url: str  # conda-store base URL, ending in `conda-store/`
    token: str | None
    source: str  # how it was found, for messages


def find_server(url: str | None = None, token: str | None = None) -> ServerAddress:
    """Explicit arguments, then $CONDA_STORE_URL/$CONDA_STORE_TOKEN (or, in a JupyterHub user's
    server, $JUPYTERHUB_API_TOKEN), then the Jupyter server this process runs under (a kernel's
    or a terminal's ancestor) with that server's own token."""
    env_token = os.environ.get("CONDA_STORE_TOKEN") or None
    if os.environ.get("CONDA_STORE_URL") and env_token is None:
        # A JupyterHub user's server pointed at the hub's central conda-store service: the
        # server's own hub token (with the service's access scope) speaks for the user.
        env_token = os.environ.get("JUPYTERHUB_API_TOKEN") or None
    if url:
        return ServerAddress(conda_store_url(url), token or env_token, "url argument")
    if os.environ.get("CONDA_STORE_URL"):
        env_url = conda_store_url(os.environ["CONDA_STORE_URL"])
        return ServerAddress(env_url, token or env_token, "$CONDA_STORE_URL")
    pids, runtime_dirs = _ancestor_pids(), _runtime_dirs()
    for pid in pids:
        for directory in runtime_dirs:
            info_file = Path(directory) / f"jpserver-{pid}.json"
            try:
                info = json.loads(info_file.read_text())
            except (OSError, ValueError):
                continue
            if info.get("sock"):
                continue  # a Unix socket: the client speaks TCP only
            # A hub-spawned server usually has no token of its own but accepts the hub's.
            hub_token = os.environ.get("JUPYTERHUB_API_TOKEN")
            server_token = token or info.get("token") or hub_token or None
            return ServerAddress(_server_url(info), server_token, f"Jupyter server {info_file}")
    raise ServerNotFound(
        "no conda-store server to talk to: pass url and token (--url/--token on the command "
        "line), set CONDA_STORE_URL and CONDA_STORE_TOKEN, or run this inside a kernel or "
        "terminal of a Jupyter server that has conda-store-jupyter (no jpserver-<pid>.json of "
        f"processes {', '.join(map(str, pids)) or '(none)'} in {', '.join(runtime_dirs)})"
    )


def _server_url(info: Mapping[str, Any]) -> str:
    """The conda-store URL of a Jupyter server from its jpserver-<pid>.json."""
    host = info.get("hostname") or "localhost"
    if host in WILDCARD_HOSTS:
        host = "localhost"  # it listens everywhere, and we run on its machine
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if info.get("secure") else "http"
    base_url = "/".join(["", *filter(None, str(info.get("base_url") or "").split("/")), ""])
    return f"{scheme}://{host}:{info['port']}{base_url}conda-store/"


def _ancestor_pids(depth: int = 10) -> list[int]:
    """Processes that may be the Jupyter server: the launcher named by $JPY_PARENT_PID (set for
    kernels), then the parent chain (a kernel nanny, or a terminal's shell, may sit between)."""
    pids: list[int] = []
    parent = os.environ.get("JPY_PARENT_PID", "")
    if parent.isdigit():
        pids.append(int(parent))
    try:
        import psutil  # ipykernel depends on it; elsewhere the direct parent is all we know
    except ImportError:
        chain = [os.getppid()]
    else:
        try:
            chain = [process.pid for process in psutil.Process().parents()[:depth]]
        except psutil.Error:
            chain = [os.getppid()]
    pids.extend(pid for pid in chain if pid > 1 and pid not in pids)
    return pids


def _runtime_dirs() -> list[str]:
    """Jupyter's runtime dir, and the directory of this kernel's connection file: the server
    writes both its jpserver-<pid>.json and the connection file into its runtime dir."""
    from jupyter_core.paths import jupyter_runtime_dir

    directories = [jupyter_runtime_dir()]
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is not None and kernelapp.IPKernelApp.initialized():
        connection_file = kernelapp.IPKernelApp.instance().abs_connection_file
        directory = os.path.dirname(connection_file)
        if directory and directory not in directories:
            directories.append(directory)
    return directories
