"""Distributed builds: servers enqueue on a Celery broker, `jupyter conda-store worker`
processes on any machines build, all sharing one database (PostgreSQL) and one store.

The database stays the queue and the judge (db/transitions.py); the broker only carries
"a build is waiting" messages:

    server: submit ─ commit QUEUED ─▶ queue.top_up ─▶ broker: one message per QUEUED build
    worker: message ─▶ runner.run_next: claim the oldest QUEUED build (db) ─▶ launcher child
            ─▶ watch: cancel (db, every 0.25 s), time limit, exit ─▶ end conditionally

So a message lost (Redis restarted empty), duplicated (redelivered) or taken by a worker that
then died costs nothing: `top_up` (after every submit, and periodically by the maintenance
leader) sends what is missing, and a message that finds nothing queued is a no-op. Builds run in
the order the database says, whatever order the messages arrive in.

- queue.py: the Celery app and `BrokerQueue` (counting and topping up messages);
- executor.py: `CeleryExecutor`, the server side (never builds);
- runner.py: `ClaimedBuildRunner`, one build at a time per worker thread;
- worker.py: `jupyter conda-store worker`, a Celery worker with the same configuration.
"""
