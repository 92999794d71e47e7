"""The shared-deployment services (PostgreSQL, Redis) and the rule that CI may not skip them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

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


def _run_service_tests(require: str, report: Path) -> dict[str, tuple[str, str]]:
    """Run the two fixture tests with the services missing; {test name: (outcome, message)} from
    pytest's JUnit XML report (structured, unlike its terminal summary, worded as it likes)."""
    env = {
        **os.environ,
        "CSJ_REQUIRE_SERVICES": require,
        # Nothing listens on port 1: the services look missing.
        "CSJ_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test",
        "CSJ_TEST_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
            "tests/test_services.py",
            "-k",
            "fixture_gives",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == (1 if require == "1" else 0), result.stdout
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        results = [child for child in case if child.tag in ("skipped", "error", "failure")]
        outcomes[case.get("name")] = (
            (results[0].tag, results[0].get("message", "")) if results else ("passed", "")
        )
    return outcomes


POSTGRES_TEST = "test_postgres_fixture_gives_a_working_database"
REDIS_TEST = "test_redis_fixture_gives_a_working_redis"
# Our words, from conftest: each test names its missing service.
REASONS = {
    POSTGRES_TEST: "PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:1/test is not reachable",
    REDIS_TEST: "Redis at redis://127.0.0.1:1/0 is not reachable",
}


def test_missing_services_skip_with_a_reason_outside_ci(tmp_path):
    outcomes = _run_service_tests("0", tmp_path / "report.xml")
    assert {name: outcome for name, (outcome, _) in outcomes.items()} == {
        POSTGRES_TEST: "skipped",
        REDIS_TEST: "skipped",
    }
    for name, reason in REASONS.items():
        assert outcomes[name][1].startswith(reason), outcomes[name][1]


def test_missing_services_fail_when_required(tmp_path):
    outcomes = _run_service_tests("1", tmp_path / "report.xml")
    assert {name: outcome for name, (outcome, _) in outcomes.items()} == {
        POSTGRES_TEST: "error",
        REDIS_TEST: "error",
    }
    for name, reason in REASONS.items():
        message = outcomes[name][1]
        assert reason in message and "CSJ_REQUIRE_SERVICES=1" in message, message
