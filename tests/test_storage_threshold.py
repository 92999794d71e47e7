"""CondaStore.storage_threshold: below it, a new build is refused with a clear 507 and nothing
is stored (not even the namespace it would have created); a build already there is served."""

from __future__ import annotations

import pytest

from .test_api import Client

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def test_builds_are_refused_below_the_threshold(api):
    first = await api.wait(await api.submit("kept", "alpha"))
    assert first["status"] == "COMPLETED"
    config = api.service.config
    config.storage_threshold = 2**62  # more than any disk has free

    status, message = await api.error(
        "POST",
        "specification",
        body={"namespace": "fresh", "specification": "name: new\ndependencies: [alpha]\n"},
    )
    assert status == 507
    assert "less than its storage threshold" in message
    assert "CondaStore.storage_threshold" in message
    status, _ = await api.error("PUT", "build", str(first["id"]))  # a rebuild is a new build too
    assert status == 507
    # Nothing was stored: no namespace, no environment, no build; what was there is served.
    namespaces = {n["name"] for n in (await api.call("GET", "namespace"))["data"]}
    assert "fresh" not in namespaces
    assert len((await api.call("GET", "build"))["data"]) == 1
    assert (await api.call("GET", "environment", "default", "kept"))["data"]["current_build_id"]

    config.storage_threshold = 0  # no check
    second = await api.wait(await api.submit("new", "alpha", namespace="fresh"))
    assert second["status"] == "COMPLETED"
