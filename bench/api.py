"""Benchmark of the REST API on a large store (issue: list/get/POST latency, list throughput).
Prints tables; compares with the service layer and raw SQL in-process in the same run.

    python bench/api.py [--environments 10000] [--builds-per-env 5] [--packages 10]
                        [--requests 300] [--clients 16] [--duration 10] [--postgres URL] [--profile]
                        [--server-gc default|freeze]

A fresh store (SQLite under a temp dir, or a fresh schema of --postgres, dropped afterwards) is
created through the product's open_database (Alembic: the real indexes), then filled with bulk
inserts: 100 namespaces, --environments environments, --builds-per-env builds each (statuses
mixed; the last COMPLETED one is current), one specification per build, artifacts (4 per
completed build, the log for the others), --packages packages per completed build. A real
`jupyter conda-store` process serves it with BuildExecutor.max_workers = 0 and a channel that
does not exist, so POSTed specifications are only queued: POST latency is the request's, not a
build's.

(a) sequential HTTP latency (one keep-alive connection, aiohttp): median and p99 of
    GET environment/ (first page of 100), a filtered page (?namespace=ns-42&search=env-1),
    the last page (deep OFFSET), GET build/<random id>/ and POST specification/ (new names);
(b) the same lists in-process: CondaStoreService.page_environments alone, plus environment_json +
    json.dumps, and the raw SQL (count + page joined with namespace and current build +
    artifacts IN), with SQL statements per call;
(c) --clients concurrent clients on GET environment/ for --duration s: requests/second;
(d) query plans of the statements the list issues, and (if the goal of 50 ms p99 for the list
    is missed, or with --profile) a cProfile of the in-process list.

Every table also shows CPU time per request (the server's, from /proc; this process's for (b)),
which other processes on the machine inflate less than wall-clock p99s, and the full (gen-2)
garbage collections in that window: how many, the longest pause (wall, and in brackets the
collector thread's CPU time: a long wall pause with a short CPU time was another process holding
the core) and the objects they freed (recorded by gc.callbacks, installed in the server through
its config file).
--server-gc freeze patches, again through the config file, gc.collect() + gc.freeze() after the
extension starts: the change proposed for CondaStoreApp, measured without editing it.

Population takes ~15 s on SQLite and ~25 s on PostgreSQL at the default sizes (10 packages per
completed build: ~325,000 build_package rows; all 5 x 10,000 builds with packages would double it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import hashlib
import io
import json
import os
import pstats
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlalchemy import insert, update

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from conda_store_jupyter import db as orm
from conda_store_jupyter.auth import Caller
from conda_store_jupyter.config import CondaStore
from conda_store_jupyter.service import CondaStoreService, Page
from conda_store_jupyter.store import StoreLayout
from tests.servers import StandaloneServer

GOAL_MS = 50.0
NAMESPACES = 100
FILTER = {"namespace": "ns-42", "search": "env-1"}
ADMIN = {"*/*": ["admin"]}
# Environments created by the POST tests sort after ns-*: page 1 stays the populated data.
POST_NAMESPACE = "zz-bench-post"
INPROCESS_NAMESPACE = "zz-bench-inprocess"
GC_PAUSE_MS = 5.0  # collections recorded: every gen-2 one, and any other this long
CHUNK = 20_000  # rows per bulk insert: bounded memory


from _tables import table


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def ms(samples: list[float]) -> tuple[str, str]:
    return f"{statistics.median(samples) * 1000:.1f}", f"{p99(samples) * 1000:.1f}"


# -- the database ----------------------------------------------------------------------------
class Database:
    """A fresh database: a SQLite file under `work`, or a schema of its own in --postgres."""

    def __init__(self, work: Path, postgres: str | None):
        self.schema: str | None = None
        self.admin: sa.Engine | None = None
        if postgres:
            self.schema = f"csj_bench_{secrets.token_hex(6)}"
            self.admin = sa.create_engine(postgres, connect_args={"connect_timeout": 5})
            with self.admin.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
            url = sa.make_url(postgres).update_query_dict(
                {"options": f"-csearch_path={self.schema}"}
            )
            self.url = url.render_as_string(hide_password=False)
            self.label = f"PostgreSQL (schema {self.schema})"
        else:
            self.url = f"sqlite:///{work / 'store' / 'conda-store.sqlite'}"
            self.label = "SQLite"
        try:
            self.engine, self.sessions = orm.open_database(self.url)
        except BaseException:
            self._drop_schema()
            raise

    @property
    def postgres(self) -> bool:
        return self.schema is not None

    def close(self) -> None:
        self.engine.dispose()
        self._drop_schema()

    def _drop_schema(self) -> None:
        if self.admin is not None:
            with self.admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{self.schema}" CASCADE')
            self.admin.dispose()


def populate(
    db: Database,
    store_dir: Path,
    environments: int,
    builds_per_env: int,
    packages: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Bulk-insert the store's rows; create the environment links a real store would have.
    Returns row counts, the ids of all builds and the population time."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    base = now - dt.timedelta(days=365)
    counts = {
        name: 0
        for name in (
            "namespace",
            "environment",
            "specification",
            "build",
            "build_artifact",
            "build_package",
        )
    }
    pool = [(f"pkg-{n}", f"{n % 7}.{n % 13}.{n % 5}") for n in range(300)]
    current: dict[int, int] = {}  # environment id -> current build id

    with db.sessions() as session, session.begin():
        session.execute(
            insert(orm.Namespace),
            [
                {
                    "id": n + 1,
                    "name": f"ns-{n}",
                    "metadata_": {},
                    "created_on": base,
                    "deleted_on": None,
                }
                for n in range(NAMESPACES)
            ],
        )
        counts["namespace"] = NAMESPACES
        for start in range(0, environments, CHUNK):
            session.execute(
                insert(orm.Environment),
                [
                    {
                        "id": j + 1,
                        "namespace_id": j % NAMESPACES + 1,
                        "name": f"env-{j}",
                        "description": f"benchmark environment {j}",
                        "current_build_id": None,
                        "created_on": base,
                        "updated_on": base,
                        "deleted_on": None,
                    }
                    for j in range(start, min(environments, start + CHUNK))
                ],
            )
        counts["environment"] = environments

        specs: list[dict] = []
        builds: list[dict] = []
        artifacts: list[dict] = []
        package_rows: list[dict] = []

        def flush(final: bool = False) -> None:
            # Parents before children: specification and build rows before artifacts/packages.
            for model, rows, key in (
                (orm.Specification, specs, "specification"),
                (orm.Build, builds, "build"),
                (orm.BuildArtifact, artifacts, "build_artifact"),
                (orm.BuildPackage, package_rows, "build_package"),
            ):
                if rows and (
                    final or len(rows) >= CHUNK or model in (orm.Specification, orm.Build)
                ):
                    session.execute(insert(model), rows)
                    counts[key] += len(rows)
                    rows.clear()

        build_id = artifact_id = package_id = 0
        for j in range(environments):
            env_name = f"env-{j}"
            for k in range(builds_per_env):
                build_id += 1
                last = k == builds_per_env - 1
                status = (
                    orm.BuildStatus.QUEUED
                    if last and rng.random() < 0.03
                    else rng.choices(
                        [
                            orm.BuildStatus.COMPLETED,
                            orm.BuildStatus.FAILED,
                            orm.BuildStatus.CANCELED,
                        ],
                        [0.65, 0.25, 0.10],
                    )[0]
                )
                dependencies = ["python=3.11", *(name for name, _ in rng.sample(pool, 3))]
                spec = {"name": env_name, "channels": ["conda-forge"], "dependencies": dependencies}
                sha = hashlib.sha256(f"{j}/{k}/{json.dumps(spec)}".encode()).hexdigest()
                scheduled = base + dt.timedelta(seconds=build_id * 60)
                specs.append(
                    {
                        "id": build_id,
                        "name": env_name,
                        "spec": spec,
                        "sha256": sha,
                        "is_lockfile": False,
                        "created_on": scheduled,
                    }
                )
                finished = status != orm.BuildStatus.QUEUED
                build_dir = StoreLayout.build_dir_name(
                    sha, int(scheduled.timestamp()), build_id, env_name
                )
                builds.append(
                    {
                        "id": build_id,
                        "environment_id": j + 1,
                        "specification_id": build_id,
                        "status": status,
                        "status_info": "solve failed: nothing provides pkg-x"
                        if status == orm.BuildStatus.FAILED
                        else None,
                        "scheduled_on": scheduled,
                        "started_on": scheduled + dt.timedelta(seconds=1) if finished else None,
                        "ended_on": scheduled + dt.timedelta(seconds=40) if finished else None,
                        "heartbeat_on": scheduled + dt.timedelta(seconds=39) if finished else None,
                        "worker": "bench:1" if finished else None,
                        "size": rng.randrange(10**7, 10**9)
                        if status == orm.BuildStatus.COMPLETED
                        else 0,
                        "build_dir": build_dir,
                        "deleted_on": None,
                    }
                )
                if finished:
                    kinds = (
                        [
                            orm.BuildArtifactType.LOGS,
                            orm.BuildArtifactType.LOCKFILE,
                            orm.BuildArtifactType.YAML,
                            orm.BuildArtifactType.EXPLICIT,
                        ]
                        if status == orm.BuildStatus.COMPLETED
                        else [orm.BuildArtifactType.LOGS]
                    )
                    for kind in kinds:
                        artifact_id += 1
                        artifacts.append(
                            {
                                "id": artifact_id,
                                "build_id": build_id,
                                "artifact_type": kind,
                                "key": f".artifacts/{build_id}/{kind.value.lower()}",
                                "size": 1000,
                                "created_on": scheduled,
                            }
                        )
                if status == orm.BuildStatus.COMPLETED:
                    current[j + 1] = build_id
                    for name, version in rng.sample(pool, packages):
                        package_id += 1
                        package_rows.append(
                            {
                                "id": package_id,
                                "build_id": build_id,
                                "name": name,
                                "version": version,
                                "build": "h0_0",
                                "build_number": 0,
                                "channel": "https://conda.anaconda.org/conda-forge",
                                "subdir": "linux-64",
                                "url": f"https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-h0_0.conda",
                                "sha256": hashlib.sha256(name.encode()).hexdigest(),
                                "md5": None,
                                "size": 12345,
                                "manager": orm.PackageManager.CONDA,
                            }
                        )
            if len(builds) >= CHUNK // 4:
                flush()
        flush(final=True)

        # environment <-> build is a cycle: point environments at their current build last.
        items = [{"id": env_id, "current_build_id": b} for env_id, b in current.items()]
        for start in range(0, len(items), CHUNK):
            session.execute(update(orm.Environment), items[start : start + CHUNK])
        if db.postgres:
            for name in counts:
                session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                    )
                )
    if db.postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    database_s = time.perf_counter() - started

    # The envs/<name> links a real store has (else the server's start-up reconcile writes them all).
    started = time.perf_counter()
    with db.sessions() as session:
        rows = session.execute(
            sa.select(orm.Namespace.name, orm.Environment.name, orm.Build.build_dir)
            .join(orm.Environment, orm.Environment.namespace_id == orm.Namespace.id)
            .join(orm.Build, orm.Build.id == orm.Environment.current_build_id)
        ).all()
    for namespace, name, build_dir in rows:
        link = store_dir / namespace / "envs" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(Path("..") / build_dir, link)
    return {
        "counts": counts,
        "build_ids": build_id,
        "database_s": database_s,
        "links_s": time.perf_counter() - started,
        "current": len(current),
    }


# -- GC pauses, in the server (through its config file) and here -------------------------------
GC_RECORDER = """
import gc as _gc, time as _time
def _csj_bench_gc(phase, info, _log=open({path!r}, "a", buffering=1), _start=[0.0, 0.0]):
    if phase == "start":
        _start[:] = [_time.perf_counter(), _time.thread_time()]
        return
    # Wall and CPU time of this thread (the collector's): the CPU time is the GC's own work,
    # the wall time also counts the moments other processes had the core.
    pause = (_time.perf_counter() - _start[0]) * 1000
    cpu = (_time.thread_time() - _start[1]) * 1000
    if info["generation"] == 2 or pause >= {threshold}:
        _log.write(f"{{_time.time()}} {{info['generation']}} {{pause:.2f}} {{cpu:.2f}} {{info['collected']}}\\n")
_csj_bench_gc.csj_bench = True
if not any(getattr(callback, "csj_bench", False) for callback in _gc.callbacks):
    _gc.callbacks.append(_csj_bench_gc)
"""


# Patched into CondaStoreApp through the server's config file (no product file is changed):
# log when the extension has started (Jupyter Server starts extensions after it starts answering,
# and start-up reconciles every environment), and with --server-gc freeze do what the proposed
# change would: then collect, and move every object alive to the permanent generation, which full
# collections no longer scan.
START_HOOK = """
import gc as _gc, time as _time
import conda_store_jupyter.app as _app
if not getattr(_app.CondaStoreApp._start_jupyter_server_extension, "csj_bench", False):
    _original_start = _app.CondaStoreApp._start_jupyter_server_extension
    async def _start_and_report(self, serverapp):
        started = _time.perf_counter()
        await _original_start(self, serverapp)
        took = _time.perf_counter() - started
        if {freeze}:
            _gc.collect()
            _gc.freeze()
        self.log.info("bench: extension started in %.2f s; %d objects frozen", took, _gc.get_freeze_count())
    _start_and_report.csj_bench = True
    _app.CondaStoreApp._start_jupyter_server_extension = _start_and_report
"""
STARTED = re.compile(r"bench: extension started in ([0-9.]+) s; ([0-9]+) objects frozen")


class GcLog:
    """Garbage collections a process recorded (every gen-2 one, and any pause >= GC_PAUSE_MS)."""

    def __init__(self, path: Path):
        self.path = path
        path.touch()

    def source(self) -> str:
        return GC_RECORDER.format(path=str(self.path), threshold=GC_PAUSE_MS)

    def install_here(self) -> None:
        exec(self.source(), {})

    def summary(self, start: float, end: float) -> str:
        """'gen-2 collections / longest pause ms (its CPU ms) / objects they freed' between two
        time.time() values."""
        events = []
        for line in self.path.read_text().splitlines():
            when, generation, pause, cpu, collected = line.split()
            if start <= float(when) <= end:
                events.append((int(generation), float(pause), float(cpu), int(collected)))
        gen2 = [event for event in events if event[0] == 2]
        _, pause, cpu, _ = max(events, key=lambda event: event[1], default=(0, 0.0, 0.0, 0))
        return f"{len(gen2)} / {pause:.0f} ({cpu:.0f}) / {sum(event[3] for event in gen2):,}"


# -- the server ------------------------------------------------------------------------------
def start_server(
    work: Path, db: Database, store_dir: Path, gc_log: GcLog, freeze: bool
) -> tuple[StandaloneServer, dict[str, Any]]:
    (work / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.store_dir = {str(store_dir)!r}\n"
        f"c.CondaStore.database_url = {db.url!r}\n"
        f"c.CondaStore.role_bindings = {ADMIN!r}\n"
        # Never built: no worker claims a build, and the channel does not exist anyway.
        f"c.CondaStore.channels = {[(work / 'no-such-channel').as_uri()]!r}\n"
        "c.BuildExecutor.max_workers = 0\n" + gc_log.source() + START_HOOK.format(freeze=freeze)
    )
    started = time.perf_counter()
    server = StandaloneServer(work)
    try:
        server.start(timeout=180)
        answering = time.perf_counter() - started
        # Measure only once the extension has started: its start-up work (and the freeze) done.
        deadline = time.monotonic() + 300
        while not (found := STARTED.search(server.read_output())):
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise RuntimeError(f"the extension did not start:\n{server.read_output()[-3000:]}")
            time.sleep(0.1)
    except BaseException:
        if server.process is not None and server.process.poll() is None:
            server.kill()  # start() gave up waiting but the process lives: end it
        raise
    return server, {
        "answering_s": answering,
        "extension_s": float(found[1]),
        "frozen": int(found[2]),
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop_server(server: StandaloneServer) -> None:
    try:
        output = server.stop()
    except Exception:
        server.kill()
        output = server.output
    errors = [line for line in output.splitlines() if " ERROR " in line or "Traceback" in line]
    if errors:
        print("\nserver log errors:\n" + "\n".join(errors[:20]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- HTTP ------------------------------------------------------------------------------------
class Client:
    def __init__(self, server: StandaloneServer, connections: int):
        self.base = f"{server.url}/conda-store/api/v1/"
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),  # keep-alive
            headers={"Authorization": f"token {server.token}"},
        )

    async def request(
        self, method: str, path: str, params: dict | None = None, body: dict | None = None
    ) -> bytes:
        """The response body, unparsed (parsing it is the client's cost, not the server's)."""
        async with self.session.request(
            method, self.base + path, params=params, json=body
        ) as response:
            data = await response.read()
            if response.status != 200:
                raise RuntimeError(
                    f"{method} {path} {params or ''}: {response.status} {data[:300]!r}"
                )
            return data

    async def close(self) -> None:
        await self.session.close()


async def bench_http(
    server: StandaloneServer,
    requests: int,
    environments: int,
    max_build: int,
    rng: random.Random,
    gc_log: GcLog,
) -> tuple[list[list[str]], dict[str, list[float]], dict]:
    client = Client(server, 1)
    samples: dict[str, list[float]] = {}
    rows = []
    assert server.process is not None
    pid = server.process.pid
    last_page = max(1, -(-environments // 100))
    try:
        first = json.loads(await client.request("GET", "environment/"))
        filtered = json.loads(await client.request("GET", "environment/", FILTER))
        info = {
            "count": first["count"],
            "filtered_count": filtered["count"],
            "first_kib": len(json.dumps(first)) / 1024,
            "first_namespace": first["data"][0]["namespace"]["name"],
        }
        build_ids = [rng.randint(1, max_build) for _ in range(requests)]
        operations: list[tuple[str, Callable[[int], Any]]] = [
            ("GET / (status: HTTP + auth, no database)", lambda i: client.request("GET", "")),
            (
                "GET environment/ (page 1, size 100)",
                lambda i: client.request("GET", "environment/"),
            ),
            (
                "GET environment/?namespace=ns-42&search=env-1",
                lambda i: client.request("GET", "environment/", FILTER),
            ),
            (
                f"GET environment/?page={last_page} (last page)",
                lambda i: client.request("GET", "environment/", {"page": str(last_page)}),
            ),
            ("GET build/<random id>/", lambda i: client.request("GET", f"build/{build_ids[i]}/")),
            (
                "POST specification/ (new environment)",
                lambda i: client.request(
                    "POST",
                    "specification/",
                    body={
                        "namespace": POST_NAMESPACE,
                        "specification": f"name: post-{i}\ndependencies:\n  - python\n  - pkg-{i % 50}\n",
                    },
                ),
            ),
        ]
        for label, call in operations:
            if not label.startswith("POST"):  # warm: connection, caches, statement cache
                for i in range(min(10, requests)):
                    await call(i)
            times = []
            window, cpu = time.time(), cpu_seconds(pid)
            for i in range(requests):
                started = time.perf_counter()
                await call(i)
                times.append(time.perf_counter() - started)
            cpu = cpu_seconds(pid) - cpu
            samples[label] = times
            rows.append(
                [
                    label,
                    str(requests),
                    *ms(times),
                    f"{max(times) * 1000:.1f}",
                    f"{cpu / requests * 1000:.1f}",
                    gc_log.summary(window, time.time()),
                ]
            )
    finally:
        await client.close()
    return rows, samples, info


async def bench_throughput(
    server: StandaloneServer, clients: int, duration: float
) -> tuple[int, float, list[float], float, float]:
    client = Client(server, clients)
    latencies: list[float] = []
    try:
        await client.request("GET", "environment/")
        assert server.process is not None
        cpu = cpu_seconds(server.process.pid)
        window = time.time()
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await client.request("GET", "environment/")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid) - cpu
    finally:
        await client.close()
    return len(latencies), elapsed, latencies, cpu / elapsed, window


# -- in-process baselines --------------------------------------------------------------------
class StatementLog:
    """The SQL statements an engine runs (for 'statements per call' and the query plans)."""

    def __init__(self, engine: sa.Engine):
        self.statements: list[tuple[str, Any]] = []
        self.recording = False
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.recording:
            self.statements.append((statement, parameters))

    def capture(self, call: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.statements, self.recording = [], True
        try:
            call()
        finally:
            self.recording = False
        return self.statements


def raw_list(
    db: Database, namespace: str | None, search: str | None, offset: int = 0
) -> tuple[list, int]:
    """The list in plain SQL: count, one page joined with namespace and current build, and the
    artifacts of those builds — the information GET environment/ answers with."""
    where = "e.deleted_on IS NULL AND n.deleted_on IS NULL"
    params: dict[str, Any] = {"limit": 100, "offset": offset}
    if namespace is not None:
        where += " AND n.name = :namespace"
        params["namespace"] = namespace
    if search:
        where += " AND lower(e.name) LIKE lower(:search)"
        params["search"] = f"%{search}%"
    with db.engine.connect() as connection:
        count = connection.execute(
            sa.text(
                f"SELECT count(*) FROM environment e JOIN namespace n ON n.id = e.namespace_id WHERE {where}"
            ),
            params,
        ).scalar_one()
        rows = connection.execute(
            sa.text(
                "SELECT e.id, e.name, e.description, e.updated_on, e.current_build_id, n.id, n.name, n.metadata_,"
                " b.status, b.status_info, b.size, b.scheduled_on, b.started_on, b.ended_on"
                " FROM environment e JOIN namespace n ON n.id = e.namespace_id"
                " LEFT JOIN build b ON b.id = e.current_build_id"
                f" WHERE {where} ORDER BY n.name, e.name LIMIT :limit OFFSET :offset"
            ),
            params,
        ).all()
        ids = [row[4] for row in rows if row[4] is not None]
        artifacts = (
            connection.execute(
                sa.text(
                    "SELECT id, build_id, artifact_type, key FROM build_artifact WHERE build_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": ids},
            ).all()
            if ids
            else []
        )
    return [rows, artifacts], count


def bench_inprocess(
    db: Database,
    store_dir: Path,
    requests: int,
    environments: int,
    max_build: int,
    rng: random.Random,
    log: StatementLog,
    gc_log: GcLog,
) -> tuple[list[list[str]], dict[str, Callable]]:
    config = CondaStore(store_dir=str(store_dir), database_url=db.url)
    service = CondaStoreService(config, db.sessions)
    caller = Caller.for_user("bench", ADMIN)
    last_page = max(1, -(-environments // 100))

    def listing(page: int = 1, **filters: Any) -> Callable[[], Any]:
        return lambda: service.page_environments(caller, Page(page=page, size=100), **filters)

    def serialised(call: Callable[[], tuple[list, int]]) -> Callable[[], Any]:
        def run() -> str:
            items, count = call()
            return json.dumps(
                {
                    "status": "ok",
                    "data": [e.model_dump(mode="json") for e in items],
                    "message": None,
                    "page": 1,
                    "size": 100,
                    "count": count,
                }
            )

        return run

    build_ids = iter([rng.randint(1, max_build) for _ in range(requests + 20)])
    names = iter(range(10**6))
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("service.page_environments, page 1", listing()),
        ("  + model_dump + json.dumps", serialised(listing())),
        ("  raw SQL count + page + artifacts", lambda: raw_list(db, None, None)),
        ("service.page_environments, filtered", listing(**FILTER)),
        ("  + model_dump + json.dumps", serialised(listing(**FILTER))),
        (
            "  raw SQL count + page + artifacts",
            lambda: raw_list(db, FILTER["namespace"], FILTER["search"]),
        ),
        (f"service.page_environments, page {last_page}", listing(last_page)),
        (
            "  raw SQL count + page + artifacts",
            lambda: raw_list(db, None, None, (last_page - 1) * 100),
        ),
        (
            "service.get_build + model_dump + json.dumps",
            lambda: json.dumps(service.get_build(next(build_ids)).model_dump(mode="json")),
        ),
        (
            "service.submit_specification",
            lambda: service.submit_specification(
                INPROCESS_NAMESPACE, f"name: inproc-{next(names)}\ndependencies:\n  - python\n"
            ),
        ),
    ]
    rows = []
    for label, call in calls:
        if "submit" not in label:  # warm (a submit would create an environment)
            for _ in range(min(10, requests)):
                call()
        statements = len(log.capture(call))
        samples = []
        window, cpu = time.time(), time.process_time()
        for _ in range(requests):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu
        rows.append(
            [
                label,
                str(requests),
                *ms(samples),
                f"{max(samples) * 1000:.1f}",
                f"{cpu / requests * 1000:.1f}",
                str(statements),
                gc_log.summary(window, time.time()),
            ]
        )
    return rows, {
        "page 1": listing(),
        "filtered": listing(**FILTER),
        "serialised page 1": serialised(listing()),
    }


def query_plans(db: Database, log: StatementLog, call: Callable[[], Any], title: str) -> None:
    statements = log.capture(call)
    print(f"\n(d) statements of {title} and their plans ({db.label})")
    with db.engine.connect() as connection:
        for statement, parameters in statements:
            print(f"  SQL: {' '.join(statement.split())[:200]} ...")
            if db.postgres:
                cursor = connection.connection.driver_connection.cursor()
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + statement, parameters)
                plan = [row[0] for row in cursor.fetchall()]
            else:
                plan = [
                    row[3]
                    for row in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, parameters
                    ).all()
                ]
            for line in plan:
                print(f"    {line}")


def profile(call: Callable[[], Any], label: str, repeat: int = 50) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    print(f"\ncProfile of {repeat} x {label} (top 25 by cumulative time):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--environments", type=int, default=10_000)
    parser.add_argument("--builds-per-env", type=int, default=5)
    parser.add_argument("--packages", type=int, default=10, help="packages per COMPLETED build")
    parser.add_argument(
        "--requests", type=int, default=300, help="sequential requests per operation"
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of the throughput test"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run against PostgreSQL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test "
        "(a fresh schema, dropped afterwards)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the in-process list even if fast"
    )
    parser.add_argument(
        "--server-gc",
        choices=["default", "freeze"],
        default="default",
        help="freeze: gc.collect() + gc.freeze() once the server (and, before (b), this "
        "process) has started, as the proposed change would (experiment)",
    )
    args = parser.parse_args()
    rng = random.Random(1)

    with tempfile.TemporaryDirectory(prefix="csj-bench-api-") as directory:
        work = Path(directory)
        store_dir = work / "store"
        store_dir.mkdir()
        server_gc, local_gc = GcLog(work / "gc-server.log"), GcLog(work / "gc-bench.log")
        local_gc.install_here()
        db = Database(work, args.postgres)
        server: StandaloneServer | None = None
        try:
            print(
                f"populating {db.label} ... (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores;"
                f" GC: {args.server_gc})",
                flush=True,
            )
            stats = populate(db, store_dir, args.environments, args.builds_per_env, args.packages)
            max_build = stats["build_ids"]
            table(
                f"store ({db.label})",
                ["rows", "count"],
                [[name, f"{n:,}"] for name, n in stats["counts"].items()]
                + [
                    ["environments with a current build", f"{stats['current']:,}"],
                    ["bulk insert, s", f"{stats['database_s']:.1f}"],
                    ["envs/ links, s", f"{stats['links_s']:.1f}"],
                ],
            )

            freeze = args.server_gc == "freeze"
            label = f"{db.label}, GC {args.server_gc}"
            server, startup = start_server(work, db, store_dir, server_gc, freeze)
            assert server.process is not None
            rss = {"after start": rss_mib(server.process.pid)}
            http_rows, http_samples, info = asyncio.run(
                bench_http(server, args.requests, args.environments, max_build, rng, server_gc)
            )
            rss["after (a)"] = rss_mib(server.process.pid)
            table(
                f"(a) HTTP, sequential, one keep-alive connection ({label}; server answering after "
                f"{startup['answering_s']:.1f} s, extension start-up (recover, reconcile) {startup['extension_s']:.1f} s, "
                f"{startup['frozen']:,} objects frozen;"
                f" page 1: {info['count']:,} environments, {info['first_kib']:.0f} KiB, starts in "
                f"{info['first_namespace']}; filtered: {info['filtered_count']})",
                [
                    "operation",
                    "n",
                    "median ms",
                    "p99 ms",
                    "max ms",
                    "server CPU ms/req",
                    "server gen-2 GCs / longest GC ms (CPU ms) / objects freed",
                ],
                http_rows,
            )

            log = StatementLog(db.engine)
            if freeze:
                gc.collect()
                gc.freeze()
            inproc_rows, listings = bench_inprocess(
                db, store_dir, args.requests, args.environments, max_build, rng, log, local_gc
            )
            table(
                f"(b) in-process, no HTTP ({label})",
                [
                    "operation",
                    "n",
                    "median ms",
                    "p99 ms",
                    "max ms",
                    "CPU ms/call",
                    "SQL statements",
                    "gen-2 GCs / longest GC ms (CPU ms) / objects freed",
                ],
                inproc_rows,
            )

            done, elapsed, latencies, cpu, window = asyncio.run(
                bench_throughput(server, args.clients, args.duration)
            )
            rss["after (c)"] = rss_mib(server.process.pid)
            table(
                f"(c) {args.clients} concurrent clients on GET environment/ (page 1), {elapsed:.1f} s ({label})",
                [
                    "requests",
                    "requests/s",
                    "median ms",
                    "p99 ms",
                    "server CPU (1.0 = one core)",
                    "server gen-2 GCs / longest GC ms (CPU ms) / objects freed",
                ],
                [
                    [
                        str(done),
                        f"{done / elapsed:.0f}",
                        *ms(latencies),
                        f"{cpu:.2f}",
                        server_gc.summary(window, time.time()),
                    ]
                ],
            )

            print("\nserver RSS: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items()))
            lists = [
                s
                for name, s in http_samples.items()
                if name.startswith(("GET environment/ (", "GET environment/?namespace"))
            ]
            list_p99 = max(p99(s) for s in lists) * 1000
            verdict = "met" if list_p99 < GOAL_MS else "MISSED"
            print(
                f"load average at the end: {os.getloadavg()[0]:.1f} (others' processes inflate p99s)"
            )
            print(
                f"\ngoal: list p99 < {GOAL_MS:.0f} ms over HTTP, sequential (page 1 and filtered): "
                f"{list_p99:.1f} ms -> {verdict}"
            )

            query_plans(db, log, listings["page 1"], "service.page_environments, page 1")
            query_plans(db, log, listings["filtered"], "service.page_environments, filtered")
            if verdict == "MISSED" or args.profile:
                profile(
                    listings["serialised page 1"],
                    "page_environments + environment_json + json.dumps",
                )
        finally:
            try:
                if server is not None:
                    stop_server(server)
            finally:
                db.close()


if __name__ == "__main__":
    main()
