"""`jupyter conda-store worker`: a Celery worker that builds for a shared deployment.

It reads the same configuration as `jupyter conda-store` (jupyter_conda_store_config.py in the
Jupyter config path, `--config`, and `--CondaStore.*` / `--CeleryExecutor.*` flags), refuses to
start on one that cannot work (SQLite, no broker), then consumes the build queue with a pool of
`--concurrency` threads. Each thread runs one build at a time in its own child process, forked
by the worker's build launcher (see launcher.py), so a cancel or a time limit kills exactly one
build, and a SIGKILL of the worker takes its builds with it (the maintenance leader then fails
them once their heartbeat is stale).

It also takes part in the store's maintenance (maintenance.py): with no server running, a
worker fails stale builds and refills the broker.
"""

from __future__ import annotations

import logging
import os
import sys

from celery.utils.nodenames import default_nodename, host_format
from jupyter_core.application import JupyterApp
from traitlets import Int, Unicode, default

from .. import __version__
from ..config import CondaStore
from ..db import open_database
from ..errors import CondaStoreError
from ..service import build_settings
from .executor import CeleryExecutor
from .queue import TASK


class CondaStoreWorker(JupyterApp):
    name = "jupyter-conda-store-worker"
    description = "Build conda-store environments queued by `jupyter conda-store` servers."
    version = __version__
    classes = [CondaStore, CeleryExecutor]

    concurrency = Int(1, help="Builds this worker runs at once (threads).").tag(config=True)
    hostname = Unicode(
        "",
        help="The worker's Celery node name, e.g. w1@%h (%h: this machine's host name). "
        "Builds record it, with the worker's pid, as the worker that ran them. "
        "Default: celery@<host name>.",
    ).tag(config=True)
    loglevel = Unicode("INFO", help="Celery's log level.").tag(config=True)

    aliases = {
        **JupyterApp.aliases,
        "concurrency": "CondaStoreWorker.concurrency",
        "hostname": "CondaStoreWorker.hostname",
        "loglevel": "CondaStoreWorker.loglevel",
    }

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO

    @default("config_file_name")
    def _default_config_file_name(self) -> str:
        return "jupyter_conda_store_config"  # the servers' (`jupyter conda-store`)

    def start(self) -> None:
        conda_store = CondaStore(parent=self)
        if conda_store.executor != "celery":
            self.log.warning(
                "conda-store worker: CondaStore.executor is %r in this configuration; servers "
                "configured so build by themselves and send this worker nothing",
                conda_store.executor,
            )
            conda_store.executor = "celery"
        problem = conda_store.deployment_problem()
        if problem:
            self.log.critical("conda-store worker could not start: %s", problem)
            self.exit(1)
        try:
            engine, sessions = open_database(conda_store.database_url)
        except Exception as error:  # noqa: BLE001 -- said plainly, not as a traceback
            self.log.critical("conda-store worker could not open the database: %s", error)
            self.exit(1)
        executor = CeleryExecutor(
            parent=self,
            sessions=sessions,
            settings=build_settings(conda_store),
            conda_store=conda_store,
        )
        nodename = host_format(default_nodename(self.hostname or None))
        worker_id = f"{nodename}:{os.getpid()}"
        runner = executor.make_runner(worker_id)
        runner.start()  # from the main thread, which lives as long as the worker
        maintenance = executor.make_maintenance(f"worker {nodename}", executor.top_up_periodically)
        maintenance.start()

        def build(*_args: object) -> int | None:
            return runner.run_next()

        executor.celery.task(name=TASK, ignore_result=True)(build)
        self.log.info(
            "conda-store worker %s (pid %s): store %s, %d at once, queue %r",
            nodename,
            os.getpid(),
            conda_store.store_dir,
            self.concurrency,
            executor.queue,
        )
        worker = executor.celery.Worker(
            hostname=nodename,
            pool="threads",
            concurrency=self.concurrency,
            loglevel=self.loglevel,
            without_mingle=True,
            without_gossip=True,
            quiet=True,
        )
        try:
            worker.start()  # until a warm shutdown (SIGTERM) lets the running builds end
        finally:
            maintenance.stop()
            runner.stop()  # kills what still runs (a cold shutdown); recovery fails it
            engine.dispose()
        code = worker.exitcode or 0
        if code:
            self.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        CondaStoreWorker.launch_instance(argv if argv is not None else sys.argv[1:])
    except CondaStoreError as error:
        print(f"conda-store worker: {error.message}", file=sys.stderr)
        sys.exit(1)
