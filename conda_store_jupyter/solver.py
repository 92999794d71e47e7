"""Solving with py-rattler for one or many platforms.

A lock file is made for every platform in `solve_platforms`, but only the host can be inspected
for virtual packages; the others get the conservative set conda-forge builds assume.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import rattler
from rattler.exceptions import SolverError

from .errors import SpecError

# What a typical machine of each OS provides, for solving other platforms than the host.
_LINUX = [("__unix", "0"), ("__linux", "5.10"), ("__glibc", "2.28")]
_OSX = [("__unix", "0"), ("__osx", "11.0")]
_WIN = [("__win", "0")]
_ARCHSPEC = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le"}


class SolveFailed(Exception):
    """The solver found no solution: `platform` names where, `message` is the solver's own text."""

    def __init__(self, platform: str, message: str):
        super().__init__(f"cannot solve for {platform}: {message}")
        self.platform = platform
        self.message = message


def host_platform() -> str:
    return str(rattler.Subdir.current())


def validate_platform(platform: str) -> str:
    if platform == "noarch" or platform not in {str(p) for p in rattler.Subdir.all()}:
        raise SpecError(f"unknown platform {platform!r}; use names such as linux-64, osx-arm64, win-64")
    return platform


def virtual_packages(platform: str) -> list[rattler.GenericVirtualPackage]:
    if platform == host_platform():
        return [package.into_generic() for package in rattler.VirtualPackage.detect()]
    subdir = rattler.Subdir(platform)
    if subdir.is_linux:
        pairs = list(_LINUX)
    elif subdir.is_osx:
        pairs = list(_OSX)
    elif subdir.is_windows:
        pairs = list(_WIN)
    else:
        pairs = []
    arch = platform.rsplit("-", 1)[-1]
    if arch in _ARCHSPEC:
        pairs.append(("__archspec", "1"))
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name),
            rattler.Version(version),
            rattler.BuildString(_ARCHSPEC.get(arch, "0") if name == "__archspec" else "0"),
        )
        for name, version in pairs
    ]


async def solve(
    channels: Sequence[str],
    specs: Sequence[str],
    platform: str,
    gateway: rattler.Gateway,
    timeout: datetime.timedelta | None = None,
) -> list[rattler.RepoDataRecord]:
    """Solve `specs` for one platform; SolveFailed carries the solver's explanation."""
    try:
        records = await rattler.solve(
            list(channels),
            # Parsed as the specification was validated (lenient, as conda reads `python 3.11`);
            # rattler.solve would parse strings strictly and refuse what validation accepted.
            [rattler.MatchSpec(spec) for spec in specs],
            gateway=gateway,
            platforms=[platform, "noarch"],
            virtual_packages=virtual_packages(platform),
            timeout=timeout,
            timestamp_policy="allow-missing",
        )
    except SolverError as error:
        raise SolveFailed(platform, str(error)) from error
    # sort_topologically hands back plain PackageRecords: map them to the solved records.
    by_name = {record.name.normalized: record for record in records}
    return [by_name[record.name.normalized] for record in rattler.PackageRecord.sort_topologically(records)]


def make_gateway(cache_dir: Path) -> rattler.Gateway:
    return rattler.Gateway(cache_dir=cache_dir)
