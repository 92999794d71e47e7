"""A real `jupyter conda-store` process killed with SIGKILL in the middle of a build, restarted:
every environment is on a complete build and no partial prefix is left."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import yaml

from conda_store_jupyter.config import CondaStore
from conda_store_jupyter.db import BuildStatus, open_database
from conda_store_jupyter.service import CondaStoreService

from .servers import StandaloneServer
from .test_gc import age_package_cache


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _parent_pid(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def _store(tmp_path: Path, local_channel: str):
    """(the store's directory, the server's arguments, and a client of the same store: an
    engine and a service on the same database and directory)."""
    store_dir = tmp_path / "store"
    args = (
        f"--CondaStore.store_dir={store_dir}",
        f"--CondaStore.channels={local_channel}",
        "--BuildExecutor.poll_interval=0.1",
    )
    config = CondaStore(store_dir=str(store_dir), channels=[local_channel])
    engine, sessions = open_database(config.database_url)
    return store_dir, args, engine, CondaStoreService(config, sessions)


def _start_long_build(service: CondaStoreService, store_dir: Path):
    """Submit a build of default/env with a large package; return it and its process id once it
    is installing."""
    build = service.submit_specification(
        "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha", "csj-bigdata"]})
    )
    log = store_dir / ".artifacts" / str(build.id) / "build.log"
    _wait(lambda: log.exists() and "installing" in log.read_text())
    return build, int(re.search(r", pid (\d+)", log.read_text()).group(1))


def _wait(predicate, timeout: float = 120, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def test_server_killed_mid_build_then_restarted(tmp_path, local_channel):
    store_dir, args, engine, service = _store(tmp_path, local_channel)
    server = StandaloneServer(tmp_path, *args).start()
    try:
        good = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha"]})
        )
        good = service.wait_for_build(good.id, timeout=120)
        assert good.status == BuildStatus.COMPLETED

        doomed, build_pid = _start_long_build(service, store_dir)
        # The build runs in a child of the build launcher (a clean process with the build code
        # imported), not of the server, whose __main__ every child would otherwise re-import.
        launcher_pid = _parent_pid(build_pid)
        assert "conda_store_jupyter.launcher" in _cmdline(launcher_pid)
        assert _parent_pid(launcher_pid) == server.process.pid
        server.kill()
        # Nothing outlives the server: the launcher and the build go with it.
        _wait(lambda: not _alive(build_pid) and not _alive(launcher_pid), timeout=10)

        prefix = store_dir / "default" / service.get_build(doomed.id).build_dir
        link = store_dir / "default" / "envs" / "env"
        assert service.get_build(doomed.id).status == BuildStatus.BUILDING  # as the crash left it

        server = StandaloneServer(tmp_path, *args).start()
        recovered = service.get_build(doomed.id)
        assert recovered.status == BuildStatus.FAILED
        assert "process building it stopped" in recovered.status_info
        time.sleep(1)  # an orphaned build process, had one survived, would write again by now
        assert not prefix.exists()
        assert link.resolve() == (store_dir / "default" / good.build_dir).resolve()
        assert service.get_environment("default", "env").current_build_id == good.id

        # The restarted server builds again.
        again = service.wait_for_build(service.rebuild(doomed.id).id, timeout=120)
        assert again.status == BuildStatus.COMPLETED
    finally:
        server.stop()
        engine.dispose()


def test_build_launcher_killed_mid_build(tmp_path, local_channel):
    """The process that forks builds dies (OOM killer, a stray kill): the build it was running
    fails with the reason, its prefix goes, and the next build gets a new launcher."""
    store_dir, args, engine, service = _store(tmp_path, local_channel)
    server = StandaloneServer(tmp_path, *args).start()
    try:
        doomed, build_pid = _start_long_build(service, store_dir)
        os.kill(_parent_pid(build_pid), signal.SIGKILL)  # the launcher

        _wait(lambda: service.get_build(doomed.id).status == BuildStatus.FAILED, timeout=30)
        assert "died" in service.get_build(doomed.id).status_info
        _wait(lambda: not _alive(build_pid), timeout=10)
        assert not (store_dir / "default" / service.get_build(doomed.id).build_dir).exists()

        again = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha"]})
        )
        assert service.wait_for_build(again.id, timeout=120).status == BuildStatus.COMPLETED
        assert service.get_environment("default", "env").current_build_id == again.id
    finally:
        server.stop()
        engine.dispose()


def test_server_killed_mid_restore_then_restarted(tmp_path, local_channel):
    """A restore (a collected build reinstalled from its lock file) cut by a SIGKILL of the
    server: after the restart the build is still collected, says why, left no partial prefix,
    and the environment stays on its current build; the next restore completes."""
    store_dir, args, engine, service = _store(tmp_path, local_channel)
    server = StandaloneServer(tmp_path, *args).start()
    try:
        big = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha", "csj-bigdata"]})
        )
        assert service.wait_for_build(big.id, timeout=120).status == BuildStatus.COMPLETED
        small = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha"]})
        )
        assert service.wait_for_build(small.id, timeout=120).status == BuildStatus.COMPLETED
        age_package_cache(store_dir)  # so the large package leaves the cache too: a slow restore
        report = service.collector(keep_builds=1).run()
        assert [b.build_id for b in report.builds] == [big.id]
        prefix = store_dir / "default" / service.get_build(big.id).build_dir
        assert not prefix.exists()

        service.restore_build(big.id)
        log = store_dir / ".artifacts" / str(big.id) / "build.log"
        restoring = f"restoring build {big.id}"

        def restore_pid() -> int | None:
            text = log.read_text()
            if restoring not in text or "installing" not in text.rpartition(restoring)[2]:
                return None
            return int(re.findall(r", pid (\d+)", text)[-1])

        _wait(lambda: restore_pid() is not None)
        build_pid = restore_pid()
        server.kill()
        _wait(lambda: not _alive(build_pid), timeout=10)

        server = StandaloneServer(tmp_path, *args).start()
        ended = service.get_build(big.id)
        assert ended.status == BuildStatus.COMPLETED and ended.collected_on is not None
        assert "restore ended" in ended.status_info, ended.status_info
        time.sleep(1)  # an orphaned build process, had one survived, would write again by now
        assert not prefix.exists()
        assert service.get_environment("default", "env").current_build_id == small.id
        link = store_dir / "default" / "envs" / "env"
        assert link.resolve() == (store_dir / "default" / small.build_dir).resolve()

        service.restore_build(big.id)
        restored = service.wait_for_build(big.id, timeout=120)
        assert restored.status == BuildStatus.COMPLETED and restored.collected_on is None
        assert (prefix / "share" / "csj-bigdata").is_dir()
    finally:
        server.stop()
        engine.dispose()
