"""Benchmark of builds (issue 3). Prints a table; compares with py-rattler alone in the same run.

    python bench/builds.py [--channel-dir DIR] [--repeat N]

(a) submit → COMPLETED for environments of ~1, ~10 and ~40 packages from the local channel,
    against rattler.solve + rattler.install of the same specs (warm package caches for both);
(b) solve time through the product's solver against raw rattler.solve on real channel metadata
    (../shared/data/repodata/, conda's index4 test data);
(c) 8 builds submitted at once with BuildExecutor.max_workers 1 and 2;
(d) disk used by 10 environments sharing most packages, against one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import rattler
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from conda_store_jupyter.config import CondaStore  # noqa: E402
from conda_store_jupyter.db import BuildStatus, open_database  # noqa: E402
from conda_store_jupyter.executor import BuildExecutor  # noqa: E402
from conda_store_jupyter.service import CondaStoreService, build_settings  # noqa: E402
from conda_store_jupyter.solver import make_gateway, solve  # noqa: E402
from conda_store_jupyter.spec import parse_specification  # noqa: E402
from conda_store_jupyter.store import disk_usage  # noqa: E402
from conda_store_jupyter.testing.channel import build_channel  # noqa: E402

SIZES = {
    "1": ["alpha"],
    "10": ["python", "jupyter-client"],
    "40": ["python", "ipykernel", "requests", "csj-probe", "activate-probe", "gamma"],
}
INDEX4 = REPO.parent / "shared" / "data" / "repodata" / "conda-tests_index4_defaults-linux64+noarch_2018.json"
INDEX4_SPECS = {
    "python=3.6 numpy pandas scipy": ["python=3.6", "numpy", "pandas", "scipy"],
    "python=3.7 matplotlib jupyter sqlalchemy": ["python=3.7", "matplotlib", "jupyter", "sqlalchemy"],
}


class Store:
    def __init__(self, root: Path, channel: str, max_workers: int = 1):
        self.config = CondaStore(store_dir=str(root), channels=[channel], build_artifacts=["lockfile"])
        self.engine, sessions = open_database(self.config.database_url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.executor = BuildExecutor(
            sessions=sessions, settings=build_settings(self.config), max_workers=max_workers,
            poll_interval=0.05,
        )
        asyncio.run_coroutine_threadsafe(self.executor.start(), self.loop).result()
        self.service = CondaStoreService(self.config, sessions, self.executor.wake)

    def build(self, name: str, specs: list[str]) -> float:
        text = yaml.safe_dump({"name": name, "dependencies": specs})
        started = time.perf_counter()
        build = self.service.submit_specification("bench", text)
        done = self.service.wait_for_build(build.id, interval=0.005)
        elapsed = time.perf_counter() - started
        assert done.status == BuildStatus.COMPLETED, done.status_info
        return elapsed

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.executor.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.engine.dispose()


async def raw_create(channel: str, specs: list[str], prefix: Path, cache: Path) -> int:
    records = await rattler.solve([channel], specs, gateway=rattler.Gateway(cache_dir=cache / "repodata"),
                                  timestamp_policy="allow-missing")
    await rattler.install(records, prefix, cache_dir=cache / "pkgs", show_progress=False)
    return len(records)


from _tables import table  # noqa: E402


def bench_submit_to_completed(work: Path, channel: str, repeat: int) -> None:
    store = Store(work / "a-store", channel)
    rows = []
    try:
        for label, specs in SIZES.items():
            store.build(f"warm-{label}", specs)  # warms the package cache
            product = [store.build(f"env-{label}-{i}", specs) for i in range(repeat)]
            cache = work / "a-raw-cache"
            count = asyncio.run(raw_create(channel, specs, work / f"raw-warm-{label}", cache))
            raw = []
            for i in range(repeat):
                started = time.perf_counter()
                asyncio.run(raw_create(channel, specs, work / f"raw-{label}-{i}", cache))
                raw.append(time.perf_counter() - started)
            p, r = statistics.median(product), statistics.median(raw)
            rows.append([label, str(count), f"{p:.3f}", f"{r:.3f}", f"{p / r:.1f}x"])
    finally:
        store.close()
    table("(a) submit -> COMPLETED (median s, warm package cache)",
          ["target", "packages", "product", "raw rattler solve+install", "ratio"], rows)


def index4_channel(work: Path) -> str:
    records = json.loads(INDEX4.read_text())
    subdirs: dict[str, dict] = {"linux-64": {}, "noarch": {}}
    for filename, record in records.items():
        subdir = "noarch" if record.get("subdir") == "noarch" or record.get("noarch") else "linux-64"
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
            spec = parse_specification({"name": "bench", "channels": [channel], "dependencies": specs})
            return len(await solve(spec.channels, spec.dependencies, "linux-64", gateway))

        async def raw() -> int:
            return len(await rattler.solve([channel], specs, gateway=gateway, platforms=["linux-64", "noarch"],
                                           timestamp_policy="allow-missing"))

        count = asyncio.run(product())
        asyncio.run(raw())  # both warm: repodata parsed and cached
        p_times, r_times = [], []
        for _ in range(repeat):
            started = time.perf_counter(); asyncio.run(product()); p_times.append(time.perf_counter() - started)
            started = time.perf_counter(); asyncio.run(raw()); r_times.append(time.perf_counter() - started)
        p, r = statistics.median(p_times), statistics.median(r_times)
        rows.append([label, str(count), f"{p:.3f}", f"{r:.3f}", f"{p / r:.2f}x"])
    table("(b) solve on index4 (linux-64 + noarch, median s)",
          ["specs", "packages", "product", "raw rattler.solve", "ratio"], rows)


def bench_concurrent(work: Path, channel: str) -> None:
    rows = []
    for workers in (1, 2):
        store = Store(work / f"c-store-{workers}", channel, max_workers=workers)
        try:
            store.build("warm", SIZES["10"])
            started = time.perf_counter()
            builds = [
                store.service.submit_specification(
                    "bench", yaml.safe_dump({"name": f"c{i}", "dependencies": [*SIZES["10"], "alpha"]})
                )
                for i in range(8)
            ]
            for build in builds:
                assert store.service.wait_for_build(build.id, interval=0.005).status == BuildStatus.COMPLETED
            rows.append([str(workers), f"{time.perf_counter() - started:.2f}"])
        finally:
            store.close()
    table("(c) 8 builds of ~11 packages submitted at once", ["max_workers", "wall s"], rows)


def bench_disk(work: Path, channel: str) -> None:
    store = Store(work / "d-store", channel)
    try:
        store.build("one", SIZES["40"])
        one = disk_usage(Path(store.config.store_dir))
        for i in range(9):
            store.build(f"more-{i}", [*SIZES["40"], "conflict-a" if i % 2 else "conflict-b"])
        ten = disk_usage(Path(store.config.store_dir))
    finally:
        store.close()
    table("(d) disk used by the whole store (hard links counted once)",
          ["environments", "MiB"], [["1", f"{one / 2**20:.1f}"], ["10", f"{ten / 2**20:.1f}"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channel-dir", default=str(REPO / ".cache" / "test-channel"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    channel = build_channel(args.channel_dir)
    with tempfile.TemporaryDirectory(prefix="csj-bench-") as directory:
        work = Path(directory)
        bench_submit_to_completed(work, channel, args.repeat)
        bench_solve(work, args.repeat)
        bench_concurrent(work, channel)
        bench_disk(work, channel)


if __name__ == "__main__":
    main()
