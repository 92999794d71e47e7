"""A shared deployment, for real: PostgreSQL, Redis, two `jupyter conda-store` servers and
`jupyter conda-store worker` processes with different host names, on one store, started with
the configuration file and the commands of the README's "Shared deployment" section.

Worker and server processes are killed as an operator (or a power cut) would kill them, and the
state is read back over HTTP as a user would read it."""

from __future__ import annotations

import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conda_store_jupyter.config import CondaStore

from .servers import PrivateRedis, StandaloneServer, Worker, build_log_ended
from .test_server_crash import _alive

FINAL = {"COMPLETED", "FAILED", "CANCELED"}
STALE_AFTER = 4.0


class Deployment:
    """One shared store: its configuration file (the README's), servers and workers."""

    def __init__(self, workdir: Path, database_url: str, broker_url: str, channel: str):
        self.workdir = workdir
        self.store_dir = workdir / "store"
        self.queue = f"csj-test-{secrets.token_hex(4)}"
        self.broker_url = broker_url
        self.database_url = database_url
        self.servers: list[StandaloneServer] = []
        self.workers: list[Worker] = []
        (workdir / "jupyter_conda_store_config.py").write_text(
            f'c.CondaStore.executor = "celery"\n'
            f"c.CondaStore.celery_broker_url = {broker_url!r}\n"
            f"c.CondaStore.database_url = {database_url!r}\n"
            f"c.CondaStore.store_dir = {str(self.store_dir)!r}\n"
            f"c.CondaStore.channels = [{channel!r}]\n"
            f"c.CeleryExecutor.queue = {self.queue!r}\n"
            f"c.CeleryExecutor.stale_after = {STALE_AFTER}\n"
            "c.CeleryExecutor.heartbeat_interval = 0.5\n"
        )

    def start(
        self, servers: int = 1, workers: tuple[str, ...] = ()
    ) -> tuple[list[StandaloneServer], list[Worker]]:
        """Servers and workers (by host name) started at once, as machines booting would."""
        started = [StandaloneServer(self.workdir).launch() for _ in range(servers)]
        self.servers += started
        hired = [Worker(self.workdir, hostname).launch() for hostname in workers]
        self.workers += hired
        for process in (*started, *hired):
            process.wait_ready()
        return started, hired

    def server(self) -> StandaloneServer:
        server = StandaloneServer(self.workdir).start()
        self.servers.append(server)
        return server

    def worker(self, hostname: str, concurrency: int = 1) -> Worker:
        worker = Worker(self.workdir, hostname, concurrency=concurrency).start()
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.kill()
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.stop()


@pytest.fixture
def deployment(tmp_path, pg_database_url, redis_url, local_channel) -> Iterator[Deployment]:
    import redis

    deployment = Deployment(tmp_path, pg_database_url, redis_url, local_channel)
    try:
        yield deployment
    finally:
        deployment.close()
        client = redis.Redis.from_url(redis_url)
        client.delete(deployment.queue)
        client.close()


def submit(server: StandaloneServer, name: str, *dependencies: str, namespace="default") -> int:
    text = yaml.safe_dump({"name": name, "dependencies": list(dependencies)})
    answer = server.call("POST", "specification/", {"namespace": namespace, "specification": text})
    return answer["data"]["build_id"]


def build_of(server: StandaloneServer, build_id: int) -> dict:
    return server.get(f"build/{build_id}/")["data"]


def wait_final(server: StandaloneServer, build_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (build := build_of(server, build_id))["status"] not in FINAL:
        assert time.monotonic() < deadline, f"build {build_id} is still {build['status']}"
        time.sleep(0.1)
    return build


def wait_for(predicate, timeout: float = 60, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)
    return value


def log_of(deployment: Deployment, build_id: int) -> str:
    path = deployment.store_dir / ".artifacts" / str(build_id) / "build.log"
    return path.read_text() if path.exists() else ""


def build_pid(deployment: Deployment, build_id: int) -> int:
    """The build process's pid, once its build is installing."""
    log = wait_for(lambda: "installing" in (text := log_of(deployment, build_id)) and text)
    return int(re.search(r", pid (\d+)", log).group(1))


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"executor": "celery"}, "CondaStore.celery_broker_url is not set"),
        (
            {"executor": "celery", "celery_broker_url": "redis://127.0.0.1:6379/0"},
            "CondaStore.database_url is SQLite",
        ),
    ],
)
def test_celery_without_a_broker_or_with_sqlite_is_refused_at_start(tmp_path, settings, said):
    config = CondaStore(store_dir=str(tmp_path / "store"), **settings)
    assert said in config.deployment_problem()
    args = [f"--CondaStore.store_dir={tmp_path / 'store'}"] + [
        f"--CondaStore.{key}={value}" for key, value in settings.items()
    ]
    server = StandaloneServer(tmp_path, *args)
    with pytest.raises(RuntimeError, match="exited") as failure:
        server.start()
    assert said in str(failure.value)
    assert server.process.wait(10) == 1
    worker = Worker(tmp_path, "w@nowhere", *args)
    with pytest.raises(RuntimeError, match="exited") as failure:
        worker.start()
    assert said in str(failure.value)
    assert worker.process.wait(10) == 1


# -- builds over two servers and two workers ---------------------------------------------------
def test_eight_builds_from_two_servers_are_built_once_over_two_workers(deployment):
    (first, second), _ = deployment.start(2, ("w1@fakehost-a", "w2@fakehost-b"))
    # Eight environments, submitted at once through both servers; each build lasts long enough
    # (its own copy of the 40 MiB package is linked) that one worker cannot take them all.
    with ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(
                lambda i: submit((first, second)[i % 2], f"env-{i}", "alpha", "csj-bigdata"),
                range(8),
            )
        )
    builds = [wait_final((second, first)[i % 2], build_id) for i, build_id in enumerate(ids)]
    assert [build["status"] for build in builds] == ["COMPLETED"] * 8
    hosts = {build["worker"].rpartition(":")[0] for build in builds}
    assert hosts == {"w1@fakehost-a", "w2@fakehost-b"}
    for build in builds:
        path = deployment.store_dir / ".artifacts" / str(build["id"]) / "build.log"
        wait_for(lambda path=path: build_log_ended(path))  # its envs/<name> link set too
        # Built once: one claim, and the log of one run, naming the worker in the API record.
        log = log_of(deployment, build["id"])
        assert log.count("starting build") == 1
        assert f"for worker {build['worker']}\n" in log
    # Both servers see every build, the same.
    listed = {
        server.url: sorted(b["id"] for b in server.get("build/?size=100")["data"])
        for server in (first, second)
    }
    assert list(listed.values()) == [sorted(ids)] * 2
    for build_id in ids:
        assert build_of(first, build_id) == build_of(second, build_id)
    for i in range(8):
        environment = second.get(f"environment/default/env-{i}/")["data"]
        assert environment["current_build_id"] == ids[i]
        link = deployment.store_dir / "default" / "envs" / f"env-{i}"
        assert (link.resolve() / "share" / "csj-bigdata").is_dir()


def test_two_clients_submitting_to_one_environment_through_two_servers(deployment):
    (first, second), _ = deployment.start(2, ("w1@fakehost-a",))
    barrier = threading.Barrier(2)

    def client(server: StandaloneServer) -> int:
        barrier.wait()
        return submit(server, "together", "alpha")

    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            ids = set(pool.map(client, (first, second)))
        assert len(ids) == 1  # one environment, one build, no error
        assert wait_final(first, ids.pop())["status"] == "COMPLETED"
    assert len(first.get("environment/?name=together")["data"]) == 1


def test_live_log_through_a_server_that_did_not_queue_the_build(deployment):
    (first, second), _ = deployment.start(2, ("w1@fakehost-a",))
    build_id = submit(first, "streamed", "alpha", "csj-bigdata")
    events = []
    for line in second.stream(f"build/{build_id}/logs/stream/"):
        events.append(line)
        if line.startswith("event: end"):
            break
    text = "\n".join(events)
    assert re.search(r"data: .*starting build .*, for worker w1@fakehost-a:\d+", text)
    assert 'data: {"status": "BUILDING"}' in text
    assert re.search(r"data: .*installing \d+ packages", text)
    assert events[-1] == "event: end"
    assert re.search(r"data: .*envs/streamed now points at", text)


# -- whatever dies ------------------------------------------------------------------------------
def test_worker_killed_mid_install_ends_its_build_and_the_other_worker_goes_on(deployment):
    (server,), (doomed_worker,) = deployment.start(1, ("w1@fakehost-a",))
    good = wait_final(server, submit(server, "env", "alpha"))
    assert good["status"] == "COMPLETED"
    build_id = submit(server, "env", "alpha", "csj-bigdata")
    pid = build_pid(deployment, build_id)
    assert build_of(server, build_id)["worker"].startswith("w1@fakehost-a:")

    killed_at = time.monotonic()
    doomed_worker.process.send_signal(signal.SIGKILL)
    doomed_worker.process.wait(10)
    # The build process goes with its worker (through the worker's build launcher).
    wait_for(lambda: not _alive(pid), timeout=10)
    # Nobody else runs: the server (the maintenance leader now) ends the build on its own.
    failed = wait_final(server, build_id, timeout=STALE_AFTER + 10)
    ended_after = time.monotonic() - killed_at
    assert failed["status"] == "FAILED"
    assert ended_after < STALE_AFTER + 5
    assert "w1@fakehost-a" in failed["status_info"]
    log = deployment.store_dir / ".artifacts" / str(build_id) / "build.log"
    wait_for(lambda: build_log_ended(log), timeout=10)  # its end complete on disk
    # The environment answers with its previous build; its link resolves to a complete prefix.
    environment = server.get("environment/default/env/")["data"]
    assert environment["current_build_id"] == good["id"]
    link = deployment.store_dir / "default" / "envs" / "env"
    assert (link.resolve() / "conda-meta").is_dir()
    assert not (link.resolve() / "share" / "csj-bigdata").exists()
    # The partial prefix is gone, and the log says what happened.
    assert not list((deployment.store_dir / "default").glob(f"*-{build_id}-env"))
    assert "partial prefix removed" in log_of(deployment, build_id)

    # Another worker builds the next one.
    deployment.worker("w2@fakehost-b")
    again = wait_final(server, submit(server, "env", "alpha", "csj-bigdata"))
    assert again["status"] == "COMPLETED" and again["worker"].startswith("w2@fakehost-b:")


def test_cancel_through_the_other_server_stops_the_build_on_its_worker(deployment):
    (first, second), _ = deployment.start(2, ("w1@fakehost-a",))
    build_id = submit(first, "env", "alpha", "csj-bigdata")
    pid = build_pid(deployment, build_id)
    canceled_at = time.monotonic()
    second.call("PUT", f"build/{build_id}/cancel/")
    wait_for(lambda: not _alive(pid), timeout=5)
    assert time.monotonic() - canceled_at < 2.0
    build = wait_final(first, build_id)
    assert build["status"] == "CANCELED"
    wait_for(lambda: "partial prefix removed" in log_of(deployment, build_id), timeout=10)
    assert not list((deployment.store_dir / "default").glob(f"*-{build_id}-env"))
    # The worker is free again.
    assert wait_final(second, submit(second, "env", "alpha"))["status"] == "COMPLETED"


def test_worker_machine_vanishing_then_coming_back_changes_nothing(deployment):
    """A machine cut off (all its processes frozen): its build is failed after `stale_after`;
    when it comes back, its build process finds the build taken over and stops at once."""
    (server,), (worker,) = deployment.start(1, ("w1@fakehost-a",))
    build_id = submit(server, "env", "alpha", "csj-bigdata")
    pid = build_pid(deployment, build_id)
    frozen = [worker.pid, pid]
    for process in frozen:
        os.kill(process, signal.SIGSTOP)
    try:
        failed = wait_final(server, build_id, timeout=STALE_AFTER + 10)
        assert failed["status"] == "FAILED"
        log_after = log_of(deployment, build_id)
    finally:
        for process in frozen:
            os.kill(process, signal.SIGCONT)
    wait_for(lambda: not _alive(pid), timeout=10)  # fenced
    after = build_of(server, build_id)
    assert (after["status"], after["status_info"], after["ended_on"]) == (
        failed["status"],
        failed["status_info"],
        failed["ended_on"],
    )
    assert log_of(deployment, build_id) == log_after
    assert not (deployment.store_dir / "default" / "envs" / "env").exists()  # none completed
    # The worker itself goes on building.
    assert wait_final(server, submit(server, "env", "alpha"))["status"] == "COMPLETED"


def test_redis_restarted_with_builds_queued_loses_none(tmp_path, pg_database_url, local_channel):
    redis_server = PrivateRedis(tmp_path).start()
    deployment = Deployment(tmp_path, pg_database_url, redis_server.url, local_channel)
    try:
        (server,), (worker,) = deployment.start(1, ("w1@fakehost-a",))
        # One build runs; three wait behind it, their messages in Redis.
        running = submit(server, "first", "alpha", "csj-bigdata")
        build_pid(deployment, running)
        queued = [submit(server, f"queued-{i}", "alpha") for i in range(3)]
        assert all(build_of(server, i)["status"] == "QUEUED" for i in queued)
        redis_server.restart()  # empty: every message is gone
        builds = [wait_final(server, i, timeout=120) for i in [running, *queued]]
        assert [b["status"] for b in builds] == ["COMPLETED"] * 4
        # And with no worker up at all while Redis restarts, the queued builds wait in the
        # database and are built once a worker comes.
        worker.stop()
        later = [submit(server, f"later-{i}", "alpha") for i in range(2)]
        redis_server.restart()
        deployment.worker("w2@fakehost-b")
        assert [wait_final(server, i)["status"] for i in later] == ["COMPLETED"] * 2
        for build_id in [running, *queued, *later]:
            assert log_of(deployment, build_id).count("starting build") == 1
    finally:
        deployment.close()
        redis_server.stop()


def test_server_killed_while_workers_build(deployment):
    (server,), _ = deployment.start(1, ("w1@fakehost-a",))
    build_id = submit(server, "env", "alpha", "csj-bigdata")
    build_pid(deployment, build_id)
    queued = submit(server, "other", "alpha")
    server.kill()  # SIGKILL: builds live on the workers, not in the server
    restarted = deployment.server()
    assert wait_final(restarted, build_id)["status"] == "COMPLETED"
    assert wait_final(restarted, queued)["status"] == "COMPLETED"


def test_periodic_work_runs_in_exactly_one_process(deployment):
    """Two servers and two workers: one maintenance leader at a time; when it dies, another
    takes over within `stale_after`."""
    import sqlalchemy as sa

    from conda_store_jupyter.db import Lease, open_database

    _, workers = deployment.start(2, ("w1@fakehost-a", "w2@fakehost-b"))
    engine, sessions = open_database(deployment.database_url)
    try:
        with sessions() as session:
            leases = session.scalars(sa.select(Lease)).all()
        assert [lease.name for lease in leases] == ["maintenance"]
        holder = leases[0].holder
        leaders = [
            process
            for process in (*deployment.servers, *workers)
            if f":{process.process.pid}" in holder
        ]
        assert len(leaders) == 1
        leader = leaders[0]
        leader.kill()
        taken_at = time.monotonic()

        def new_holder():
            with sessions() as session:
                lease = session.get(Lease, "maintenance")
                return lease.holder if lease.holder != holder else None

        wait_for(new_holder, timeout=STALE_AFTER + 5)
        assert time.monotonic() - taken_at < STALE_AFTER + 5
    finally:
        engine.dispose()
