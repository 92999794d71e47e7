"""One build, start to end, in its own process: solve, install, pip, artifacts, make current.

Runs in a child of the executor (or a Celery worker), never on the server's event loop. It opens
its own database engine and shares no session with its parent. Template method: `before_start`
→ `execute` → `on_complete` | `on_failure`; each step persists its state, so a kill at any point
leaves a build that recovery can finish off (BUILDING with a stale heartbeat).

It runs under a claim (see db/transitions.py and lease.py): it heartbeats, every change it makes
to the build's row names the claim, and it stops without a trace once the claim is lost.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import rattler
import sqlalchemy as sa
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from . import artifacts as artifact_writers
from .buildlog import BuildLog, InstallReporter
from .db import (
    Build,
    BuildArtifact,
    BuildArtifactType,
    BuildPackage,
    BuildStatus,
    PackageManager,
    create_engine_for,
    transitions,
)
from .envlinks import sync_environment_link
from .errors import CondaStoreError, summarize
from .lease import BuildCanceled, BuildLease
from .locked import LockedInstall
from .pip import PipFailed, install_pip_packages
from .solver import SolveFailed, host_platform, make_gateway, named_channel_error, solve
from .spec import LockfileSpecification, PipSourcePolicy, Specification, parse_specification
from .storage import StorageSettings, continue_log, storage_for
from .store import StoreLayout, disk_usage, human_size

# Artifact names of the `build_artifacts` setting → file name and type.
ARTIFACT_TYPES = {
    "lockfile": BuildArtifactType.LOCKFILE,
    "yaml": BuildArtifactType.YAML,
    "explicit": BuildArtifactType.EXPLICIT,
    "archive": BuildArtifactType.CONDA_PACK,
}


@dataclass(frozen=True)
class BuildSettings:
    """What a build process needs to know: a picklable snapshot of the configuration."""

    store_dir: str
    database_url: str
    solve_platforms: tuple[str, ...] = ()
    build_artifacts: tuple[str, ...] = ("lockfile", "yaml", "explicit", "archive")
    solve_timeout: float | None = 600.0
    # Where pip packages may come from, and uv's index and wheel-only flags (CondaStore.pip_*).
    pip_sources: PipSourcePolicy = PipSourcePolicy()
    # Names (globs) of variables builds get beyond buildenv's allow list: only the names travel,
    # each build process reads the values from its own environment (see buildenv.py).
    build_environment_passthrough: tuple[str, ...] = ()
    heartbeat_interval: float = 2.0  # BuildExecutor's, for the build process's own heartbeat
    stale_after: float = 60.0
    storage: StorageSettings = StorageSettings()  # where artifacts go once ended (storage.py)


class Builder(LockedInstall):
    def __init__(
        self, build_id: int, settings: BuildSettings, sessions: sessionmaker[Session], claim: str
    ):
        self.build_id = build_id
        self.settings = settings
        self.sessions = sessions
        self.layout = StoreLayout(settings.store_dir)
        self.lease = BuildLease(
            sessions,
            build_id,
            claim,
            interval=settings.heartbeat_interval,
            stale_after=settings.stale_after,
        )
        self.log = BuildLog(self.layout.log_path(build_id), guard=self.lease.guard)
        self.storage = storage_for(settings.storage)
        self.prefix: Path | None = None
        self.phases: dict[str, float] = {}  # seconds per phase (metrics.py), kept if completed

    # -- template -------------------------------------------------------------------------
    def run(self) -> BuildStatus:
        started = time.monotonic()
        self.lease.start()
        try:
            self.before_start()
            self.execute()
            self.on_complete()
            status = BuildStatus.COMPLETED
        except BuildCanceled:
            self.on_canceled()
            status = BuildStatus.CANCELED
        except BaseException as error:  # noqa: BLE001 -- every failure must end the build
            self.on_failure(error)
            status = BuildStatus.FAILED
        finally:
            self.lease.stop()
        self.log.write(f"build {status.value} in {time.monotonic() - started:.2f} s")
        self.log.close()
        self.storage.publish(self.layout, self.build_id)  # (S3: uploaded, local copies go)
        return status

    def before_start(self) -> None:
        with self.sessions() as session:
            build = session.get(Build, self.build_id)
            if build is None:
                raise CondaStoreError(f"build {self.build_id} does not exist")
            environment = build.environment
            self.namespace = environment.namespace.name
            self.environment_name = environment.name
            self.build_dir = build.build_dir
            self.variables: dict[str, str] = {}
            spec = build.specification
            self.is_lockfile = spec.is_lockfile
            self.spec_sha256 = spec.sha256
            self.spec_data = spec.spec
            worker = build.worker
            self.restoring = build.collected_on is not None  # locked.py: reinstall, no solve
        self.prefix = self.layout.build_prefix(self.namespace, self.build_dir)
        if self.restoring:  # its lines follow the build's own
            continue_log(self.storage, self.layout, self.build_id)
        self.log.write(
            f"starting build {self.build_id} of {self.namespace}/{self.environment_name} "
            f"(specification {self.spec_sha256[:12]}) on {os.uname().nodename}, pid {os.getpid()}, "
            f"for worker {worker}{', a restore of its collected prefix' * self.restoring}"
        )
        self.log.write(f"prefix: {self.prefix}")

    def execute(self) -> None:
        asyncio.run(self._execute())

    async def _execute(self) -> None:
        gateway = make_gateway(self.layout.repodata_cache)
        if self.restoring:
            return await self._restore(gateway)
        pip_packages: dict[str, list[artifact_writers.PipPackage]] = {}
        if self.is_lockfile:
            spec: Specification | LockfileSpecification = LockfileSpecification.from_dict(
                self.spec_data
            )
            lockfile = spec.to_conda_lock()  # validated once, read for every platform below
            with self._step(None, "solve"):  # (no solve: records read from the lock file)
                records = await self._locked_records(spec, lockfile, gateway)
            # A lock file pins its pip packages too: no resolution, they are installed as pinned.
            pip_packages = artifact_writers.pip_packages_from_lockfile(lockfile)
            for platform in spec.platforms:
                if pip_packages.get(platform):
                    self.log.write(
                        f"lock file pins {len(pip_packages[platform])} pip packages for {platform}"
                    )
        else:
            spec = parse_specification(self.spec_data)
            self.variables = dict(spec.variables)
            with self._step(None, "solve"):
                records = await self._solve(spec, gateway)
        self.spec = spec
        host = host_platform()
        self.lease.check()
        await self._install(records[host])
        self.lease.check()
        if self.is_lockfile:
            self._install_locked_pip(pip_packages.get(host, []))
        elif spec.pip:
            with self._step("pip install (uv)", "pip"):
                pip_packages = install_pip_packages(
                    self.prefix,
                    list(spec.pip),
                    records,
                    self.log,
                    sources=self.settings.pip_sources,
                    passthrough=self.settings.build_environment_passthrough,
                )
        self.lease.check()
        self._write_artifacts(spec, records, pip_packages)
        self._record_packages(records[host], pip_packages.get(host, []))

    # -- steps ----------------------------------------------------------------------------
    @contextmanager
    def _step(self, what: str | None, phase: str | None = None) -> Iterator[None]:
        """A step, logged (`what`) and timed into `phase` (solve, install, pip, artifacts)."""
        if what:
            self.log.write(f"{what}: started")
        started = time.monotonic()
        yield
        elapsed = time.monotonic() - started
        if phase:
            self.phases[phase] = self.phases.get(phase, 0.0) + elapsed
        if what:
            self.log.write(f"{what}: done in {elapsed:.2f} s")

    def _platforms(self) -> list[str]:
        host = host_platform()
        others = [p for p in self.settings.solve_platforms if p != host]
        return [host, *others]

    async def _solve(
        self, spec: Specification, gateway: rattler.Gateway
    ) -> dict[str, list[rattler.RepoDataRecord]]:
        timeout = (
            datetime.timedelta(seconds=self.settings.solve_timeout)
            if self.settings.solve_timeout
            else None
        )
        solved = {}
        for platform in self._platforms():
            self.log.write(
                f"solving for {platform}: {', '.join(spec.dependencies) or '(nothing)'} "
                f"from {', '.join(spec.channels)}"
            )
            started = time.monotonic()
            records = await solve(spec.channels, spec.dependencies, platform, gateway, timeout)
            self.log.write(
                f"solved for {platform} in {time.monotonic() - started:.2f} s: "
                f"{len(records)} packages"
            )
            for record in records:
                self.log.write(
                    f"  {record.name.normalized} {record.version} {record.build} "
                    f"({record.subdir}, {human_size(record.size)})"
                )
            solved[platform] = records
            self.lease.check()
        return solved

    async def _install(self, records: list[rattler.RepoDataRecord]) -> None:
        assert self.prefix is not None
        total = sum(record.size or 0 for record in records)
        with self._step(
            f"installing {len(records)} packages ({human_size(total)}) into the prefix", "install"
        ):
            try:
                await rattler.install(
                    records,
                    self.prefix,
                    cache_dir=self.layout.package_cache,
                    show_progress=False,
                    reporter=InstallReporter(self.log, records),
                )
            except Exception as error:  # a download from a channel that failed: say which
                named = named_channel_error({record.channel for record in records}, error)
                if named is None:
                    raise
                self.log.write(f"install failed: {error}")
                raise named from error

    def _write_artifacts(self, spec, records, pip_packages) -> None:
        host = host_platform()
        written: list[tuple[BuildArtifactType, Path]] = []
        for kind in self.settings.build_artifacts:
            artifact_type = ARTIFACT_TYPES[kind]
            path = self.layout.artifact_path(self.build_id, kind)
            file_name = path.name
            with self._step(f"writing {file_name}", "artifacts"):
                if kind == "lockfile":
                    if self.is_lockfile:
                        artifact_writers.write_lockfile_specification(path, spec)
                    else:
                        artifact_writers.write_conda_lock(
                            path, spec=spec, records=records, pip=pip_packages
                        )
                elif kind == "yaml":
                    artifact_writers.write_environment_yaml(
                        path,
                        spec=artifact_writers.yaml_specification(spec),
                        records=records[host],
                        pip=pip_packages.get(host),
                    )
                elif kind == "explicit":
                    # Conda packages only, for every build, from a lock file or not: an @EXPLICIT
                    # file is what `conda create --file` installs, and conda cannot install pip
                    # packages. (conda-lock's own rendering adds `# pip name @ url` comments that
                    # only conda-lock reads; we do not.) The pip pins are in conda-lock.yml (URL
                    # and sha256) and environment.yaml (name==version).
                    artifact_writers.write_explicit(path, records[host])
                elif kind == "archive":
                    artifact_writers.write_conda_pack(self.prefix, path)
            written.append((artifact_type, path))
            self.lease.check()
        self.artifacts = written

    def _record_packages(self, records, pip_packages) -> None:
        self.packages = [
            BuildPackage(
                name=record.name.normalized,
                version=str(record.version),
                build=str(record.build),
                build_number=record.build_number,
                channel=str(record.channel or ""),
                subdir=record.subdir,
                url=str(record.url),
                sha256=record.sha256.hex() if record.sha256 else None,
                md5=record.md5.hex() if record.md5 else None,
                size=record.size,
                manager=PackageManager.CONDA,
            )
            for record in records
        ] + [
            BuildPackage(
                name=package.name,
                version=package.version,
                url=package.url or "",
                sha256=package.sha256,
                manager=PackageManager.PIP,
                channel="pypi",
            )
            for package in pip_packages
        ]

    # -- endings --------------------------------------------------------------------------
    def on_complete(self) -> None:
        assert self.prefix is not None
        size = disk_usage(self.prefix)
        self.lease.guard()
        with self.sessions() as session, session.begin():
            # Only a build still BUILDING under our claim completes, and becomes current in the
            # same transaction. A cancel that got there first: this prefix is removed; a
            # takeover (recovery elsewhere): the fence, nothing more is touched.
            completed = transitions.complete(
                session, self.build_id, self.lease.claim, size, self.phases
            )
            if completed:
                self._record_results(session)
        if not completed:
            self.lease.check()  # fences if lost
            raise BuildCanceled()
        self.lease.stop()  # COMPLETED now: nothing left to hold, and nobody can take it over
        # The database says which build is current; the link follows it. A crash between the
        # two is repaired at start by reconciling every link with the database.
        linked = sync_environment_link(
            self.layout, self.sessions, self.namespace, self.environment_name
        )
        if linked == self.build_dir:
            self.log.write(f"envs/{self.environment_name} now points at {self.build_dir}")
        self.log.write(f"prefix size {human_size(size)}")

    def _record_results(self, session: Session) -> None:
        """The artifacts and packages of a build that completed, in its transaction."""
        for artifact_type, path in self.artifacts:
            session.add(
                BuildArtifact(
                    build_id=self.build_id,
                    artifact_type=artifact_type,
                    key=str(path.relative_to(self.layout.root)),
                    size=path.stat().st_size,
                )
            )
        for package in self.packages:
            package.build_id = self.build_id
            session.add(package)

    def on_failure(self, error: BaseException) -> None:
        if isinstance(error, SolveFailed):
            self.log.write(f"solve failed for {error.platform}:\n{error.message}")
            info = f"solve failed for {error.platform}: {summarize(error.message)}"
        elif isinstance(error, PipFailed):
            self.log.write(f"pip install failed:\n{error.output}")
            info = f"pip install failed: {summarize(error.output)}"
        elif isinstance(error, CondaStoreError):
            self.log.write(f"error: {error.message}")
            info = error.message
        else:
            self.log.write("unexpected error:\n" + "".join(traceback.format_exception(error)))
            info = f"{type(error).__name__}: {error}"
        with self.sessions() as session, session.begin():
            won = transitions.end(
                session, self.build_id, self.lease.claim, BuildStatus.FAILED, info
            )
        # Ours to remove if we ended it, or if a user canceled it meanwhile; if another claim
        # owns it now, `state` says "lost" and the fence stops us touching anything.
        if won or self.lease.state() != "lost":
            self._remove_prefix()
        else:
            self.lease.check()

    def on_canceled(self) -> None:
        self.log.write("build canceled: removing the partial prefix")
        self._remove_prefix()

    def _remove_prefix(self) -> None:
        if self.prefix is not None:
            self.layout.remove_tree(self.prefix)


# Engines made by `prepare_process`, without connections, inherited by forked build processes.
_prepared_engines: dict[str, sa.Engine] = {}


def prepare_process(settings: BuildSettings) -> None:
    """In a process that forks builds (the launcher), once: configure the ORM and compile the
    first queries of a build, so that every build process starts with them ready (a fresh
    process spends tens of milliseconds on that before its first log line)."""
    configure_mappers()
    engine = create_engine_for(settings.database_url)
    with sessionmaker(engine)() as session:
        build = session.scalars(sa.select(Build).order_by(Build.id.desc()).limit(1)).first()
        if build is not None:  # the lazy loads of `before_start`
            build.environment.namespace  # noqa: B018
            build.specification  # noqa: B018
        transitions.holder_state(session, 0, "")  # `lease.check`
    engine.dispose()  # no connection may cross a fork
    _prepared_engines[settings.database_url] = engine


def run_build(build_id: int, settings: BuildSettings, claim: str) -> BuildStatus:
    """Entry point of a build process (executor child or Celery task), under the claim the
    caller took with `transitions.claim_next_build`."""
    engine = _prepared_engines.get(settings.database_url) or create_engine_for(
        settings.database_url
    )
    try:
        sessions = sessionmaker(engine, expire_on_commit=False)
        return Builder(build_id, settings, sessions, claim).run()
    finally:
        engine.dispose()
