"""Prometheus metrics on Jupyter Server's /metrics: the store's builds by state, queue, build
durations and queue waits (histograms) and free disk move with the builds."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .test_api import Client

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def scrape(jp_fetch) -> dict[tuple[str, tuple], float]:
    text = (await jp_fetch("metrics")).body.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("conda_store_")
        for sample in family.samples
    }


async def test_metrics_follow_the_builds(api, jp_fetch):
    before = await scrape(jp_fetch)
    completed = ("conda_store_builds", (("state", "COMPLETED"),))
    durations = ("conda_store_build_duration_seconds_count", ())
    assert before[completed] == 0 and before[durations] == 0
    assert before[("conda_store_queue_depth", ())] == 0
    assert before[("conda_store_disk_free_bytes", ())] > 0

    for name in ("one", "two"):
        assert (await api.wait(await api.submit(name, "alpha")))["status"] == "COMPLETED"
    failed = await api.wait(await api.submit("broken", "no-such-package-anywhere"))
    assert failed["status"] == "FAILED"

    after = await scrape(jp_fetch)
    assert after[completed] == 2
    assert after[("conda_store_builds", (("state", "FAILED"),))] == 1
    assert after[durations] == 3 and after[("conda_store_build_duration_seconds_sum", ())] > 0
    assert after[("conda_store_queue_wait_seconds_count", ())] == 3
    inf = ("conda_store_build_duration_seconds_bucket", (("le", "+Inf"),))
    assert after[inf] == 3
    # The phases of the two completed builds (no pip: none was asked for).
    for phase, count in (("solve", 2), ("install", 2), ("artifacts", 2), ("pip", 0)):
        assert after[("conda_store_build_phase_seconds_count", (("phase", phase),))] == count
    assert after[("conda_store_build_phase_seconds_sum", (("phase", "solve"),))] > 0
