"""Benchmark of builds through the path a user takes. Prints tables; raw py-rattler in the same run.

    python bench/builds.py [--channel-dir DIR] [--repeat N] [--hosts conda-store,server,lab]

(a) The headline. A real server process (`jupyter conda-store`, `jupyter server` or `jupyter lab`
    with the extension) on a fresh store; a client POSTs specification/ over HTTP and polls
    build/{id}/ until COMPLETED, as the CLI and the panel do. Environments of ~1, ~10 and ~40
    packages from the local channel, warm package cache, `--repeat` builds each. Each build is
    broken down by phase from its API record and its log (fetched over HTTP): queue wait (submit
    → claimed), process start (claimed → the build's first log line), solve, install, pip,
    artifacts, finalize (→ COMPLETED in the database) and what the client adds (HTTP, polling).
    The reference: rattler.solve + rattler.install of the same specs in this process (warm cache).
(a') The first build after a server (re)started on a store with a warm package cache has been up
    10 s.
(b) solve time through the product's solver against raw rattler.solve on real channel metadata
    (../shared/data/repodata/, conda's index4 test data);
(c) 8 builds submitted at once over HTTP with BuildExecutor.max_workers 1 and 2;
(d) disk used by 10 environments sharing most packages, against one.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import rattler
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from _tables import table

from conda_store_jupyter.solver import make_gateway, solve
from conda_store_jupyter.spec import parse_specification
from conda_store_jupyter.store import disk_usage
from conda_store_jupyter.testing.channel import build_channel

SIZES = {
    "1": ["alpha"],
    "3": ["gamma"],
    "10": ["python", "jupyter-client"],
    "40": ["python", "ipykernel", "requests", "csj-probe", "activate-probe", "gamma"],
}
INDEX4 = (
    REPO.parent
    / "shared"
    / "data"
    / "repodata"
    / "conda-tests_index4_defaults-linux64+noarch_2018.json"
)
INDEX4_SPECS = {
    "python=3.6 numpy pandas scipy": ["python=3.6", "numpy", "pandas", "scipy"],
    "python=3.7 matplotlib jupyter sqlalchemy": [
        "python=3.7",
        "matplotlib",
        "jupyter",
        "sqlalchemy",
    ],
}
JUPYTER = str(Path(sys.executable).with_name("jupyter"))
TOKEN = "bench-token"
PHASES = ["queue", "process start", "solve", "install", "pip", "artifacts", "finalize", "client"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _time(stamp: str) -> float:
    """An API timestamp (ISO 8601) or a build log stamp, as seconds since the epoch."""
    stamp = stamp.replace(" ", "T")
    parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


class Server:
    """A real server process on its own store and Jupyter dirs, talked to over HTTP."""

    def __init__(self, host: str, store: Path, channel: str, *extra: str):
        self.host, self.store = host, store
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home = store.parent / f"{store.name}-jupyter"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        }
        command = "conda-store" if host == "conda-store" else host
        (home / "config").mkdir(parents=True, exist_ok=True)
        # The token's user is anonymous under `jupyter conda-store`: let it administer the store.
        (home / "config" / "jupyter_server_config.py").write_text(
            'c.CondaStore.role_bindings = {"*/*": ["admin"]}\n'
        )
        self.log = open(store.parent / f"{store.name}-{host}-{self.port}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                JUPYTER,
                command,
                f"--ServerApp.port={self.port}",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={TOKEN}",
                "--ServerApp.allow_root=True",
                "--ServerApp.open_browser=False",
                f"--ServerApp.root_dir={store.parent}",
                f"--CondaStore.store_dir={store}",
                f"--CondaStore.channels={channel}",
                *extra,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.get("")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{host} did not start; see {self.log.name}") from None
                time.sleep(0.05)

    def request(self, method: str, path: str, body: dict | None = None) -> bytes:
        request = urllib.request.Request(
            f"{self.url}/conda-store/api/v1/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    def get(self, path: str) -> dict:
        return json.loads(self.request("GET", path))["data"]

    def build(self, name: str, specs: list[str]) -> dict[str, float]:
        """Submit over HTTP, poll until final; the client's wall time and the phases."""
        text = yaml.safe_dump({"name": name, "dependencies": specs})
        started = time.time()
        answer = json.loads(
            self.request("POST", "specification/", {"namespace": "bench", "specification": text})
        )
        build_id = answer["data"]["build_id"]
        posted = time.time()
        while True:
            build = self.get(f"build/{build_id}/")
            if build["status"] in ("COMPLETED", "FAILED", "CANCELED"):
                break
            time.sleep(0.01)
        seen = time.time()
        if build["status"] != "COMPLETED":
            raise RuntimeError(f"build {build_id} {build['status']}: {build.get('status_info')}")
        log = self.request("GET", f"build/{build_id}/logs/").decode()
        return {
            "total": seen - started,
            "post": posted - started,
            **_phases(build, log, started, seen),
        }

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


_DONE = re.compile(r"^(\S+ \S+) (.*): done in ([0-9.]+) s$")
_SOLVED = re.compile(r"^(\S+ \S+) solved for \S+ in ([0-9.]+) s")


def _phases(build: dict, log: str, submitted: float, seen: float) -> dict[str, float]:
    lines = log.splitlines()
    first_line = _time(" ".join(lines[0].split(" ", 2)[:2]))
    phases = dict.fromkeys(PHASES, 0.0)
    phases["queue"] = _time(build["started_on"]) - _time(build["scheduled_on"])
    phases["process start"] = first_line - _time(build["started_on"])
    last_step_end = first_line
    for line in lines:
        if match := _SOLVED.match(line):
            phases["solve"] += float(match.group(2))
        elif match := _DONE.match(line):
            step, seconds = match.group(2), float(match.group(3))
            key = (
                "install"
                if step.startswith("installing")
                else "pip"
                if step.startswith("pip")
                else "artifacts"
                if step.startswith("writing")
                else None
            )
            if key:
                phases[key] += seconds
            last_step_end = _time(match.group(1))
    phases["finalize"] = _time(build["ended_on"]) - last_step_end
    # Submit → scheduled (the POST) and COMPLETED in the database → seen by the client's poll.
    phases["client"] = (_time(build["scheduled_on"]) - submitted) + (
        seen - _time(build["ended_on"])
    )
    return phases


async def raw_create(channel: str, specs: list[str], prefix: Path, cache: Path) -> int:
    records = await rattler.solve(
        [channel],
        specs,
        gateway=rattler.Gateway(cache_dir=cache / "repodata"),
        timestamp_policy="allow-missing",
    )
    await rattler.install(records, prefix, cache_dir=cache / "pkgs", show_progress=False)
    return len(records)


def raw_times(
    work: Path, channel: str, label: str, specs: list[str], repeat: int
) -> tuple[int, float]:
    cache = work / "raw-cache"
    count = asyncio.run(raw_create(channel, specs, work / f"raw-warm-{label}", cache))
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        asyncio.run(raw_create(channel, specs, work / f"raw-{label}-{i}", cache))
        times.append(time.perf_counter() - started)
    return count, statistics.median(times)


def bench_through_server(work: Path, channel: str, repeat: int, hosts: list[str]) -> None:
    raw = {label: raw_times(work, channel, label, specs, repeat) for label, specs in SIZES.items()}
    rows, phase_rows, first_rows = [], [], []
    for host in hosts:
        store = work / f"a-{host}"
        server = Server(host, store, channel)
        try:
            for label, specs in SIZES.items():
                server.build(f"warm-{label}", specs)  # warms the package cache
                results = [server.build(f"env-{label}-{i}", specs) for i in range(repeat)]
                count, raw_median = raw[label]
                median = statistics.median(r["total"] for r in results)
                rows.append(
                    [
                        host,
                        label,
                        str(count),
                        f"{median:.3f}",
                        f"{max(r['total'] for r in results):.3f}",
                        f"{raw_median:.3f}",
                        f"{median - raw_median:+.3f}",
                    ]
                )
                phase_rows.append(
                    [host, label]
                    + [f"{statistics.median(r[phase] for r in results):.3f}" for phase in PHASES]
                )
        finally:
            server.stop()
        # (a') the same store, package cache warm, a server started anew and idle for 10 s.
        server = Server(host, store, channel)
        try:
            time.sleep(10)
            first = server.build("first-after-start", SIZES["3"])
            second = server.build("second-after-start", SIZES["3"])
            first_rows.append(
                [
                    host,
                    f"{first['total']:.3f}",
                    f"{first['post']:.3f}",
                    f"{first['process start']:.3f}",
                    f"{second['total']:.3f}",
                    f"{second['post']:.3f}",
                    f"{raw['3'][1]:.3f}",
                ]
            )
        finally:
            server.stop()
    table(
        f"(a) submit -> COMPLETED over HTTP through a real server (s; {repeat} builds each, "
        "warm package cache)",
        [
            "host",
            "target",
            "packages",
            "median",
            "max",
            "raw rattler solve+install",
            "median - raw",
        ],
        rows,
    )
    table("(a) the same builds by phase (median s)", ["host", "target", *PHASES], phase_rows)
    table(
        "(a') first build (3 packages) after a server restarted on a warm store was up 10 s (s)",
        [
            "host",
            "first: submit -> COMPLETED",
            "its POST",
            "its process start",
            "second: submit -> COMPLETED",
            "its POST",
            "raw rattler solve+install",
        ],
        first_rows,
    )


def index4_channel(work: Path) -> str:
    records = json.loads(INDEX4.read_text())
    subdirs: dict[str, dict] = {"linux-64": {}, "noarch": {}}
    for filename, record in records.items():
        subdir = (
            "noarch" if record.get("subdir") == "noarch" or record.get("noarch") else "linux-64"
        )
        subdirs[subdir][filename] = record
    root = work / "index4"
    for subdir, packages in subdirs.items():
        (root / subdir).mkdir(parents=True, exist_ok=True)
        (root / subdir / "repodata.json").write_text(
            json.dumps({"info": {"subdir": subdir}, "packages": packages})
        )
    return root.as_uri()


def bench_solve(work: Path, repeat: int) -> None:
    if not INDEX4.exists():
        print(f"\n(b) skipped: {INDEX4} not found")
        return
    channel = index4_channel(work)
    gateway = make_gateway(work / "b-repodata")
    rows = []
    for label, specs in INDEX4_SPECS.items():

        async def product() -> int:
            spec = parse_specification(
                {"name": "bench", "channels": [channel], "dependencies": specs}
            )
            return len(await solve(spec.channels, spec.dependencies, "linux-64", gateway))

        async def raw() -> int:
            return len(
                await rattler.solve(
                    [channel],
                    specs,
                    gateway=gateway,
                    platforms=["linux-64", "noarch"],
                    timestamp_policy="allow-missing",
                )
            )

        count = asyncio.run(product())
        asyncio.run(raw())  # both warm: repodata parsed and cached
        p_times, r_times = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            asyncio.run(product())
            p_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            asyncio.run(raw())
            r_times.append(time.perf_counter() - started)
        p, r = statistics.median(p_times), statistics.median(r_times)
        rows.append([label, str(count), f"{p:.3f}", f"{r:.3f}", f"{p / r:.2f}x"])
    table(
        "(b) solve on index4 (linux-64 + noarch, median s)",
        ["specs", "packages", "product", "raw rattler.solve", "ratio"],
        rows,
    )


def bench_concurrent(work: Path, channel: str) -> None:
    rows = []
    for workers in (1, 2):
        server = Server(
            "conda-store",
            work / f"c-store-{workers}",
            channel,
            f"--BuildExecutor.max_workers={workers}",
        )
        try:
            server.build("warm", SIZES["10"])
            started = time.perf_counter()
            ids = [
                json.loads(
                    server.request(
                        "POST",
                        "specification/",
                        {
                            "namespace": "bench",
                            "specification": yaml.safe_dump(
                                {"name": f"c{i}", "dependencies": [*SIZES["10"], "alpha"]}
                            ),
                        },
                    )
                )["data"]["build_id"]
                for i in range(8)
            ]
            for build_id in ids:
                while server.get(f"build/{build_id}/")["status"] not in ("COMPLETED", "FAILED"):
                    time.sleep(0.01)
                assert server.get(f"build/{build_id}/")["status"] == "COMPLETED"
            rows.append([str(workers), f"{time.perf_counter() - started:.2f}"])
        finally:
            server.stop()
    table(
        "(c) 8 builds of ~11 packages submitted at once over HTTP", ["max_workers", "wall s"], rows
    )


def bench_disk(work: Path, channel: str) -> None:
    store = work / "d-store"
    server = Server("conda-store", store, channel)
    try:
        server.build("one", SIZES["40"])
        one = disk_usage(store)
        for i in range(9):
            server.build(f"more-{i}", [*SIZES["40"], "conflict-a" if i % 2 else "conflict-b"])
        ten = disk_usage(store)
    finally:
        server.stop()
    table(
        "(d) disk used by the whole store (hard links counted once)",
        ["environments", "MiB"],
        [["1", f"{one / 2**20:.1f}"], ["10", f"{ten / 2**20:.1f}"]],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel-dir", default=str(REPO / ".cache" / "test-channel"))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--hosts",
        default="conda-store,server,lab",
        help="server processes to measure (comma-separated)",
    )
    parser.add_argument("--only", default="a,b,c,d", help="parts to run (comma-separated)")
    args = parser.parse_args()
    channel = build_channel(args.channel_dir)
    parts = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="csj-bench-") as directory:
        work = Path(directory)
        if "a" in parts:
            bench_through_server(work, channel, args.repeat, args.hosts.split(","))
        if "b" in parts:
            bench_solve(work, args.repeat)
        if "c" in parts:
            bench_concurrent(work, channel)
        if "d" in parts:
            bench_disk(work, channel)


if __name__ == "__main__":
    main()
