"""Benchmark of a hub's central service under its users' open panels (issue 13).

    python bench/hub_load.py [--panels 300] [--duration 30] [--environments 10000]
        [--namespaces 200] [--users 50] [--interval 2] [--change-every 10] [--default-every 3]
        [--postgres URL] [--modes conditional,unconditional] [--client httpx|aiohttp] [--profile]
        [--panel lazy|whole]

A fresh schema of --postgres (dropped after) gets, by bulk ORM inserts, namespaces (`default`,
one per user `u000`..., `team-*`) and --environments environments spread over them, each with a
COMPLETED current build and four artifacts (in `default` and the users' also an older build to
roll back to). A real `jupyter conda-store` serves it (nothing builds) with
tests.authorizers.NamedUserIdentityProvider (`token user-<name>` is that user, as hub users are)
and the shared bindings ({username}/* admin, default/* viewer).

Each panel (asyncio, one keep-alive HTTP/1.1 connection; panel i is user i % --users) refreshes
as src/model.ts does while something builds, then waits --interval s: with --panel lazy (the
panel on a large store) GET namespace/, environment/?namespace=<the user's> and the 200 recent
builds at once; with --panel whole (the panel before it scaled) the whole environment list
instead of the user's namespace.
`conditional` sends If-None-Match with the last 200's ETag of each URL (as a browser's cache
does); `unconditional` never. After every panel's first refresh (not measured), --duration s are
measured; every --change-every s the administrator rolls an environment back or forth (PUT
environment/...) in a user's namespace (only their panels see it), every --default-every-th time
in `default` (every user's panels see it). Reported: requests/s, latency percentiles (all, 200s,
304s), 304 share, body bytes, and CPU in cores over the window of the server process
(/proc/<pid>/stat), of its PostgreSQL backends (by application_name) and of this load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import os
import pstats
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import sqlalchemy as sa
from sqlalchemy import insert, update

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from _tables import table
from api import Database, cpu_seconds, stop_server

from conda_store_jupyter import db as orm
from conda_store_jupyter.service.revision import revision_statement
from conda_store_jupyter.store import StoreLayout
from tests.servers import StandaloneServer

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_P99_MS, GOAL_CORES = 200.0, 1.0
ARTIFACTS = ("LOGS", "LOCKFILE", "YAML", "EXPLICIT")
CHUNK = 20_000
COLUMNS = (  # noqa: SIM905 (one line of the table's header reads better than 15)
    "mode req/s p50_ms p95_ms p99_ms p99_200s p99_304s 304s body_MB/s KiB/req server_CPU "
    "DB_CPU load_gen_CPU errors warm-up_s"
).split()
# What one refresh of the panel asks (src/model.ts), in its query syntax (request.ts): on a
# large store (`lazy`, the panel now) the namespace list, the environments of the namespaces it
# has expanded (the user's own), the recent builds; `whole` is the panel before it scaled (the
# whole environment list at every refresh).
PANELS = {
    "lazy": lambda user: (
        ("namespace/", (("page", "1"), ("size", "1000"))),
        ("environment/", (("namespace", user), ("sort_by", "name"), ("page", "1"))),
        ("build/", (("sort_by", "id"), ("order", "desc"), ("size", "200"), ("page", "1"))),
    ),
    "whole": lambda user: (
        ("namespace/", ()),
        ("environment/", (("sort_by", "namespace"), ("sort_by", "name"))),
        ("build/", (("sort_by", "id"), ("order", "desc"), ("size", "200"))),
    ),
}
PROFILE_HOOK = """# --profile: SIGUSR2 toggles a cProfile of the server's event loop thread
import cProfile as _cProfile, signal as _signal
_csj_profiler = []
def _csj_toggle_profile(*_):
    if not _csj_profiler:
        _csj_profiler.append(_cProfile.Profile())
        _csj_profiler[0].enable()
    else:
        _csj_profiler.pop().dump_stats({path!r})
_signal.signal(_signal.SIGUSR2, _csj_toggle_profile)
"""


# -- the store and its server ----------------------------------------------------------------
def namespace_names(count: int, users: int) -> list[str]:
    names = ["default", *(f"u{k:03d}" for k in range(users))]
    return names + [f"team-{k}" for k in range(max(0, count - len(names)))]


def populate(db: Database, store_dir: Path, environments: int, names: list[str], users: int):
    """Bulk-insert namespaces, environments, specifications, builds and artifacts; make the
    envs/ links a real store has. Returns {namespace: [(environment, [build ids])]} of the
    namespaces whose environments can be rolled back, and the numbers of builds and artifacts."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    rollable = set(names[: users + 1])
    history: dict[str, list[tuple[str, list[int]]]] = {name: [] for name in rollable}
    environment_rows, specs, builds, artifacts, current = [], [], [], [], []
    build_id = artifact_id = 0
    for j in range(environments):
        namespace, name = names[j % len(names)], f"env-{j}"
        environment_rows.append((j + 1, j % len(names) + 1, name, f"environment {j}", now, now))
        ids = []
        for _ in range(2 if namespace in rollable else 1):
            build_id += 1
            ids.append(build_id)
            sha = hashlib.sha256(f"{j}/{build_id}".encode()).hexdigest()
            spec = {"name": name, "channels": ["conda-forge"], "dependencies": ["python"]}
            specs.append((build_id, name, spec, sha, False, now))
            at = now + dt.timedelta(seconds=build_id)
            build_dir = StoreLayout.build_dir_name(sha, int(at.timestamp()), build_id, name)
            ended = at + dt.timedelta(seconds=40)
            builds.append((build_id, j + 1, build_id, "COMPLETED", at, at, ended, 10**8, build_dir))
            for kind in ARTIFACTS:
                artifact_id += 1
                key = f".artifacts/{build_id}/{kind.lower()}"
                artifacts.append((artifact_id, build_id, kind, key, 1000, at))
        current.append({"id": j + 1, "current_build_id": ids[-1]})
        if namespace in rollable:
            history[namespace].append((name, ids))
    tables = (
        (orm.Namespace, "id name metadata_ created_on",
         [(i + 1, name, {}, now) for i, name in enumerate(names)]),
        (orm.Environment, "id namespace_id name description created_on updated_on",
         environment_rows),
        (orm.Specification, "id name spec sha256 is_lockfile created_on", specs),
        (orm.Build, "id environment_id specification_id status scheduled_on started_on "
         "ended_on size build_dir", builds),
        (orm.BuildArtifact, "id build_id artifact_type key size created_on", artifacts),
    )  # fmt: skip
    with db.sessions() as session, session.begin():
        for model, columns, values in tables:
            for start in range(0, len(values), CHUNK):
                chunk = values[start : start + CHUNK]
                session.execute(insert(model), [dict(zip(columns.split(), v)) for v in chunk])
            table_name = model.__tablename__
            session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                    f"(SELECT max(id) FROM {table_name}))"
                )
            )
        for start in range(0, len(current), CHUNK):
            session.execute(update(orm.Environment), current[start : start + CHUNK])
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    with db.sessions() as session:  # the links (else the server's start-up writes them all)
        for namespace, name, build_dir in session.execute(
            sa.select(orm.Namespace.name, orm.Environment.name, orm.Build.build_dir)
            .join(orm.Environment, orm.Environment.namespace_id == orm.Namespace.id)
            .join(orm.Build, orm.Build.id == orm.Environment.current_build_id)
        ):
            link = store_dir / namespace / "envs" / name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(Path("..") / build_dir, link)
    return history, len(builds), len(artifacts)


def revision_read_ms(db: Database, repeat: int = 20) -> tuple[float, float]:
    """Median and max time of the revision's statement (what a server runs <= 2 times/s)."""
    samples = []
    with db.engine.connect() as connection:
        for _ in range(repeat):
            started = time.perf_counter()
            connection.execute(revision_statement()).all()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def start_server(
    work: Path, db: Database, store_dir: Path, application: str, profile: Path | None
) -> StandaloneServer:
    # The server's connections carry `application` (to find their backends' CPU); ours do not.
    url = sa.make_url(db.url).update_query_dict({"application_name": application})
    (work / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.store_dir = {str(store_dir)!r}\n"
        f"c.CondaStore.database_url = {url.render_as_string(hide_password=False)!r}\n"
        f"c.CondaStore.channels = {[(work / 'no-such-channel').as_uri()]!r}\n"
        "c.BuildExecutor.max_workers = 0\n"  # nothing builds: the load is the panels'
        "c.ServerApp.identity_provider_class = 'tests.authorizers.NamedUserIdentityProvider'\n"
        + os.environ.get("CSJ_BENCH_EXTRA_CONFIG", "")
        + (PROFILE_HOOK.format(path=str(profile)) if profile else "")
    )
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.getenv("PYTHONPATH")]))
    server = StandaloneServer(work)
    try:
        server.start(timeout=300)
    except BaseException:
        if server.process is not None and server.process.poll() is None:
            server.kill()
        raise
    return server


def backends_cpu(db: Database, application: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the server (by application_name)."""
    with db.admin.connect() as connection:  # type: ignore[union-attr]
        pids = connection.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application},
        ).scalars()
        times = {}
        for pid in pids:
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile
                times[pid] = cpu_seconds(pid)
        return times


# -- the panels -------------------------------------------------------------------------------
@dataclass
class Load:
    """What the panels of one run share: the server, the mode, the window and the samples."""

    url: str
    client: str  # httpx or aiohttp
    conditional: bool
    interval: float
    waiting: int  # panels yet to finish their first (unmeasured) refresh
    panel: str = "lazy"  # which panel's refresh (PANELS)
    started: float = float("inf")  # the measured window (perf_counter): nothing before it
    ended: float = float("inf")
    latency: dict[int, list[float]] = field(default_factory=dict)  # status -> seconds
    body_bytes: int = 0
    full: dict[str, int] = field(default_factory=dict)  # route -> full (200) answers measured
    errors: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    warmed: asyncio.Event = field(default_factory=asyncio.Event)

    def refresh(self, user: str):
        return PANELS[self.panel](user)

    def record(self, at: float, seconds: float, status: int, size: int) -> None:
        if self.started <= at < self.ended:
            self.latency.setdefault(status, []).append(seconds)
            self.body_bytes += size

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)


async def request(client, path: str, params, headers: dict) -> tuple[int, str | None, int]:
    """(status, ETag, body bytes) of one GET, with an httpx or an aiohttp client."""
    if isinstance(client, httpx.AsyncClient):
        response = await client.get(path, params=params, headers=headers)
        return response.status_code, response.headers.get("ETag"), len(response.content)
    async with client.get(path, params=list(params), headers=headers) as answer:
        return answer.status, answer.headers.get("ETag"), len(await answer.read())


def connection(kind: str, url: str, headers: dict):
    """One keep-alive connection, keeping cookies as a browser does."""
    if kind == "httpx":
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120)
    return aiohttp.ClientSession(
        url, connector=aiohttp.TCPConnector(limit=1), headers=headers,
        cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(120),
    )  # fmt: skip


async def panel(load: Load, user: str, delay: float) -> None:
    """One open panel: a browser tab's keep-alive connection, refreshing as src/model.ts does."""
    tags: dict[str, str] = {}
    headers = {"Authorization": f"token user-{user}"}
    async with connection(load.client, load.url, headers) as client:

        async def get(path: str, params) -> None:
            sent = {"If-None-Match": tags[path]} if load.conditional and path in tags else {}
            started = time.perf_counter()
            try:
                status, tag, size = await request(client, path, params, sent)
            except (httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError):
                load.errors += 1
                return
            if status == 200 and tag:
                tags[path] = tag  # what the browser's cache keeps
            elif status != 304:
                load.errors += 1
            load.record(started, time.perf_counter() - started, status, size)
            if status == 200 and load.started <= started < load.ended:
                load.full[path] = load.full.get(path, 0) + 1

        await load.pause(delay)
        first = True
        while not load.stop.is_set():
            await asyncio.gather(*(get(path, params) for path, params in load.refresh(user)))
            if first:
                first, load.waiting = False, load.waiting - 1
                if load.waiting == 0:
                    load.warmed.set()
            await load.pause(load.interval)


async def change_store(load: Load, token: str, history, args, changes: list[str]) -> None:
    """Every --change-every s, roll one environment back or forth as the administrator: in the
    users' namespaces in turn, and every --default-every-th time in `default`."""
    users = sorted(name for name in history if name != "default")
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(base_url=load.url, headers=headers, timeout=60) as client:
        turn, visits = 0, dict.fromkeys(history, 0)
        while not load.stop.is_set():
            await load.pause(args.change_every)
            if load.stop.is_set():
                return
            in_default = args.default_every and turn % args.default_every == 0
            namespace = "default" if in_default else users[turn % len(users)]
            environments = history[namespace]
            name, builds = environments[visits[namespace] % len(environments)]
            # Older build first (the current one is the newest), back again the next time.
            target = builds[(visits[namespace] // len(environments)) % len(builds)]
            visits[namespace] += 1
            answer = await client.put(f"environment/{namespace}/{name}/", json={"build_id": target})
            changes.append(f"{namespace}/{name} -> build {target} ({answer.status_code})")
            turn += 1


async def run(server, db, application, args, history, conditional: bool) -> dict:
    url = f"{server.url}/conda-store/api/v1/"  # aiohttp joins relative paths with a base URL
    load = Load(url, args.client, conditional, args.interval, waiting=args.panels, panel=args.panel)
    rng, warm_started = random.Random(7), time.perf_counter()
    users = [f"u{i % args.users:03d}" for i in range(args.panels)]
    tasks = [asyncio.ensure_future(panel(load, u, rng.uniform(0, args.interval))) for u in users]
    await asyncio.wait_for(load.warmed.wait(), timeout=900)
    warm_s = time.perf_counter() - warm_started
    await asyncio.sleep(args.interval)  # every panel in its steady rhythm
    changes: list[str] = []
    pid: int = server.process.pid
    before = (cpu_seconds(pid), backends_cpu(db, application), time.process_time())
    load.started = time.perf_counter()
    if args.profile and conditional:
        os.kill(pid, signal.SIGUSR2)
    changer = asyncio.ensure_future(change_store(load, server.token, history, args, changes))
    await asyncio.sleep(args.duration)
    load.ended = time.perf_counter()
    window = load.ended - load.started
    db_after = backends_cpu(db, application)
    cores = {  # CPU seconds per second of the window
        "server": (cpu_seconds(pid) - before[0]) / window,
        "db": sum(after - before[1].get(pid, 0.0) for pid, after in db_after.items()) / window,
        "own": (time.process_time() - before[2]) / window,
    }
    if args.profile and conditional:
        os.kill(pid, signal.SIGUSR2)
    load.stop.set()
    await asyncio.gather(*tasks, changer)
    return {
        "load": load,
        "window": window,
        "warm_s": warm_s,
        "changes": changes,
        "full": load.full,
        **cores,
    }


def quantiles(values: list[float]) -> tuple[str, str, str]:
    if len(values) < 2:
        return (f"{values[0] * 1000:.1f}" if values else "-",) * 3
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"{statistics.median(values) * 1000:.1f}", f"{q[94] * 1000:.1f}", f"{q[98] * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for option, default in (
        ("--panels", 300), ("--environments", 10_000), ("--namespaces", 200), ("--users", 50),
        ("--default-every", 3), ("--duration", 30.0), ("--interval", 2.0), ("--change-every", 10.0),
    ):  # fmt: skip
        parser.add_argument(option, type=type(default), default=default)  # see the docstring
    parser.add_argument("--postgres", default=POSTGRES, metavar="URL")
    parser.add_argument("--modes", default="conditional,unconditional")
    parser.add_argument("--profile", action="store_true", help="cProfile the server (conditional)")
    parser.add_argument("--client", choices=["httpx", "aiohttp"], default="httpx")
    parser.add_argument("--panel", choices=sorted(PANELS), default="lazy")
    args = parser.parse_args()
    names = namespace_names(args.namespaces, args.users)
    assert args.users + 1 <= len(names), "--namespaces must exceed --users"
    application = f"csj-hub-load-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="csj-bench-hub-") as directory:
        work = Path(directory)
        (store_dir := work / "store").mkdir()
        db = Database(work, args.postgres)
        server = None
        try:
            started = time.perf_counter()
            history, builds, artifacts = populate(
                db, store_dir, args.environments, names, args.users
            )
            median, worst = revision_read_ms(db)
            print(
                f"store: {len(names)} namespaces, {args.environments:,} environments, {builds:,} "
                f"builds, {artifacts:,} artifacts ({db.label}), populated in "
                f"{time.perf_counter() - started:.0f} s; revision statement {median:.1f} ms "
                f"median, {worst:.1f} max; load average {os.getloadavg()[0]:.1f}, "
                f"{os.cpu_count()} cores",
                flush=True,
            )
            profile = work / "server.prof" if args.profile else None
            server = start_server(work, db, store_dir, application, profile)
            results = {
                mode: asyncio.run(
                    run(server, db, application, args, history, mode == "conditional")
                )
                for mode in args.modes.split(",")
            }
            report(args, results)
            if profile is not None and profile.exists():
                out = io.StringIO()
                pstats.Stats(str(profile), stream=out).sort_stats("cumulative").print_stats(45)
                print("\nserver cProfile, conditional run (event loop thread, by cumulative time):")
                print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
        finally:
            try:
                if server is not None:
                    stop_server(server)
            finally:
                db.close()


def report(args, results: dict) -> None:
    rows = []
    for mode, result in results.items():
        samples: Load = result["load"]
        everything = [s for values in samples.latency.values() for s in values]
        total = len(everything)
        unchanged = len(samples.latency.get(304, []))
        rows.append(
            [mode, f"{total / result['window']:.0f}", *quantiles(everything)]
            + [quantiles(samples.latency.get(code, []))[2] for code in (200, 304)]
            + [f"{unchanged / max(total, 1):.0%}"]
            + [f"{samples.body_bytes / result['window'] / 1e6:.2f}"]
            + [f"{samples.body_bytes / max(total, 1) / 1024:.1f}"]
            + [f"{result[key]:.2f}" for key in ("server", "db", "own")]
            + [str(samples.errors), f"{result['warm_s']:.0f}"]
        )
    table(
        f"{args.panels} panels ({args.users} users), refresh every {args.interval:g} s, "
        f"{args.environments:,} environments in {args.namespaces} namespaces, "
        f"{args.duration:g} s measured per mode, a change every {args.change_every:g} s "
        f"(every {args.default_every or 'no'}-th in default), {args.client} client",
        COLUMNS,
        rows,
    )
    for mode, result in results.items():
        print(f"{mode}: changes made: {'; '.join(result['changes']) or 'none'}")
        print(f"{mode}: full answers by route: {result['full']}")
    if "conditional" in results:
        result = results["conditional"]
        p99 = float(rows[list(results).index("conditional")][4].replace("-", "inf"))
        met = p99 < GOAL_P99_MS and result["server"] < GOAL_CORES
        print(
            f"\ngoal (conditional): p99 < {GOAL_P99_MS:.0f} ms and server CPU < {GOAL_CORES:g} "
            f"core: p99 {p99:.1f} ms, {result['server']:.2f} cores -> {'met' if met else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
