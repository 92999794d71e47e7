"""The maintenance lease (db/leases.py): one holder at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from conda_store_jupyter.db import leases, open_database


def test_one_holder_at_a_time_and_takeover_after_ttl(database_url):
    engine, sessions = open_database(database_url)
    try:
        with sessions() as session:
            assert leases.hold(session, "maintenance", "a", ttl=0.5)
            assert not leases.hold(session, "maintenance", "b", ttl=0.5)
            assert leases.hold(session, "maintenance", "a", ttl=0.5)  # renewed
            time.sleep(0.6)  # a stops renewing
            assert leases.hold(session, "maintenance", "b", ttl=0.5)
            assert not leases.hold(session, "maintenance", "a", ttl=0.5)
            leases.release(session, "maintenance", "b")  # a clean stop: free at once
            assert leases.hold(session, "maintenance", "a", ttl=60)
    finally:
        engine.dispose()


def test_many_processes_contending_at_once_elect_one(database_url):
    engine, sessions = open_database(database_url)
    try:

        def contend(index: int) -> bool:
            with sessions() as session:
                return leases.hold(session, "maintenance", f"holder-{index}", ttl=60)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(contend, range(8)))
        assert results.count(True) == 1
    finally:
        engine.dispose()
