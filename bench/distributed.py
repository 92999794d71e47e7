"""Benchmark of distributed builds through the HTTP API, as a user takes it. Prints tables.

    python bench/distributed.py [--builds N] [--channel-dir DIR] [--only local-1,celery-2x1,...]

`--builds` builds of ~10 packages (default 16; environments bench-0 … bench-N-1 of namespace
`default`, each a real build of the same spec from the local file:// test channel) are POSTed at
once (a thread pool of N clients) to `specification/` of a real `jupyter conda-store` server;
the client then polls build/{id}/ until every build is final. One untimed build first warms the
package cache of each configuration's fresh store, so the runs measure the product, not the
first extraction of packages. Configurations, all in the same run:

    local-1, local-2   the local executor, BuildExecutor.max_workers 1 and 2 (SQLite): the
                       reference;
    celery-1x1         CondaStore.executor "celery": 1 worker x concurrency 1;
    celery-1x2         1 worker x concurrency 2;
    celery-2x1         2 workers (w1@bench-a, w2@bench-b) x concurrency 1;
    raw                py-rattler solve + install of the same spec N times, sequentially in
                       this process, warm cache (as bench/builds.py's reference).

The celery ones need PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres, database `test`;
each configuration gets a fresh schema, dropped after) and Redis on 127.0.0.1:6379 (db 13, a
fresh queue name per configuration). Per configuration: wall time (first submit → last
`ended_on`), throughput, queue wait (client submit → `started_on`) median and p99, submit →
COMPLETED median, and the most builds running at once (overlap of started_on..ended_on); per
celery configuration, how the builds spread over the workers (the `worker` field's node name).
Timestamps come from each build's API record (UTC), times of submission from the client's clock
(the same machine).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from _tables import table
from builds import raw_create

from conda_store_jupyter.testing.channel import build_channel

SPECS = ["python", "jupyter-client"]  # ~10 packages from the local channel
JUPYTER = str(Path(sys.executable).with_name("jupyter"))
TOKEN = "bench-token"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BROKER = "redis://127.0.0.1:6379/13"
FINAL = ("COMPLETED", "FAILED", "CANCELED")
# name → (max_workers of the local executor, or the Celery workers as (node name, concurrency))
CONFIGS: dict[str, tuple[int | None, list[tuple[str, int]]]] = {
    "local-1": (1, []),
    "local-2": (2, []),
    "celery-1x1": (None, [("w1@bench-a", 1)]),
    "celery-1x2": (None, [("w1@bench-a", 2)]),
    "celery-2x1": (None, [("w1@bench-a", 1), ("w2@bench-b", 1)]),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _time(stamp: str) -> float:
    """An API timestamp (ISO 8601, UTC without a zone) as seconds since the epoch."""
    parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _percentile(values: list[float], percent: float) -> float:
    """Nearest rank: with 16 values, p99 is the largest."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Deployment:
    """One configuration: a server, and its Celery workers if any, on a fresh store (and for
    Celery a fresh PostgreSQL schema and broker queue), all stopped and removed by `stop`."""

    def __init__(self, work: Path, name: str, channel: str):
        self.name, self.dir = name, work / name
        self.max_workers, self.workers = CONFIGS[name]
        self.suffix = uuid.uuid4().hex[:8]
        self.schema, self.queue = f"bench_{self.suffix}", f"bench-{self.suffix}"
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        self.schema_made = False
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/conda-store/api/v1/"
        config = self.dir / "config"
        config.mkdir(parents=True)
        self.env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(self.dir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.dir / "runtime"),
        }
        lines = [f"c.CondaStore.store_dir = {str(self.dir / 'store')!r}"]
        lines.append(f"c.CondaStore.channels = [{channel!r}]")
        if self.workers:
            lines += [
                'c.CondaStore.executor = "celery"',
                f"c.CondaStore.celery_broker_url = {BROKER!r}",
                f"c.CondaStore.database_url = {self.database_url!r}",
                f"c.CeleryExecutor.queue = {self.queue!r}",
            ]
        (config / "jupyter_conda_store_config.py").write_text("\n".join(lines) + "\n")

    @property
    def database_url(self) -> str:
        return f"{POSTGRES}?options=-csearch_path%3D{self.schema}"

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _spawn(self, label: str, *args: str) -> subprocess.Popen:
        log = self.dir / f"{label}.log"
        with log.open("w") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [JUPYTER, "conda-store", *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append((label, process, log))
        return process

    def start(self) -> None:
        if self.workers:
            with sa.create_engine(POSTGRES).begin() as connection:
                connection.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
            self.schema_made = True
        extra = [f"--BuildExecutor.max_workers={self.max_workers}"] if self.max_workers else []
        server = self._spawn(
            "server",
            f"--ServerApp.port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.allow_root=True",
            *extra,
        )
        self._wait("server", server, self.dir / "server.log", self._answers)
        # Workers after the server: it creates the schema's tables.
        for node, concurrency in self.workers:
            worker = self._spawn(
                node, "worker", "--hostname", node, "--concurrency", str(concurrency)
            )
            log = self.dir / f"{node}.log"
            self._wait(node, worker, log, lambda log=log, node=node: self._ready(log, node))

    def _answers(self) -> bool:
        try:
            self.get("")
            return True
        except OSError:
            return False

    @staticmethod
    def _ready(log: Path, node: str) -> bool:
        return f"{node} ready." in log.read_text(errors="replace")

    @staticmethod
    def _wait(label: str, process: subprocess.Popen, log: Path, ready) -> None:
        deadline = time.monotonic() + 120
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{label} did not start:\n{_tail(log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        # Workers first, a warm shutdown (SIGTERM) each, all at once; then the server.
        for group in ([p for p in self.processes if p[0] != "server"], self.processes[:1]):
            for _, process, _ in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for label, process, _ in group:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    print(f"  ({self.name}: {label} still up 20 s after SIGTERM: SIGKILL)")
                    process.kill()
                    process.wait()
        if self.schema_made:
            with sa.create_engine(POSTGRES).begin() as connection:
                connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
            self.schema_made = False
        if self.workers:
            import redis  # only the Celery configurations need it

            client = redis.Redis.from_url(BROKER)
            for key in client.scan_iter(f"*{self.queue}*"):  # this queue's keys only
                client.delete(key)
            client.close()

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def get(self, path: str) -> dict:
        return self.request("GET", path)["data"]

    def submit(self, name: str) -> tuple[int, float]:
        """POST a specification; its build id and the client's time just before the POST."""
        text = yaml.safe_dump({"name": name, "dependencies": SPECS})
        submitted = time.time()
        answer = self.request(
            "POST", "specification/", {"namespace": "default", "specification": text}
        )
        return answer["data"]["build_id"], submitted

    def wait(self, build_ids: list[int], timeout: float = 1800) -> dict[int, dict]:
        """Poll each build until it is final; the final records."""
        records: dict[int, dict] = {}
        deadline = time.monotonic() + timeout
        while len(records) < len(build_ids):
            for build_id in build_ids:
                if build_id not in records:
                    build = self.get(f"build/{build_id}/")
                    if build["status"] in FINAL:
                        records[build_id] = build
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: builds not final after {timeout:.0f} s")
            time.sleep(0.2)  # a light poll: the server shares 2 cores with the builds
        return records

    def log_notes(self) -> list[str]:
        """Warnings, errors and tracebacks in the processes' logs (worth a look)."""
        notes = []
        for label, _, log in self.processes:
            for line in log.read_text(errors="replace").splitlines():
                if any(word in line for word in ("WARNING", "ERROR", "CRITICAL", "Traceback")):
                    notes.append(f"{label}: {line.strip()[:200]}")
        return notes


def run_config(work: Path, name: str, channel: str, count: int) -> dict:
    """Start the configuration, warm it, submit `count` builds at once, wait, measure."""
    with Deployment(work, name, channel) as deployment:
        warm_id, _ = deployment.submit("bench-warm")
        warm = deployment.wait([warm_id])[warm_id]
        if warm["status"] != "COMPLETED":
            raise RuntimeError(f"{name}: the warm-up build {warm['status']}: {warm['status_info']}")
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            submitted = list(pool.map(deployment.submit, [f"bench-{i}" for i in range(count)]))
        records = deployment.wait([build_id for build_id, _ in submitted])
        notes = deployment.log_notes()
    return {
        "name": name,
        "submitted": dict(submitted),
        "records": records,
        "notes": notes,
    }


def _max_overlap(records: list[dict]) -> int:
    events = sorted(
        [(_time(r["started_on"]), 1) for r in records]
        + [(_time(r["ended_on"]), -1) for r in records]
    )
    running = most = 0
    for _, step in events:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def summarize(result: dict) -> list[str]:
    records = list(result["records"].values())
    done = [r for r in records if r["status"] == "COMPLETED"]
    submitted = result["submitted"]
    first = min(submitted.values())
    if not done:
        return [result["name"], f"0/{len(records)}"] + ["-"] * 6
    last = max(_time(r["ended_on"]) for r in done)
    wall = last - first
    waits = [_time(r["started_on"]) - submitted[r["id"]] for r in done]
    totals = [_time(r["ended_on"]) - submitted[r["id"]] for r in done]
    return [
        result["name"],
        f"{len(done)}/{len(records)}",
        f"{wall:.2f}",
        f"{len(done) / wall * 60:.1f}",
        f"{statistics.median(waits):.2f}",
        f"{_percentile(waits, 99):.2f}",
        f"{statistics.median(totals):.2f}",
        str(_max_overlap(done)),
    ]


def raw_row(work: Path, channel: str, count: int) -> list[str]:
    cache = work / "raw-cache"
    packages = asyncio.run(raw_create(channel, SPECS, work / "raw-warm", cache))
    times = []
    started = time.perf_counter()
    for i in range(count):
        begun = time.perf_counter()
        asyncio.run(raw_create(channel, SPECS, work / f"raw-{i}", cache))
        times.append(time.perf_counter() - begun)
    wall = time.perf_counter() - started
    return [
        f"raw py-rattler ({packages} pkgs, sequential)",
        f"{count}/{count}",
        f"{wall:.2f}",
        f"{count / wall * 60:.1f}",
        "-",
        "-",
        f"{statistics.median(times):.2f}",
        "1",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--builds", type=int, default=16, help="builds submitted at once")
    parser.add_argument("--channel-dir", default=str(REPO / ".cache" / "test-channel"))
    parser.add_argument(
        "--only", default=",".join([*CONFIGS, "raw"]), help="configurations (comma-separated)"
    )
    args = parser.parse_args()
    channel = build_channel(args.channel_dir)
    chosen = args.only.split(",")
    rows, spread_rows, problems = [], [], []
    with tempfile.TemporaryDirectory(prefix="csj-bench-dist-") as directory:
        work = Path(directory)
        for name in [n for n in CONFIGS if n in chosen]:
            try:
                result = run_config(work, name, channel, args.builds)
            except Exception as error:
                problems.append(f"{name}: did not run: {error}")
                rows.append([name, "error"] + ["-"] * 6)
                continue
            rows.append(summarize(result))
            for record in result["records"].values():
                if record["status"] != "COMPLETED":
                    problems.append(
                        f"{name}: build {record['id']} {record['status']}: {record['status_info']}"
                    )
            problems += [f"{name}: log: {note}" for note in result["notes"]]
            if CONFIGS[name][1]:
                counts: dict[str, int] = {}
                for record in result["records"].values():
                    node = (record["worker"] or "(none)").rpartition(":")[0]
                    counts[node] = counts.get(node, 0) + 1
                spread = ", ".join(f"{node}: {n}" for node, n in sorted(counts.items()))
                spread_rows.append([name, spread])
        if "raw" in chosen:
            rows.append(raw_row(work, channel, args.builds))
    table(
        f"{args.builds} builds of ~10 packages submitted at once over HTTP (s; warm package "
        "cache; queue wait = client submit -> started_on)",
        [
            "configuration",
            "completed",
            "wall",
            "builds/min",
            "queue wait median",
            "queue wait p99",
            "submit -> COMPLETED median",
            "most at once",
        ],
        rows,
    )
    if spread_rows:
        table(
            "builds per Celery worker (node name of `worker`)",
            ["configuration", "builds"],
            spread_rows,
        )
    if problems:
        print("\nproblems seen:")
        for problem in problems:
            print(f"  {problem}")


if __name__ == "__main__":
    main()
