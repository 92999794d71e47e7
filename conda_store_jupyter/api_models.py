"""API models: how namespaces, environments, builds and packages look on the wire.

Separate from the ORM so the database can change without changing the API. Field names and
shapes follow conda-store-server's api/v1 (datetimes ISO 8601 in UTC without a zone suffix).
"""

from __future__ import annotations

import datetime
from typing import Any

from .db import Build, BuildArtifact, BuildPackage, Environment, Namespace, Specification


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()


def namespace_json(namespace: Namespace) -> dict[str, Any]:
    return {
        "id": namespace.id,
        "name": namespace.name,
        "metadata_": namespace.metadata_ or {},
        "role_mappings": [],
    }


def specification_json(specification: Specification) -> dict[str, Any]:
    return {
        "id": specification.id,
        "name": specification.name,
        "spec": specification.spec,
        "sha256": specification.sha256,
        "is_lockfile": specification.is_lockfile,
        "created_on": iso(specification.created_on),
    }


def artifact_json(artifact: BuildArtifact) -> dict[str, Any]:
    return {"id": artifact.id, "artifact_type": artifact.artifact_type.value, "key": artifact.key}


def build_json(build: Build, *, with_specification: bool = True) -> dict[str, Any]:
    return {
        "id": build.id,
        "environment_id": build.environment_id,
        "specification": specification_json(build.specification) if with_specification else None,
        "packages": None,
        "status": build.status.value,
        "status_info": build.status_info,
        "size": build.size,
        "scheduled_on": iso(build.scheduled_on),
        "started_on": iso(build.started_on),
        "ended_on": iso(build.ended_on),
        "build_artifacts": [artifact_json(artifact) for artifact in build.artifacts],
    }


def environment_json(environment: Environment) -> dict[str, Any]:
    # Until its first build completes, an environment reports that build as current (see
    # CondaStoreService._attach_pending_builds).
    current = environment.current_build or getattr(environment, "pending_build", None)
    return {
        "id": environment.id,
        "namespace": namespace_json(environment.namespace),
        "name": environment.name,
        "current_build_id": current.id if current else None,
        "current_build": build_json(current, with_specification=False) if current else None,
        "description": environment.description,
        "updated_on": iso(environment.updated_on),
    }


def package_json(package: BuildPackage) -> dict[str, Any]:
    return {
        "id": package.id,
        "name": package.name,
        "version": package.version,
        "build": package.build,
        "build_number": package.build_number,
        "channel": package.channel,
        "subdir": package.subdir,
        "url": package.url,
        "sha256": package.sha256,
        "md5": package.md5,
        "size": package.size,
        "manager": package.manager.value,
    }
