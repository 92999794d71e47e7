"""The service layer hands out API models built in its session, never database rows: what each
operation returns, the pending-build rule of a new environment, and the one query path behind
each list and its pages. No executor runs here: builds stay QUEUED unless a test says otherwise."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from conda_store_jupyter import api_models
from conda_store_jupyter.auth import Caller
from conda_store_jupyter.config import CondaStore
from conda_store_jupyter.db import Build, BuildStatus, Environment, open_database
from conda_store_jupyter.errors import SpecError
from conda_store_jupyter.service import CondaStoreService, Page

BUILD_KEYS = {
    "id",
    "environment_id",
    "specification",
    "packages",
    "status",
    "status_info",
    "size",
    "collected_on",
    "scheduled_on",
    "started_on",
    "ended_on",
    "build_artifacts",
    "worker",
    "queue_position",
    "problems",
}
ENVIRONMENT_KEYS = {
    "id",
    "namespace",
    "name",
    "current_build_id",
    "current_build",
    "description",
    "updated_on",
}


@pytest.fixture
def service(tmp_path):
    config = CondaStore(store_dir=str(tmp_path / "store"), channels=["conda-forge"])
    engine, sessions = open_database(config.database_url)
    yield CondaStoreService(config, sessions)
    engine.dispose()


def spec(name: str, *dependencies: str) -> str:
    return f"name: {name}\ndependencies: [{', '.join(dependencies)}]\n"


def complete(service: CondaStoreService, build_id: int, *, current: bool = True) -> None:
    """As the executor leaves a build that succeeded (without building anything)."""
    with service.sessions() as session, session.begin():
        build = session.get(Build, build_id)
        build.status = BuildStatus.COMPLETED
        build.ended_on = dt.datetime.now(dt.timezone.utc)
        if current:
            session.get(Environment, build.environment_id).current_build_id = build_id


def test_operations_return_models_not_rows(service):
    build = service.submit_specification("default", spec("tool", "alpha"))
    assert type(build) is api_models.Build
    assert (build.namespace, build.environment_name, build.status) == (
        "default",
        "tool",
        BuildStatus.QUEUED,
    )
    assert build.build_dir and build.build_dir.endswith("-tool")
    assert type(build.specification) is api_models.Specification
    assert build.specification.spec["dependencies"] == ["alpha"]

    namespaces = service.list_namespaces()
    assert [type(n) for n in namespaces] == [api_models.Namespace]
    assert type(service.get_namespace("default")) is api_models.Namespace
    assert type(service.create_namespace("team")) is api_models.Namespace
    environment = service.get_environment("default", "tool")
    assert type(environment) is api_models.Environment
    assert type(service.get_build(build.id)) is api_models.Build
    assert service.get_build(build.id, packages=True).packages == []
    assert service.get_build(build.id).packages is None
    assert [type(b) for b in service.list_builds()] == [api_models.Build]
    assert type(service.rebuild(build.id)) is api_models.Build
    canceled = service.cancel_build(build.id)
    assert (type(canceled), canceled.status) == (api_models.Build, BuildStatus.CANCELED)
    described = service.update_description("default", "tool", "a tool")
    assert (type(described), described.description) == (api_models.Environment, "a tool")
    diff = service.diff_builds(build.id, build.id)
    assert diff == api_models.Diff(added=[], removed=[], changed=[])
    assert [c.name for c in service.channels()] == ["conda-forge"]


def test_models_serialize_to_the_wire_shapes(service):
    build = service.submit_specification("default", spec("tool", "alpha"))
    wire = service.get_build(build.id).model_dump(mode="json")
    assert set(wire) == BUILD_KEYS  # where it lives (namespace, build_dir) is not on the wire
    assert wire["status"] == "QUEUED" and wire["packages"] is None
    # ISO 8601 in UTC without a zone suffix, as conda-store writes them.
    assert dt.datetime.fromisoformat(wire["scheduled_on"]).tzinfo is None
    assert wire["specification"]["created_on"] == api_models.iso(build.specification.created_on)
    environment = service.get_environment("default", "tool").model_dump(mode="json")
    assert set(environment) == ENVIRONMENT_KEYS
    assert environment["namespace"] == {
        "id": environment["namespace"]["id"],
        "name": "default",
        "metadata_": {},
        "role_mappings": [],
    }
    # An environment's current build is shown without its specification, as in lists.
    assert set(environment["current_build"]) == BUILD_KEYS
    assert environment["current_build"]["specification"] is None
    listed = service.list_builds()[0].model_dump(mode="json")
    assert listed["specification"] is None and set(listed) == BUILD_KEYS


def test_a_new_environment_reports_its_pending_build_until_one_completes(service):
    first = service.submit_specification("default", spec("tool", "alpha"))
    environment = service.get_environment("default", "tool")
    # Nothing completed: the newest build stands in as current, and says it is only pending.
    assert environment.pending
    assert environment.current_build_id == first.id == environment.current_build.id
    second = service.submit_specification("default", spec("tool", "beta"))
    environment = service.get_environment("default", "tool")
    assert (environment.pending, environment.current_build_id) == (True, second.id)
    assert "pending" not in environment.model_dump(mode="json")
    listed = service.list_environments()
    assert [(e.pending, e.current_build_id) for e in listed] == [(True, second.id)]

    complete(service, first.id)
    environment = service.get_environment("default", "tool")
    # A completed build is current; a newer queued one does not stand in any more.
    assert (environment.pending, environment.current_build_id) == (False, first.id)
    assert environment.current_build.status == BuildStatus.COMPLETED
    (listed,) = service.page_environments(None, Page())[0]
    assert (listed.pending, listed.current_build_id) == (False, first.id)


def test_rollback_returns_the_environment_at_its_new_current_build(service):
    first = service.submit_specification("default", spec("tool", "alpha"))
    complete(service, first.id)
    second = service.submit_specification("default", spec("tool", "beta"))
    complete(service, second.id)
    assert service.get_environment("default", "tool").current_build_id == second.id
    rolled_back = service.rollback("default", "tool", first.id)
    assert rolled_back.current_build_id == first.id == rolled_back.current_build.id
    assert not rolled_back.pending
    assert service.get_environment("default", "tool") == rolled_back
    # Submitting the second specification again makes no build: its completed build is current.
    again = service.submit_specification("default", spec("tool", "beta"))
    assert again.id == second.id
    assert service.get_environment("default", "tool").current_build_id == second.id


def test_lists_are_their_pages_without_limits(service):
    for namespace, name in [("b", "two"), ("a", "one"), ("a", "three"), ("c", "four")]:
        service.submit_specification(namespace, spec(name, "alpha"))
    everything = service.list_environments()
    assert [(e.namespace.name, e.name) for e in everything] == [
        ("a", "one"),
        ("a", "three"),
        ("b", "two"),
        ("c", "four"),
    ]
    paged = []
    for number in (1, 2):
        items, count = service.page_environments(None, Page(page=number, size=3))
        assert count == 4
        paged += items
    assert paged == everything
    assert service.list_environments(namespace="a", name="three") == [everything[1]]
    newest_first = service.page_environments(None, Page(sort_by=("id",), order="desc"))[0]
    assert [e.name for e in newest_first] == ["four", "three", "one", "two"]
    with pytest.raises(SpecError, match="cannot sort by size"):
        service.page_environments(None, Page(sort_by=("size",)))

    assert [n.name for n in service.list_namespaces()] == ["a", "b", "c"]
    assert service.page_namespaces(None, Page(page=2, size=2)) == (
        [service.get_namespace("c")],
        3,
    )
    builds = service.list_builds()
    assert [b.id for b in builds] == [1, 2, 3, 4]
    assert service.page_builds(None, Page(page=2, size=3)) == ([builds[3]], 4)
    environment_id = everything[0].id
    assert service.list_builds(environment_id=environment_id) == [
        b for b in builds if b.environment_id == environment_id
    ]
    assert service.list_builds(status=BuildStatus.COMPLETED) == []


def test_pages_show_only_what_the_caller_may_read(service):
    for namespace in ("mine", "theirs"):
        service.submit_specification(namespace, spec("tool", "alpha"))
    caller = Caller.for_user("me", {"mine/*": ["viewer"]})
    assert [n.name for n in service.page_namespaces(caller, Page())[0]] == ["mine"]
    environments, count = service.page_environments(caller, Page())
    assert ([e.namespace.name for e in environments], count) == (["mine"], 1)
    builds, count = service.page_builds(caller, Page())
    assert ([b.namespace for b in builds], count) == (["mine"], 1)
    assert len(service.list_builds()) == 2  # no caller: everything


def test_models_outlive_their_session(service):
    """Nothing is loaded lazily after the session closed: every field is a value."""
    build = service.submit_specification("default", spec("tool", "alpha"))
    with service.sessions() as session, session.begin():
        session.execute(sa.delete(Build).where(Build.id == build.id))
    assert build.specification.name == "tool"
    assert build.model_dump(mode="json")["id"] == build.id
