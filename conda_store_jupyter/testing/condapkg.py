"""A conda package written from memory: its files, metadata and a reproducible ``.tar.bz2``.

The local test channel (``channel.py``) describes its packages as `Package` values and writes
them with `write_package`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tarfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

# A fixed build time (ms) keeps the archives reproducible.
TIMESTAMP_MS = 1_700_000_000_000


@dataclass
class Package:
    name: str
    version: str
    subdir: str
    noarch: str | None  # "generic", "python", or None for a package of the host platform
    depends: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    executables: set[str] = field(default_factory=set)
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> link target

    @functools.cached_property
    def sha256s(self) -> dict[str, str]:
        return {path: hashlib.sha256(data).hexdigest() for path, data in self.files.items()}

    @property
    def build_string(self) -> str:
        # rattler caches extracted packages by file name: new content must give a new name.
        metadata = [self.name, self.version, self.subdir, self.noarch, sorted(self.depends)]
        hashed = digest([metadata, self.sha256s, sorted(self.executables), self.symlinks])[:8]
        return f"py_{hashed}_0" if self.noarch == "python" else f"h{hashed}_0"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build_string}.tar.bz2"


def digest(value: object) -> str:
    """A stable hash of a JSON-able value (dict keys are sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _json(value: object) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()


def _tarinfo(
    path: str, size: int = 0, mode: int = 0o644, link: str | None = None
) -> tarfile.TarInfo:
    member = tarfile.TarInfo(path)
    member.size, member.mode, member.mtime = size, mode, TIMESTAMP_MS // 1000
    if link is not None:
        member.type, member.linkname = tarfile.SYMTYPE, link
    return member


def write_package(package: Package, root: Path, *, overwrite: bool) -> Path:
    """Write `package` into its subdir of `root`, unless the file exists and not `overwrite`."""
    target = root / package.subdir / package.filename
    # The name includes a content hash, so an existing file is up to date.
    if target.exists() and not overwrite:
        return target
    index = {
        "name": package.name,
        "version": package.version,
        "build": package.build_string,
        "build_number": 0,
        "depends": sorted(package.depends),
        "subdir": package.subdir,
        "timestamp": TIMESTAMP_MS,
        "license": "BSD-3-Clause",
    }
    if package.noarch:
        index["noarch"] = package.noarch
    paths: list[dict[str, Any]] = [
        {
            "_path": path,
            "path_type": "hardlink",
            "sha256": sha256,
            "size_in_bytes": len(package.files[path]),
        }
        for path, sha256 in package.sha256s.items()
    ]
    paths += [{"_path": path, "path_type": "softlink"} for path in package.symlinks]
    paths.sort(key=lambda entry: entry["_path"])
    info = {
        "info/index.json": _json(index),
        "info/paths.json": _json({"paths": paths, "paths_version": 1}),
        "info/files": "".join(f"{entry['_path']}\n" for entry in paths).encode(),
    }
    if package.noarch == "python":
        info["info/link.json"] = _json(
            {"noarch": {"type": "python"}, "package_metadata_version": 1}
        )

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with tarfile.open(partial, "w:bz2") as tar:
        # info/ first, as conda-build does, so readers of the metadata can stop early.
        for path, data in [*sorted(info.items()), *sorted(package.files.items())]:
            mode = 0o755 if path in package.executables else 0o644
            tar.addfile(_tarinfo(path, len(data), mode), BytesIO(data))
        for path, link in sorted(package.symlinks.items()):
            tar.addfile(_tarinfo(path, mode=0o777, link=link))
    # Renamed only once complete, so an interrupted build never leaves a valid-looking package.
    os.replace(partial, target)
    return target
