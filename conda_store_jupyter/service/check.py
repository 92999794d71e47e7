"""Checking a specification by solving it ("Check" before building), and explaining the solve
failure of a build: the solver's complaints as problems at the lines of the specification, with
suggestions for unknown package names (spec/solvecheck.py does the words; this reads the
channels)."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import rattler
from rattler.exceptions import GatewayError, InvalidChannelError

from .. import api_models
from ..db import BuildStatus
from ..errors import CondaStoreError
from ..solver import SolveFailed, host_platform, solve
from ..spec import Specification, apply_policy
from ..spec.solvecheck import (
    Entry,
    dependency_entries,
    find_entry,
    package_name,
    problem,
    solver_problems,
    stored_specification_text,
    unknown_name_problem,
    unsatisfiable_problem,
)
from .search import SearchMixin, channel_error

log = logging.getLogger("conda_store_jupyter.service")
SOLVE_FAILED = "solve failed for "
# How much of the end of a build's log is read for the solver's explanation.
LOG_TAIL_BYTES = 256 * 1024
# How long reading a failed build waits for the channels (names to suggest, versions to name).
LOOKUP_SECONDS = 5.0
# How the lines of the solver's tree after its first start.
_TREE = ("├", "└", "│", " ")


class CheckMixin(SearchMixin):
    async def check_by_solving(
        self, source: str | Mapping[str, Any], spec: Specification
    ) -> dict[str, Any]:
        """Solve `spec` (valid; written as `source`) as a build would, without building:
        `{"solved", "packages", "problems"}`. Unknown names and versions the channels do not
        have are found first, all at once; then the solver's complaints, placed."""
        spec = apply_policy(spec, self.policy)
        entries = await asyncio.to_thread(dependency_entries, source)  # parsing: off the loop
        platforms = [host_platform(), "noarch"]
        names: set[str] | None = None
        try:
            names = await self._names(spec.channels, platforms)
            problems = await self._availability_problems(spec, entries, names, platforms)
            if problems:
                return {"solved": False, "packages": [], "problems": problems}
            records = await self._solve_everywhere(spec)
        except SolveFailed as error:
            found = solver_problems(
                error.message,
                entries,
                names=names,
                platform=None if error.platform == host_platform() else error.platform,
            )
            return {"solved": False, "packages": [], "problems": found}
        except CondaStoreError as error:  # a channel that cannot be read
            return {"solved": False, "packages": [], "problems": [problem(error.message, None)]}
        return {"solved": True, "packages": _packages(records, spec, entries), "problems": []}

    async def build_problems(self, build: api_models.Build) -> list[api_models.Problem]:
        """The problems of a build that FAILED to solve, placed in its stored specification
        (`stored_specification_text`); [] for any other build. Reads the solver's explanation
        from the build's log (the status keeps only its gist) and the channels' names for
        suggestions when they can be read."""
        info = build.status_info or ""
        if build.status != BuildStatus.FAILED or not info.startswith(SOLVE_FAILED):
            return []
        specification = build.specification
        if specification is None or specification.is_lockfile:
            return []
        platform, _, gist = info.removeprefix(SOLVE_FAILED).partition(": ")
        message = await asyncio.to_thread(self._logged_solver_message, build.id, platform) or gist
        text = stored_specification_text(specification.spec)
        entries = await asyncio.to_thread(dependency_entries, text)
        channels = list(specification.spec.get("channels") or [])
        names = versions = None
        try:
            names, versions = await asyncio.wait_for(
                self._names_and_versions(channels, [platform, "noarch"], entries),
                LOOKUP_SECONDS,
            )
        except Exception as error:  # noqa: BLE001 -- a nicety: reading the build never fails
            log.info("conda-store: no suggestions for build %s: %r", build.id, error)
        found = solver_problems(
            message,
            entries,
            names=names,
            versions=versions,
            platform=None if platform == host_platform() else platform,
        )
        return [api_models.Problem(**item) for item in found]

    # -- reading the channels ------------------------------------------------------------------
    async def _names_and_versions(
        self, channels: Sequence[str], platforms: Sequence[str], entries: Sequence[Entry]
    ) -> tuple[set[str], dict[str, list[str]]]:
        names = await self._names(channels, platforms)
        wanted = [entry.name for entry in entries if entry.name in names]
        return names, await self._versions(channels, platforms, wanted)

    async def _names(self, channels: Sequence[str], platforms: Sequence[str]) -> set[str]:
        try:
            found = await self.gateway.names(list(channels), list(platforms))
        except (GatewayError, InvalidChannelError) as error:
            raise channel_error(channels, error) from None
        return {name.normalized for name in found}

    async def _versions(
        self, channels: Sequence[str], platforms: Sequence[str], names: Sequence[str]
    ) -> dict[str, list[str]]:
        return {
            name: [str(record.version) for record in records]
            for name, records in (await self._records(channels, platforms, names)).items()
        }

    async def _records(
        self, channels: Sequence[str], platforms: Sequence[str], names: Sequence[str]
    ) -> dict[str, list[rattler.RepoDataRecord]]:
        if not names:
            return {}
        result = await self.gateway.query(
            list(channels), list(platforms), list(dict.fromkeys(names)), recursive=False
        )
        records: dict[str, list[rattler.RepoDataRecord]] = {}
        for per_platform in result:
            for record in per_platform:
                records.setdefault(record.name.normalized, []).append(record)
        return records

    async def _availability_problems(
        self,
        spec: Specification,
        entries: Sequence[Entry],
        names: set[str],
        platforms: Sequence[str],
    ) -> list[dict[str, Any]]:
        """Every dependency whose name the channels do not have (with suggestions), and every
        one no version of which matches: what the solver would stop at, one at a time."""
        problems = []
        known = []
        for dependency in spec.dependencies:
            name = package_name(dependency)
            if name is None or name.startswith("__"):
                continue
            if name not in names:
                problems.append(unknown_name_problem(find_entry(entries, dependency), name, names))
            else:
                known.append((dependency, name))
        records = await self._records(spec.channels, platforms, [name for _, name in known])
        for dependency, name in known:
            candidates = records.get(name, [])
            match = rattler.MatchSpec(dependency)
            if not any(match.matches(record) for record in candidates):
                versions = [str(record.version) for record in candidates]
                entry = find_entry(entries, dependency)
                problems.append(unsatisfiable_problem(entry, dependency, versions))
        return problems

    async def _solve_everywhere(self, spec: Specification) -> list[rattler.RepoDataRecord]:
        """Solve for the host, then for every other platform a build locks (as a build does);
        the host's packages."""
        timeout = (
            datetime.timedelta(seconds=self.config.solve_timeout)
            if self.config.solve_timeout
            else None
        )
        host = host_platform()
        records = await solve(spec.channels, spec.dependencies, host, self.gateway, timeout)
        for platform in dict.fromkeys(self.config.solve_platforms):
            if platform != host:
                await solve(spec.channels, spec.dependencies, platform, self.gateway, timeout)
        return records

    # -- a build's log ---------------------------------------------------------------------
    def _logged_solver_message(self, build_id: int, platform: str) -> str | None:
        """The solver's explanation as the build wrote it to its log ("solve failed for
        <platform>:" and the lines after it, without their time stamps), or None."""
        try:  # (S3: the storage holds an ended build's log)
            logged = self.storage.read_bytes(self.layout, build_id, "logs")
        except (OSError, CondaStoreError):
            return None
        if logged is None:
            return None
        tail = logged[-LOG_TAIL_BYTES:].decode("utf-8", "replace")
        marker = f"{SOLVE_FAILED}{platform}:"
        lines = tail.splitlines()
        starts = [index for index, line in enumerate(lines) if line.endswith(marker)]
        if not starts:
            return None
        # The explanation was written at once: its lines carry the marker's time stamp.
        stamp = lines[starts[-1]][: -len(marker)]
        message = []
        for line in lines[starts[-1] + 1 :]:
            text = line[len(stamp) :]
            if not line.startswith(stamp) or (message and not text.startswith(_TREE)):
                break
            message.append(text)
        return "\n".join(message).strip() or None


def _packages(
    records: Sequence[rattler.RepoDataRecord], spec: Specification, entries: Sequence[Entry]
) -> list[api_models.CheckedPackage]:
    requested = {entry.name: entry.text for entry in reversed(entries)}
    return [
        api_models.CheckedPackage(
            name=record.name.normalized,
            version=str(record.version),
            build=str(record.build),
            channel=str(record.channel or ""),
            requested=record.name.normalized in requested,
            requested_as=requested.get(record.name.normalized),
        )
        for record in sorted(records, key=lambda record: record.name.normalized)
    ]
