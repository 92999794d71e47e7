"""Benchmark of garbage collection (issue 14). Prints tables.

    python bench/lifecycle.py [--environments 20] [--builds-per-environment 10] [--keep 2]

A real `jupyter conda-store` server (a separate process, the local executor, SQLite) on a fresh
store with the local file:// test channel and `--CondaStore.gc_interval=0` (no periodic
collection during the run) is filled over HTTP, as a user does: `--environments` environments
(gc00, gc01, … in namespace `default`) of `--builds-per-environment` builds each, all POSTed to
specification/ at once (build j of every environment, then j + 1, …), then waited for. Every
build of an environment has its own specification (the dependencies change along a schedule
of 10 package sets, and `variables` carry the build's number), and the early sets use packages
(csj-bigdata, 40 MiB; conflict-*, beta, gamma, requests and its dependencies, pygments…) that
the newest builds no longer use, so that the package cache holds entries only old builds use.

Then, with the server still running (the real situation: the CLI works on the store directly):
(a) the fill: wall time (first POST -> last `ended_on`), builds per minute;
(b) `GET usage/` (its first call, which walks the store, then the median of --repeat more, which
    that walk serves while the store is unchanged; `du -s --bytes` of the store, median of
    --repeat, is the raw walk to compare with) and the store's bytes (usage/'s, and
    `du -s --bytes` and `du -s -B1` of the store directory) before the collection;
(c) the package cache entries (`<store>/.pkgs/*`) are aged an hour back (os.utime: gc keeps
    entries touched in the last 10 minutes), then `jupyter conda-store gc --dry-run --json
    --keep-builds=K` and `jupyter conda-store gc --json --keep-builds=K` run as subprocesses,
    as an administrator runs them: wall time, the report's duration_seconds, builds collected,
    cache entries removed, bytes freed (predicted by the dry run, reported by the real run,
    and du before - du after);
(d) usage/ time and the store's bytes after;
(e) the raw engine, in the same run: the restore of collected builds through the server
    (POST build/{id}/restore/, client-side time from the POST to the build seen COMPLETED, as
    a restore keeps the build's own started_on and ended_on;
    the first one finds in the package cache only what the kept builds use, as after a real
    collection; the next ones restore the same package set for other environments, so the
    cache is warm) against a plain py-rattler install of the same records (the build's lock
    file from GET build/{id}/lockfile/, `records_from_lockfile`, `rattler.install`) into a
    temporary prefix, with a fresh cache directory (cold: extracts every package from the
    channel) and with the store's own package cache (warm).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
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

from conda_store_jupyter.artifacts import records_from_lockfile
from conda_store_jupyter.testing.channel import build_channel
from tests.servers import JUPYTER, StandaloneServer, _jupyter_env

NAMESPACE = "default"
FINAL = ("COMPLETED", "FAILED", "CANCELED")
# Build j of every environment uses SCHEDULE[j % 10]: the early sets hold packages the late
# ones (the builds a retention of 2 keeps) no longer use.
SCHEDULE = [
    ["csj-bigdata", "alpha 1.0"],
    ["alpha 1.0", "conflict-a"],
    ["alpha 1.1", "conflict-b"],
    ["beta"],
    ["gamma", "conflict-a"],
    ["python", "csj-probe", "alpha 1.1"],
    ["python", "requests"],
    ["python", "requests", "pygments"],
    ["python", "jupyter-client", "alpha 2.0"],
    ["python", "jupyter-client", "alpha 2.0", "csj-probe"],
]
MiB = 2**20


def _time(stamp: str) -> float:
    """An API timestamp (ISO 8601, UTC without a zone) as seconds since the epoch."""
    parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def mib(count: int | None) -> str:
    return "-" if count is None else f"{count / MiB:.1f}"


def specification(environment: int, build: int) -> str:
    return yaml.safe_dump(
        {
            "name": f"gc{environment:02d}",
            "dependencies": SCHEDULE[build % len(SCHEDULE)],
            "variables": {"CSJ_BENCH_BUILD": str(build)},
        }
    )


class Client:
    """The REST API of a running server, as a user's client talks to it."""

    def __init__(self, server: StandaloneServer):
        self.server = server

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 120):
        request = urllib.request.Request(
            f"{self.server.url}/conda-store/api/v1/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"token {self.server.token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return raw if path.endswith("lockfile/") else json.loads(raw)

    def get(self, path: str):
        return self.call("GET", path)["data"]

    def submit(self, text: str) -> int:
        answer = self.call(
            "POST", "specification/", {"namespace": NAMESPACE, "specification": text}
        )
        return answer["data"]["build_id"]

    def active(self) -> int:
        """Builds queued or building (the count of two filtered listings of one item)."""
        return sum(
            self.call("GET", f"build/?namespace={NAMESPACE}&status={status}&size=1")["count"]
            for status in ("QUEUED", "BUILDING")
        )

    def builds(self) -> list[dict]:
        return self.get(f"build/?namespace={NAMESPACE}&size=1000")

    def usage_ms(self, repeat: int) -> tuple[float, float, dict]:
        """(the first call's ms: the store changed since the last one, so it is walked; the
        median ms of the next `repeat` calls, which one walk serves; the answer)."""
        times, answer = [], {}
        for _ in range(repeat + 1):
            started = time.perf_counter()
            answer = self.get("usage/")
            times.append(time.perf_counter() - started)
        return times[0] * 1000, statistics.median(times[1:]) * 1000, answer

    def wait_build(self, build_id: int, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            build = self.get(f"build/{build_id}/")
            if build["status"] in FINAL:
                return build
            if time.monotonic() > deadline:
                raise RuntimeError(f"build {build_id} not final after {timeout:.0f} s")
            time.sleep(0.02)


def du(path: Path, *flags: str) -> int:
    """`du -s FLAGS path`: `--bytes`, apparent bytes; `-B1`, bytes of the allocated blocks."""
    output = subprocess.run(
        ["du", "-s", *flags, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return int(output.split()[0])


def store_state(client: Client, store: Path, repeat: int) -> dict:
    """What usage/ says of the store and how long it takes, against `du` over the same tree."""
    walked_ms, usage_ms, usage = client.usage_ms(repeat)
    du_times = []
    for _ in range(repeat):
        started = time.perf_counter()
        du_bytes = du(store, "--bytes")
        du_times.append(time.perf_counter() - started)
    files = sum(len(names) for _, _, names in os.walk(store))
    return {
        "walked_ms": walked_ms,
        "usage_ms": usage_ms,
        "du_ms": statistics.median(du_times) * 1000,
        "store": usage["store"]["bytes"],
        "cache": usage["store"]["package_cache_bytes"],
        "du": du_bytes,
        "blocks": du(store, "-B1"),
        "files": files,
        "entries": len(cache_entries(store)),
        "builds": sum(1 for b in client.builds() if not b.get("collected_on")),
    }


def gc_cli(workdir: Path, store: Path, keep: int, dry_run: bool) -> tuple[float, dict]:
    command = [
        JUPYTER,
        "conda-store",
        "gc",
        *(["--dry-run"] if dry_run else []),
        "--json",
        f"--CondaStore.store_dir={store}",
        f"--keep-builds={keep}",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=_jupyter_env(workdir), capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, json.loads(done.stdout)


def cache_entries(store: Path) -> list[Path]:
    cache = store / ".pkgs"
    return [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]


def fill(client: Client, environments: int, per_environment: int) -> tuple[list[list[str]], dict]:
    ids: dict[tuple[int, int], int] = {}
    first = time.time()
    for build in range(per_environment):
        for environment in range(environments):
            ids[environment, build] = client.submit(specification(environment, build))
    submitted = time.time() - first
    while client.active():
        time.sleep(1)
    records = {b["id"]: b for b in client.builds()}
    ours = [records[i] for i in ids.values()]
    done = [b for b in ours if b["status"] == "COMPLETED"]
    failed = [b for b in ours if b["status"] != "COMPLETED"]
    for build in failed[:5]:
        print(f"  build {build['id']} {build['status']}: {build['status_info']}")
    wall = max(_time(b["ended_on"]) for b in done) - first
    durations = [_time(b["ended_on"]) - _time(b["started_on"]) for b in done]
    row = [
        f"{environments} x {per_environment}",
        f"{len(done)}/{len(ours)}",
        f"{submitted:.1f}",
        f"{wall:.1f}",
        f"{len(done) / wall * 60:.1f}",
        f"{statistics.median(durations):.2f}",
        f"{max(durations):.2f}",
    ]
    return [row], ids


async def raw_install(
    lockfile: dict, prefix: Path, cache: Path, repodata: Path
) -> tuple[int, float, float]:
    """(packages, seconds to look the records up, seconds to install them)."""
    started = time.perf_counter()
    records = await records_from_lockfile(
        lockfile, str(rattler.Platform.current()), gateway=rattler.Gateway(cache_dir=repodata)
    )
    looked_up = time.perf_counter()
    await rattler.install(records, prefix, cache_dir=cache, show_progress=False)
    return len(records), looked_up - started, time.perf_counter() - looked_up


def _spread(times: list[float]) -> list[str]:
    return [f"{statistics.median(times):.3f}", f"{min(times):.3f}", f"{max(times):.3f}"]


def restores(
    client: Client, work: Path, store: Path, ids: dict, environments: int, last_collected: int
) -> list[list[str]]:
    """Server restore of collected builds against rattler.install of the same records."""
    targets = [ids[e, last_collected] for e in range(min(environments, 6))]
    label = " ".join(SCHEDULE[last_collected % len(SCHEDULE)])
    lockfile = yaml.safe_load(client.call("GET", f"build/{targets[0]}/lockfile/"))
    server_times = []
    for build_id in targets:
        started = time.perf_counter()
        client.call("POST", f"build/{build_id}/restore/")
        build = client.wait_build(build_id)
        server_times.append(time.perf_counter() - started)
        if build["status"] != "COMPLETED" or build.get("collected_on"):
            raise RuntimeError(f"restore of build {build_id}: {build['status']}")
    rows = [["server restore, cache as gc left it (1st)", label, *_spread(server_times[:1]), "-"]]
    rows[0].append("1")
    if len(server_times) > 1:
        rows.append(
            [
                "server restore, warm cache (same pkgs, next envs)",
                label,
                *_spread(server_times[1:]),
                "-",
                str(len(server_times) - 1),
            ]
        )
    runs = {
        "rattler.install, fresh cache dir (cold)": [work / f"raw-cache-{i}" for i in range(3)],
        "rattler.install, the store's .pkgs (warm)": [store / ".pkgs"] * 3,
    }
    for index, (name, caches) in enumerate(runs.items()):
        results = [
            asyncio.run(
                raw_install(
                    lockfile,
                    work / f"raw-prefix-{index}-{run}",
                    cache,
                    work / f"raw-repodata-{index}-{run}",
                )
            )
            for run, cache in enumerate(caches)
        ]
        rows.append(
            [
                name,
                f"{label} ({results[0][0]} records)",
                *_spread([lookup + install for _, lookup, install in results]),
                f"{statistics.median(install for _, _, install in results):.3f}",
                str(len(results)),
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--environments", type=int, default=20)
    parser.add_argument("--builds-per-environment", type=int, default=10)
    parser.add_argument("--keep", type=int, default=2, help="--keep-builds of the collection")
    parser.add_argument("--repeat", type=int, default=5, help="calls of usage/ per median")
    parser.add_argument("--channel-dir", default=str(REPO / ".cache" / "test-channel"))
    args = parser.parse_args()
    environments, per_environment, keep = args.environments, args.builds_per_environment, args.keep
    channel = build_channel(args.channel_dir)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores (load average at start {load}), Python "
        f"{sys.version.split()[0]}, py-rattler "
        f"{getattr(rattler, '__version__', '?')}; local executor (BuildExecutor.max_workers "
        f"default: half the cores), SQLite; {environments} environments x {per_environment} "
        f"builds, gc --keep-builds={keep}"
    )
    with tempfile.TemporaryDirectory(prefix="csj-bench-gc-") as directory:
        work = Path(directory)
        store = work / "store"
        workdir = work / "server"
        workdir.mkdir()
        server = StandaloneServer(
            workdir,
            f"--CondaStore.store_dir={store}",
            f"--CondaStore.channels={channel}",
            "--CondaStore.gc_interval=0",
            "--BuildExecutor.poll_interval=0.05",
        ).start()
        client = Client(server)
        try:
            fill_rows, ids = fill(client, environments, per_environment)
            table(
                "(a) filling the store over HTTP (s; all POSTed at once, local executor)",
                [
                    "builds",
                    "completed",
                    "POSTs took",
                    "wall (1st POST -> last ended_on)",
                    "builds/min",
                    "build median",
                    "build max",
                ],
                fill_rows,
            )

            before = store_state(client, store, args.repeat)

            # (c) the cache entries an hour old, then the collection by the CLI
            old = time.time() - 3600
            for path in (store / ".pkgs").iterdir():
                os.utime(path, (old, old), follow_symlinks=False)
            dry_wall, dry = gc_cli(workdir, store, keep, dry_run=True)
            real_wall, real = gc_cli(workdir, store, keep, dry_run=False)
            after = store_state(client, store, args.repeat)
            collected_api = sum(1 for b in client.builds() if b.get("collected_on"))
            expected = environments * max(0, per_environment - keep)
            table(
                f"(c) jupyter conda-store gc --keep-builds={keep}, as subprocesses, server up "
                f"(expected builds collected: {expected})",
                [
                    "run",
                    "wall s",
                    "duration_seconds",
                    "builds",
                    "cache entries",
                    "freed (report) MiB",
                    "du --bytes freed MiB",
                    "du -B1 freed MiB",
                ],
                [
                    [
                        "--dry-run",
                        f"{dry_wall:.2f}",
                        f"{dry['duration_seconds']:.3f}",
                        str(len(dry["builds"])),
                        f"{len(dry['packages'])} of {before['entries']}",
                        f"{mib(dry['freed_bytes'])} (predicted)",
                        "-",
                        "-",
                    ],
                    [
                        "real",
                        f"{real_wall:.2f}",
                        f"{real['duration_seconds']:.3f}",
                        f"{len(real['builds'])} (API: {collected_api} collected_on)",
                        f"{len(real['packages'])} of {before['entries']}",
                        mib(real["freed_bytes"]),
                        mib(before["du"] - after["du"]),
                        mib(before["blocks"] - after["blocks"]),
                    ],
                ],
            )
            if real.get("package_cache_skipped") or dry.get("package_cache_skipped"):
                print(f"  package cache skipped: {real.get('package_cache_skipped')}")

            table(
                "(b, d) the store before and after the collection (MiB; GET usage/: its first "
                f"call, then the median of {args.repeat} more; du -s: median ms of {args.repeat})",
                [
                    "",
                    "GET usage/ ms (walks)",
                    "GET usage/ ms (next calls)",
                    "du -s ms (raw walk)",
                    "files walked",
                    "usage/ store",
                    "usage/ package cache",
                    "du -s --bytes",
                    "du -s -B1",
                    "cache entries",
                    "builds with a prefix",
                ],
                [
                    [
                        label,
                        f"{state['walked_ms']:.1f}",
                        f"{state['usage_ms']:.1f}",
                        f"{state['du_ms']:.1f}",
                        str(state["files"]),
                        mib(state["store"]),
                        mib(state["cache"]),
                        mib(state["du"]),
                        mib(state["blocks"]),
                        str(state["entries"]),
                        str(state["builds"]),
                    ]
                    for label, state in (("before gc", before), ("after gc", after))
                ],
            )

            last_collected = per_environment - keep - 1
            if last_collected >= 0:
                table(
                    f"(e) restoring a collected build (build {last_collected} of gc00.. , the "
                    "newest collected) vs the raw engine (s)",
                    [
                        "how",
                        "packages",
                        "total median (server: POST -> COMPLETED seen; raw: lookup + install)",
                        "min",
                        "max",
                        "raw: install only",
                        "runs",
                    ],
                    restores(client, work, store, ids, environments, last_collected),
                )
        finally:
            output = server.stop()
        problems = [
            line.strip()[:200]
            for line in output.splitlines()
            if any(word in line for word in ("ERROR", "CRITICAL", "Traceback"))
        ]
        if problems:
            print("\nserver log problems:")
            for line in problems[:20]:
                print(f"  {line}")


if __name__ == "__main__":
    main()
