"""Persistence: SQLAlchemy models, engines and sessions, Alembic migrations, the build queue."""

from .engine import (
    alembic_config,
    create_engine_for,
    open_database,
    upgrade_database,
)
from .models import (
    ApiToken,
    Base,
    Build,
    BuildArtifact,
    BuildArtifactType,
    BuildPackage,
    BuildStatus,
    Environment,
    GcRun,
    Lease,
    Namespace,
    NamespaceRoleMapping,
    PackageManager,
    Specification,
    UTCDateTime,
    WatchedFile,
    utcnow,
)
from .transitions import claim_next_build

__all__ = [
    "ApiToken",
    "Base",
    "Build",
    "BuildArtifact",
    "BuildArtifactType",
    "BuildPackage",
    "BuildStatus",
    "Environment",
    "GcRun",
    "Lease",
    "Namespace",
    "NamespaceRoleMapping",
    "PackageManager",
    "Specification",
    "UTCDateTime",
    "WatchedFile",
    "alembic_config",
    "claim_next_build",
    "create_engine_for",
    "open_database",
    "upgrade_database",
    "utcnow",
]
