"""'Check' before building, on a real Jupyter Server against the local test channel: the
validation answer with a dry-run solve (what would be installed; the solver's complaints in
plain words at the lines of the dependencies, with suggestions for misspelt names), a failed
build's complaints at the lines of its specification, and builds' places in the queue."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import yaml
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

API = ("conda-store", "api", "v1")

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def jp_server_config(conda_store_config, request) -> Config:
    """The test server, with more CondaStore settings when a test gives them (indirect)."""
    section = {**conda_store_config, **getattr(request, "param", {})}
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"conda_store_jupyter": True}},
            "CondaStore": section,
            "BuildExecutor": {"warm_launcher": False},
        }
    )


async def call(jp_fetch, method: str, *path: str, body=None, **params) -> dict:
    kwargs: dict = {"method": method, "params": params}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    elif method in ("POST", "PUT"):
        kwargs.update(body=b"", allow_nonstandard_methods=True)
    response = await jp_fetch(*API, *path, "", **kwargs)
    answer = json.loads(response.body)
    assert answer["status"] == "ok", answer
    return answer


async def check(jp_fetch, text: str, **extra) -> dict:
    answer = await call(
        jp_fetch, "POST", "validate", "specification", body={"specification": text, **extra}
    )
    return answer["data"]


def text_of(*dependencies: str, name: str = "checked") -> str:
    """A specification whose n-th dependency (0-based) is on line n + 3."""
    return yaml.safe_dump({"name": name, "dependencies": list(dependencies)}, sort_keys=False)


def line_of(text: str, entry: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line == f"- {entry}")


# -- Check: validation with a dry-run solve ----------------------------------------------------


async def test_a_valid_specification_is_solved_with_what_it_would_install(jp_fetch, jp_serverapp):
    text = text_of("gamma", "beta >=0.5")
    data = await check(jp_fetch, text, solve=True)
    assert data["valid"] is True and data["problems"] == [] and data["solved"] is True
    packages = {package["name"]: package for package in data["packages"]}
    assert set(packages) == {"alpha", "beta", "gamma"}
    assert packages["alpha"]["version"] == "1.1"  # what beta's pin leaves: the solve, not a list
    assert packages["gamma"]["requested"] is True
    assert packages["gamma"]["requested_as"] == "gamma"
    assert packages["beta"]["requested_as"] == "beta >=0.5"
    assert packages["alpha"]["requested"] is False and packages["alpha"]["requested_as"] is None
    assert all(package["channel"] and package["build"] for package in data["packages"])

    # Without `solve`, the answer says nothing was solved.
    unsolved = await check(jp_fetch, text)
    assert unsolved["valid"] is True and unsolved["solved"] is False
    assert unsolved["packages"] == []


async def test_a_misspelt_name_is_placed_with_suggestions(jp_fetch, jp_serverapp):
    text = text_of("gamma", "alpah", "nupmy")
    data = await check(jp_fetch, text, solve=True)
    assert data["valid"] is False and data["solved"] is False and data["packages"] == []
    by_line = {problem["line"]: problem for problem in data["problems"]}
    assert set(by_line) == {line_of(text, "alpah"), line_of(text, "nupmy")}
    misspelt = by_line[line_of(text, "alpah")]
    assert misspelt["column"] == 3 and misspelt["path"] == ["dependencies", 1]
    assert misspelt["field"] == "specification"
    assert "alpah" in misspelt["message"] and "No candidates" not in misspelt["message"]
    assert misspelt["suggestions"] == ["alpha"]
    unknown = by_line[line_of(text, "nupmy")]
    assert "nupmy" in unknown["message"] and "alpha" not in unknown["suggestions"]


async def test_a_version_the_channels_lack_names_the_versions_they_have(jp_fetch, jp_serverapp):
    text = text_of("gamma", "alpha >=99")
    data = await check(jp_fetch, text, solve=True)
    [problem] = data["problems"]
    assert problem["line"] == line_of(text, "alpha >=99")
    assert "alpha >=99" in problem["message"]
    assert all(version in problem["message"] for version in ("1.0", "1.1", "2.0"))


async def test_an_unsatisfiable_pair_is_placed_at_both_lines(jp_fetch, jp_serverapp):
    text = text_of("alpha", "conflict-a", "beta", "conflict-b")
    data = await check(jp_fetch, text, solve=True)
    assert data["valid"] is False and data["solved"] is False
    lines = {problem["line"]: problem for problem in data["problems"]}
    assert set(lines) == {line_of(text, "conflict-a"), line_of(text, "conflict-b")}
    for mine, other in (("conflict-a", "conflict-b"), ("conflict-b", "conflict-a")):
        problem = lines[line_of(text, mine)]
        assert mine in problem["message"] and other in problem["message"]
        assert "conflict-base" in problem["message"]  # why, in a word
        assert "├─" not in problem["message"] and "├─" in problem["detail"]


async def test_a_pin_that_starves_a_dependency_names_both_entries(jp_fetch, jp_serverapp):
    # beta needs alpha >=1.1,<2: the solver's tree names only beta; both lines are the cause.
    text = text_of("alpha 2.*", "beta")
    data = await check(jp_fetch, text, solve=True)
    lines = {problem["line"] for problem in data["problems"]}
    assert lines == {line_of(text, "alpha 2.*"), line_of(text, "beta")}


@pytest.mark.parametrize(
    "jp_server_config", [{"included_packages": ["gamma", "csj-prob"]}], indirect=True
)
async def test_a_complaint_about_no_line_of_the_text_has_no_line(jp_fetch, jp_serverapp):
    # The store's policy adds packages the text does not name: checked as a build would.
    data = await check(jp_fetch, text_of("alpha"), solve=True)
    [problem] = data["problems"]
    assert (problem["line"], problem["column"], problem["path"]) == (None, None, [])
    assert "csj-prob" in problem["message"] and problem["suggestions"] == ["csj-probe"]


async def test_static_problems_come_first_and_nothing_is_solved(jp_fetch, jp_serverapp):
    data = await check(jp_fetch, "name: bad\ndependencies: [nupmy]\nchanels: []\n", solve=True)
    assert data["solved"] is False
    assert [problem["line"] for problem in data["problems"]] == [3]
    assert "suggestions" not in data["problems"][0]


async def test_pip_entries_are_not_solved(jp_fetch, jp_serverapp):
    text = "name: mixed\ndependencies:\n  - gamma\n  - pip:\n      - no-such-dist-xyz\n"
    data = await check(jp_fetch, text, solve=True)
    assert data["valid"] is True and data["solved"] is True, data["problems"]


async def test_solve_must_be_a_boolean(jp_fetch, jp_serverapp):
    with pytest.raises(HTTPClientError) as raised:
        await check(jp_fetch, text_of("gamma"), solve="yes")
    assert raised.value.code == 400


@pytest.mark.parametrize(
    "jp_server_config",
    [{"role_bindings": {"default/*": ["viewer"], "team/*": ["editor"]}}],
    indirect=True,
)
async def test_solving_needs_the_solve_role_in_the_namespace(jp_fetch, jp_serverapp):
    for namespace in (None, "default", "elsewhere"):
        extra = {} if namespace is None else {"namespace": namespace}
        with pytest.raises(HTTPClientError) as raised:
            await check(jp_fetch, text_of("gamma"), solve=True, **extra)
        assert raised.value.code == 403
        assert "may not environment solve" in json.loads(raised.value.response.body)["message"]
    data = await check(jp_fetch, text_of("gamma"), solve=True, namespace="team")
    assert data["solved"] is True
    # Without `solve`, no role is needed (the static checks as before).
    assert (await check(jp_fetch, text_of("gamma"), namespace="default"))["valid"] is True


# -- a failed build, explained ------------------------------------------------------------------


async def submit(jp_fetch, name: str, *dependencies: str) -> tuple[int, str]:
    text = text_of(*dependencies, name=name)
    answer = await call(
        jp_fetch, "POST", "specification", body={"namespace": "default", "specification": text}
    )
    return answer["data"]["build_id"], text


async def wait(jp_fetch, build_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        build = (await call(jp_fetch, "GET", "build", str(build_id)))["data"]
        if build["status"] not in ("QUEUED", "BUILDING"):
            return build
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


def stored_line(build: dict, entry: str) -> int:
    """The line of `entry` in the build's specification as the panel shows it."""
    spec = build["specification"]["spec"]
    index = spec["dependencies"].index(entry)
    return 2 + (1 + len(spec["channels"]) if spec.get("channels") else 0) + 1 + index


async def test_a_failed_build_places_the_solver_complaints(jp_fetch, jp_started_server):
    conflict_id, _ = await submit(jp_fetch, "conflicted", "alpha", "conflict-a", "conflict-b")
    misspelt_id, _ = await submit(jp_fetch, "misspelt", "gamma", "alpah")
    too_new_id, _ = await submit(jp_fetch, "too-new", "beta", "alpha >=99")
    conflicted = await wait(jp_fetch, conflict_id)
    assert conflicted["status"] == "FAILED"
    assert conflicted["queue_position"] is None
    problems = conflicted["problems"]
    assert {problem["line"] for problem in problems} == {
        stored_line(conflicted, "conflict-a"),
        stored_line(conflicted, "conflict-b"),
    }
    for problem in problems:
        assert problem["path"][0] == "dependencies"
        assert "conflict-a" in problem["message"] and "conflict-b" in problem["message"]
        # The solver's whole explanation, as the build's log has it (the status keeps a gist).
        assert problem["detail"].startswith("Cannot solve the request")
        assert problem["detail"].endswith("which conflicts with the versions reported above.")
        assert "\n└─ conflict-a" in problem["detail"]

    # Without its log (lost, or written by an older version), the status's gist still places them.
    jp_started_server.web_app.settings["conda_store_service"].layout.log_path(conflict_id).unlink()
    again = (await call(jp_fetch, "GET", "build", str(conflict_id)))["data"]
    assert [problem["line"] for problem in again["problems"]] == sorted(
        problem["line"] for problem in problems
    )
    assert "\n" not in again["problems"][0]["detail"]

    misspelt = await wait(jp_fetch, misspelt_id)
    [problem] = misspelt["problems"]
    assert problem["line"] == stored_line(misspelt, "alpah") and problem["column"] == 5
    assert problem["suggestions"] == ["alpha"]

    too_new = await wait(jp_fetch, too_new_id)
    [problem] = too_new["problems"]
    assert problem["line"] == stored_line(too_new, "alpha >=99")
    assert "the channels have alpha 1.0, 1.1, 2.0" in problem["message"]

    # Lists stay cheap: no problems computed there.
    listed = (await call(jp_fetch, "GET", "build", status="FAILED"))["data"]
    assert {build["id"] for build in listed} == {conflict_id, misspelt_id, too_new_id}
    assert all(build["problems"] == [] for build in listed)


# -- the queue ------------------------------------------------------------------------------------


async def test_queued_builds_know_their_place(jp_fetch, jp_serverapp):
    # No executor runs (the extension is not started): every build stays QUEUED.
    ids = [(await submit(jp_fetch, f"queued-{n}", "gamma"))[0] for n in range(3)]
    single = [
        (await call(jp_fetch, "GET", "build", str(build_id)))["data"]["queue_position"]
        for build_id in ids
    ]
    assert single == [1, 2, 3]
    listed = (await call(jp_fetch, "GET", "build", sort_by="id", order="desc"))["data"]
    assert [(build["id"], build["queue_position"]) for build in listed] == [
        (ids[2], 3),
        (ids[1], 2),
        (ids[0], 1),
    ]
    environments = (await call(jp_fetch, "GET", "environment"))["data"]
    assert {e["name"]: e["current_build"]["queue_position"] for e in environments} == {
        "queued-0": 1,
        "queued-1": 2,
        "queued-2": 3,
    }

    await call(jp_fetch, "PUT", "build", str(ids[0]), "cancel")
    after = [
        (await call(jp_fetch, "GET", "build", str(build_id)))["data"]["queue_position"]
        for build_id in ids
    ]
    assert after == [None, 1, 2]


async def test_a_page_of_builds_reads_the_queue_once(jp_fetch, jp_serverapp):
    import sqlalchemy as sa

    ids = [(await submit(jp_fetch, f"waiting-{n}", "gamma"))[0] for n in range(4)]
    engine = jp_serverapp.web_app.settings["conda_store_service"].sessions.kw["bind"]
    statements: list[str] = []

    def seen(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        listed = (await call(jp_fetch, "GET", "build"))["data"]
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert [build["queue_position"] for build in listed] == [1, 2, 3, 4]
    assert [build["id"] for build in listed] == ids
    queue_reads = [s for s in statements if "ORDER BY build.scheduled_on, build.id" in s]
    assert len(queue_reads) == 1, statements
