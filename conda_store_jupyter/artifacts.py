"""Write and read a build's artifacts: ``conda-lock.yml``, the ``@EXPLICIT`` file, an environment
YAML with exact pins. Pure functions over rattler records; no database.

The lock file is written and read with conda-lock's own models, so ``conda-lock install`` accepts
what we write and we accept what conda-lock writes. Every writer writes a temporary file in the
target directory and renames it into place: a reader never sees a half-written artifact.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rattler
import yaml
from rattler.exceptions import InvalidMatchSpecError, ParseSubdirError

from .errors import SpecError
from .spec import (
    LockfileSpecification,
    Specification,
    parse_conda_lock,
    split_package_url,
)

# conda-lock is imported where it is used: `import conda_lock.<anything>` runs the package's
# __init__, which imports conda-lock's whole command line (1.7 s) that a server start should not
# pay. The build launcher imports it once, up front.
if TYPE_CHECKING:
    from conda_lock.lockfile.v2prelim.models import LockedDependency, Lockfile

__all__ = [
    "PipPackage",
    "pip_packages_from_lockfile",
    "read_locked_packages",
    "records_from_lockfile",
    "write_conda_lock",
    "write_conda_pack",
    "write_environment_yaml",
    "write_explicit",
    "write_lockfile_specification",
]


def write_conda_pack(prefix: Path, path: Path) -> None:
    """A conda-pack archive (tar.gz) of a prefix, written under a temporary name and renamed into
    place, so a reader sees the whole archive or none (a build writing it and a download making
    it may race)."""
    import conda_pack  # imported here: only archives pay for it

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".part-{uuid.uuid4().hex}-{path.name}")
    try:
        conda_pack.pack(
            prefix=str(prefix),
            output=str(temporary),
            format="tar.gz",
            force=True,
            compress_level=1,
        )
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# conda-lock's category for packages that are always installed.
MAIN_CATEGORY = "main"


@dataclass(frozen=True)
class PipPackage:
    """A package installed by pip (uv) after the conda step."""

    name: str
    version: str
    url: str | None = None
    sha256: str | None = None


# ---------------------------------------------------------------------------------------------
# Atomic writes


def _write_atomically(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call `write` on a temporary path in the target directory, then rename it to `path`.

    The temporary file sits in a private directory under its final name, because writers such
    as conda-lock's print the file name into the content.
    """
    target = Path(path)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        partial = scratch / target.name
        write(partial)
        with partial.open("rb") as handle:  # durable before it becomes visible
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    _write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# conda-lock.yml


def _name(record: rattler.PackageRecord) -> str:
    return record.name.normalized


def _dependencies(record: rattler.RepoDataRecord) -> dict[str, str]:
    """`depends` as conda-lock records it: package name -> version spec ("" for any)."""
    versions: dict[str, list[str]] = {}
    for depend in record.depends:
        try:
            match_spec = rattler.MatchSpec(depend)
        except InvalidMatchSpecError as error:
            raise ValueError(
                f"{record.file_name}: cannot parse dependency {depend!r}: {error}"
            ) from None
        specs = versions.setdefault(match_spec.name.normalized, [])
        if match_spec.version and match_spec.version not in specs:
            specs.append(match_spec.version)
    # Several specs for one name (rare) must all hold, as conda-lock's MatchSpec.merge says.
    return {name: ",".join(specs) for name, specs in versions.items()}


def _locked_conda_package(record: rattler.RepoDataRecord, platform: str) -> LockedDependency:
    from conda_lock.lockfile.v2prelim.models import HashModel, LockedDependency

    if record.md5 is None:
        # conda-lock (and `conda install --file`) verify conda packages by md5.
        raise ValueError(f"{record.url}: a conda-lock file needs the md5 of every conda package")
    return LockedDependency(
        name=_name(record),
        version=str(record.version),
        manager="conda",
        platform=platform,
        dependencies=_dependencies(record),
        url=record.url,
        hash=HashModel(md5=record.md5.hex(), sha256=record.sha256.hex() if record.sha256 else None),
        build=str(record.build),
        categories={MAIN_CATEGORY},
    )


def _locked_pip_package(package: PipPackage, platform: str) -> LockedDependency:
    from conda_lock.lockfile.v2prelim.models import HashModel, LockedDependency

    if not package.url:
        # `conda-lock install` installs pip packages from `name @ url`.
        raise ValueError(
            f"pip package {package.name} {package.version}: a conda-lock file needs its URL"
        )
    return LockedDependency(
        name=package.name,
        version=package.version,
        manager="pip",
        platform=platform,
        url=package.url,
        hash=HashModel(sha256=package.sha256),
        categories={MAIN_CATEGORY},
    )


def _write_lockfile(path: str | os.PathLike[str], lockfile: Lockfile) -> None:
    from conda_lock.lockfile import write_conda_lock_file

    # conda-lock's writer sorts packages and dependencies, so equal inputs give equal bytes.
    _write_atomically(
        path, lambda partial: write_conda_lock_file(lockfile, partial, metadata_choices=None)
    )


def write_conda_lock(
    path: str | os.PathLike[str],
    *,
    spec: Specification,
    records: Mapping[str, list[rattler.RepoDataRecord]],
    pip: Mapping[str, list[PipPackage]] | None = None,
) -> None:
    """Write a cross-platform ``conda-lock.yml`` (format version 1) for every platform in `records`.

    `records` maps a platform (e.g. ``linux-64``) to the solved records for it (``noarch``
    records included); `pip` maps a platform to the pip packages installed on it. conda-lock's
    per-platform ``content_hash`` is the hash of its own input; ours is the specification, so
    it holds the specification's sha256 for every platform.
    """
    pip = pip or {}
    unknown = sorted(set(pip) - set(records))
    if unknown:
        raise ValueError(
            f"pip packages for platform(s) without conda records: {', '.join(unknown)}"
        )
    packages = [
        _locked_conda_package(record, platform)
        for platform, platform_records in records.items()
        for record in platform_records
    ]
    packages += [
        _locked_pip_package(package, platform)
        for platform, platform_packages in pip.items()
        for package in platform_packages
    ]
    from conda_lock.lockfile.v2prelim.models import Lockfile, LockMeta

    platforms = sorted(records)
    lockfile = Lockfile(
        package=packages,
        metadata=LockMeta(
            content_hash={platform: spec.sha256 for platform in platforms},
            channels=list(spec.channels),
            platforms=platforms,
            # No source file: the specification is stored with the build, not next to the lock.
            sources=[],
        ),
    )
    _write_lockfile(path, lockfile)


def write_lockfile_specification(path: str | os.PathLike[str], spec: LockfileSpecification) -> None:
    """Write the ``conda-lock.yml`` of a build made from a lock file: the same lock, rendered
    by conda-lock's writer (the submitted text's own comments and formatting are not kept)."""
    _write_lockfile(path, spec.to_conda_lock())


def read_locked_packages(
    lockfile: Lockfile | Mapping[str, Any] | str | os.PathLike[str],
) -> dict[str, list[LockedDependency]]:
    """The packages of a conda-lock file by platform, in install (topological) order.

    `lockfile` is conda-lock's model, the parsed content of a lock file, or the path of one.
    Every platform the lock file names is a key, even one without packages.
    """
    from conda_lock.lockfile.v2prelim.models import Lockfile

    if isinstance(lockfile, (str, os.PathLike)):
        lockfile = parse_conda_lock(Path(lockfile).read_bytes())
    elif isinstance(lockfile, Lockfile):
        lockfile = lockfile.model_copy()  # sorting replaces the package list, not the caller's
    else:
        lockfile = parse_conda_lock(lockfile)
    lockfile.toposort_inplace()
    packages: dict[str, list[LockedDependency]] = {
        platform: [] for platform in lockfile.metadata.platforms
    }
    for package in lockfile.package:
        packages[package.platform].append(package)
    return packages


def _describe(package: LockedDependency) -> str:
    return f"{package.name} {package.version} ({package.url})"


def _check_hashes(package: LockedDependency, record: rattler.RepoDataRecord) -> None:
    for kind, locked, actual in (
        ("sha256", package.hash.sha256, record.sha256),
        ("md5", package.hash.md5, record.md5),
    ):
        if locked and actual is not None and actual.hex() != locked.lower():
            raise SpecError(
                f"{_describe(package)}: the channel's package has {kind} {actual.hex()}, "
                f"the lock file pins {locked}"
            )


async def records_from_lockfile(
    lockfile: Lockfile | Mapping[str, Any] | str | os.PathLike[str],
    platform: str,
    gateway: rattler.Gateway | None = None,
) -> list[rattler.RepoDataRecord]:
    """The records rattler needs to install exactly the conda packages a lock file pins for
    `platform`, without solving.

    A lock file keeps only part of a package's record (no build number, noarch kind,
    constrains, license, timestamp...), and the prefix's conda-meta should hold the whole record,
    as after a solve. So each pinned package is looked up by file name in the channel its URL
    names, and the channel's record is used once its hashes match the lock file's. Raises
    `SpecError` naming the pinned packages that cannot be found.
    """
    locked = read_locked_packages(lockfile)
    if platform not in locked:
        raise SpecError(
            f"the lock file has no packages for {platform}; "
            f"it locks {', '.join(sorted(locked)) or 'no platform'}"
        )
    # (channel, subdir, file name) -> package, in install order.
    wanted: dict[tuple[str, str, str], LockedDependency] = {}
    for package in locked[platform]:
        if package.manager == "conda":
            # Taken as written, never expanded: conda-lock would expand ${NAME}s from this
            # process's environment, so a lock file could read the builder's. Lock files with
            # `$` or credentials in a URL are refused when submitted (spec._check_lockfile_urls);
            # channel credentials are the server's configuration (rattler's authentication).
            wanted[split_package_url(package.url)] = package
    if not wanted:
        return []

    channels = list(dict.fromkeys(channel for channel, _, _ in wanted))
    subdirs = sorted({subdir for _, subdir, _ in wanted})
    try:
        platforms = [rattler.Subdir(subdir) for subdir in subdirs]
    except ParseSubdirError as error:
        raise SpecError(
            f"the lock file names a package URL with an unknown subdir: {error}"
        ) from None
    query = await (gateway or rattler.Gateway()).query(
        channels,
        platforms,
        sorted({package.name for package in wanted.values()}),
        recursive=False,
        channel_relations="disabled",
    )
    # Results come as lists per channel and subdir; each record's own URL says where it is from.
    available = {
        split_package_url(str(record.url)): record for records in query for record in records
    }

    missing = [_describe(package) for key, package in wanted.items() if key not in available]
    if missing:
        raise SpecError(
            "package(s) pinned by the lock file not found in their channel: " + "; ".join(missing)
        )
    for key, package in wanted.items():
        _check_hashes(package, available[key])
    return [available[key] for key in wanted]


def pip_packages_from_lockfile(
    lockfile: Lockfile | Mapping[str, Any] | str | os.PathLike[str],
) -> dict[str, list[PipPackage]]:
    """The pip packages (``manager: pip``) a lock file pins, by platform, in install order: the
    same `PipPackage`s a build resolves, so a lock-file build records, installs and writes them
    as the build the lock file came from did. Every platform the lock file names is a key."""
    return {
        platform: [
            PipPackage(
                name=package.name,
                version=package.version,
                url=package.url,
                sha256=package.hash.sha256,
            )
            for package in packages
            if package.manager == "pip"
        ]
        for platform, packages in read_locked_packages(lockfile).items()
    }


# ---------------------------------------------------------------------------------------------
# @EXPLICIT and environment.yaml


def _install_order(records: list[rattler.RepoDataRecord]) -> list[rattler.RepoDataRecord]:
    by_name = {_name(record): record for record in records}
    # sort_topologically returns plain PackageRecords: map them back to ours by name.
    return [by_name[_name(record)] for record in rattler.PackageRecord.sort_topologically(records)]


def write_explicit(
    path: str | os.PathLike[str],
    records: list[rattler.RepoDataRecord],
    *,
    platform: str | None = None,
) -> None:
    """Write an ``@EXPLICIT`` file: one ``url#md5`` per package, dependencies first.

    `platform` defaults to the records' own (non-noarch) subdir, else this machine's.
    A record without md5 gets ``#sha256:<hex>``, which conda also accepts.
    """
    if platform is None:
        subdirs = {record.subdir for record in records} - {"noarch"}
        platform = subdirs.pop() if len(subdirs) == 1 else str(rattler.Subdir.current())
    lines = [
        "# This file may be used to create an environment using:",
        "# $ conda create --name <env> --file <this file>",
        f"# platform: {platform}",
        "@EXPLICIT",
    ]
    for record in _install_order(records):
        if record.md5 is not None:
            lines.append(f"{record.url}#{record.md5.hex()}")
        elif record.sha256 is not None:
            lines.append(f"{record.url}#sha256:{record.sha256.hex()}")
        else:
            lines.append(record.url)
    _write_text_atomically(path, "\n".join(lines) + "\n")


def write_environment_yaml(
    path: str | os.PathLike[str],
    *,
    spec: Specification,
    records: list[rattler.RepoDataRecord],
    pip: list[PipPackage] | None = None,
) -> None:
    """Write an environment YAML pinning exactly `records` (``name=version=build``) and `pip`
    (``name==version``), with the specification's name, channels and variables."""
    pinned = dataclasses.replace(
        spec,
        dependencies=tuple(
            f"{_name(record)}={record.version}={record.build}"
            for record in sorted(records, key=_name)
        ),
        pip=tuple(
            f"{package.name}=={package.version}"
            for package in sorted(pip or (), key=lambda package: package.name.lower())
        ),
    )
    _write_text_atomically(
        path, yaml.safe_dump(pinned.to_dict(), sort_keys=False, allow_unicode=True)
    )


def yaml_specification(spec: Specification | LockfileSpecification) -> Specification:
    """The specification environment.yaml is written from; a lock file's is its channels."""
    if isinstance(spec, Specification):
        return spec
    channels = [
        channel["url"] if isinstance(channel, dict) else str(channel)
        for channel in spec.lockfile.get("metadata", {}).get("channels", [])
    ]
    return Specification(name=spec.name, channels=tuple(channels))
