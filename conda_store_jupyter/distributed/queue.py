"""The Celery app of a deployment and the broker side of the build queue.

A message means "a build is waiting", not "run build N": the worker that takes it claims the
oldest QUEUED build from the database. `BrokerQueue.top_up` keeps at least one message waiting
per QUEUED build. Counting the messages is the broker's own queue declaration (kombu's
`queue_declare`, which every transport answers), not a reading of Redis's internals.
"""

from __future__ import annotations

import datetime
import logging

import sqlalchemy as sa
from celery import Celery
from kombu import Queue
from kombu.exceptions import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..db import Build, BuildStatus, utcnow

TASK = "conda_store_jupyter.build"


def make_celery(broker_url: str, queue: str) -> Celery:
    """The Celery app servers publish with and workers consume with (the same settings)."""
    app = Celery("conda_store_jupyter", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_queues=[Queue(queue)],
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # the outcome is in the database; no result backend
        # A worker holds only the messages it is running: the others stay in the broker for
        # idle workers, and in `top_up`'s count.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        # Builds run on across a broker outage (they need only the database).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # workers wait out a broker restart
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


class BrokerQueue:
    def __init__(
        self, celery: Celery, queue: str, sessions: sessionmaker[Session], log: logging.Logger
    ):
        self.celery = celery
        self.queue = Queue(queue)
        self.sessions = sessions
        self.log = log
        self._broker_down = False

    def queued_builds(self, older_than: float = 0.0) -> int:
        query = sa.select(sa.func.count()).select_from(Build)
        query = query.where(Build.status == BuildStatus.QUEUED)
        if older_than:
            since = utcnow() - datetime.timedelta(seconds=older_than)
            query = query.where(Build.scheduled_on < since)
        with self.sessions() as session:
            return session.scalar(query)

    def top_up(self, older_than: float = 0.0) -> int:
        """Send a message for each QUEUED build that has none waiting; return how many were
        sent. With the broker down, sends nothing and says so once: the builds stay QUEUED in
        the database, and the next pass after the broker is back sends them.

        `older_than`: count only builds queued at least that many seconds ago. The periodic
        pass uses it: a build just submitted has its message sent by the server that took it,
        and one whose message a worker has just taken is claimed within milliseconds; counting
        either would send a message too many (harmless: a worker finds nothing to claim)."""
        queued = self.queued_builds(older_than)
        if not queued:
            return 0
        try:
            with self.celery.pool.acquire(block=True) as connection:
                connection.ensure_connection(max_retries=1)
                _, waiting, _ = self.queue(connection.default_channel).queue_declare()
                missing = queued - waiting
                if missing > 0:
                    with self.celery.producer_or_acquire() as producer:
                        for _ in range(missing):
                            self.celery.send_task(TASK, producer=producer)
        except (OperationalError, ConnectionError, OSError) as error:
            if not self._broker_down:
                self.log.warning(
                    "conda-store: the Celery broker is not reachable (%s); %d queued builds "
                    "wait in the database until it is",
                    error,
                    queued,
                )
            self._broker_down = True
            return 0
        if self._broker_down:
            self.log.info("conda-store: the Celery broker is reachable again")
            self._broker_down = False
        if missing > 0 and older_than:
            self.log.info(
                "conda-store: %d build messages were missing from the broker (%d builds "
                "queued for more than %.0f s); sent again",
                missing,
                queued,
                older_than,
            )
        return max(missing, 0)
