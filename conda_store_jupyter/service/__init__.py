"""The service layer: every lifecycle operation of namespaces, environments and builds.

Pure Python, no HTTP: REST handlers, the CLI and workers all call these methods. Each method is
one unit of work in its own session; inputs are validated before anything is written, so a
refused request changes nothing stored. Results are API models (`api_models`, built inside the
session) or plain values, never database rows. Blocking (database, disk): call from a thread when
on an event loop.

One object, `CondaStoreService`, composed of one part per concern:

- `base`: settings from the configuration (`from_config`, `spec_policy`, `build_settings`),
  `Page`, the session and store, the row lookups and file removals the others share;
- `namespaces`, `environments`, `builds`: their lists, reads and changes;
- `roles`: namespaces shared with other namespaces, and the bindings that gives callers;
- `tokens`: scoped, expiring tokens for scripts and CI;
- `artifacts`: a build's log and archive;
- `search`: channels, dry-run solves and package names;
- `lifecycle`: restoring a collected build, and the garbage collector with the configured
  retention policy (gc.py);
- `transfer`: environments exported to an archive and imported from one; copy and rename;
- `records`: what a notebook records of the build it ran on;
- `usage`: bytes per namespace and for the store;
- `check`: a specification checked by solving it, and why a build failed to solve, placed at
  the lines of its specification.
"""

from __future__ import annotations

from .artifacts import ArtifactsMixin
from .base import (
    ACTIVE,
    EVERYTHING,
    KEPT_ARTIFACTS,
    LEGACY_DATABASE_FILE,
    LEGACY_DATABASE_FILES,
    SQLITE_FILE_SUFFIXES,
    Page,
    build_settings,
    from_config,
    pip_sources,
    spec_policy,
)
from .builds import BuildsMixin
from .check import CheckMixin
from .environments import EnvironmentsMixin
from .lifecycle import LifecycleMixin
from .namespaces import NamespacesMixin
from .records import RecordsMixin
from .roles import NamespaceRolesMixin
from .tokens import TokensMixin
from .transfer import TransferMixin
from .usage import UsageMixin


class CondaStoreService(
    NamespacesMixin,
    NamespaceRolesMixin,
    TransferMixin,  # (an EnvironmentsMixin that moves them)
    EnvironmentsMixin,
    BuildsMixin,
    ArtifactsMixin,
    CheckMixin,
    TokensMixin,
    UsageMixin,
    RecordsMixin,
    LifecycleMixin,
):
    """Namespaces, environments, builds, their artifacts, and channel searches: see the
    modules of this package for each."""


__all__ = [
    "ACTIVE",
    "EVERYTHING",
    "KEPT_ARTIFACTS",
    "LEGACY_DATABASE_FILE",
    "LEGACY_DATABASE_FILES",
    "SQLITE_FILE_SUFFIXES",
    "CondaStoreService",
    "Page",
    "build_settings",
    "from_config",
    "pip_sources",
    "spec_policy",
]
