"""Benchmark of the live log stream's database work, on a real server over HTTP.

    python bench/stream.py [--clients 1,4,16] [--window 10] [--tree DIR]

A real `jupyter conda-store` process on PostgreSQL holds one build in its download (the test
channel served over HTTP, its large package answered late). Clients follow that build's log as
server-sent events (GET build/{id}/logs/stream/). PostgreSQL's own counters for the database
(pg_stat_database: transactions, rows fetched) are read before and after each window; the
window with no client is the baseline (the executor's polls and the build's heartbeats), and
the rest divided by clients and seconds is what one watching client costs.

`--tree DIR` runs the server from another checkout of the package (PYTHONPATH), e.g. a
`git worktree` of an older commit, for a before/after comparison in the same conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from _tables import table
from builds import TOKEN, Server

from conda_store_jupyter.testing.channel import build_channel
from conda_store_jupyter.testing.http_channel import ChannelServer

POSTGRES = os.environ.get("CSJ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
HOLD_SECONDS = 300.0  # longer than all windows: the build is still downloading at the end


def database_counters(admin: sa.Engine, name: str) -> tuple[int, int, int]:
    """(transactions, rows fetched, rows returned) of database `name` so far."""
    with admin.connect() as connection:
        connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        row = connection.exec_driver_sql(
            "SELECT xact_commit + xact_rollback, tup_fetched, tup_returned "
            "FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def follow(url: str, stop: threading.Event, events: list[int]) -> None:
    """One client on the live log until `stop`: counts the events it received."""
    headers = {"Authorization": f"token {TOKEN}"}
    received = 0
    try:
        with httpx.Client(timeout=None) as client, client.stream("GET", url, headers=headers) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("event:"):
                    received += 1
                if stop.is_set():
                    break
    except httpx.RemoteProtocolError:
        if not stop.is_set():  # the server going away at the end is expected
            raise
    events.append(received)


def log_so_far(server: Server, build_id: int) -> bytes:
    try:
        return server.request("GET", f"build/{build_id}/logs/")
    except urllib.error.HTTPError as error:
        if error.code == 404:  # no log file yet
            return b""
        raise


def measure(admin: sa.Engine, name: str, url: str, clients: int, window: float) -> dict:
    stop = threading.Event()
    events: list[int] = []
    threads = [
        threading.Thread(target=follow, args=(url, stop, events), daemon=True)
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # connected and past the first reads (which replay the log so far)
    before = database_counters(admin, name)
    started = time.monotonic()
    time.sleep(window)
    after = database_counters(admin, name)
    elapsed = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    transactions, fetched, returned = (b - a for a, b in zip(before, after))
    return {
        "clients": clients,
        "seconds": elapsed,
        "transactions": transactions / elapsed,
        "fetched": fetched / elapsed,
        "returned": returned / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,16", help="client counts, after the baseline")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--tree", help="run the server from this checkout (PYTHONPATH)")
    args = parser.parse_args()
    counts = [int(part) for part in args.clients.split(",") if part]

    work = Path(tempfile.mkdtemp(prefix="csj-bench-stream-"))
    channel_dir = Path(os.environ.get("CSJ_TEST_CHANNEL_DIR", REPO / ".cache" / "test-channel"))
    build_channel(channel_dir)
    big = next(channel_dir.glob("*/csj-bigdata-*.tar.bz2")).name
    if args.tree:
        os.environ["PYTHONPATH"] = str(Path(args.tree).resolve())
    database = f"csj_bench_stream_{os.getpid()}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    database_url = sa.make_url(POSTGRES).set(database=database).render_as_string(False)
    rows = []
    with ChannelServer(channel_dir) as mirror:
        mirror.delay(100, HOLD_SECONDS, suffix=big)
        server = Server(
            "conda-store",
            work / "store",
            mirror.url,
            f"--CondaStore.database_url={database_url}",
            "--BuildExecutor.max_workers=1",
        )
        try:
            text = yaml.safe_dump({"name": "watched", "dependencies": ["alpha", "csj-bigdata"]})
            answer = server.request(
                "POST", "specification/", {"namespace": "bench", "specification": text}
            )
            build_id = json.loads(answer)["data"]["build_id"]
            deadline = time.monotonic() + 120
            # The mirror logs a request when it answers: the build's log says it installs.
            while b"installing" not in log_so_far(server, build_id):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the build never got to its download; {server.log.name}")
                time.sleep(0.1)
            time.sleep(1.0)
            status = server.get(f"build/{build_id}/")["status"]
            print(f"build {build_id} is {status}, held in its download; server: {server.log.name}")
            url = f"{server.url}/conda-store/api/v1/build/{build_id}/logs/stream/"
            baseline = measure(admin, database, url, 0, args.window)
            for clients in counts:
                result = measure(admin, database, url, clients, args.window)
                per = {
                    key: (result[key] - baseline[key]) / clients
                    for key in ("transactions", "fetched", "returned")
                }
                rows.append(
                    [
                        str(clients),
                        f"{result['transactions']:.1f}",
                        f"{per['transactions']:.2f}",
                        f"{per['fetched']:.1f}",
                        f"{per['returned']:.1f}",
                    ]
                )
            server.request("PUT", f"build/{build_id}/cancel/")
        finally:
            server.stop()
            mirror.heal()
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    source = args.tree or str(REPO)
    table(
        f"live log stream, PostgreSQL work per watching client per second ({source}); "
        f"baseline without clients: {baseline['transactions']:.1f} transactions/s, "
        f"{baseline['fetched']:.0f} rows fetched/s",
        [
            "clients",
            "transactions/s (all)",
            "per client: transactions/s",
            "rows fetched/s",
            "rows returned/s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
