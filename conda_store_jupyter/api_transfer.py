"""The manifest of an environment archive (service/transfer.py): `export` writes it, `import`
reads it. An archive is a gzipped tar of `manifest.json` and, per build,
`builds/<id>/conda-lock.yml` (and `build.log` when there is one)."""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import BaseModel, Field

FORMAT = "conda-store-jupyter/environments"
VERSION = 1
MANIFEST = "manifest.json"


class ExportedPackage(BaseModel):
    name: str
    version: str
    build: str = ""
    build_number: int = 0
    channel: str = ""
    subdir: str = ""
    url: str = ""
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    manager: str = "conda"


class ExportedSpecification(BaseModel):
    name: str
    spec: dict[str, Any]
    sha256: str
    is_lockfile: bool = False


class ExportedBuild(BaseModel):
    id: int = Field(description="Its id in the store it came from (files are under it).")
    specification: ExportedSpecification
    scheduled_on: datetime.datetime
    started_on: datetime.datetime | None = None
    ended_on: datetime.datetime | None = None
    size: int = 0
    phases: dict[str, float] | None = None
    packages: list[ExportedPackage] = []


class ExportedEnvironment(BaseModel):
    namespace: str
    name: str
    description: str = ""
    current_build_id: int | None = Field(description="One of `builds` (its id there), or null.")
    builds: list[ExportedBuild] = Field(description="Completed builds, oldest first.")


class Manifest(BaseModel):
    format: str = FORMAT
    version: int = VERSION
    exported_on: datetime.datetime
    store_version: str
    environments: list[ExportedEnvironment]


class ImportedEnvironment(BaseModel):
    """What `import` made of one environment of an archive."""

    namespace: str
    name: str
    builds: dict[int, int] = Field(description="Build id in the archive → its id here.")
    current_build_id: int | None = Field(
        description="Here, being restored from its lock file; it becomes current once it is."
    )


class MoveRequest(BaseModel, extra="forbid"):
    """The body of POST `environment/{namespace}/{environment}/copy/` and `rename/`."""

    namespace: str | None = Field(None, description="Default: the environment's own.")
    name: str | None = Field(None, description="Default: the environment's own.")
