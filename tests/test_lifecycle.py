"""The environment lifecycle through the service layer, with real builds by the real executor
against the local channel: build, update, roll back, cancel, kill, recover, delete."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conda_lock.lockfile import parse_conda_lock_file

from conda_store_jupyter.config import CondaStore
from conda_store_jupyter.db import Build, BuildStatus, open_database
from conda_store_jupyter.errors import Conflict, NotFound, SpecError
from conda_store_jupyter.executor import BuildExecutor
from conda_store_jupyter.service import CondaStoreService, build_settings
from conda_store_jupyter.solver import host_platform

from .servers import build_log_ended


class Store:
    """A service with its executor running on a loop in a background thread, as in the server."""

    def __init__(self, config: CondaStore):
        self.config = config
        self.engine, self.sessions = open_database(config.database_url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.executor: BuildExecutor | None = None
        self.start_executor()
        self.service = CondaStoreService(config, self.sessions, lambda: self.executor.wake())

    def start_executor(self) -> None:
        self.executor = BuildExecutor(
            sessions=self.sessions,
            settings=build_settings(self.config),
            poll_interval=0.2,
            heartbeat_interval=0.5,
        )
        self._call(self.executor.start())

    def stop_executor(self) -> None:
        self._call(self.executor.stop())

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def close(self) -> None:
        self.stop_executor()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.engine.dispose()

    # Helpers reading the store as a user would.
    def prefix(self, build: Build) -> Path:
        return Path(self.config.store_dir) / build.namespace / build.build_dir

    def link(self, namespace: str, name: str) -> Path:
        return Path(self.config.store_dir) / namespace / "envs" / name

    def log(self, build_id: int) -> str:
        return (
            Path(self.config.store_dir) / ".artifacts" / str(build_id) / "build.log"
        ).read_text()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_config(request, tmp_path, local_channel) -> CondaStore:
    """The store on the embedded SQLite default, and on PostgreSQL as shared deployments use."""
    config = CondaStore(store_dir=str(tmp_path / "store"), channels=[local_channel])
    if request.param == "postgresql":
        config.database_url = request.getfixturevalue("pg_database_url")
    return config


@pytest.fixture
def store(store_config):
    store = Store(store_config)
    yield store
    store.close()


def installed(prefix: Path) -> dict[str, str]:
    """{name: version} from the prefix's conda-meta, as conda itself would read it."""
    versions = {}
    for record in (prefix / "conda-meta").glob("*.json"):
        data = json.loads(record.read_text())
        versions[data["name"]] = data["version"]
    return versions


def spec(name: str, *dependencies: str, **extra) -> str:
    return yaml.safe_dump({"name": name, "dependencies": list(dependencies), **extra})


def wait(store: Store, build: Build) -> Build:
    """The build once it has ended, its end complete on disk: its envs/<name> link set, or its
    prefix removed (build_log_ended)."""
    done = store.service.wait_for_build(build.id, timeout=300)
    if done.started_on is not None:
        wait_until(lambda: build_log_ended(store.service.layout.log_path(build.id)), timeout=30)
    return done


def wait_until(predicate, timeout: float = 60, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def test_build_gamma_end_to_end(store):
    build = store.service.submit_specification("default", spec("solver", "gamma"))
    assert build.status == BuildStatus.QUEUED
    done = wait(store, build)
    assert done.status == BuildStatus.COMPLETED, store.log(build.id)

    prefix = store.prefix(done)
    assert installed(prefix) == {"alpha": "1.1", "beta": "0.5", "gamma": "3.0"}
    link = store.link("default", "solver")
    # The build process moves the link right after the database says COMPLETED.
    wait_until(lambda: link.is_symlink() and link.resolve() == prefix.resolve(), timeout=10)
    environment = store.service.get_environment("default", "solver")
    assert environment.current_build_id == build.id
    assert done.size > 0 and done.started_on and done.ended_on

    lock = parse_conda_lock_file(
        Path(store.config.store_dir, ".artifacts", str(build.id), "conda-lock.yml")
    )
    assert {(p.name, p.version) for p in lock.package} == {
        ("alpha", "1.1"),
        ("beta", "0.5"),
        ("gamma", "3.0"),
    }
    packages = {p.name: p.version for p in store.service.get_build(done.id, packages=True).packages}
    assert packages == {"alpha": "1.1", "beta": "0.5", "gamma": "3.0"}

    log = store.log(build.id)
    for expected in (
        "solving for",
        "solved for",
        "linked gamma",
        "writing conda-lock.yml",
        "build COMPLETED",
    ):
        assert expected in log


def test_same_specification_makes_no_second_build(store):
    first = store.service.submit_specification("default", spec("twice", "alpha"))
    again = store.service.submit_specification(
        "default", "name: twice\ndependencies:\n  - alpha  # same\n"
    )
    assert again.id == first.id
    wait(store, first)
    assert store.service.submit_specification("default", spec("twice", "alpha")).id == first.id
    assert len(store.service.list_builds()) == 1


def test_cross_platform_lock_file(tmp_path, local_channel):
    config = CondaStore(
        store_dir=str(tmp_path / "store"),
        channels=[local_channel],
        solve_platforms=["linux-64", "osx-arm64", "win-64"],
    )
    store = Store(config)
    try:
        build = wait(
            store, store.service.submit_specification("default", spec("everywhere", "gamma"))
        )
        assert build.status == BuildStatus.COMPLETED, store.log(build.id)
        lock = parse_conda_lock_file(
            Path(config.store_dir, ".artifacts", str(build.id), "conda-lock.yml")
        )
        platforms = {p.platform for p in lock.package if p.name == "gamma"}
        assert platforms == {"linux-64", "osx-arm64", "win-64"}
    finally:
        store.close()


def test_platform_that_cannot_be_solved_names_platform_and_packages(tmp_path, local_channel):
    config = CondaStore(
        store_dir=str(tmp_path / "store"),
        channels=[local_channel],
        solve_platforms=[host_platform(), "osx-arm64"],
    )
    store = Store(config)
    try:
        # python exists only for the host in the local channel.
        build = wait(
            store, store.service.submit_specification("default", spec("py", "python", "csj-probe"))
        )
        assert build.status == BuildStatus.FAILED
        # Ours: the platform; the solver's explanation after it names the missing package.
        assert build.status_info.startswith("solve failed for osx-arm64: "), build.status_info
        assert "python" in build.status_info
        assert not store.link("default", "py").exists()
    finally:
        store.close()


def test_archive_unpacks_elsewhere_into_a_working_prefix(tmp_path, local_channel):
    config = CondaStore(
        store_dir=str(tmp_path / "store"),
        channels=[local_channel],
        build_artifacts=["lockfile", "archive"],
    )
    store = Store(config)
    try:
        build = wait(
            store,
            store.service.submit_specification("default", spec("packed", "python", "csj-probe")),
        )
        assert build.status == BuildStatus.COMPLETED, store.log(build.id)
        archive = Path(config.store_dir, ".artifacts", str(build.id), "environment.tar.gz")
        target = tmp_path / "elsewhere"
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="fully_trusted")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        result = subprocess.run(
            [
                target / "bin" / "python",
                "-c",
                "import csj_probe, sys; print(csj_probe.__file__); print(sys.prefix)",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        module, prefix = result.stdout.split()
        assert Path(module).is_relative_to(target) and Path(prefix) == target
    finally:
        store.close()


def test_update_rollback_and_delete_build(store):
    service = store.service
    first = wait(store, service.submit_specification("default", spec("evolving", "alpha 1.0")))
    second = wait(store, service.submit_specification("default", spec("evolving", "alpha 2.0")))
    assert (first.status, second.status) == (BuildStatus.COMPLETED, BuildStatus.COMPLETED)
    assert installed(store.link("default", "evolving")) == {"alpha": "2.0"}

    builds_before = len(service.list_builds())
    service.rollback("default", "evolving", first.id)
    assert len(service.list_builds()) == builds_before  # nothing rebuilt
    assert service.get_environment("default", "evolving").current_build_id == first.id
    assert store.link("default", "evolving").resolve() == store.prefix(first).resolve()
    assert installed(store.link("default", "evolving")) == {"alpha": "1.0"}

    with pytest.raises(Conflict, match="current build"):
        service.delete_build(first.id)
    service.delete_build(second.id)
    assert not store.prefix(second).exists()
    assert store.log(second.id)  # the log stays
    assert Path(store.config.store_dir, ".artifacts", str(second.id), "conda-lock.yml").exists()
    with pytest.raises(NotFound):
        service.get_build(second.id)


def test_unsatisfiable_spec_fails_with_solver_explanation(store):
    service = store.service
    good = wait(store, service.submit_specification("default", spec("clash", "alpha")))
    bad = wait(
        store, service.submit_specification("default", spec("clash", "conflict-a", "conflict-b"))
    )
    assert bad.status == BuildStatus.FAILED
    assert bad.status_info.startswith(f"solve failed for {host_platform()}: "), bad.status_info
    assert "conflict-base" in bad.status_info
    # The log has our line, then the solver's explanation in its own words, naming the packages.
    log = store.log(bad.id)
    assert f"solve failed for {host_platform()}:\n" in log and "build FAILED" in log
    explanation = log.split(f"solve failed for {host_platform()}:\n", 1)[1]
    assert "conflict-a" in explanation and "conflict-base" in explanation, log
    assert service.get_environment("default", "clash").current_build_id == good.id
    assert installed(store.link("default", "clash")) == {"alpha": "2.0"}
    assert not store.prefix(bad).exists()


def _wait_for_log_line(store: Store, build_id: int, text: str) -> None:
    log = Path(store.config.store_dir, ".artifacts", str(build_id), "build.log")
    wait_until(lambda: log.exists() and text in log.read_text(), timeout=120, interval=0.01)


def test_cancel_running_build(store):
    service = store.service
    build = service.submit_specification("default", spec("big", "csj-bigdata"))
    _wait_for_log_line(store, build.id, "installing")
    started = time.monotonic()
    service.cancel_build(build.id)
    wait_until(
        lambda: (
            service.get_build(build.id).status == BuildStatus.CANCELED
            and not store.executor.running_build_ids
        )
    )
    assert time.monotonic() - started < 2
    canceled = service.get_build(build.id)
    assert not store.prefix(canceled).exists()
    assert not store.link("default", "big").exists()
    with pytest.raises(Conflict, match="only a queued or running build"):
        service.cancel_build(build.id)


def test_killed_build_process_leaves_previous_build_current(store):
    service = store.service
    good = wait(store, service.submit_specification("default", spec("victim", "alpha")))
    build = service.submit_specification("default", spec("victim", "alpha", "csj-bigdata"))
    _wait_for_log_line(store, build.id, "installing")
    pid = next(iter(store.executor._running.values())).process.pid
    os.kill(pid, signal.SIGKILL)
    failed = wait(store, build)
    assert failed.status == BuildStatus.FAILED and "killed by signal 9" in failed.status_info
    assert not store.prefix(failed).exists()
    assert store.link("default", "victim").resolve() == store.prefix(good).resolve()


def test_server_stop_mid_build_and_restart(store):
    service = store.service
    good = wait(store, service.submit_specification("default", spec("restart", "alpha")))
    build = service.submit_specification("default", spec("restart", "alpha", "csj-bigdata"))
    _wait_for_log_line(store, build.id, "installing")
    store.stop_executor()
    stopped = service.get_build(build.id)
    assert stopped.status == BuildStatus.FAILED and "server stopped" in stopped.status_info
    store.start_executor()
    assert not store.prefix(stopped).exists()
    assert store.link("default", "restart").resolve() == store.prefix(good).resolve()
    again = wait(store, service.rebuild(build.id))
    assert again.status == BuildStatus.COMPLETED


def test_recovery_of_builds_abandoned_by_a_dead_process(store):
    service = store.service
    good = wait(store, service.submit_specification("default", spec("orphan", "alpha")))
    store.stop_executor()
    build = service.submit_specification("default", spec("orphan", "beta"))
    partial = store.prefix(service.get_build(build.id))
    partial.mkdir(parents=True)
    (partial / "half-written").write_text("x")
    with store.sessions() as session, session.begin():
        # As a server killed with SIGKILL leaves it: BUILDING, claimed by a process now gone.
        session.execute(
            sa.update(Build)
            .where(Build.id == build.id)
            .values(status=BuildStatus.BUILDING, worker=f"{os.uname().nodename}:999999999")
        )
    # And a link pointing somewhere wrong, as a crash between the database and the link would.
    store.link("default", "orphan").unlink()
    store.start_executor()
    recovered = service.get_build(build.id)
    assert (
        recovered.status == BuildStatus.FAILED
        and "process building it stopped" in recovered.status_info
    )
    assert not partial.exists()
    assert store.link("default", "orphan").resolve() == store.prefix(good).resolve()


def test_delete_environment(store):
    service = store.service
    build = wait(store, service.submit_specification("default", spec("doomed", "alpha")))
    service.delete_environment("default", "doomed")
    assert not store.link("default", "doomed").exists()
    assert not store.prefix(build).exists()
    assert store.log(build.id)
    with pytest.raises(NotFound):
        service.get_environment("default", "doomed")
    # The name can be used again.
    assert (
        wait(store, service.submit_specification("default", spec("doomed", "alpha"))).status
        == BuildStatus.COMPLETED
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [bad", "Invalid YAML"),
        (spec("x/y", "alpha"), "environment name"),
        (spec("..", "alpha"), "environment name"),
        (
            yaml.safe_dump(
                {
                    "name": "chan",
                    "channels": ["https://example.invalid/forbidden"],
                    "dependencies": ["alpha"],
                }
            ),
            "not allowed",
        ),
        ("name: huge\n# " + "x" * 10_000_000, "too large"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(tmp_path, local_channel, text, message):
    config = CondaStore(
        store_dir=str(tmp_path / "store"),
        channels=[local_channel],
        allowed_channels=[local_channel],
    )
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    with pytest.raises(SpecError, match=message):
        service.submit_specification("default", text)
    assert service.list_namespaces() == []
    assert service.list_builds() == []
    engine.dispose()


def test_lock_file_as_specification_installs_exactly_the_pins(store):
    service = store.service
    # Packages of two subdirs (linux-64 python, noarch the rest) from one channel.
    first = wait(
        store,
        service.submit_specification("default", spec("source", "alpha 1.0", "python", "csj-probe")),
    )
    lock_text = Path(
        store.config.store_dir, ".artifacts", str(first.id), "conda-lock.yml"
    ).read_text()
    locked = wait(
        store,
        service.submit_specification(
            "default", lock_text, is_lockfile=True, environment_name="replica"
        ),
    )
    assert locked.status == BuildStatus.COMPLETED, store.log(locked.id)
    assert installed(store.link("default", "replica")) == installed(store.link("default", "source"))
    assert installed(store.link("default", "replica"))["alpha"] == "1.0"
    assert "solving for" not in store.log(locked.id)


def test_pip_dependencies_installed_with_uv_and_locked(store):
    service = store.service
    text = yaml.safe_dump({"name": "withpip", "dependencies": ["python", {"pip": ["six==1.17.0"]}]})
    build = wait(store, service.submit_specification("default", text))
    assert build.status == BuildStatus.COMPLETED, store.log(build.id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [
            store.link("default", "withpip") / "bin" / "python",
            "-c",
            "import six; print(six.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert Path(result.stdout.strip()).resolve().is_relative_to(store.prefix(build).resolve())
    lock = parse_conda_lock_file(
        Path(store.config.store_dir, ".artifacts", str(build.id), "conda-lock.yml")
    )
    pip = [p for p in lock.package if p.manager == "pip"]
    assert [(p.name, p.version) for p in pip] == [("six", "1.17.0")]
    packages = service.get_build(build.id, packages=True).packages
    assert {(p.name, p.manager) for p in packages} >= {("six", "pip"), ("python", "conda")}


def test_build_timeout_kills_and_fails_the_build(tmp_path, local_channel):
    config = CondaStore(store_dir=str(tmp_path / "store"), channels=[local_channel])
    store = Store(config)
    try:
        store.executor.build_timeout = 0.3
        build = wait(
            store, store.service.submit_specification("default", spec("slow", "csj-bigdata"))
        )
        assert build.status == BuildStatus.FAILED
        assert "timed out after" in build.status_info and "build_timeout" in build.status_info
        assert not store.prefix(build).exists()
    finally:
        store.close()


def test_max_workers_limits_concurrent_builds(store):
    assert store.executor.max_workers == max(1, (os.cpu_count() or 2) // 2)  # the default
    store.executor.max_workers = 1
    big = store.service.submit_specification("default", spec("first", "csj-bigdata"))
    small = store.service.submit_specification("default", spec("second", "alpha"))
    _wait_for_log_line(store, big.id, "installing")
    assert store.service.get_build(small.id).status == BuildStatus.QUEUED
    assert wait(store, small).status == BuildStatus.COMPLETED
    assert wait(store, big).status == BuildStatus.COMPLETED
    first, second = store.service.get_build(big.id), store.service.get_build(small.id)
    assert second.started_on >= first.ended_on


def test_log_is_readable_from_an_offset_while_the_build_runs(store):
    build = store.service.submit_specification("default", spec("logged", "csj-bigdata"))
    chunks, offset = [], 0
    while store.service.get_build(build.id).status in (BuildStatus.QUEUED, BuildStatus.BUILDING):
        data, offset = store.service.read_log(build.id, offset)
        chunks.append(data)
        time.sleep(0.01)
    data, offset = store.service.read_log(build.id, offset)
    chunks.append(data)
    text = b"".join(chunks).decode()
    assert text == store.log(build.id)  # every byte exactly once, in order
    assert sum(1 for chunk in chunks if chunk) > 1  # read in pieces as it was written
    assert all(chunk.endswith(b"\n") for chunk in chunks if chunk)  # whole lines only
    with pytest.raises(SpecError):
        store.service.read_log(build.id, -1)
    with pytest.raises(NotFound):
        store.service.read_log(999_999)


def test_namespaces(store):
    service = store.service
    service.create_namespace("team-a")
    with pytest.raises(Conflict, match="already exists"):
        service.create_namespace("team-a")
    with pytest.raises(SpecError, match="namespace name"):
        service.create_namespace("../etc")
    build = wait(store, service.submit_specification("team-a", spec("tool", "alpha")))
    assert [n.name for n in service.list_namespaces()] == ["team-a"]
    assert [e.name for e in service.list_environments(namespace="team-a")] == ["tool"]
    service.delete_namespace("team-a")
    assert service.list_namespaces() == []
    assert not store.prefix(build).exists()
    assert not store.link("team-a", "tool").exists()
    with pytest.raises(NotFound):
        service.get_namespace("team-a")
    service.create_namespace("team-a")  # the name is free again


def test_stopping_right_after_a_build_completes_keeps_it(store):
    """The executor may not have reaped a finished build process when the server stops: the
    completed build must survive that (it once had its prefix removed)."""
    service = store.service
    for index in range(3):
        build = service.submit_specification("default", spec(f"quick{index}", "alpha"))
        wait_until(
            lambda build=build: service.get_build(build.id).status == BuildStatus.COMPLETED,
            interval=0.001,
        )
        store.stop_executor()
        done = service.get_build(build.id)
        assert done.status == BuildStatus.COMPLETED
        assert installed(store.prefix(done)) == {"alpha": "2.0"}
        store.start_executor()


def test_two_clients_create_the_same_new_environment_at_once(store):
    from concurrent.futures import ThreadPoolExecutor

    def submit(index: int) -> int:
        return store.service.submit_specification("brand-new", spec("together", "alpha")).id

    for _ in range(3):
        with ThreadPoolExecutor(4) as pool:
            ids = set(pool.map(submit, range(4)))
        assert len(ids) == 1  # one environment, one build, no error
        store.service.delete_namespace("brand-new")
