"""The shared-deployment services (PostgreSQL, Redis) and the rule that CI may not skip them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy

REPO = Path(__file__).resolve().parent.parent


def test_postgres_fixture_gives_a_working_database(postgres_url):
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT 1 + 1")).scalar() == 2
    engine.dispose()


def test_redis_fixture_gives_a_working_redis(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("csj-test-key", "x", ex=5)
    assert client.get("csj-test-key") == b"x"
    client.close()


def _run_service_tests(require: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CSJ_REQUIRE_SERVICES": require,
        # Nothing listens on port 1: the services look missing.
        "CSJ_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test",
        "CSJ_TEST_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q",
         "tests/test_services.py", "-k", "fixture_gives"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


def test_missing_services_skip_with_a_reason_outside_ci():
    result = _run_service_tests("0")
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
    assert "PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:1/test is not reachable" in result.stdout
    assert "Redis at redis://127.0.0.1:1/0 is not reachable" in result.stdout


def test_missing_services_fail_when_required():
    result = _run_service_tests("1")
    assert result.returncode == 1, result.stdout
    assert "2 errors" in result.stdout
    assert "CSJ_REQUIRE_SERVICES=1" in result.stdout
