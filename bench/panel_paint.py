"""Benchmark of the sidebar on a large hub: its first paint, a search, expanding a big namespace.

    python bench/panel_paint.py [--namespaces 200] [--environments 10000] [--big 2500]
                                [--runs 3]

A fresh store's SQLite database is filled through the SQLAlchemy models before the server
starts: --namespaces namespaces (the user's own, "default"; "big" with --big environments; the
others share the rest), --environments environments in all, each with one specification and one
COMPLETED build made current (nothing is built). A real `jupyter lab` (this checkout's
labextension: run `jlpm build` first) serves it with its Jupyter dirs under a temp dir, a user
named "bench" and no kernels. bench/panel_paint.js then opens JupyterLab in Debian's Chromium
(Playwright from ui-tests/node_modules), --runs times in a fresh browser context, and times in
the page's clock:

- open: from the click on the sidebar's tab to the first tree item painted (namespace headers),
  and to the first environment painted (the user's namespace, loaded after the list);
- search: from typing a word to the row of the one environment named so, in a collapsed
  namespace (includes the sidebar's 300 ms typing pause);
- expand: from the click on the big namespace's header to its first environment painted;
- End: the End key on that header, to the tree's last item focused and painted (virtual rows).

It also counts the API requests and response bytes of opening the panel and of a refresh (and
how many of those were answered 304 through the browser's cache, where the server sends ETags),
and the tree items drawn (virtualisation). Prints a markdown table: the median of the runs and
the worst.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, update

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conda_store_jupyter import db as orm
from conda_store_jupyter.store import StoreLayout
from tests.servers import StandaloneServer

USER = "bench"
PRIMARY = "default"  # a personal server's primary namespace (CondaStore.default_namespace)
BIG = "big"
NEEDLE = "needle-env"
CHUNK = 5000

# The server's user is "bench" whatever the request says (the browser needs no token).
CONFIG = """
from jupyter_server.auth.identity import IdentityProvider, User


class BenchIdentity(IdentityProvider):
    def get_user(self, handler):
        return User(username={user!r}, name={user!r}, display_name={user!r})


c.ServerApp.identity_provider_class = BenchIdentity
c.ServerApp.open_browser = False
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.CondaStore.store_dir = {store!r}
c.CondaStore.database_url = {database!r}
c.CondaStore.channels = [{channel!r}]
c.BuildExecutor.max_workers = 0
c.KernelRegistry.enabled = False
"""


def layout(namespaces: int, environments: int, big: int) -> list[tuple[str, int]]:
    """(namespace, how many environments) for every namespace: the primary, big, ns-001..."""
    others = namespaces - 2
    rest = environments - 50 - big
    spread = [rest // others + (1 if i < rest % others else 0) for i in range(others)]
    return [(PRIMARY, 50), (BIG, big)] + [(f"ns-{i + 1:03d}", n) for i, n in enumerate(spread)]


def seed(database: str, store_dir: Path, plan: list[tuple[str, int]]) -> tuple[str, float]:
    """Bulk-insert the rows; returns the needle's namespace/name and the seconds it took."""
    started = time.perf_counter()
    _, sessions = orm.open_database(database)
    base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    namespaces, environments, specs, builds = [], [], [], []
    needle_at = plan[len(plan) * 3 // 4][0]  # a namespace nobody expands
    for n, (namespace, count) in enumerate(plan, 1):
        namespaces.append({"id": n, "name": namespace, "metadata_": {}, "created_on": base})
        for i in range(count):
            env_id = len(environments) + 1
            name = NEEDLE if namespace == needle_at and i == count // 2 else f"env-{i:05d}"
            spec = {"name": name, "channels": ["conda-forge"], "dependencies": ["python=3.11"]}
            sha = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()
            when = base + dt.timedelta(seconds=env_id)
            environments.append(
                {
                    "id": env_id,
                    "namespace_id": n,
                    "name": name,
                    "description": f"benchmark environment {env_id}",
                    "created_on": when,
                    "updated_on": when,
                }
            )
            specs.append(
                {"id": env_id, "name": name, "spec": spec, "sha256": sha, "created_on": when}
            )
            builds.append(
                {
                    "id": env_id,
                    "environment_id": env_id,
                    "specification_id": env_id,
                    "status": orm.BuildStatus.COMPLETED,
                    "scheduled_on": when,
                    "started_on": when,
                    "ended_on": when + dt.timedelta(seconds=40),
                    "size": 10**8,
                    "build_dir": StoreLayout.build_dir_name(
                        sha, int(when.timestamp()), env_id, name
                    ),
                }
            )
    with sessions() as session, session.begin():
        for model, rows in (
            (orm.Namespace, namespaces),
            (orm.Environment, environments),
            (orm.Specification, specs),
            (orm.Build, builds),
        ):
            for start in range(0, len(rows), CHUNK):
                session.execute(insert(model), rows[start : start + CHUNK])
        current = [{"id": e["id"], "current_build_id": e["id"]} for e in environments]
        for start in range(0, len(current), CHUNK):
            session.execute(update(orm.Environment), current[start : start + CHUNK])
    # The envs/<name> links a real store has (else the server's start-up writes them all).
    names = {n["id"]: n["name"] for n in namespaces}
    for env, build in zip(environments, builds):
        link = store_dir / names[env["namespace_id"]] / "envs" / env["name"]
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(Path("..") / build["build_dir"], link)
    needle = next(e for e in environments if e["name"] == NEEDLE)
    return f"{names[needle['namespace_id']]}/{NEEDLE}", time.perf_counter() - started


def row(label: str, values: list[float], unit: str = "ms") -> str:
    if unit == "ms":
        cells = f"{statistics.median(values):.0f} ms | {max(values):.0f} ms"
    else:
        cells = f"{statistics.median(values):,.0f} | {max(values):,.0f}"
    return f"| {label} | {cells} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--environments", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="csj-panel-paint-") as tmp:
        work = Path(tmp)
        store_dir = work / "store"
        store_dir.mkdir()
        database = f"sqlite:///{store_dir / 'conda-store.sqlite'}"
        plan = layout(args.namespaces, args.environments, args.big)
        needle, seconds = seed(database, store_dir, plan)
        print(
            f"seeded {sum(n for _, n in plan):,} environments in {len(plan)} namespaces "
            f"in {seconds:.1f} s; the search looks for {needle}",
            flush=True,
        )
        (work / "jupyter_server_config.py").write_text(
            CONFIG.format(
                user=USER,
                store=str(store_dir),
                database=database,
                channel=(work / "no-such-channel").as_uri(),
            )
        )
        server = StandaloneServer(work, "--no-browser", command="lab")
        server.start(timeout=180)
        try:
            permission = server.get("permission/")["data"]
            assert permission["primary_namespace"] == PRIMARY, permission
            output = subprocess.run(
                [
                    "node",
                    str(HERE / "panel_paint.js"),
                    f"{server.url}",
                    str(args.runs),
                    NEEDLE,
                    needle,
                    BIG,
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
            ).stdout
        finally:
            server.stop()
    runs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    column = lambda key: [r[key] for r in runs]  # noqa: E731
    print(
        f"\nSidebar on {sum(n for _, n in plan):,} environments in {len(plan)} namespaces "
        f"({len(runs)} runs, Chromium {os.environ.get('CSJ_CHROMIUM', '/usr/bin/chromium')})\n"
    )
    print("| measure | median | worst |")
    print("|---|---|---|")
    print(row("click on the tab → first tree item painted", column("firstItem")))
    print(row("click on the tab → first environment painted", column("firstEnvironment")))
    print(
        row(
            f"search “{NEEDLE}” (collapsed namespace) → its row painted "
            "(incl. 300 ms typing pause)",
            column("search"),
        )
    )
    print(row(f"expand “{BIG}” ({args.big:,} environments) → first row painted", column("expand")))
    print(row("End key → the tree's last item focused and painted", column("endKey")))
    print(row("API requests to open the panel", column("openRequests"), unit="n"))
    print(row("API response bytes to open the panel", column("openBytes"), unit="n"))
    print(row("API requests of a refresh (Refresh button)", column("refreshRequests"), unit="n"))
    print(row("... of which answered 304 Not Modified", column("refresh304"), unit="n"))
    print(row("API response bytes of a refresh", column("refreshBytes"), unit="n"))
    print(row("namespace headers drawn", column("namespaces"), unit="n"))
    print(row("tree items drawn after opening", column("drawnItems"), unit="n"))
    print(row(f"tree items drawn with “{BIG}” expanded", column("drawnAfterExpand"), unit="n"))
    focused = {r["endFocused"] for r in runs}
    print(f"\nEnd focused: {', '.join(sorted(str(f) for f in focused))}")


if __name__ == "__main__":
    main()
