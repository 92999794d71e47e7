"""Hostile input and faults never answer 500, through a real server: numbers of any form in ids,
query arguments and headers; JSON nested deep in any body; specifications too large in any form;
a full disk on every write; namespaces named like the store's own files; deletes that complete
or change nothing; a running build's log read while it grows; the dry-run solve's role."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from tornado.httpclient import HTTPClientError

from conda_store_jupyter.buildlog import BuildLog
from conda_store_jupyter.db import Build, Environment, Namespace, open_database
from conda_store_jupyter.handlers import API_PREFIX, ROUTES
from conda_store_jupyter.handlers.base import CondaStoreHandler
from conda_store_jupyter.handlers.openapi import document as openapi_document
from conda_store_jupyter.spec import MAX_SPEC_BYTES

from . import servers
from .conftest import require_services
from .servers import StandaloneServer
from .test_api import Client as ApiClient

# Numbers that are not small decimal numbers: Python's int() takes most of them (Unicode
# digits, "_", spaces, "+"), or fails with a ValueError (thousands of digits).
HOSTILE_NUMBERS = [
    "9" * 5000,
    "1" + "0" * 4400,
    "0" * 5000 + "1",
    "\u0661\u0662",  # Arabic-Indic 12
    "\u0661" * 5000,
    "\u00b2",  # superscript two: str.isdigit() says True
    "\U0001d7d9",  # mathematical double-struck 1: int() takes it
    "1_0",
    " 1",
    "+1",
    "1.0",
    "0x1",
    "1e3",
]


class Client(ApiClient):
    def snapshot(self) -> dict:
        """What the store holds, to compare before and after a refused request."""
        with self.service.sessions() as session:
            return {
                "namespaces": sorted(
                    session.execute(sa.select(Namespace.name, Namespace.deleted_on)).all()
                ),
                "environments": sorted(
                    session.execute(
                        sa.select(
                            Environment.id,
                            Environment.name,
                            Environment.description,
                            Environment.current_build_id,
                            Environment.deleted_on,
                        )
                    ).all()
                ),
                "builds": sorted(
                    session.execute(sa.select(Build.id, Build.status, Build.deleted_on)).all()
                ),
            }


pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def seed(api: Client) -> dict:
    """default/seeded on a completed build."""
    build = await api.wait(await api.submit("seeded", "alpha"))
    assert build["status"] == "COMPLETED", build["status_info"]
    return build


def _methods(handler: type) -> list[str]:
    return [
        method.upper()
        for method in ("get", "post", "put", "patch", "delete")
        if getattr(handler, method) is not getattr(CondaStoreHandler, method)
    ]


def _id_routes() -> list[tuple[str, list[str], str]]:
    """(method, path segments with {} for each id, route) of every route that takes a build id."""
    found = []
    for pattern, handler in ROUTES:
        path = pattern[len(API_PREFIX) :].strip("/").removesuffix("/?")
        if "([^/]+)" not in path or not path.startswith("build/"):
            continue
        alternatives = re.search(r"\(([\w|]+)\)", path)
        for choice in alternatives.group(1).split("|") if alternatives else [None]:
            concrete = path if choice is None else path.replace(alternatives.group(0), choice)
            segments = concrete.replace("([^/]+)", "{}").split("/")
            for method in _methods(handler):
                found.append((method, segments, pattern))
    return found


# -- item 8: numbers ----------------------------------------------------------------------------


def test_every_route_with_an_id_is_covered():
    routes = {(method, "/".join(segments)) for method, segments, _ in _id_routes()}
    assert ("GET", "build/{}/diff/{}") in routes and ("DELETE", "build/{}") in routes
    assert ("GET", "build/{}/logs/stream") in routes and ("GET", "build/{}/archive") in routes
    assert len(routes) >= 12


async def test_a_hostile_id_in_any_route_is_a_4xx_and_changes_nothing(api):
    seeded = await seed(api)
    before = api.snapshot()
    seen = 0
    for method, segments, _ in _id_routes():
        slots = [index for index, part in enumerate(segments) if part == "{}"]
        for slot in slots:  # the hostile id in each place, a real build id in the others
            for number in HOSTILE_NUMBERS:
                path = [str(seeded["id"]) if part == "{}" else part for part in segments]
                path[slot] = number
                code, message = await api.error(method, *path)
                assert code in (400, 404), (method, path[:3], code, message)
                assert message.startswith(("build id must be a non-negative integer", "build ")), (
                    message
                )
                if code == 404:
                    assert message.endswith("does not exist"), message
                assert len(message) < 200, message  # the value is shown cut short
                seen += 1
    assert seen >= 13 * len(HOSTILE_NUMBERS)
    assert api.snapshot() == before


@pytest.mark.parametrize(
    ("path", "argument"),
    [
        (("environment",), "page"),
        (("environment",), "size"),
        (("build",), "environment_id"),
        (("namespace",), "page"),
        (("build", "{}", "logs"), "offset"),
        (("build", "{}", "logs", "stream"), "offset"),
        (("build", "{}", "packages"), "size"),
    ],
)
async def test_a_hostile_number_in_a_query_argument_is_a_400(api, path, argument):
    seeded = await seed(api)
    path = tuple(str(seeded["id"]) if part == "{}" else part for part in path)
    before = api.snapshot()
    for number in [*HOSTILE_NUMBERS, "-" + "9" * 5000]:
        code, message = await api.error("GET", *path, **{argument: number})
        assert code == 400 and message.startswith(f"{argument} must be "), message
        assert len(message) < 200, message
    assert api.snapshot() == before


async def test_last_event_id_is_a_small_decimal_number_or_a_400(api):
    seeded = await seed(api)
    stream = ("build", str(seeded["id"]), "logs", "stream")
    # (HTTP strips the spaces around a header's value: " 1" arrives as "1".)
    for number in [n for n in HOSTILE_NUMBERS if n == n.strip()] + ["-1", "abc"]:
        # Headers travel as bytes: what a client sends as UTF-8 reaches the server as such.
        raw = number.encode("utf-8").decode("latin-1")
        code, message = await api.error("GET", *stream, headers={"Last-Event-ID": raw})
        assert code == 400 and message.startswith("Last-Event-ID must be "), message
    # A real event id resumes after that line.
    log = (await api.call("GET", "build", str(seeded["id"]), "logs", raw=True)).body
    first_line = log.index(b"\n") + 1
    response = await api.call("GET", *stream, raw=True, headers={"Last-Event-ID": str(first_line)})
    lines = [
        event.split("data: ", 1)[1]
        for event in response.body.decode().split("\n\n")
        if event.startswith("event: log")
    ]
    assert lines == log[first_line:].decode().splitlines()


async def test_a_build_id_in_a_body_follows_the_same_rule(api):
    await seed(api)
    environment = ("environment", "default", "seeded")
    before = api.snapshot()
    for value, status, prefix in [
        ("9" * 5000, 400, "request body has a number of 5,000 digits"),
        (2**63, 404, f"build {2**63} does not exist"),
        (-1, 400, "build_id must be a non-negative integer"),
        (1.5, 400, "build_id must be a non-negative integer"),
    ]:
        body = f'{{"build_id": {value}}}'
        code, message = await api.error("PUT", *environment, body=body)
        assert (code, message[: len(prefix)]) == (status, prefix), message
    code, message = await api.error("PUT", *environment, body='{"build_id": NaN}')
    assert code == 400 and message.startswith("request body is not valid JSON"), message
    assert api.snapshot() == before


async def test_numbers_nobody_can_read_in_a_specification_are_a_400(api):
    """Numbers in the specification's own text (YAML), or values YAML types but Python cannot
    hold, follow the same rule: a 400 naming the problem."""
    await seed(api)
    before = api.snapshot()
    for text, is_lockfile in [
        ("name: x\nvariables: {A: %s}\n" % ("9" * 5000), False),
        ("name: x\nvariables: {A: 0x%s}\n" % ("f" * 5000), False),
        ("name: x\ndependencies: [%s]\n" % ("1" * 4400), False),
        ("name: x\nvariables: {A: 2001-13-45}\n", False),
        ("version: %s\nmetadata: {}\npackage: []\n" % ("9" * 5000), True),
    ]:
        body = {"specification": text, "is_lockfile": is_lockfile, "environment_name": "x"}
        code, message = await api.error("POST", "specification", body=body)
        assert code == 400 and message.startswith("Invalid YAML: "), message
    assert api.snapshot() == before


# -- item 8: JSON nesting in every body ----------------------------------------------------------


def _operations_with_a_body() -> list[tuple[str, str]]:
    document = openapi_document()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def _deep_bodies() -> list[str]:
    depth = 1000
    return [
        "[" * depth + "]" * depth,
        '{"a":' * depth + "1" + "}" * depth,
        # Nested inside a field that takes an object.
        '{"specification": {"name": "x", "variables": '
        + '{"a":' * depth
        + '"v"'
        + "}" * depth
        + "}}",
        '{"build_id": ' + "[" * depth + "1" + "]" * depth + "}",
        "[" * 200_000,  # never closed
        '{"description": "' + "[" * 10 + '", "x": ' + "{" * depth + "}" * depth + "}",
    ]


def test_bodies_are_taken_by_the_documented_operations():
    assert {("POST", "/specification/"), ("PUT", "/environment/{namespace}/{environment}/")} <= set(
        _operations_with_a_body()
    )


async def test_json_nested_deep_in_any_body_is_a_400_and_changes_nothing(api):
    seeded = await seed(api)
    before = api.snapshot()
    values = {"namespace": "default", "environment": "seeded", "build_id": str(seeded["id"])}
    for method, template in _operations_with_a_body():
        path = (
            re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)
            .strip("/")
            .split("/")
        )
        for body in _deep_bodies():
            code, message = await api.error(method, *path, body=body)
            assert code == 400 and message.startswith("request body is nested deeper than"), (
                template,
                message,
            )
    # Brackets inside strings are text, not nesting.
    text = yaml.safe_dump(
        {"name": "brackets", "description": "[" * 5000, "dependencies": ["alpha"]}
    )
    answer = await api.call("POST", "specification", body={"specification": text})
    assert answer["status"] == "ok"
    after = api.snapshot()
    assert after["namespaces"] == before["namespaces"]
    assert [b for b in after["builds"] if b[0] != answer["data"]["build_id"]] == before["builds"]


# -- item 8: the same size limits for every form of a specification --------------------------------


async def test_a_specification_too_large_is_refused_in_every_form(api):
    await seed(api)
    before = api.snapshot()
    names = [f"p{index}" for index in range(200_000)]
    forms = {
        "object": {"name": "big", "dependencies": names},
        "YAML text": yaml.safe_dump({"name": "big", "dependencies": names}),
        # Under the text limit in bytes, over the limit of entries.
        "flow YAML": "name: big\ndependencies: ["
        + ",".join(f"{index:x}" for index in range(150_000))
        + "]\n",
        "object, few entries": {
            "name": "big",
            "dependencies": ["alpha"],
            "description": "d" * (MAX_SPEC_BYTES + 1),
        },
        "object, pip": {"name": "big", "dependencies": [{"pip": names[:20_000]}]},
    }
    assert len(forms["flow YAML"]) < MAX_SPEC_BYTES
    for form, specification in forms.items():
        code, message = await api.error(
            "POST", "specification", body={"specification": specification}
        )
        assert code == 400 and message.startswith("specification is too large: "), (form, message)
    # A description given beside the specification, or alone, has the same limit.
    huge = "d" * (MAX_SPEC_BYTES + 1)
    code, message = await api.error(
        "POST",
        "specification",
        body={
            "specification": "name: big\ndependencies: [alpha]\n",
            "environment_description": huge,
        },
    )
    assert code == 400 and message.startswith("description is too large"), message
    code, message = await api.error(
        "PUT", "environment", "default", "seeded", body={"description": huge}
    )
    assert code == 400 and message.startswith("description is too large"), message
    assert api.snapshot() == before


# -- item 11: the dry-run solve needs environment::solve ------------------------------------------


@pytest.fixture
def jp_server_config(conda_store_config, request):
    from traitlets.config import Config

    bindings = getattr(request, "param", None)
    section = dict(conda_store_config)
    if bindings is not None:
        section["role_bindings"] = bindings
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"conda_store_jupyter": True}},
            "CondaStore": section,
            "BuildExecutor": {"warm_launcher": False},
        }
    )


@pytest.mark.parametrize(
    "jp_server_config",
    [{"default/*": ["viewer"], "team/*": ["editor"], "lab/ro": ["admin"]}],
    indirect=True,
)
async def test_dry_run_solve_needs_the_solve_role_in_the_namespace(jp_fetch, jp_serverapp):
    api = Client(jp_fetch, jp_serverapp)
    for params in ({}, {"namespace": "default"}, {"namespace": "lab"}, {"namespace": "elsewhere"}):
        code, message = await api.error("GET", "specification", conda="gamma", **params)
        assert code == 403 and "may not environment solve in namespace" in message, message
    solved = await api.call("GET", "specification", conda="gamma", namespace="team")
    assert {p["name"] for p in solved["data"]["packages"]} == {"alpha", "beta", "gamma"}
    code, message = await api.error("GET", "specification", conda="gamma", namespace="../x")
    assert code == 400 and message.startswith("namespace name"), message


# -- item 10: a running build's log, read while it grows ----------------------------------------


async def test_reading_a_growing_log_never_aborts_the_connection(api):
    """A running build's log grows while readers fetch it whole: every answer is complete, as
    long as its Content-Length says, and a prefix of the log."""
    build_id = await api.submit("chatty", "csj-bigdata")
    log_path = api.service.layout.log_path(build_id)
    deadline = time.monotonic() + 60
    while not (
        log_path.exists()
        and (await api.call("GET", "build", str(build_id)))["data"]["status"] == "BUILDING"
    ):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)

    # The build writes its lines; a chattier writer beside it appends through the same BuildLog
    # (a build reporting progress line by line), so the log grows all the time the reads run.
    stop = threading.Event()

    def chatter() -> None:
        with BuildLog(log_path) as log:
            index = 0
            while not stop.is_set():
                log.write(f"progress {index} " + "." * (index % 200))
                index += 1
                time.sleep(0.0005)

    writer = threading.Thread(target=chatter)
    writer.start()
    failures: list[str] = []
    answers: list[bytes] = []

    async def reader() -> None:
        end = time.monotonic() + 4
        while time.monotonic() < end:
            try:
                response = await api.call("GET", "build", str(build_id), "logs", raw=True)
            except Exception as error:  # an aborted connection, whatever the client calls it
                failures.append(repr(error))
                continue
            assert len(response.body) == int(response.headers["Content-Length"])
            answers.append(response.body)

    try:
        await asyncio.gather(*(reader() for _ in range(8)))
    finally:
        stop.set()
        writer.join()
    final = log_path.read_bytes()
    assert failures == [], (
        f"{len(failures)} of {len(failures) + len(answers)} reads failed: {failures[:3]}"
    )
    assert len(answers) > 50
    assert all(final.startswith(body) for body in answers)
    try:
        await api.call("PUT", "build", str(build_id), "cancel")
    except HTTPClientError as error:
        assert error.code == 409  # it completed meanwhile


# -- item 9: namespaces and the store's own files; deletes complete or change nothing --------------


def _top_level(store: Path) -> set[str]:
    return {path.name for path in store.iterdir()}


async def test_the_database_lives_in_a_dot_directory(api, store_dir):
    await seed(api)
    assert (store_dir / ".db" / "conda-store.sqlite").is_file()
    assert {name for name in _top_level(store_dir) if not name.startswith(".")} == {"default"}
    for name in (
        "conda-store.sqlite",
        "conda-store.sqlite-wal",
        "conda-store.sqlite-shm",
        "conda-store.sqlite-journal",
    ):
        code, message = await api.error("POST", "namespace", name)
        assert code == 400 and message.startswith(f"namespace name {name!r} is reserved"), message
        code, message = await api.error(
            "POST",
            "specification",
            body={
                "namespace": name,
                "specification": "name: x\ndependencies: [alpha]\n",
            },
        )
        assert code == 400 and message.startswith(f"namespace name {name!r} is reserved"), message
    # Any other file at the namespace level is not a namespace either.
    (store_dir / "notes.txt").write_text("mine")
    code, message = await api.error("POST", "namespace", "notes.txt")
    assert code == 400 and message.startswith("namespace name 'notes.txt' is taken"), message
    code, _ = await api.error("GET", "namespace", "notes.txt")
    assert code == 404


def _request(server: StandaloneServer, method: str, path: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{server.url}/conda-store/api/v1/{path}",
        method=method,
        data=json.dumps(body).encode()
        if body is not None
        else (b"" if method in ("POST", "PUT") else None),
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _wait(server: StandaloneServer, build_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, answer = _request(server, "GET", f"build/{build_id}/")
        assert status == 200, answer
        if answer["data"]["status"] not in ("QUEUED", "BUILDING"):
            return answer["data"]
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _standalone(tmp_path: Path, store: Path, local_channel: str) -> StandaloneServer:
    """`jupyter conda-store` on `store`, its token's holder admin of every namespace."""
    (tmp_path / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.store_dir = {str(store)!r}\n"
        f"c.CondaStore.channels = [{local_channel!r}]\n"
        'c.CondaStore.role_bindings = {"*/*": ["admin"]}\n'
        "c.BuildExecutor.poll_interval = 0.1\n"
        # The disk really fills here: not refused early (test_storage_threshold.py) but written
        # until the disk is full.
        "c.CondaStore.storage_threshold = 0\n"
    )
    return StandaloneServer(tmp_path).start()


def _submit(
    server: StandaloneServer, namespace: str, name: str, *dependencies: str
) -> tuple[int, dict]:
    text = yaml.safe_dump({"name": name, "dependencies": list(dependencies)})
    return _request(
        server, "POST", "specification/", {"namespace": namespace, "specification": text}
    )


def test_a_legacy_store_keeps_its_database_and_its_names_stay_reserved(tmp_path, local_channel):
    """A store made before the database moved into .db/: the server opens the database where it
    is, refuses its names as namespaces, and a namespace created there before (which collides
    with the database's files) is deleted completely."""
    store = tmp_path / "store"
    legacy = store / "conda-store.sqlite"
    engine, sessions = open_database(f"sqlite:///{legacy}")
    with sessions() as session, session.begin():
        session.add(Namespace(name="conda-store.sqlite-wal"))  # accepted by older versions
    engine.dispose()

    server = _standalone(tmp_path, store, local_channel)
    try:
        status, answer = _submit(server, "conda-store.sqlite-wal", "env", "alpha")
        assert status == 200, answer
        build = _wait(server, answer["data"]["build_id"])
        assert build["status"] == "FAILED"  # its prefix would lie under a file of the store
        assert not (store / ".db").exists()
        with sqlite3.connect(legacy) as connection:  # the server wrote to the legacy database
            assert connection.execute("SELECT count(*) FROM build").fetchone() == (1,)
        for name in ("conda-store.sqlite", "conda-store.sqlite-shm"):
            status, answer = _request(server, "POST", f"namespace/{name}/")
            assert status == 400 and answer["message"].startswith(
                f"namespace name {name!r} is reserved"
            )

        status, answer = _request(server, "DELETE", "namespace/conda-store.sqlite-wal/")
        assert status == 200, answer
        status, _ = _request(server, "GET", "namespace/conda-store.sqlite-wal/")
        assert status == 404
        status, _ = _request(server, "GET", f"build/{build['id']}/")
        assert status == 200  # builds stay, as with any deleted environment
        assert (store / "conda-store.sqlite").is_file()
    finally:
        output = server.stop()
    assert "Traceback" not in output, output[-5000:]


async def test_a_delete_removes_prefixes_only_with_its_commit(api, store_dir):
    """Deletes of a build, an environment and a namespace remove their prefixes and links, and
    leave nothing in the trash (the files moved aside are removed once the delete commits; the
    full-disk test below sees them put back when it cannot commit)."""
    seeded = await seed(api)
    second = await api.wait(await api.submit("seeded", "alpha 1.0"))
    assert second["status"] == "COMPLETED"
    first_prefix = store_dir / "default" / api.service.get_build(seeded["id"]).build_dir
    assert first_prefix.is_dir()
    assert (await api.call("DELETE", "build", str(seeded["id"])))["status"] == "ok"
    assert not first_prefix.exists()
    second_prefix = store_dir / "default" / api.service.get_build(second["id"]).build_dir
    await api.call("POST", "namespace", "team")
    third = await api.wait(await api.submit("other", "alpha", namespace="team"))
    third_prefix = store_dir / "team" / api.service.get_build(third["id"]).build_dir
    assert (await api.call("DELETE", "environment", "default", "seeded"))["status"] == "ok"
    assert (
        not second_prefix.exists() and not (store_dir / "default" / "envs" / "seeded").is_symlink()
    )
    assert (await api.call("DELETE", "namespace", "team"))["status"] == "ok"
    assert not third_prefix.exists() and not (store_dir / "team" / "envs" / "other").is_symlink()
    assert list((store_dir / ".trash").iterdir()) == []


# -- item 8: a full disk on every write -----------------------------------------------------------


def _unshare_flags() -> list[str]:
    # As root a mount namespace of our own is enough; otherwise a user namespace maps us to root
    # in it, where mounting a tmpfs is allowed.
    return ["-m"] if os.geteuid() == 0 else ["-r", "-m"]


def _nsenter_flags() -> list[str]:
    return ["-m"] if os.geteuid() == 0 else ["-U", "-m", "--preserve-credentials"]


def _small_disk_unavailable(probe: Path) -> str | None:
    """Why a small file system of the test's own cannot be had here, or None."""
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        return "unshare/nsenter (util-linux) are not installed"
    probe.mkdir()
    result = subprocess.run(
        [
            "unshare",
            *_unshare_flags(),
            "--",
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "tmpfs",
            str(probe),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return f"cannot mount a tmpfs in a mount namespace here: {result.stderr.strip()}"
    return None


class SmallDisk:
    """A server whose store is on a tmpfs of `size` in a mount namespace of its own (the test
    enters it to fill the disk); the tmpfs goes away with the server."""

    def __init__(self, tmp_path: Path, size: str = "48m"):
        self.disk = tmp_path / "disk"
        self.disk.mkdir()
        self.wrapper = tmp_path / "jupyter-on-small-disk"
        mount = 'mount -t tmpfs -o size="$CSJ_DISK_SIZE" tmpfs "$CSJ_DISK" && exec "$@"'
        self.wrapper.write_text(
            "#!/bin/sh\n"
            f"export CSJ_DISK={shlex.quote(str(self.disk))} CSJ_DISK_SIZE={shlex.quote(size)}\n"
            f"exec unshare {' '.join(_unshare_flags())} -- sh -c {shlex.quote(mount)} sh "
            f'{shlex.quote(servers.JUPYTER)} "$@"\n'
        )
        self.wrapper.chmod(0o755)
        self.pid = 0

    def run(self, code: str) -> None:
        """Run Python code inside the server's mount namespace (where the tmpfs is)."""
        subprocess.run(
            ["nsenter", "-t", str(self.pid), *_nsenter_flags(), "--", sys.executable, "-c", code],
            check=True,
            timeout=60,
        )

    def fill(self) -> None:
        self.run(
            "import errno, os\n"
            f"path = {str(self.disk / 'filler')!r}\n"
            "fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)\n"
            "for size in (1 << 20, 1 << 12, 1):\n"
            "    try:\n"
            "        while True:\n"
            "            os.write(fd, bytes(size))\n"
            "    except OSError as error:\n"
            "        assert error.errno == errno.ENOSPC, error\n"
            "os.fsync(fd)\n"
            "os.close(fd)\n"
            "stat = os.statvfs(os.path.dirname(path))\n"
            "assert stat.f_bavail == 0, stat\n"
        )

    def free(self) -> None:
        self.run(f"import os; os.remove({str(self.disk / 'filler')!r})")

    def check(self, condition: str) -> bool:
        try:
            self.run(f"import glob, os, sys; sys.exit(0 if {condition} else 3)")
        except subprocess.CalledProcessError:
            return False
        return True

    def exists(self, path: Path) -> bool:
        return self.check(f"os.path.lexists({str(path)!r})")

    def has_prefix(self, namespace_dir: Path, build_id: int) -> bool:
        return self.check(f"glob.glob({str(namespace_dir)!r} + '/*-{build_id}-*')")


@pytest.fixture
def small_disk(tmp_path, monkeypatch) -> SmallDisk:
    reason = _small_disk_unavailable(tmp_path / "probe")
    if reason is not None:
        if require_services():
            pytest.fail(f"{reason}, and CSJ_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(reason)
    disk = SmallDisk(tmp_path)
    monkeypatch.setattr(servers, "JUPYTER", str(disk.wrapper))
    return disk


@pytest.mark.timeout(300)
def test_a_full_disk_answers_507_on_every_write_and_changes_nothing(
    tmp_path, local_channel, small_disk
):
    store = small_disk.disk / "store"
    server = _standalone(tmp_path, store, local_channel)
    small_disk.pid = server.process.pid
    try:
        status, answer = _submit(server, "default", "seeded", "alpha")
        assert status == 200, answer
        old = _wait(server, answer["data"]["build_id"])
        assert old["status"] == "COMPLETED", old["status_info"]
        status, answer = _submit(server, "default", "seeded", "alpha 1.0")
        current = _wait(server, answer["data"]["build_id"])
        assert current["status"] == "COMPLETED", current["status_info"]
        assert small_disk.has_prefix(store / "default", old["id"])
        before = {
            path: _request(server, "GET", path)
            for path in (
                "namespace/?size=100",
                "environment/?size=100",
                "build/?size=100",
            )
        }

        small_disk.fill()
        writes = [
            ("POST", "namespace/fresh/", None),
            (
                "POST",
                "specification/",
                {"namespace": "default", "specification": "name: new\ndependencies: [alpha]\n"},
            ),
            (
                "POST",
                "specification/",
                {"namespace": "fresh", "specification": "name: new\ndependencies: [alpha]\n"},
            ),
            (
                "POST",
                "specification/",
                {"namespace": "default", "specification": "name: seeded\ndependencies: [beta]\n"},
            ),
            ("PUT", "environment/default/seeded/", {"description": "changed"}),
            ("PUT", "environment/default/seeded/", {"build_id": old["id"]}),
            ("PUT", f"build/{current['id']}/", None),  # rebuild
            ("DELETE", f"build/{old['id']}/", None),
            ("DELETE", "environment/default/seeded/", None),
            ("DELETE", "namespace/default/", None),
        ]
        for method, path, body in writes:
            status, answer = _request(server, method, path, body)
            assert status == 507, (method, path, status, answer)
            assert answer["status"] == "error"
            assert answer["message"].startswith("the store's disk is full"), answer["message"]
        for path, seen in before.items():
            assert _request(server, "GET", path) == seen, path
        # The deletes put back what they had moved aside.
        for build in (old, current):
            status, answer = _request(server, "GET", f"build/{build['id']}/")
            assert status == 200
        status, answer = _request(server, "GET", "environment/default/seeded/")
        assert answer["data"]["current_build_id"] == current["id"]
        assert small_disk.has_prefix(store / "default", old["id"])
        assert small_disk.has_prefix(store / "default", current["id"])
        assert small_disk.exists(store / "default" / "envs" / "seeded")

        # Once there is room again, the same writes succeed: nothing was left half done.
        small_disk.free()
        status, answer = _request(server, "POST", "namespace/fresh/")
        assert status == 200, answer
        status, answer = _request(
            server, "PUT", "environment/default/seeded/", {"description": "changed"}
        )
        assert status == 200 and answer["data"]["description"] == "changed"
        status, answer = _request(server, "DELETE", f"build/{old['id']}/")
        assert status == 200, answer
        assert not small_disk.has_prefix(store / "default", old["id"])
    finally:
        output = server.stop()
    assert "Traceback" not in output, output[-5000:]
    assert "the store's disk is full" in output
