"""The REST API on a real Jupyter Server, with real builds against the local channel."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import HTTPClientError

from conda_store_jupyter.db import Build
from conda_store_jupyter.solver import host_platform

from .servers import build_log_ended

API = ("conda-store", "api", "v1")


pytestmark = pytest.mark.local_channel_only


class Client:
    def __init__(self, fetch, serverapp):
        self.fetch = fetch
        self.serverapp = serverapp

    @property
    def service(self):
        return self.serverapp.web_app.settings["conda_store_service"]

    async def call(
        self, method: str, *path: str, body=None, raw: bool = False, headers=None, **params
    ):
        kwargs = {"method": method, "params": params, "headers": headers or {}}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["allow_nonstandard_methods"] = method == "DELETE"  # a body on DELETE
        elif method in ("POST", "PUT"):
            kwargs["body"] = b""
            kwargs["allow_nonstandard_methods"] = True
        response = await self.fetch(*API, *path, "", **kwargs)
        return response if raw else json.loads(response.body)

    async def error(
        self, method: str, *path: str, body=None, headers=None, **params
    ) -> tuple[int, str]:
        """(status, message) of a request that must fail with a JSON error."""
        with pytest.raises(HTTPClientError) as raised:
            await self.call(method, *path, body=body, headers=headers, **params)
        response = raised.value.response
        assert response is not None, raised.value
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        payload = json.loads(response.body)
        assert payload["status"] == "error"
        return raised.value.code, payload["message"]

    async def submit(
        self, name: str, *dependencies: str, namespace: str = "default", variables=None, **extra
    ) -> int:
        document = {"name": name, "dependencies": list(dependencies)}
        if variables:
            document["variables"] = variables
        text = yaml.safe_dump(document)
        answer = await self.call(
            "POST", "specification", body={"namespace": namespace, "specification": text, **extra}
        )
        return answer["data"]["build_id"]

    async def wait(self, build_id: int, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            build = (await self.call("GET", "build", str(build_id)))["data"]
            # Once its end is complete on disk too: link set, or prefix removed (build_log_ended).
            if build["status"] not in ("QUEUED", "BUILDING") and (
                build["started_on"] is None
                or build_log_ended(self.service.layout.log_path(build_id))
            ):
                return build
            assert time.monotonic() < deadline, build
            await asyncio.sleep(0.05)


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def test_create_wait_list_and_download(api):
    build_id = await api.submit("demo", "gamma")
    build = await api.wait(build_id)
    assert build["status"] == "COMPLETED", build["status_info"]
    assert build["specification"]["spec"]["dependencies"] == ["gamma"]
    assert {a["artifact_type"] for a in build["build_artifacts"]} >= {
        "LOCKFILE",
        "YAML",
        "EXPLICIT",
    }

    environments = await api.call("GET", "environment")
    assert environments["count"] == 1 and environments["page"] == 1
    environment = environments["data"][0]
    assert environment["namespace"]["name"] == "default" and environment["name"] == "demo"
    assert environment["current_build_id"] == build_id
    assert environment["current_build"]["status"] == "COMPLETED"

    namespaces = await api.call("GET", "namespace")
    assert [n["name"] for n in namespaces["data"]] == ["default"]

    packages = await api.call("GET", "build", str(build_id), "packages")
    assert {(p["name"], p["version"]) for p in packages["data"]} == {
        ("alpha", "1.1"),
        ("beta", "0.5"),
        ("gamma", "3.0"),
    }

    lock = await api.call("GET", "build", str(build_id), "lockfile", raw=True)
    assert lock.headers["Content-Type"].startswith("text/yaml")
    assert 'filename="demo-' in lock.headers["Content-Disposition"]
    assert b"gamma" in lock.body
    current = await api.call("GET", "environment", "default", "demo", "lockfile", raw=True)
    assert current.body == lock.body
    for kind in ("yaml", "explicit", "logs"):
        response = await api.call("GET", "build", str(build_id), kind, raw=True)
        assert response.code == 200 and response.body
    archive = await api.call("GET", "build", str(build_id), "archive", raw=True)
    assert archive.headers["Content-Type"] == "application/gzip" and archive.body[:2] == b"\x1f\x8b"


async def test_update_rollback_diff_rebuild_delete(api):
    first = await api.wait(await api.submit("evolve", "alpha 1.0"))
    second = await api.wait(await api.submit("evolve", "alpha 2.0", "beta"))
    assert (first["status"], second["status"]) == ("COMPLETED", "FAILED")  # beta needs alpha <2
    third = await api.wait(await api.submit("evolve", "alpha 1.1", "beta"))
    assert third["status"] == "COMPLETED"

    diff = (await api.call("GET", "build", str(first["id"]), "diff", str(third["id"])))["data"]
    assert [p["name"] for p in diff["added"]] == ["beta"]
    assert [(c["name"], c["old"]["version"], c["new"]["version"]) for c in diff["changed"]] == [
        ("alpha", "1.0", "1.1")
    ]
    assert diff["removed"] == []

    rolled = await api.call(
        "PUT", "environment", "default", "evolve", body={"build_id": first["id"]}
    )
    assert rolled["data"]["current_build_id"] == first["id"]
    code, message = await api.error(
        "PUT", "environment", "default", "evolve", body={"build_id": second["id"]}
    )
    assert code == 409 and "FAILED" in message
    described = await api.call(
        "PUT", "environment", "default", "evolve", body={"description": "for tests"}
    )
    assert described["data"]["description"] == "for tests"

    rebuilt = await api.call("PUT", "build", str(first["id"]))
    assert rebuilt["message"] == "rebuild triggered" and rebuilt["data"]["build_id"] > third["id"]
    await api.wait(rebuilt["data"]["build_id"])

    code, message = await api.error("DELETE", "build", str(rebuilt["data"]["build_id"]))
    assert code == 409 and "current build" in message
    assert (await api.call("DELETE", "build", str(third["id"])))["status"] == "ok"
    code, _ = await api.error("GET", "build", str(third["id"]))
    assert code == 404

    builds = await api.call("GET", "build", status="FAILED")
    assert [b["id"] for b in builds["data"]] == [second["id"]]
    assert (await api.call("DELETE", "environment", "default", "evolve"))["status"] == "ok"
    code, _ = await api.error("GET", "environment", "default", "evolve")
    assert code == 404


async def test_cancel_through_the_api(api):
    build_id = await api.submit("big", "csj-bigdata")
    deadline = time.monotonic() + 60
    while (await api.call("GET", "build", str(build_id)))["data"]["status"] != "BUILDING":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    canceled = await api.call("PUT", "build", str(build_id), "cancel")
    assert canceled["data"]["status"] == "CANCELED"
    code, message = await api.error("PUT", "build", str(build_id), "cancel")
    assert code == 409 and "only a queued or running build" in message


async def test_live_log_stream_gets_every_line_once_in_order(api, jp_fetch):
    # One worker (2 cores) busy with a large build: the next one waits in the queue.
    blocker = await api.submit("blocker", "python", "ipykernel")
    build_id = await api.submit("streamed", "gamma", "csj-bigdata")
    assert (await api.call("GET", "build", str(build_id)))["data"]["status"] == "QUEUED"
    chunks: list[bytes] = []
    await jp_fetch(
        *API,
        "build",
        str(build_id),
        "logs",
        "stream",
        "",
        streaming_callback=chunks.append,
        request_timeout=120,
    )
    events = [event for event in b"".join(chunks).decode().split("\n\n") if event]
    lines = [e.split("data: ", 1)[1] for e in events if e.startswith("event: log")]
    assert events[-1] == 'event: end\ndata: {"status": "COMPLETED"}'
    log = (await api.call("GET", "build", str(build_id), "logs", raw=True)).body.decode()
    assert lines == log.splitlines()
    statuses = [
        json.loads(e.split("data: ", 1)[1])["status"]
        for e in events
        if e.startswith("event: status")
    ]
    assert statuses == ["QUEUED", "BUILDING", "COMPLETED"]
    assert len(chunks) > 2  # it arrived in pieces as the build ran, not at the end
    assert (await api.wait(blocker))["status"] == "COMPLETED"


async def test_log_polling_by_offset(api):
    build_id = await api.submit("polled", "alpha")
    await api.wait(build_id)
    first = await api.call("GET", "build", str(build_id), "logs", raw=True, offset="0")
    assert first.headers["X-Build-Status"] == "COMPLETED"
    offset = int(first.headers["X-Log-Offset"])
    assert offset == len(first.body)
    rest = await api.call("GET", "build", str(build_id), "logs", raw=True, offset=str(offset))
    assert rest.body == b"" and rest.headers["X-Log-Offset"] == str(offset)


async def test_namespaces_and_permission(api):
    assert (await api.call("POST", "namespace", "team-a"))["status"] == "ok"
    code, message = await api.error("POST", "namespace", "team-a")
    assert code == 409 and "already exists" in message
    assert (await api.call("GET", "namespace", "team-a"))["data"]["name"] == "team-a"
    assert (await api.call("DELETE", "namespace", "team-a"))["status"] == "ok"
    code, message = await api.error("GET", "namespace", "team-a")
    assert code == 404 and "does not exist" in message
    permission = (await api.call("GET", "permission"))["data"]
    assert permission["authenticated"] and permission["entity_roles"] == {"*/*": ["admin"]}
    assert "environment::delete" in permission["entity_permissions"]["*/*"]
    assert permission["primary_namespace"] == "default"


async def test_dry_run_solve_channels_and_package_search(api, local_channel):
    solved = await api.call("GET", "specification", conda="gamma")
    assert {p["name"] for p in solved["data"]["packages"]} == {"alpha", "beta", "gamma"}
    assert solved["solve"] == solved["data"]["packages"]
    code, message = await api.error("GET", "specification", conda="conflict-a,conflict-b")
    # Ours: the prefix naming the platform; the explanation after it is the solver's, naming the
    # package in conflict.
    assert code == 400 and message.startswith(f"cannot solve for {host_platform()}: "), message
    assert "conflict-base" in message, message
    channels = await api.call("GET", "channel")
    assert channels["data"] == [{"id": 1, "name": local_channel}]
    found = await api.call("GET", "package", search="con")
    names = [p["name"] for p in found["data"]]
    assert names[:3] == ["conflict-a", "conflict-b", "conflict-base"]  # prefix matches first
    assert "ipykernel" not in names


async def test_pagination_and_filters(api):
    for index in range(5):
        await api.wait(await api.submit(f"env{index}", "alpha"))
    page = await api.call("GET", "environment", page="2", size="2", sort_by="name", order="desc")
    assert [e["name"] for e in page["data"]] == ["env2", "env1"]
    assert (page["page"], page["size"], page["count"]) == (2, 2, 5)
    assert (await api.call("GET", "environment", search="v3"))["count"] == 1
    assert (await api.call("GET", "environment", status="COMPLETED", packages="alpha"))[
        "count"
    ] == 5
    assert (await api.call("GET", "environment", packages="gamma"))["count"] == 0
    assert (await api.call("GET", "environment", page="99"))["data"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "status", "message"),
    [
        ("POST", ("specification",), b"{not json", {}, 400, "not valid JSON"),
        ("POST", ("specification",), {"specification": "name: [bad"}, {}, 400, "Invalid YAML"),
        (
            "POST",
            ("specification",),
            {"specification": "name: x\n", "colour": "red"},
            {},
            400,
            "unknown field(s) colour",
        ),
        (
            "POST",
            ("specification",),
            {"namespace": "a/b", "specification": "name: x\n"},
            {},
            400,
            "namespace name",
        ),
        (
            "POST",
            ("specification",),
            {"namespace": "..", "specification": "name: x\n"},
            {},
            400,
            "namespace name",
        ),
        (
            "POST",
            ("specification",),
            {"namespace": "x" * 300, "specification": "name: x\n"},
            {},
            400,
            "characters",
        ),
        (
            "POST",
            ("specification",),
            {"namespace": "a\x00b", "specification": "name: x\n"},
            {},
            400,
            "namespace name",
        ),
        (
            "POST",
            ("specification",),
            {
                "specification": "name: x\ndependencies: [alpha]\nchannels: [https://evil.invalid/c]\n"
            },
            {},
            400,
            "not allowed",
        ),
        ("GET", ("environment",), None, {"page": "-1"}, 400, "page must be between"),
        ("GET", ("environment",), None, {"page": "99999999999"}, 400, "page must be between"),
        ("GET", ("environment",), None, {"size": "100000"}, 400, "size must be between"),
        ("GET", ("environment",), None, {"sort_by": "password"}, 400, "cannot sort by password"),
        ("GET", ("environment",), None, {"status": "HAPPY"}, 400, "status must be one of"),
        ("GET", ("build", "424242"), None, {}, 404, "build 424242 does not exist"),
        ("GET", ("build", "9" * 30), None, {}, 404, "does not exist"),
        ("GET", ("environment", "default", "nope"), None, {}, 404, "does not exist"),
        ("GET", ("environment", "default", "a%2Fb"), None, {}, 400, "environment name"),
        ("GET", ("namespace", ".."), None, {}, 400, "namespace name"),
        ("PUT", ("environment", "default", "nope"), {"colour": 1}, {}, 400, "unknown field(s)"),
        ("GET", ("build", "1", "logs"), None, {"offset": "-5"}, 404, "does not exist"),
    ],
)
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    api, method, path, body, params, status, message
):
    before = [e["id"] for e in (await api.call("GET", "environment"))["data"]]
    code, text = await api.error(method, *path, body=body, **params)
    assert code == status and message in text, text
    with api.service.sessions() as session:
        assert session.query(Build).count() == 0
    assert [e["id"] for e in (await api.call("GET", "environment"))["data"]] == before


# -- lock files with pip packages ---------------------------------------------------------------

PACKAGE_FIELDS = (
    "name",
    "version",
    "build",
    "build_number",
    "channel",
    "subdir",
    "url",
    "sha256",
    "md5",
    "size",
    "manager",
)


async def _packages(api: Client, build_id: int) -> list[tuple]:
    answer = await api.call("GET", "build", str(build_id), "packages", size="1000")
    assert answer["count"] == len(answer["data"])
    return sorted(tuple(p[field] for field in PACKAGE_FIELDS) for p in answer["data"])


def _run_python(prefix: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [prefix / "bin" / "python", "-c", code], capture_output=True, text=True, env=env
    )


async def _pip_source(api: Client) -> tuple[int, str]:
    """A completed build of python + six from PyPI, and its conda-lock.yml as downloaded."""
    build_id = await api.submit("source", "python", {"pip": ["six==1.16.0"]})
    build = await api.wait(build_id, timeout=300)
    assert build["status"] == "COMPLETED", build["status_info"]
    lock = (await api.call("GET", "build", str(build_id), "lockfile", raw=True)).body.decode()
    return build_id, lock


async def test_lock_file_with_pip_packages_reproduces_the_whole_environment(api, store_dir):
    source_id, lock = await _pip_source(api)
    locked_pip = [p for p in yaml.safe_load(lock)["package"] if p["manager"] == "pip"]
    assert [(p["name"], p["version"]) for p in locked_pip] == [("six", "1.16.0")]

    answer = await api.call(
        "POST",
        "specification",
        body={
            "namespace": "default",
            "specification": lock,
            "is_lockfile": True,
            "environment_name": "replica",
        },
    )
    replica_id = answer["data"]["build_id"]
    replica = await api.wait(replica_id, timeout=300)
    assert replica["status"] == "COMPLETED", replica["status_info"]
    log = (await api.call("GET", "build", str(replica_id), "logs", raw=True)).body.decode()
    assert "solving for" not in log and "resolving pip" not in log

    # The same conda and pip packages, to the URL and hash.
    source_packages = await _packages(api, source_id)
    replica_packages = await _packages(api, replica_id)
    assert replica_packages == source_packages
    pip = [p for p in replica_packages if p[-1] == "pip"]
    assert [(p[0], p[1], p[6], p[7]) for p in pip] == [
        ("six", "1.16.0", locked_pip[0]["url"], locked_pip[0]["hash"]["sha256"])
    ]
    assert any(p[0] == "python" and p[-1] == "conda" for p in replica_packages)

    # Installed in the new prefix, at the pinned version.
    replica_prefix = store_dir / "default" / "envs" / "replica"
    result = _run_python(replica_prefix, "import six; print(six.__version__); print(six.__file__)")
    assert result.returncode == 0, result.stderr
    version, path = result.stdout.split()
    assert version == "1.16.0"
    assert Path(path).resolve().is_relative_to(replica_prefix.resolve())

    # The artifacts of the lock-file build: its lock keeps the pip entries, its environment.yaml
    # pins them, its explicit file is conda-only (by format) and so the same as the source's.
    replica_lock = yaml.safe_load(
        (await api.call("GET", "build", str(replica_id), "lockfile", raw=True)).body
    )
    assert [p for p in replica_lock["package"] if p["manager"] == "pip"] == locked_pip
    environment = yaml.safe_load(
        (await api.call("GET", "build", str(replica_id), "yaml", raw=True)).body
    )
    assert environment["dependencies"][-1] == {"pip": ["six==1.16.0"]}
    source_environment = yaml.safe_load(
        (await api.call("GET", "build", str(source_id), "yaml", raw=True)).body
    )
    assert environment["dependencies"] == source_environment["dependencies"]
    explicit = (await api.call("GET", "build", str(replica_id), "explicit", raw=True)).body
    assert explicit == (await api.call("GET", "build", str(source_id), "explicit", raw=True)).body
    assert b"six" not in explicit


@pytest.mark.parametrize(
    ("tampered", "problem"),
    # Ours, not uv's words (uv's reason follows in the message and the log).
    [
        ({"hash": {"sha256": "0" * 64}}, "six 1.16.0 cannot be installed as pinned"),
        ({"version": "1.17.0"}, "pins version 1.17.0"),
    ],
    ids=["wrong-hash", "wrong-version"],
)
async def test_lock_file_pip_package_not_installable_as_pinned_fails_the_build(
    api, store_dir, tampered, problem
):
    source_id, lock = await _pip_source(api)
    content = yaml.safe_load(lock)
    for package in content["package"]:
        if package["manager"] == "pip":
            package.update(tampered)
    answer = await api.call(
        "POST",
        "specification",
        body={
            "namespace": "default",
            "specification": yaml.safe_dump(content),
            "is_lockfile": True,
            "environment_name": "source",
        },
    )
    failed = await api.wait(answer["data"]["build_id"], timeout=300)
    assert failed["status"] == "FAILED"
    assert re.search(r"pip package(\(s\))? six\b", failed["status_info"]), failed["status_info"]
    assert problem in failed["status_info"], failed["status_info"]

    # The environment stays as it was: same current build, six still importable, no new prefix.
    environment = (await api.call("GET", "environment", "default", "source"))["data"]
    assert environment["current_build_id"] == source_id
    assert not any(
        path.name.endswith(f"-{failed['id']}-source") for path in (store_dir / "default").iterdir()
    )
    result = _run_python(
        store_dir / "default" / "envs" / "source", "import six; print(six.__version__)"
    )
    assert result.stdout.strip() == "1.16.0", result.stderr


async def test_lock_file_pip_package_without_url_is_refused(api):
    _, lock = await _pip_source(api)
    for broken, problem in (
        # Ours: the field and the package; pydantic says why after it, in its own words.
        ({"url": None}, r"^invalid conda-lock file: package\.\d+\.url \(six 1\.16\.0, pip\): "),
        ({"url": "six-1.16.0-py2.py3-none-any.whl"}, "not a URL"),
        # A lock file cannot smuggle options into the requirements uv reads.
        (
            {
                "url": "https://files.pythonhosted.org/six.whl --index-url https://evil.invalid/simple"
            },
            "not a URL",
        ),
        ({"hash": {"sha256": "--no-verify-hashes"}}, "not 64 hexadecimal digits"),
    ):
        content = yaml.safe_load(lock)
        for package in content["package"]:
            if package["manager"] == "pip":
                package.update(broken)
                if package["url"] is None:
                    del package["url"]
        code, message = await api.error(
            "POST",
            "specification",
            body={
                "namespace": "default",
                "specification": yaml.safe_dump(content),
                "is_lockfile": True,
                "environment_name": "nourl",
            },
        )
        assert code == 400 and re.search(problem, message) and "six" in message, message
    code, _ = await api.error("GET", "environment", "default", "nourl")
    assert code == 404
