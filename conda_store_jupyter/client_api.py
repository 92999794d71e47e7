"""The conda-store REST API, each call written once: `Api` describes every call as an
`Operation` (a generator of the requests it makes, see `client_http`), which the blocking and
the async clients of `client` run. Also the reading of targets ("ns/name", "ns/name:12", 12)
that the CLI shares.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .client_errors import BuildFailed, CondaStoreClientError, WaitTimeout
from .client_http import Call, Endpoint, Follow, Operation
from .client_http import path as _path

PAGE_SIZE = 1000  # the server's largest page

Progress = bool | Callable[[str], None] | None
Specification = str | os.PathLike[str] | Mapping[str, Any]


# -- helpers ------------------------------------------------------------------------------------
def _reporter(progress: Progress) -> Callable[[str], None] | None:
    if progress is True:
        return functools.partial(print, flush=True)
    return progress or None


def _read_specification(specification: Specification, is_lockfile: bool) -> str | dict[str, Any]:
    """YAML text as is, a mapping as is (a lock file as YAML text), a path's contents.

    A one-line string with no `key: value` in it is a path: no YAML specification fits on one
    line without one, and a typo in a file name should say the file is missing."""
    if isinstance(specification, Mapping):
        if is_lockfile:
            return yaml.safe_dump(dict(specification), sort_keys=False)
        return dict(specification)
    if isinstance(specification, os.PathLike) or (
        "\n" not in specification
        and ": " not in specification
        and not specification.lstrip().startswith("{")
    ):
        return Path(specification).expanduser().read_text(encoding="utf-8")
    return specification


def parse_environment(text: str) -> tuple[str, str]:
    """`"ns/name"` as `(namespace, name)`; the one reading of an environment's name, which the
    CLI's arguments use too."""
    namespace, _, name = text.strip().partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"expected NAMESPACE/NAME, got {text!r}")
    return namespace, name


def parse_build_target(target: int | str) -> int | tuple[str, str]:
    """A build id (`12`, `"12"`, `"ns/name:12"`) or an environment (`"ns/name"`)."""
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str):
        text = target.strip()
        if text.isdigit():
            return int(text)
        environment, _, build = text.partition(":")
        if build.isdigit():
            return int(build)
        if not build:
            try:
                return parse_environment(environment)
            except ValueError:
                pass
    raise ValueError(f"expected a build id or NAMESPACE/NAME, got {target!r}")


# -- the API, once ------------------------------------------------------------------------------
class Api:
    """Every API call as an `Operation`: a generator of the requests it makes (see
    `client_http`). Environments are named by `namespace` and `name`; `namespace=None` means
    the caller's primary namespace (GET `permission/`)."""

    def __init__(self, endpoint: Endpoint):
        self._endpoint = endpoint

    def _json(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Operation[dict[str, Any]]:
        return (yield Call(method, path, params, body, result="json"))

    def _data(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Operation[Any]:
        return (yield Call(method, path, params, body))

    def _text(self, path: str) -> Operation[str]:
        return (yield Call("GET", path, result="text"))

    def _all(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Operation[list[dict[str, Any]]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            query = {**(params or {}), "page": page, "size": PAGE_SIZE}
            payload = yield from self._json("GET", path, query)
            items.extend(payload["data"])
            if not payload["data"] or len(items) >= payload["count"]:
                return items
            page += 1

    def _namespace(self, namespace: str | None) -> Operation[str]:
        return namespace or (yield from self.primary_namespace())

    # -- service --------------------------------------------------------------------------------
    def status(self) -> Operation[dict[str, Any]]:
        """The server's status: `{"version": ...}`."""
        return (yield from self._data("GET", ""))

    def permissions(self) -> Operation[dict[str, Any]]:
        """Who the token is (`username`, `primary_namespace`) and its roles per pattern."""
        return (yield from self._data("GET", "permission/"))

    def primary_namespace(self) -> Operation[str]:
        """The caller's own namespace, where environments go when no namespace is given."""
        if self._endpoint.primary_namespace is None:
            permissions = yield from self.permissions()
            self._endpoint.primary_namespace = permissions.get("primary_namespace") or "default"
        return self._endpoint.primary_namespace

    # -- namespaces -----------------------------------------------------------------------------
    def list_namespaces(self) -> Operation[list[dict[str, Any]]]:
        return (yield from self._all("namespace/"))

    def create_namespace(self, namespace: str) -> Operation[None]:
        yield from self._json("POST", _path("namespace", namespace))

    def delete_namespace(self, namespace: str) -> Operation[None]:
        yield from self._json("DELETE", _path("namespace", namespace))

    # -- environments ---------------------------------------------------------------------------
    def list_environments(
        self,
        namespace: str | None = None,
        *,
        search: str | None = None,
        status: str | None = None,
        packages: list[str] | None = None,
    ) -> Operation[list[dict[str, Any]]]:
        """Environments the caller may read, optionally in one namespace, with `search` in their
        name, whose current build has `status`, or holding all of `packages`."""
        return (
            yield from self._all(
                "environment/",
                {
                    "namespace": namespace,
                    "search": search,
                    "status": status,
                    "packages": packages,
                },
            )
        )

    def get_environment(self, namespace: str, name: str) -> Operation[dict[str, Any]]:
        return (yield from self._data("GET", _path("environment", namespace, name)))

    def create_environment(
        self,
        specification: Specification,
        namespace: str | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        is_lockfile: bool = False,
    ) -> Operation[int]:
        """Create or update an environment; returns the id of its new build (see `wait`).

        `specification` is an environment's YAML text, a mapping, or the path of a file;
        `is_lockfile=True` for a conda-lock file (then `name` is required). `name` overrides the
        specification's name."""
        if is_lockfile and not name:
            raise ValueError("a lock file has no environment name: pass name=...")
        body = {
            "namespace": (yield from self._namespace(namespace)),
            "specification": _read_specification(specification, is_lockfile),
            "is_lockfile": is_lockfile,
            "environment_name": name,
            "environment_description": description,
        }
        body = {key: value for key, value in body.items() if value is not None}
        return (yield from self._data("POST", "specification/", body=body))["build_id"]

    def export(self, target: str, path: str | os.PathLike[str]) -> Operation[int]:
        """The archive of an environment (`"namespace/name"`) or a whole namespace
        (`"namespace"`), with each completed build's specification, lock file and log, written
        to `path` (see `import_archive`); returns its size in bytes."""
        if "/" in target:
            url = _path("environment", *parse_environment(target), "export")
        else:
            url = _path("namespace", target, "export")
        content = yield Call("GET", url, result="bytes")
        Path(path).expanduser().write_bytes(content)
        return len(content)

    def import_archive(
        self,
        path: str | os.PathLike[str],
        namespace: str | None = None,
        name: str | None = None,
    ) -> Operation[list[dict[str, Any]]]:
        """Recreate the environments of an archive (from `export`) on this server, in
        `namespace` (default: theirs), as `name` for an archive of one; each one's current build
        is restored from its lock file (wait for it with `wait`)."""
        content = Path(path).expanduser().read_bytes()
        query = {"namespace": namespace, "name": name}
        return (yield from self._data("POST", "environment/import/", query, body=content))

    def copy_environment(
        self, namespace: str, name: str, to_namespace: str | None = None, to_name: str | None = None
    ) -> Operation[dict[str, Any]]:
        """A copy with its history (sharing its files: almost no disk); returns the copy."""
        body = {"namespace": to_namespace, "name": to_name}
        url = _path("environment", namespace, name, "copy")
        return (yield from self._data("POST", url, body=body))

    def rename_environment(
        self, namespace: str, name: str, to_namespace: str | None = None, to_name: str | None = None
    ) -> Operation[dict[str, Any]]:
        """Rename (or move to another namespace); returns the environment under its new name."""
        body = {"namespace": to_namespace, "name": to_name}
        url = _path("environment", namespace, name, "rename")
        return (yield from self._data("POST", url, body=body))

    def rollback(self, namespace: str, name: str, build_id: int) -> Operation[dict[str, Any]]:
        """Make an older completed build current again (nothing is rebuilt)."""
        environment = _path("environment", namespace, name)
        return (yield from self._data("PUT", environment, body={"build_id": build_id}))

    def delete_environment(self, namespace: str, name: str) -> Operation[None]:
        yield from self._json("DELETE", _path("environment", namespace, name))

    # -- builds ---------------------------------------------------------------------------------
    def list_builds(
        self,
        namespace: str | None = None,
        name: str | None = None,
        *,
        status: str | None = None,
        environment_id: int | None = None,
    ) -> Operation[list[dict[str, Any]]]:
        """Builds, oldest first (their `specification` is left out; `get_build` has it)."""
        return (
            yield from self._all(
                "build/",
                {
                    "namespace": namespace,
                    "name": name,
                    "status": status,
                    "environment_id": environment_id,
                },
            )
        )

    def get_build(self, build_id: int) -> Operation[dict[str, Any]]:
        return (yield from self._data("GET", _path("build", build_id)))

    def latest_build(self, namespace: str, name: str) -> Operation[dict[str, Any]]:
        """The newest build of an environment, whatever its status."""
        environment = yield from self.get_environment(namespace, name)
        newest_first = {
            "environment_id": environment["id"],
            "sort_by": "id",
            "order": "desc",
            "size": 1,
        }
        builds = yield from self._data("GET", "build/", newest_first)
        if not builds:
            raise CondaStoreClientError(f"environment {namespace}/{name} has no builds", 404)
        return builds[0]

    def rebuild(self, build_id: int) -> Operation[int]:
        """A new build of the same specification; returns its id."""
        return (yield from self._data("PUT", _path("build", build_id)))["build_id"]

    def cancel(self, build_id: int) -> Operation[dict[str, Any]]:
        """Cancel a queued or running build; returns the canceled build."""
        return (yield from self._data("PUT", _path("build", build_id, "cancel")))

    def delete_build(self, build_id: int) -> Operation[None]:
        """Delete a finished build that is not current (its log and lock file stay)."""
        yield from self._json("DELETE", _path("build", build_id))

    def packages(self, build_id: int, search: str | None = None) -> Operation[list[dict[str, Any]]]:
        return (yield from self._all(_path("build", build_id, "packages"), {"search": search}))

    def diff(
        self, old_build_id: int, new_build_id: int
    ) -> Operation[dict[str, list[dict[str, Any]]]]:
        """Packages `added`, `removed` and `changed` (`old` → `new`) between two builds."""
        return (yield from self._data("GET", _path("build", old_build_id, "diff", new_build_id)))

    def build_record(self, build_id: int) -> Operation[dict[str, Any]]:
        """What a notebook records of a completed build (its `conda_store` metadata section):
        where it was built, its specification's hash, its lock file."""
        return (yield from self._data("GET", _path("build", build_id, "record")))

    def logs(self, build_id: int) -> Operation[str]:
        """The build's log so far."""
        return (yield from self._text(_path("build", build_id, "logs")))

    def lockfile(
        self, target: int | str, path: str | os.PathLike[str] | None = None
    ) -> Operation[str]:
        """The conda-lock file of a build (`12`) or of an environment's current build
        (`"namespace/name"`); also written to `path` when given."""
        resolved = parse_build_target(target)
        if isinstance(resolved, int):
            text = yield from self._text(_path("build", resolved, "lockfile"))
        else:
            text = yield from self._text(_path("environment", *resolved, "lockfile"))
        if path is not None:
            Path(path).expanduser().write_text(text, encoding="utf-8")
        return text

    # -- waiting --------------------------------------------------------------------------------
    def _build_id(self, target: int | str) -> Operation[int]:
        resolved = parse_build_target(target)
        if isinstance(resolved, int):
            return resolved
        return (yield from self.latest_build(*resolved))["id"]

    def follow_logs(
        self,
        build_id: int,
        callback: Callable[[str], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> Operation[dict[str, Any]]:
        """Pass each line of the build's log to `callback` (default: print), from its start
        until the build ends, as it is written; returns the finished build, whatever its status.

        Follows the server-sent event stream `build/{id}/logs/stream/`, and reconnects from the
        last line received when the connection drops."""
        return (yield from self._until_done(build_id, callback or _reporter(True), None, timeout))

    def _until_done(
        self,
        build_id: int,
        on_line: Callable[[str], None] | None,
        on_status: Callable[[str], None] | None,
        timeout: float | None,
    ) -> Operation[dict[str, Any]]:
        if not (yield Follow(build_id, on_line, on_status, timeout)):
            status = (yield from self.get_build(build_id))["status"]
            raise WaitTimeout(f"build {build_id} is still {status} after {timeout:g} s")
        return (yield from self.get_build(build_id))

    def wait(
        self, target: int | str, timeout: float | None = None, progress: Progress = True
    ) -> Operation[dict[str, Any]]:
        """Wait for a build (`12`) or an environment's newest build (`"namespace/name"`) to end;
        returns the completed build, or raises `BuildFailed` (with `status_info`) when it
        failed or was canceled, `WaitTimeout` after `timeout` seconds.

        `progress`: True prints each log line as it is written and a `build N: STATUS` line at
        each change of state; a callable receives those lines instead; False is silent."""
        build_id = yield from self._build_id(target)
        report = _reporter(progress)
        on_status = (lambda status: report(f"build {build_id}: {status}")) if report else None
        build = yield from self._until_done(build_id, report, on_status, timeout)
        if build["status"] != "COMPLETED":
            raise BuildFailed(build)
        return build
