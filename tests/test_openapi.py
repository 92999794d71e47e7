"""The OpenAPI document: served, valid, complete (every route and verb of the handlers is in it and
nothing else), and true (schemathesis fuzzes a live `jupyter conda-store` against it)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import HTTPClientError

from conda_store_jupyter.handlers import API_PREFIX, ROUTES, openapi
from conda_store_jupyter.handlers.base import CondaStoreHandler

from .servers import StandaloneServer

METHODS = ("get", "post", "put", "patch", "delete")
SCHEMATHESIS = os.path.join(os.path.dirname(sys.executable), "schemathesis")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def load_document() -> dict:
    """The document as generated (a copy: the cached one is shared)."""
    return json.loads(openapi.document_text(openapi.document()))


# -- the document itself ---------------------------------------------------------------------------


async def test_document_is_served_with_servers_and_is_valid_openapi(jp_fetch, jp_base_url):
    from openapi_spec_validator import validate

    response = await jp_fetch("conda-store", "api", "v1", "openapi.json")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    served = json.loads(response.body)
    validate(served)
    assert served["openapi"].startswith("3.")
    # Everything but `servers` is the document as generated from the route table and the models.
    assert served["servers"] == [{"url": jp_base_url.rstrip("/") + "/conda-store/api/v1"}]
    assert {k: v for k, v in served.items() if k != "servers"} == {
        k: v for k, v in load_document().items() if k != "servers"
    }


def test_document_is_valid_and_readable():
    from openapi_spec_validator import validate

    text = openapi.document_text(openapi.document())
    document = json.loads(text)
    validate(document)
    assert text.startswith('{\n  "openapi"'), "keep it indented (json.dumps(..., indent=2))"
    schemas = document["components"]["schemas"]
    for name in (
        "Namespace",
        "Environment",
        "Build",
        "BuildArtifact",
        "Specification",
        "Package",
        "Permission",
        "Diff",
        "Error",
    ):
        assert name in schemas, name
    assert document["components"]["securitySchemes"]["jupyterToken"] == {
        **document["components"]["securitySchemes"]["jupyterToken"],
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }
    assert document["security"] == [{"jupyterToken": []}]


def test_document_is_built_once_from_the_models():
    from conda_store_jupyter import api_models

    assert openapi.document() is openapi.document()
    schemas = openapi.document()["components"]["schemas"]
    # The wire models' own schemas, with what only the service sees left out.
    generated = api_models.Build.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    for name, definition in generated.pop("$defs").items():
        assert schemas[name] == definition
    assert schemas["Build"] == generated
    assert {"namespace", "environment_name", "build_dir"}.isdisjoint(schemas["Build"]["properties"])
    assert "pending" not in schemas["Environment"]["properties"]
    assert set(schemas["Build"]["required"]) == set(schemas["Build"]["properties"])


def test_only_routed_operations_are_documented(monkeypatch):
    """A route-table entry whose handler is not registered (yet) stays out of the document."""
    import conda_store_jupyter.handlers as handlers

    routed = openapi.routed_operations()
    assert ("/validate/specification/", "post") in routed
    monkeypatch.setattr(
        handlers,
        "ROUTES",
        [(pattern, handler) for pattern, handler in handlers.ROUTES if "validate" not in pattern],
    )
    assert openapi.routed_operations() == routed - {("/validate/specification/", "post")}


def route_templates(pattern: str) -> list[str]:
    """The path templates a route regex stands for, relative to the API root, with `{}` for each
    path parameter, e.g. `build/([^/]+)/(lockfile|yaml)/?` -> `/build/{}/lockfile/` and
    `/build/{}/yaml/`."""
    assert pattern.startswith(API_PREFIX), pattern
    path = pattern[len(API_PREFIX) :]
    if path.endswith("/?"):
        path = path[:-2] + "/"
    path = path.replace(r"\.", ".").replace("([^/]+)", "{}").replace(r"(\d+)", "{}")
    alternation = re.search(r"\(([\w|-]+)\)", path)
    if alternation:
        return [
            template
            for choice in alternation.group(1).split("|")
            for template in route_templates(
                API_PREFIX + path[: alternation.start()] + choice + path[alternation.end() :]
            )
        ]
    assert not re.search(r"[()\[\]?*+\\|^$]", path), f"cannot read route {pattern!r} as a template"
    return [path]


def implemented_methods(handler: type) -> set[str]:
    return {
        method
        for method in METHODS
        if getattr(handler, method) is not getattr(CondaStoreHandler, method)
    }


def test_every_route_and_verb_is_documented_and_nothing_else():
    """Fails when a handler (or a verb of one) is added without documenting it, or the other way."""
    routed = {
        (template, method)
        for pattern, handler in ROUTES
        for template in route_templates(pattern)
        for method in implemented_methods(handler)
    }
    documented = {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, item in load_document()["paths"].items()
        for method in item
        if method in METHODS
    }
    assert sorted(routed - documented) == [], "routes missing from openapi.json"
    assert sorted(documented - routed) == [], "openapi.json documents routes that do not exist"
    assert len(routed) >= 28


def test_route_templates_reads_the_route_syntax():
    assert route_templates(f"{API_PREFIX}/?") == ["/"]
    assert route_templates(f"{API_PREFIX}/openapi.json") == ["/openapi.json"]
    assert route_templates(rf"{API_PREFIX}/build/([^/]+)/(lockfile|yaml)/?") == [
        "/build/{}/lockfile/",
        "/build/{}/yaml/",
    ]


def test_every_operation_documents_its_errors_and_parameters():
    document = load_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "200" in responses and "403" in responses, (method, path)
            for status in set(responses) - {"200"}:  # errors: the shared Error responses
                assert responses[status]["$ref"].startswith("#/components/responses/"), (
                    method,
                    path,
                )
            if "{" in path:  # a malformed name or id is a 400; a missing object a 404
                assert "400" in responses, (method, path)
                assert "404" in responses or (method, path) == ("post", "/namespace/{namespace}/")
            declared = {
                p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"
            }
            assert declared == set(re.findall(r"\{([^}]+)\}", path)), (method, path)


# -- what schemathesis found, pinned -----------------------------------------------------------


@pytest.fixture
def conda_store_config(store_dir, local_channel) -> dict:
    # No allowed_channels: any channel may be asked for, so unreachable ones reach rattler.
    return {"store_dir": str(store_dir), "channels": [local_channel]}


async def fetch_error(jp_fetch, *path: str, method: str = "GET", **params) -> tuple[int, str, str]:
    kwargs = {"method": method, "params": params}
    if method in ("PUT", "POST"):
        kwargs.update(body=b"", allow_nonstandard_methods=True)
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("conda-store", "api", "v1", *path, **kwargs)
    response = raised.value.response
    return raised.value.code, response.headers["Content-Type"], json.loads(response.body)["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("build_id", ["-1", "abc", "1.5", "\u0663"])
async def test_a_malformed_build_id_is_a_json_400(jp_fetch, method, build_id):
    code, content_type, message = await fetch_error(jp_fetch, "build", build_id, "", method=method)
    assert (code, content_type) == (400, "application/json")
    assert "build id must be a non-negative integer" in message
    code, _, _ = await fetch_error(jp_fetch, "build", build_id, "diff", "1", "")
    assert code == 400


async def test_logs_archive_and_channels_answer_as_documented(jp_fetch, jp_started_server):
    service = jp_started_server.web_app.settings["conda_store_service"]
    build = await asyncio.to_thread(
        service.submit_specification, "default", "name: pinned\ndependencies: [gamma]\n"
    )
    finished = await asyncio.to_thread(service.wait_for_build, build.id, 120)
    assert finished.status.value == "COMPLETED"
    logs = ("conda-store", "api", "v1", "build", str(build.id), "logs", "")

    # The log from an offset is text (APIHandler.finish used to relabel it application/json).
    response = await jp_fetch(*logs, params={"offset": "0"})
    assert response.headers["Content-Type"].startswith("text/plain")
    assert b"starting build" in response.body
    # An offset far past the end is an empty answer, not a 500 from seek().
    response = await jp_fetch(*logs, params={"offset": str(2**62)})
    assert response.body == b"" and response.headers["X-Log-Offset"] == str(2**62)

    # A build whose environment was deleted has no prefix to pack: 404, not a 500.
    await asyncio.to_thread(service.delete_environment, "default", "pinned")
    code, content_type, message = await fetch_error(jp_fetch, "build", str(build.id), "archive", "")
    assert (code, content_type) == (404, "application/json") and "prefix" in message

    # An unreadable channel is the caller's mistake (400 naming it), not a 500 from rattler.
    missing = "file:///nonexistent-csj-channel"
    code, _, message = await fetch_error(jp_fetch, "package", "", channel=missing)
    assert code == 400 and missing in message
    code, _, message = await fetch_error(
        jp_fetch, "specification", "", channel=missing, conda="gamma"
    )
    assert code == 400 and missing in message
    code, _, message = await fetch_error(jp_fetch, "package", "", channel="a:b")
    assert code == 400 and "a:b" in message


# -- schemathesis against a live server ------------------------------------------------------------


def call(server: StandaloneServer, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{server.url}/conda-store/api/v1/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def submit(server: StandaloneServer, namespace: str, name: str, *dependencies: str) -> int:
    text = yaml.safe_dump({"name": name, "dependencies": list(dependencies)})
    answer = call(server, "POST", "specification/", {"namespace": namespace, "specification": text})
    return answer["data"]["build_id"]


def wait(server: StandaloneServer, build_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        build = call(server, "GET", f"build/{build_id}/")["data"]
        if build["status"] not in ("QUEUED", "BUILDING"):
            return build
        assert time.monotonic() < deadline, f"build {build_id} still {build['status']}"
        time.sleep(0.1)


@pytest.fixture
def live_server(tmp_path: Path, local_channel: str):
    (tmp_path / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.store_dir = {str(tmp_path / 'store')!r}\n"
        f"c.CondaStore.channels = [{local_channel!r}]\n"
        f"c.CondaStore.allowed_channels = [{local_channel!r}]\n"
        'c.CondaStore.role_bindings = {"*/*": ["admin"]}\n'
    )
    server = StandaloneServer(tmp_path).start()
    try:
        yield server
    finally:
        output = server.stop()
        if "Traceback" in output:
            print(output[-20000:])


@pytest.mark.timeout(300)
def test_schemathesis_finds_the_server_true_to_the_document(live_server, tmp_path):
    """Every operation, fuzzed: no 5xx, and every response's status, content type and body are
    as documented. The document's examples name what is seeded here (builds 1-3, default/demo,
    scratch/doomed), so the examples phase reaches real objects, not just 404s."""
    if not os.path.exists(SCHEMATHESIS):
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    server = live_server
    # Seed: build 1 (an older build of default/demo: the example of DELETE build), build 2
    # (scratch/doomed: the example of DELETE environment and namespace), build 3 (the current
    # build of default/demo: the example of the other build operations).
    seeded = [
        submit(server, "default", "demo", "gamma"),
        submit(server, "scratch", "doomed", "alpha"),
        submit(server, "default", "demo", "gamma", "beta"),
    ]
    assert seeded == [1, 2, 3]
    for build_id in seeded:
        assert wait(server, build_id)["status"] == "COMPLETED"

    seed = os.environ.get("CSJ_SCHEMATHESIS_SEED")
    command = [
        SCHEMATHESIS,
        "run",
        f"{server.url}/conda-store/api/v1/openapi.json",
        "--header",
        f"Authorization: token {server.token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        os.environ.get("CSJ_SCHEMATHESIS_MAX_EXAMPLES", "25"),
        # One worker: hypothesis describes strategies with ast.parse, which CPython < 3.11.8 gets
        # wrong from several threads at once ("SystemError: AST constructor recursion depth
        # mismatch").
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "too_slow",
        "--output-truncate",
        "false",
        *(["--seed", seed] if seed else []),
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_COLOR": "1"},
    )
    elapsed = time.monotonic() - started
    print(result.stdout[-30000:], result.stderr[-5000:], f"schemathesis: {elapsed:.0f} s", sep="\n")
    server_output = server.read_output()
    assert result.returncode == 0, (
        f"schemathesis failed (reproduce with CSJ_SCHEMATHESIS_SEED=<Seed above>):\n"
        f"{result.stdout[-30000:]}\n{result.stderr[-5000:]}\n"
        f"--- server log ---\n{server_output[-15000:]}"
    )
    assert "Traceback" not in server_output, server_output[-15000:]
