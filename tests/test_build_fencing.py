"""A build process whose build was taken over is fenced: it changes nothing in the database or
the store. The takeover is real: a build process claimed and started the way a worker on another
machine would, frozen (SIGSTOP: a machine cut off, a process swapped out), a real server that
recovers it after `stale_after`, then the frozen process resumed."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time

import yaml

from conda_store_jupyter.config import CondaStore
from conda_store_jupyter.db import Build, BuildStatus, claim_next_build, open_database
from conda_store_jupyter.service import CondaStoreService, build_settings

from .servers import StandaloneServer
from .test_server_crash import _alive, _cmdline, _wait

# A build process as a worker starts one: its own process group, its build id, settings, claim.
_WORKER = (
    "import json, pickle, sys\n"
    "from conda_store_jupyter.build import run_build\n"
    "settings = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
    "run_build(int(sys.argv[2]), settings, sys.argv[3])\n"
)


def test_build_taken_over_while_frozen_changes_nothing_when_it_resumes(tmp_path, local_channel):
    store_dir = tmp_path / "store"
    config = CondaStore(store_dir=str(store_dir), channels=[local_channel])
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    server_args = (
        f"--CondaStore.store_dir={store_dir}",
        f"--CondaStore.channels={local_channel}",
        "--BuildExecutor.poll_interval=0.1",
        "--BuildExecutor.stale_after=2",
    )
    server = StandaloneServer(tmp_path, *server_args).start()
    orphan = None
    try:
        good = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha"]})
        )
        good = service.wait_for_build(good.id, timeout=120)
        assert good.status == BuildStatus.COMPLETED
        server.stop()

        # "Another machine" claims the next build and runs it.
        doomed = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha", "csj-bigdata"]})
        )
        with sessions() as session:
            claimed = claim_next_build(session, "elsewhere:4242")
        assert claimed.id == doomed.id
        settings = dataclasses.replace(
            build_settings(config), heartbeat_interval=0.2, stale_after=2.0
        )
        import pickle

        orphan = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                pickle.dumps(settings).hex(),
                str(doomed.id),
                claimed.claim,
            ],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        log = store_dir / ".artifacts" / str(doomed.id) / "build.log"
        _wait(lambda: log.exists() and "installing" in log.read_text())
        os.killpg(orphan.pid, signal.SIGSTOP)  # frozen mid-install: no heartbeat any more

        time.sleep(2.5)  # its heartbeat is older than stale_after now
        server = StandaloneServer(tmp_path, *server_args).start()
        failed = service.get_build(doomed.id)
        assert failed.status == BuildStatus.FAILED
        assert "elsewhere:4242" in failed.status_info
        log_after_takeover = log.read_bytes()
        prefix = store_dir / "default" / failed.build_dir
        link = store_dir / "default" / "envs" / "env"

        os.killpg(orphan.pid, signal.SIGCONT)
        # It finds its claim gone and stops at once, its whole process group with it.
        assert orphan.wait(30) == -signal.SIGKILL, orphan.stderr.read().decode()

        # Nothing it did after the takeover reached the database or the store.
        after = service.get_build(doomed.id)
        assert (after.status, after.status_info, after.ended_on) == (
            failed.status,
            failed.status_info,
            failed.ended_on,
        )
        assert log.read_bytes() == log_after_takeover
        environment = service.get_environment("default", "env")
        assert environment.current_build_id == good.id
        assert link.resolve() == (store_dir / "default" / good.build_dir).resolve()
        assert not after.build_artifacts and not service.get_build(after.id, packages=True).packages
        # Whatever it wrote into its prefix between resuming and the fence is swept.
        _wait(lambda: not prefix.exists(), timeout=30)

        # And the server goes on building.
        again = service.wait_for_build(service.rebuild(doomed.id).id, timeout=120)
        assert again.status == BuildStatus.COMPLETED
        assert service.get_environment("default", "env").current_build_id == again.id
    finally:
        if orphan is not None and orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
            orphan.wait()
        server.stop()
        engine.dispose()


def test_recovery_leaves_a_build_completed_by_its_process_alone(tmp_path, local_channel):
    """The other order: the build's process completes it before recovery looks; the recovery's
    conditional change then does nothing, and the prefix and link stay."""
    store_dir = tmp_path / "store"
    config = CondaStore(store_dir=str(store_dir), channels=[local_channel])
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    server = None
    try:
        build = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha"]})
        )
        with sessions() as session:
            claimed = claim_next_build(session, "elsewhere:4242")
        settings = dataclasses.replace(build_settings(config), heartbeat_interval=0.2)
        import pickle

        worker = subprocess.run(
            [
                sys.executable,
                "-c",
                _WORKER,
                pickle.dumps(settings).hex(),
                str(build.id),
                claimed.claim,
            ],
            start_new_session=True,
            capture_output=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr.decode()
        # Its heartbeat is old by now, as if the worker had vanished right after completing.
        with sessions() as session, session.begin():
            row = session.get(Build, build.id)
            row.heartbeat_on = row.heartbeat_on.replace(year=2000)
        server = StandaloneServer(
            tmp_path,
            f"--CondaStore.store_dir={store_dir}",
            f"--CondaStore.channels={local_channel}",
            "--BuildExecutor.stale_after=2",
        ).start()
        done = service.get_build(build.id)
        assert done.status == BuildStatus.COMPLETED
        assert (store_dir / "default" / done.build_dir / "conda-meta").is_dir()
        assert service.get_environment("default", "env").current_build_id == build.id
        assert (
            json.loads(json.dumps(server.get(f"build/{build.id}/")))["data"]["status"]
            == "COMPLETED"
        )
    finally:
        if server is not None:
            server.stop()
        engine.dispose()


def test_no_build_process_outlives_a_killed_server(tmp_path, local_channel):
    """SIGKILL of the server mid-build: the launcher, the build and what the build started are
    all gone, and the next server fails the build and removes its prefix."""
    store_dir = tmp_path / "store"
    config = CondaStore(store_dir=str(store_dir), channels=[local_channel])
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    args = (
        f"--CondaStore.store_dir={store_dir}",
        f"--CondaStore.channels={local_channel}",
        "--BuildExecutor.poll_interval=0.1",
    )
    server = StandaloneServer(tmp_path, *args).start()
    try:
        build = service.submit_specification(
            "default", yaml.safe_dump({"name": "env", "dependencies": ["alpha", "csj-bigdata"]})
        )
        log = store_dir / ".artifacts" / str(build.id) / "build.log"
        _wait(lambda: log.exists() and "installing" in log.read_text())
        descendants = _descendants(server.process.pid)
        assert len(descendants) >= 2  # the launcher and the build, at least
        server.kill()
        _wait(lambda: not any(_alive(pid) for pid in descendants), timeout=10)
        size = log.stat().st_size
        time.sleep(1)
        assert log.stat().st_size == size  # nobody writes its log any more

        server = StandaloneServer(tmp_path, *args).start()
        failed = service.get_build(build.id)
        assert failed.status == BuildStatus.FAILED
        assert not (store_dir / "default" / failed.build_dir).exists()
    finally:
        server.stop()
        engine.dispose()


def test_a_killed_server_takes_uv_with_it(tmp_path, local_channel):
    """The build's own subprocesses (uv, here waiting on a pip index that never answers) die
    with it when the server is killed: none is left writing into a prefix nobody owns."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepted by the kernel, never answered: uv waits
    port = listener.getsockname()[1]
    store_dir = tmp_path / "store"
    config = CondaStore(
        store_dir=str(store_dir),
        channels=[local_channel],
        pip_allowed_hosts=[f"127.0.0.1:{port}"],
    )
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    server = StandaloneServer(
        tmp_path,
        f"--CondaStore.store_dir={store_dir}",
        f"--CondaStore.channels={local_channel}",
        f"--CondaStore.pip_allowed_hosts=['127.0.0.1:{port}']",
        "--BuildExecutor.poll_interval=0.1",
    ).start()
    try:
        service.submit_specification(
            "default",
            yaml.safe_dump(
                {
                    "name": "env",
                    "dependencies": [
                        "python",
                        {"pip": [f"hang @ http://127.0.0.1:{port}/hang-1.0-py3-none-any.whl"]},
                    ],
                }
            ),
        )

        def uv_running() -> list[int]:
            return [
                pid
                for pid in _descendants(server.process.pid)
                if _alive(pid) and "uv" in _cmdline(pid).split(" ", 1)[0].rsplit("/", 1)[-1]
            ]

        _wait(lambda: uv_running(), timeout=60)
        everything = _descendants(server.process.pid)
        server.kill()
        _wait(lambda: not any(_alive(pid) for pid in everything), timeout=10)
    finally:
        listener.close()
        if server.process.poll() is None:
            server.stop()
        engine.dispose()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            parent = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
