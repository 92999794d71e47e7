"""`CeleryExecutor`: the executor of a server whose builds run on Celery workers.

It never builds. After every change of the queue (`wake`) it makes sure the broker holds a
message for each QUEUED build (`BrokerQueue.top_up`); the maintenance leader, whichever server
or worker it is, does the same periodically, which is what refills the broker after it lost its
messages. The same class configures the workers (`jupyter conda-store worker` reads
`CeleryExecutor` settings: timings, queue), so both halves share one source of truth.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kombu.utils.url import maybe_sanitize_url
from traitlets import Unicode

from ..executor import Executor
from ..loops import BackgroundLoop
from .queue import BrokerQueue, make_celery
from .runner import ClaimedBuildRunner


class CeleryExecutor(BackgroundLoop, Executor):
    loop_name = "conda-store Celery enqueuer"
    poll_interval = 30.0  # wakes come with every submit; maintenance tops up in between

    queue = Unicode(
        "conda-store", help="The broker queue builds are announced on and workers listen to."
    ).tag(config=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.celery = make_celery(self.conda_store.celery_broker_url, self.queue)
        self.broker_queue = BrokerQueue(self.celery, self.queue, self.sessions, self.log)
        self.maintenance = self.make_maintenance("server", self.top_up_periodically)

    def top_up_periodically(self) -> int:
        """The maintenance leader's pass: messages lost by the broker (it restarted empty, or
        the server that queued a build died before sending) are sent again."""
        return self.broker_queue.top_up(older_than=2.0)

    def recover(self) -> None:
        """At start: fail builds whose worker stopped (stale heartbeat, or a dead process of
        this machine), make the environment links agree with the database."""
        self.recovery.fail_abandoned(self.stale_after)
        self.recovery.reconcile_links()

    async def setup(self) -> None:
        self.log.info(
            "conda-store: builds are announced on queue %r of %s; workers build them",
            self.queue,
            maybe_sanitize_url(self.conda_store.celery_broker_url),
        )
        self.maintenance.start()

    async def tick(self) -> None:
        await asyncio.to_thread(self.broker_queue.top_up)

    async def stop(self) -> None:
        await super().stop()
        await asyncio.to_thread(self.maintenance.stop)
        await asyncio.to_thread(self.celery.pool.force_close_all)

    @property
    def running_build_ids(self) -> list[int]:
        return []  # builds run on the workers

    def make_runner(self, worker_id: str) -> ClaimedBuildRunner:
        """What a worker of this deployment runs each message with."""
        return ClaimedBuildRunner(
            sessions=self.sessions,
            settings=self.settings,
            recovery=self.recovery,
            worker_id=worker_id,
            build_timeout=self.build_timeout,
            log=self.log,
        )
