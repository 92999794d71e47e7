"""The rules of specifications served on a real Jupyter Server: the JSON Schema of a
specification, and validation of a specification, a namespace and an environment name (with
lines and columns) that never builds or writes anything."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from tornado.httpclient import HTTPClientError

API = ("conda-store", "api", "v1")


pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def fetch(jp_fetch, jp_started_server):
    async def call(method: str, *path: str, body=None):
        kwargs = {"method": method}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        response = await jp_fetch(*API, *path, "", **kwargs)
        return json.loads(response.body)

    return call


@pytest.fixture
def validate(fetch):
    async def call(**body):
        answer = await fetch("POST", "validate", "specification", body=body)
        assert answer["status"] == "ok", answer
        return answer["data"]

    return call


def test_the_routes_are_not_under_the_specification_prefix():
    # The panel's tests count POSTs to conda-store/api/v1/specification...: validating is not one.
    from conda_store_jupyter.handlers import ROUTES

    paths = [path for path, _ in ROUTES if "schema" in path or "validate" in path]
    assert len(paths) == 2
    assert not any("conda-store/api/v1/specification" in path for path in paths)


async def test_the_schema_describes_a_specification_and_its_names(fetch):
    answer = await fetch("GET", "schema", "specification")
    assert answer["status"] == "ok"
    schema = answer["data"]
    validator = jsonschema.Draft202012Validator(schema)
    valid = {"name": "env", "channels": ["conda-forge"], "dependencies": ["python", {"pip": ["a"]}]}
    assert list(validator.iter_errors(valid)) == []
    assert list(validator.iter_errors({"name": "env", "chanels": []}))
    assert list(validator.iter_errors({"name": "../env"}))
    for rule in (schema["properties"]["name"], schema["$defs"]["Name"]):
        assert rule["maxLength"] == 128 and rule["minLength"] == 1
        assert re.fullmatch(rule["pattern"].strip("^$"), "team-1.x_y")
        assert not re.fullmatch(rule["pattern"].strip("^$"), ".hidden")


async def test_a_valid_specification(validate):
    data = await validate(
        specification="name: fine\ndependencies: [alpha]\n",
        namespace="team",
        environment_name="fine",
    )
    # Nothing is solved unless asked for (`solve`, see test_check_api.py).
    assert data == {"valid": True, "problems": [], "name": "fine", "solved": False, "packages": []}


async def test_malformed_yaml_is_an_answer_with_its_position(validate):
    data = await validate(specification="name: x\ndependencies:\n  - python\n  numpy: [\n")
    assert data["valid"] is False and data["name"] is None
    [problem] = data["problems"]
    assert problem["message"].startswith("Invalid YAML: ")
    assert (problem["line"], problem["column"], problem["path"]) == (4, 3, [])
    assert problem["field"] == "specification"


async def test_unknown_field_is_on_its_own_line(validate):
    data = await validate(specification="name: x\ndependencies: [python]\nchanels: [conda-forge]\n")
    assert data["valid"] is False and data["name"] == "x"
    [problem] = data["problems"]
    assert problem["message"].startswith("Unknown field 'chanels'")
    assert (problem["line"], problem["column"], problem["path"]) == (3, 1, ["chanels"])


async def test_a_bad_dependency_is_on_its_line(validate):
    text = "name: x\ndependencies:\n  - alpha\n  - numpy >>= 1\n  - pip:\n    - 7\n"
    data = await validate(specification=text)
    assert [(p["line"], p["column"], p["path"]) for p in data["problems"]] == [
        (4, 5, ["dependencies", 1]),
        (6, 7, ["dependencies", 2, "pip", 0]),
    ]
    assert data["problems"][0]["message"].startswith(
        "dependencies[1] 'numpy >>= 1' is not a valid conda package spec"
    )


async def test_hostile_names(validate):
    data = await validate(namespace="../etc", environment_name="a/b")
    assert data["valid"] is False and data["name"] is None
    assert [(p["field"], p["line"], p["path"]) for p in data["problems"]] == [
        ("namespace", None, []),
        ("environment_name", None, []),
    ]
    assert data["problems"][0]["message"].startswith("namespace name '../etc' is invalid")
    assert data["problems"][1]["message"] == (
        "environment name 'a/b' is invalid: it must not contain '/'"
    )
    data = await validate(namespace=7)
    assert data["problems"][0]["message"] == "namespace name must be a string, got int"


async def test_a_channel_the_policy_refuses(validate, local_channel):
    text = f"name: x\nchannels:\n  - {local_channel}\n  - conda-forge\ndependencies: [alpha]\n"
    data = await validate(specification=text)
    assert data["valid"] is False
    [problem] = data["problems"]
    assert problem["message"].startswith("channel conda-forge is not allowed; allowed channels: ")
    assert (problem["line"], problem["path"]) == (4, ["channels", 1])


async def test_lock_files_and_parsed_specifications(validate):
    data = await validate(
        specification="version: 1\npackage: [", is_lockfile=True, environment_name="locked"
    )
    assert data["valid"] is False and data["name"] == "locked"
    [problem] = data["problems"]
    assert problem["message"].startswith("Invalid YAML") and problem["line"] is not None
    # As when submitting: a lock file names no environment, the request must.
    data = await validate(specification="version: 1\n", is_lockfile=True)
    assert data["problems"][0] == {
        "message": "a lock file specification needs an environment name",
        "line": None,
        "column": None,
        "path": [],
        "field": "environment_name",
    }
    data = await validate(specification={"name": "x", "dependencies": ["alpha", "a >>= 1"]})
    assert [(p["line"], p["path"]) for p in data["problems"]] == [(None, ["dependencies", 1])]


async def test_bad_requests_are_refused_as_elsewhere(fetch):
    for body, status, message in [
        ("{not json", 400, "request body is not valid JSON"),
        ({"specification": "name: x", "colour": 1}, 400, "unknown field(s) colour"),
        ({"specification": 7}, 400, "specification must be the environment YAML"),
        ({"is_lockfile": "yes"}, 400, "is_lockfile must be true or false"),
        ("x" * 20_000_000, 413, "request body too large"),
    ]:
        with pytest.raises(HTTPClientError) as raised:
            await fetch("POST", "validate", "specification", body=body)
        assert raised.value.code == status
        payload = json.loads(raised.value.response.body)
        assert payload["status"] == "error" and payload["message"].startswith(message), payload


async def test_validating_writes_nothing(fetch, validate):
    for text in ("name: new-env\ndependencies: [alpha]\n", "name: bad\nchannels: [x y]\n"):
        await validate(specification=text, namespace="fresh")
    assert (await fetch("GET", "environment"))["data"] == []
    assert (await fetch("GET", "build"))["data"] == []
    namespaces = [namespace["name"] for namespace in (await fetch("GET", "namespace"))["data"]]
    assert "fresh" not in namespaces
