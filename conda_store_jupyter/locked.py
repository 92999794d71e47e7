"""Installs from a lock file, without a solve: a build of an uploaded lock file, and the restore
of a collected build (garbage collection removed its prefix; gc.py) from the lock file it wrote.

A mixin of `build.Builder`: the same steps, log, lease and phases as any build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import rattler
import sqlalchemy as sa

from . import artifacts as artifact_writers
from .db import Build, BuildArtifactType, BuildStatus, Namespace, select_builds
from .errors import CondaStoreError
from .pip import install_locked_pip_packages
from .solver import host_platform
from .spec import LockfileSpecification, parse_conda_lock
from .store import human_size, link_identical

if TYPE_CHECKING:
    from conda_lock.lockfile.v2prelim.models import Lockfile


class LockedInstall:
    async def _locked_records(
        self, spec: LockfileSpecification, lockfile: Lockfile, gateway: rattler.Gateway
    ) -> dict[str, list[rattler.RepoDataRecord]]:
        host = host_platform()
        if host not in spec.platforms:
            raise CondaStoreError(
                f"the lock file has no packages for this machine's platform {host} "
                f"(it locks {', '.join(spec.platforms)})"
            )
        records = {}
        for platform in spec.platforms:
            records[platform] = await artifact_writers.records_from_lockfile(
                lockfile, platform, gateway
            )
            self.log.write(f"lock file pins {len(records[platform])} conda packages for {platform}")
        return records

    def _install_locked_pip(self, pip_packages: list[artifact_writers.PipPackage]) -> None:
        if pip_packages:
            with self._step("pip install of the lock file's pins (uv)", "pip"):
                install_locked_pip_packages(
                    self.prefix,
                    pip_packages,
                    self.log,
                    sources=self.settings.pip_sources,
                    passthrough=self.settings.build_environment_passthrough,
                )

    async def _restore(self, gateway: rattler.Gateway) -> None:
        """Reinstall this collected build's prefix from its own lock file: the very packages
        (URL and sha256) it had, no solve. Its other artifacts and its package list stay as
        they were; only a conda-pack archive (which collection removed) is made again."""
        text = self.storage.read_bytes(self.layout, self.build_id, "lockfile")
        if text is None:
            raise CondaStoreError(
                f"build {self.build_id} cannot be restored: its lock file is gone"
            )
        lockfile = parse_conda_lock(text)
        host = host_platform()
        self.log.write(f"restoring build {self.build_id} from its lock file (no solve)")
        with self._step(None, "solve"):
            records = await artifact_writers.records_from_lockfile(lockfile, host, gateway)
        self.log.write(f"lock file pins {len(records)} conda packages for {host}")
        self.lease.check()
        await self._install(records)
        self.lease.check()
        self._install_locked_pip(artifact_writers.pip_packages_from_lockfile(lockfile)[host])
        self.lease.check()
        self.artifacts = []
        if "archive" in self.settings.build_artifacts:
            path = self.layout.artifact_path(self.build_id, "archive")
            with self._step(f"writing {path.name}", "artifacts"):
                artifact_writers.write_conda_pack(self.prefix, path)
            self.artifacts.append((BuildArtifactType.CONDA_PACK, path))
        self.packages = []  # recorded when it was built: the same ones
        self._share_with_sibling()

    def _share_with_sibling(self) -> None:
        """A build of the same specification with its prefix (the environment this one was
        copied from, say) has the very same files: share them (hard links), so a copy costs
        almost no disk."""
        with self.sessions() as session:
            sibling = session.execute(
                select_builds(Namespace.name, Build.build_dir)
                .where(
                    Build.specification_id
                    == sa.select(Build.specification_id)
                    .where(Build.id == self.build_id)
                    .scalar_subquery(),
                    Build.id != self.build_id,
                    Build.status == BuildStatus.COMPLETED,
                    Build.collected_on.is_(None),
                    Build.build_dir.is_not(None),
                )
                .order_by(Build.id.desc())
                .limit(1)
            ).first()
        if sibling is None:
            return
        other = self.layout.build_prefix(*sibling)
        if other.is_dir():
            with self._step(f"sharing the files it has in common with {other.name}", None):
                shared = link_identical(self.prefix, other)
            self.log.write(f"{human_size(shared)} shared with {other.name} (hard links)")
