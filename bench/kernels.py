"""Benchmark of kernel registration (issue 5). Prints tables.

    python bench/kernels.py [--repeat N]

(a) time to list kernel specs (jupyter_client's KernelSpecManager.get_all_specs, which is what
    GET /api/kernelspecs, `jupyter kernelspec list`, nbconvert and papermill do) with 0, 100 and
    1,000 registered environments, against the same listing with none of this extension's kernels;
    and the same through a running server's GET /api/kernelspecs;
(b) KernelRegistry.sync() with 1,000 environments (a full reconcile, as at server start);
(c) time from a build's COMPLETED to its kernel being listed by a running server.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from conda_store_jupyter.config import CondaStore
from conda_store_jupyter.db import Build, BuildStatus, Environment, Namespace, open_database
from conda_store_jupyter.kernels import KernelRegistry
from conda_store_jupyter.service import CondaStoreService
from conda_store_jupyter.testing.channel import build_channel
from tests.servers import StandaloneServer

KERNEL_SPECS = ["python", "ipykernel"]


from _tables import table


def median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def build_one(work: Path, channel: str) -> tuple[CondaStore, object, Build]:
    """One real environment with ipykernel: its prefix is what the 1,000 fake ones point at."""
    config = CondaStore(store_dir=str(work / "store"), channels=[channel])
    _engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    server = StandaloneServer(
        work,
        f"--CondaStore.store_dir={config.store_dir}",
        f"--CondaStore.channels={channel}",
        "--BuildExecutor.poll_interval=0.05",
    ).start()
    try:
        build = service.submit_specification(
            "default", yaml.safe_dump({"name": "real", "dependencies": KERNEL_SPECS})
        )
        build = service.wait_for_build(build.id, interval=0.01)
        assert build.status == BuildStatus.COMPLETED, build.status_info
    finally:
        server.stop()
    with sessions() as session:  # the row (the service answers with API models)
        row = session.get(Build, build.id)
        session.expunge(row)
    return config, sessions, row


def add_environments(sessions, build: Build, count: int, start: int) -> None:
    """`count` more environments whose current build is a copy of `build` (same prefix)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    with sessions() as session, session.begin():
        namespace_id = session.scalar(sa.select(Namespace.id).where(Namespace.name == "default"))
        for index in range(start, start + count):
            environment = Environment(
                namespace_id=namespace_id, name=f"env{index:04d}", updated_on=now
            )
            session.add(environment)
            session.flush()
            copy = Build(
                environment_id=environment.id,
                specification_id=build.specification_id,
                status=BuildStatus.COMPLETED,
                build_dir=build.build_dir,
                scheduled_on=now,
                ended_on=now,
            )
            session.add(copy)
            session.flush()
            environment.current_build_id = copy.id


def bench_listing(work: Path, config: CondaStore, sessions, build: Build, repeat: int) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    kernels_dir = work / "data" / "kernels"
    registry = KernelRegistry(
        sessions=sessions, store_dir=config.store_dir, kernels_dir=str(kernels_dir)
    )
    os.environ["JUPYTER_DATA_DIR"] = str(work / "data")
    rows, sync_rows = [], []
    registered = 1
    baseline = None
    for target in (0, 100, 1000):
        if target == 0:
            # None of ours: take the real one away for the baseline.
            registry.enabled = False
            registry.sync()
        else:
            registry.enabled = True
            add_environments(sessions, build, target - registered, registered)
            registered = target
            started = time.perf_counter()
            registry.sync()
            sync_rows.append([str(target), f"{(time.perf_counter() - started) * 1000:.0f}"])
        count = len(KernelSpecManager().get_all_specs())
        listing = median_ms(lambda: KernelSpecManager().get_all_specs(), repeat)
        server = StandaloneServer(
            work,
            f"--CondaStore.store_dir={config.store_dir}",
            "--KernelRegistry.enabled=False" if target == 0 else "",
        ).start()
        try:
            http = median_ms(lambda: server.get_json("api/kernelspecs"), repeat)
        finally:
            server.stop()
        if baseline is None:
            baseline = (listing, http)
        rows.append(
            [
                str(target),
                str(count),
                f"{listing:.1f}",
                f"{listing - baseline[0]:+.1f}",
                f"{http:.1f}",
                f"{http - baseline[1]:+.1f}",
            ]
        )
        if target == 0:
            registry.enabled = True
            registry.sync()
    table(
        "(a) listing kernel specs (median ms)",
        ["environments", "specs listed", "get_all_specs", "added", "GET /api/kernelspecs", "added"],
        rows,
    )
    unchanged = median_ms(registry.sync, repeat)
    sync_rows.append(["1000 (nothing changed)", f"{unchanged:.0f}"])
    table("(b) KernelRegistry.sync() (ms)", ["environments", "sync"], sync_rows)


def bench_latency(work: Path, channel: str, repeat: int) -> None:
    config = CondaStore(store_dir=str(work / "latency-store"), channels=[channel])
    engine, sessions = open_database(config.database_url)
    service = CondaStoreService(config, sessions)
    workdir = work / "latency"
    workdir.mkdir()
    server = StandaloneServer(
        workdir,
        f"--CondaStore.store_dir={config.store_dir}",
        f"--CondaStore.channels={channel}",
        "--BuildExecutor.poll_interval=0.05",
    ).start()
    delays = []
    try:
        for index in range(repeat):
            build = service.submit_specification(
                "default", yaml.safe_dump({"name": f"lat{index}", "dependencies": KERNEL_SPECS})
            )
            name = f"conda-store-default--lat{index}"
            while name not in server.get_json("api/kernelspecs")["kernelspecs"]:
                time.sleep(0.005)
            listed = datetime.datetime.now(datetime.timezone.utc)
            ended = service.get_build(build.id).ended_on
            delays.append((listed - ended).total_seconds())
    finally:
        server.stop()
        engine.dispose()
    table(
        "(c) build COMPLETED -> kernel listed by the server (s)",
        ["builds", "median", "max"],
        [[str(repeat), f"{statistics.median(delays):.3f}", f"{max(delays):.3f}"]],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel-dir", default=str(REPO / ".cache" / "test-channel"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    channel = build_channel(args.channel_dir)
    with tempfile.TemporaryDirectory(prefix="csj-bench-kernels-") as directory:
        work = Path(directory)
        config, sessions, build = build_one(work, channel)
        bench_listing(work, config, sessions, build, args.repeat)
        bench_latency(work, channel, args.repeat)


if __name__ == "__main__":
    main()
