"""Benchmark of a hub user's kernels in remote mode (issue 13). Prints tables.

    python bench/hub_kernels.py [--repeat N]

Two real processes, as on a hub: the central `jupyter conda-store` and a user's `jupyter
server` with the extension in remote mode (CondaStore.remote_url), acting as user alice.

(a) GET /api/kernelspecs of the user's server with 0, 100 and 1,000 environments alice may read
    on the central store (all in default/, which every user reads), against its time with none;
(b) time from a build's COMPLETED on the central store to its kernel being listed by the
    user's server (the long poll of kernelspecs/, remote_kernels.py), with 1,000 environments
    in the store;
(c) the same as (b) on the hub's deployment: the central service on PostgreSQL with a Celery
    worker on Redis (bench/distributed.py's `celery-1x1`), where the build ends in the worker
    and the service learns of it from the database.
For comparison, COMPLETED -> kernel listed in personal mode is bench/kernels.py (c).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from _tables import table
from distributed import TOKEN, Deployment, _time
from kernels import KERNEL_SPECS, add_environments, build_one, median_ms

from conda_store_jupyter.service import CondaStoreService
from conda_store_jupyter.testing.channel import build_channel
from tests.servers import StandaloneServer


def start_pair(
    work: Path, store_dir: str, channel: str, *central_args: str
) -> tuple[StandaloneServer, StandaloneServer]:
    central_dir = work / "central"
    central_dir.mkdir(exist_ok=True)
    central = StandaloneServer(
        central_dir,
        f"--CondaStore.store_dir={store_dir}",
        f"--CondaStore.channels={channel}",
        "--BuildExecutor.poll_interval=0.05",
        "--ServerApp.identity_provider_class=tests.authorizers.NamedUserIdentityProvider",
        *central_args,
    ).start()
    return central, user_server(work, f"{central.url}/conda-store/", "user-alice")


def user_server(work: Path, central_url: str, token: str) -> StandaloneServer:
    """A user's `jupyter server` in remote mode, pointed at `central_url` with `token`."""
    user_dir = work / "user"
    user_dir.mkdir(exist_ok=True)
    return StandaloneServer(
        user_dir,
        f"--CondaStore.remote_url={central_url}",
        f"--CondaStore.remote_token={token}",
        command="server",
    ).start()


def celery_latency(work: Path, channel: str, repeat: int) -> list[str]:
    """(c): builds on a Celery worker, kernels in a user's server."""
    delays = []
    with Deployment(work, "celery-1x1", channel) as deployment:
        user = user_server(work, f"http://127.0.0.1:{deployment.port}/conda-store/", TOKEN)
        try:
            for index in range(repeat):
                name = f"celery{index}"
                text = yaml.safe_dump({"name": name, "dependencies": KERNEL_SPECS})
                answer = deployment.request(
                    "POST", "specification/", {"namespace": "default", "specification": text}
                )
                while f"conda-store-default--{name}" not in listed(user):
                    time.sleep(0.005)
                seen = time.time()
                build = deployment.get(f"build/{answer['data']['build_id']}/")
                delays.append(seen - _time(build["ended_on"]))
        finally:
            user.stop()
    return [str(repeat), f"{statistics.median(delays):.3f}", f"{max(delays):.3f}"]


def listed(user: StandaloneServer) -> dict:
    return user.get_json("api/kernelspecs")["kernelspecs"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel-dir", default=str(REPO / ".cache" / "test-channel"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    channel = build_channel(args.channel_dir)
    with tempfile.TemporaryDirectory(prefix="csj-bench-hub-kernels-") as directory:
        work = Path(directory)
        config, sessions, build = build_one(work, channel)
        rows, baseline, registered = [], None, 1  # build_one made one real environment
        for target in (0, 100, 1000):
            if target > registered:
                add_environments(sessions, build, target - registered, registered)
                registered = target
            # With none: the central registry off (it publishes an empty listing).
            off = ["--KernelRegistry.enabled=False"] if target == 0 else []
            central, user = start_pair(work, config.store_dir, channel, *off)
            try:
                deadline = time.monotonic() + 60
                while len([n for n in listed(user) if n.startswith("conda-store-")]) < target:
                    assert time.monotonic() < deadline, "the user's server never got them all"
                    time.sleep(0.1)
                count = len(listed(user))
                http = median_ms(lambda user=user: listed(user), args.repeat)
            finally:
                user.stop()
                central.stop()
            baseline = http if baseline is None else baseline
            rows.append([str(target), str(count), f"{http:.1f}", f"{http - baseline:+.1f}"])
        table(
            "(a) the user's server: GET /api/kernelspecs (median ms)",
            ["readable environments", "specs listed", "GET /api/kernelspecs", "added"],
            rows,
        )

        central, user = start_pair(work, config.store_dir, channel)
        service = CondaStoreService(config, sessions)
        delays = []
        try:
            for index in range(args.repeat):
                name = f"hub{index}"
                central.call(
                    "POST",
                    "specification/",
                    {
                        "namespace": "default",
                        "specification": yaml.safe_dump(
                            {"name": name, "dependencies": KERNEL_SPECS}
                        ),
                    },
                )
                while f"conda-store-default--{name}" not in listed(user):
                    time.sleep(0.005)
                seen = datetime.datetime.now(datetime.timezone.utc)
                environment = service.get_environment("default", name)
                ended = service.get_build(environment.current_build_id).ended_on
                delays.append((seen - ended).total_seconds())
        finally:
            user.stop()
            central.stop()
        table(
            "(b) build COMPLETED on the central store -> kernel listed by the user's server (s), "
            f"{registered} environments in the store",
            ["builds", "median", "max"],
            [[str(args.repeat), f"{statistics.median(delays):.3f}", f"{max(delays):.3f}"]],
        )
        table(
            "(c) build COMPLETED on a Celery worker -> kernel listed by the user's server (s)",
            ["builds", "median", "max"],
            [celery_latency(work, channel, args.repeat)],
        )


if __name__ == "__main__":
    main()
