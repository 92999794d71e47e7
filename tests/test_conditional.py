"""Conditional GETs on a real Jupyter Server: the lists the panel polls (and reads of one
namespace or environment) carry an ETag derived from the store's revision; sent back in
If-None-Match, an unchanged answer is a 304 that runs no list query, and every change the
answer shows gives a new ETag."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa
import yaml
from tornado.httpclient import HTTPClientError

from conda_store_jupyter.db import Build, BuildStatus
from conda_store_jupyter.handlers.base import requested_tags
from conda_store_jupyter.service.revision import REVISION_TTL, store_revision

from .test_api import API, Client

pytestmark = pytest.mark.local_channel_only

# What the panel polls (src/model.ts), and reads of one object.
PANEL = (
    ("namespace", {}),
    ("environment", {"sort_by": "namespace,name"}),
    ("build", {"sort_by": "id", "order": "desc", "size": "200"}),
)
SHARED = {"{username}/*": ["admin"], "{group}/*": ["editor"], "default/*": ["viewer"]}


@pytest.fixture
def database() -> str:
    """The store's database: SQLite unless a test is parametrized with "postgresql"."""
    return "sqlite"


@pytest.fixture
def conda_store_config(conda_store_config, database, request):
    if database == "postgresql":
        conda_store_config["database_url"] = request.getfixturevalue("pg_database_url")
    return conda_store_config


@pytest.fixture
def jp_server_config(jp_server_config):
    # Named users (`token user-alice+team`) as a hub gives them, with a hub's bindings.
    jp_server_config.ServerApp.identity_provider_class = (
        "tests.authorizers.NamedUserIdentityProvider"
    )
    jp_server_config.CondaStore.role_bindings = SHARED
    return jp_server_config


class Conditional(Client):
    """A client that may act as a named user and sees the raw answer of any status."""

    async def get(self, *path: str, user: str | None = None, tag: str | None = None, **params):
        headers = {}
        if user is not None:
            headers["Authorization"] = f"token user-{user}"
        if tag is not None:
            headers["If-None-Match"] = tag
        try:
            return await self.fetch(*API, *path, "", headers=headers, params=params)
        except HTTPClientError as error:
            if error.response is None:
                raise
            return error.response

    async def tag(self, *path: str, user: str | None = None, **params) -> str:
        response = await self.get(*path, user=user, **params)
        assert response.code == 200, response.body
        return response.headers["ETag"]

    async def changed(self, old: str, *path: str, user: str | None = None, **params) -> str:
        """The new tag of an answer that must have changed since `old`."""
        response = await self.get(*path, user=user, tag=old, **params)
        assert response.code == 200, (path, params, response.code)
        assert response.headers["ETag"] != old
        return response.headers["ETag"]

    async def unchanged(self, old: str, *path: str, user: str | None = None, **params) -> None:
        response = await self.get(*path, user=user, tag=old, **params)
        assert response.code == 304, (path, params, response.code, response.body)
        # The tag the answer still has is (one of) those sent, compared weakly.
        assert response.body == b"" and response.headers["ETag"].removeprefix("W/") in old

    async def share(self, namespace: str, other: str, user: str) -> None:
        body = {"other_namespace": other, "role": "viewer"}
        await self.call(
            "POST",
            "namespace",
            namespace,
            "role",
            body=body,
            headers={"Authorization": f"token user-{user}"},
        )


@pytest.fixture
def api(jp_fetch, jp_serverapp) -> Conditional:
    """The server without its executor: nothing runs in the background, builds stay QUEUED."""
    return Conditional(jp_fetch, jp_serverapp)


@pytest.fixture
def building(jp_fetch, jp_started_server) -> Conditional:
    """The server with its executor: builds run against the local channel."""
    return Conditional(jp_fetch, jp_started_server)


def revision(api: Conditional):
    return store_revision(api.service)


class Statements:
    """The SQL statements the server's engine runs, but for the revision's own."""

    def __init__(self, api: Conditional):
        self.engine = api.service.sessions.kw["bind"]
        self.seen: list[str] = []
        sa.event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, *_args) -> None:
        self.seen.append(statement)

    def lists(self) -> list[str]:
        """Statements of the lists: not the revision's (a UNION ALL over build_artifact too),
        nor the shared bindings' (namespace_role_mapping.other_namespace, cached for 1 s)."""
        return [
            s
            for s in self.seen
            if "UNION ALL" not in s and "namespace_role_mapping.other_namespace" not in s
        ]

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def submit(api: Conditional, namespace: str, name: str, *dependencies: str):
    text = yaml.safe_dump({"name": name, "dependencies": list(dependencies)})
    return asyncio.to_thread(api.service.submit_specification, namespace, text)


# -- the header ------------------------------------------------------------------------------------


def test_if_none_match_is_read_as_rfc_9110_says():
    assert requested_tags(None) == (False, frozenset())
    assert requested_tags("*") == (True, frozenset())
    assert requested_tags('W/"a", "b" ,W/"c"') == (False, frozenset({'"a"', '"b"', '"c"'}))
    assert requested_tags("no quotes, W/") == (False, frozenset())


# -- unchanged: 304, no list query ----------------------------------------------------------------


async def test_an_unchanged_list_is_a_304_without_its_query(api):
    await submit(api, "default", "demo", "gamma")
    statements = Statements(api)
    try:
        for path, params in PANEL:
            first = await api.get(path, **params)
            assert first.code == 200
            tag = first.headers["ETag"]
            assert tag.startswith('W/"') and first.headers["Cache-Control"] == "private, no-cache"
            # Within the revision's cache window nothing but tornado and a dict lookup runs.
            revision(api).ttl = 60
            statements.seen.clear()
            reads = revision(api).reads
            await api.unchanged(tag, path, **params)
            assert statements.lists() == [] and revision(api).reads == reads
            # Weak comparison, lists of tags, `*`.
            await api.unchanged(f'"{tag[3:-1]}"', path, **params)
            await api.unchanged(f'W/"other", {tag}', path, **params)
            star = await api.get(path, tag="*", **params)
            assert star.code == 304 and star.body == b""
            assert (await api.get(path, tag='W/"other"', **params)).code == 200
            # Past the window: one revision read (shared by concurrent requests), still no list.
            revision(api).ttl = 0
            statements.seen.clear()
            await api.unchanged(tag, path, **params)
            assert statements.lists() == [] and revision(api).reads == reads + 1
            revision(api).ttl = REVISION_TTL
    finally:
        statements.close()


async def test_concurrent_requests_share_one_revision_read(api):
    tag = await api.tag("environment")
    revision(api).ttl = 60  # one read, however slow the machine
    revision(api).invalidate()
    reads = revision(api).reads
    answers = await asyncio.gather(*(api.get("environment", tag=tag) for _ in range(20)))
    assert {answer.code for answer in answers} == {304}
    assert revision(api).reads == reads + 1


async def test_the_tag_depends_on_the_url_and_the_caller(api):
    await submit(api, "alice", "analysis", "gamma")
    tag = await api.tag("environment", user="alice")
    assert await api.tag("environment", user="alice", sort_by="name") != tag
    assert await api.tag("environment", user="alice", page="1") != tag
    # bob sees other environments: alice's tag is not his, even for the same URL.
    assert await api.tag("environment", user="bob") != tag
    await api.changed(tag, "environment", user="bob")
    # Reads of one object too.
    one = await api.tag("environment", "alice", "analysis", user="alice")
    await api.unchanged(one, "environment", "alice", "analysis", user="alice")
    namespace = await api.tag("namespace", "alice", user="alice")
    await api.unchanged(namespace, "namespace", "alice", user="alice")
    # What a caller may not read stays missing, whatever they send.
    assert (await api.get("environment", "alice", "analysis", user="bob", tag=one)).code == 404
    assert (await api.get("environment", "alice", "analysis", user="bob", tag="*")).code == 404


async def test_errors_carry_no_tag(api):
    response = await api.get("environment", sort_by="nonsense")
    assert response.code == 400 and "ETag" not in response.headers
    response = await api.get("environment", "default", "missing", tag="*")
    assert response.code == 404 and "ETag" not in response.headers


# -- every change gives a new tag ------------------------------------------------------------------


async def test_namespaces_and_sharing_change_the_tags(api):
    tags = {path: await api.tag(path, **params) for path, params in PANEL}
    await asyncio.to_thread(api.service.create_namespace, "team-a")
    tags["namespace"] = await api.changed(tags["namespace"], "namespace")
    await asyncio.to_thread(api.service.delete_namespace, "team-a")
    tags["namespace"] = await api.changed(tags["namespace"], "namespace")

    # Sharing alice's namespace with the group `team` lets bob (in it) see alice's environment.
    await submit(api, "alice", "analysis", "gamma")
    before = await api.get("environment", user="bob+team")
    assert before.code == 200 and b"analysis" not in before.body
    await api.share("alice", "team", user="alice")
    after = await api.get("environment", user="bob+team", tag=before.headers["ETag"])
    assert after.code == 200 and b"analysis" in after.body
    await api.unchanged(after.headers["ETag"], "environment", user="bob+team")


async def test_a_callers_tags_follow_only_what_they_may_read(api):
    """ETags are scoped to the namespaces a caller reads: a change in someone else's namespace
    leaves them 304, one in a namespace they read (theirs, default/*) does not, and the build
    queue is everyone's (a build leaving it moves the queue position of the others')."""
    theirs = await submit(api, "bob", "notes", "gamma")
    await submit(api, "alice", "analysis", "gamma")
    await submit(api, "default", "shared", "gamma")
    alice = {path: await api.tag(path, user="alice", **params) for path, params in PANEL}
    bob_list = await api.tag("environment", user="bob")

    await asyncio.to_thread(api.service.update_description, "bob", "notes", "mine")
    for path, params in PANEL:
        await api.unchanged(alice[path], path, user="alice", **params)
    # ... and a namespace created changes everyone's list of namespaces.
    await asyncio.to_thread(api.service.create_namespace, "team-b")
    alice["namespace"] = await api.changed(alice["namespace"], "namespace", user="alice")
    bob_list = await api.changed(bob_list, "environment", user="bob")

    await asyncio.to_thread(api.service.update_description, "default", "shared", "everyone's")
    alice["environment"] = await api.changed(alice["environment"], "environment", user="alice")
    bob_list = await api.changed(bob_list, "environment", user="bob")

    # bob's build leaves the queue: alice's queued build moves up, her build list changes.
    before = await api.get("build", user="alice")
    await asyncio.to_thread(api.service.cancel_build, theirs.id)
    after = await api.get("build", user="alice", tag=before.headers["ETag"])
    assert after.code == 200 and after.body != before.body


async def test_environment_and_build_changes_change_the_tags(building):
    """Each change gives a new tag to the lists that show it; a list that does not show it
    (the namespaces for a new environment, the builds for a rollback) stays 304."""
    api = building
    params = dict(PANEL)
    tags = {path: await api.tag(path, **params[path]) for path in params}

    async def lists(changed: tuple[str, ...], same: tuple[str, ...] = ()) -> None:
        for path in changed:
            tags[path] = await api.changed(tags[path], path, **params[path])
        for path in same:
            await api.unchanged(tags[path], path, **params[path])

    # A new environment (its build queued), and the build running and completing.
    first = await submit(api, "default", "evolve", "alpha 1.0")
    await lists(("environment", "build"), same=("namespace",))
    assert (await asyncio.to_thread(api.service.wait_for_build, first.id, 120)).status == (
        BuildStatus.COMPLETED
    )
    await asyncio.sleep(REVISION_TTL)  # the build process's commits are another process's
    await lists(("environment", "build"))
    second = await submit(api, "default", "evolve", "alpha 1.1")
    await asyncio.to_thread(api.service.wait_for_build, second.id, 120)
    await asyncio.sleep(REVISION_TTL)
    await lists(("environment", "build"))

    # A collection takes the build that is no longer current: no status changes, yet the lists
    # that show builds show it collected; and restored again.
    report = await asyncio.to_thread(api.service.collector(keep_builds=1).run)
    assert [build.build_id for build in report.builds] == [first.id]
    await lists(("environment", "build"), same=("namespace",))
    await api.call("POST", "build", str(first.id), "restore")
    restored = await asyncio.to_thread(api.service.wait_for_build, first.id, 120)
    assert restored.status == BuildStatus.COMPLETED and restored.collected_on is None
    await asyncio.sleep(REVISION_TTL)
    await lists(("environment", "build"))

    # Roll back, describe, delete a build, delete the environment: all through the API.
    await api.call("PUT", "environment", "default", "evolve", body={"build_id": first.id})
    await lists(("environment",), same=("build", "namespace"))
    await api.call("PUT", "environment", "default", "evolve", body={"description": "x"})
    await lists(("environment",), same=("build",))
    await api.call("DELETE", "build", str(second.id))
    await lists(("build",))
    await api.call("DELETE", "environment", "default", "evolve")
    await lists(("environment",), same=("namespace",))


async def test_a_status_change_alone_from_another_process_shows_within_the_window(api, tmp_path):
    """A write through another engine (another server, a worker): no local invalidation, no
    timestamp set; the tag changes within REVISION_TTL all the same."""
    build = await submit(api, "default", "demo", "gamma")
    tag = await api.tag("build")
    other = sa.create_engine(api.service.sessions.kw["bind"].url)
    try:
        with other.begin() as connection:
            connection.execute(
                sa.update(Build).where(Build.id == build.id).values(status=BuildStatus.BUILDING)
            )
        changed_at = time.monotonic()
        while (await api.get("build", tag=tag)).code == 304:
            assert time.monotonic() - changed_at < REVISION_TTL + 2, "stale past the window"
            await asyncio.sleep(0.05)
    finally:
        other.dispose()


# -- PostgreSQL, as a shared deployment runs it ----------------------------------------------------


@pytest.mark.parametrize("database", ["postgresql"])
async def test_on_postgresql_changes_and_304s(api):
    assert api.service.sessions.kw["bind"].dialect.name == "postgresql"
    tag = await api.tag("environment", sort_by="namespace,name")
    await api.unchanged(tag, "environment", sort_by="namespace,name")
    build = await submit(api, "default", "demo", "gamma")
    tag = await api.changed(tag, "environment", sort_by="namespace,name")
    await asyncio.to_thread(api.service.cancel_build, build.id)
    tag = await api.changed(tag, "environment", sort_by="namespace,name")
    await api.unchanged(tag, "environment", sort_by="namespace,name")
