"""The standalone service's surface (`jupyter conda-store`), through real server processes:

- it serves this extension's API only: Jupyter Server's own routes (kernels, terminals, contents,
  files, sessions, kernelspecs, config, nbconvert, events, shutdown...) answer 403 to everyone,
  the holder of the server's token included; its status route answers;
- a user's name is never a pattern: users named `*`, `b*`, `?ob`, `[b]ob`, `%`, `_ob`, `bo\\`...
  get nothing in namespace `bob`, neither in single checks nor in lists;
- the holder of the server's token is the store's administrator, under one stable name, with the
  README's default role bindings: it creates environments, in the primary namespace that
  `permission/` reports too.

Named users other than the token holder come from `tests.authorizers.NamedUserIdentityProvider`
(`Authorization: token user-<name>`), as they will from JupyterHub.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.cookiejar
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from .servers import StandaloneServer

API = "conda-store/api/v1"

# Jupyter Server's own routes (and one of an extension an operator enabled: terminals), each
# with a verb that used to succeed or act.
BUILTIN_ROUTES = [
    ("POST", "api/kernels", {"name": "python3"}),
    ("GET", "api/kernels", None),
    ("GET", "api/kernelspecs", None),
    ("GET", "kernelspecs/python3/kernel.json", None),
    ("GET", "api/sessions", None),
    (
        "POST",
        "api/sessions",
        {"path": "a.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    ),
    ("GET", "api/contents", None),
    ("GET", "api/contents/secret.txt", None),
    ("GET", "api/contents/store", None),
    ("PUT", "api/contents/planted.txt", {"type": "file", "format": "text", "content": "x"}),
    ("DELETE", "api/contents/secret.txt", None),
    ("GET", "files/secret.txt", None),
    ("GET", "view/secret.txt", None),
    ("GET", "nbconvert/html/secret.txt", None),
    ("GET", "api/nbconvert", None),
    ("GET", "api/config/notebook", None),
    ("PUT", "api/config/notebook", {"planted": True}),
    ("GET", "api/resolvePath?path=secret.txt", None),
    ("GET", "api/spec.yaml", None),
    ("GET", "api/events/subscribe", None),
    ("POST", "api/events", {"schema_id": "x", "version": "1", "data": {}}),
    ("POST", "api/security/csp-report", {}),
    ("POST", "api/shutdown", None),
]
TERMINAL_ROUTES = [("GET", "api/terminals", None), ("POST", "api/terminals", {})]

# Names that are glob or LIKE syntax, alone or around "bob".
HOSTILE_NAMES = [
    "*",
    "**",
    "*/*",
    "b*",
    "*b",
    "bo*",
    "bob*",
    "?ob",
    "bo?",
    "???",
    "[b]ob",
    "[!a]ob",
    "[a-z]ob",
    "%",
    "b%",
    "%ob",
    "_ob",
    "__b",
    "bo_",
    "bo\\",
    "\\",
    ".*",
    "b.b",
]


def request(
    server: StandaloneServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    opener: urllib.request.OpenerDirector | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, decoded JSON or text) of one request; `token` defaults to the server's."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    token = server.token if token is None else token
    if token:
        headers["Authorization"] = f"token {token}"
    data = (
        json.dumps(body).encode()
        if body is not None
        else (b"" if method in ("POST", "PUT") else None)
    )
    call = urllib.request.Request(f"{server.url}/{path}", data=data, method=method, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(call, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def api(
    server: StandaloneServer, method: str, path: str, body: Any = None, **options: Any
) -> tuple[int, Any]:
    return request(server, method, f"{API}/{path}", body, **options)


def spec(name: str) -> str:
    return yaml.safe_dump({"name": name, "dependencies": ["alpha"]})


def wait_for_build(server: StandaloneServer, build_id: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status, answer = api(server, "GET", f"build/{build_id}/")
        assert status == 200, answer
        if answer["data"]["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            return answer["data"]["status"]
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)


def start(workdir: Path, config: str, *args: str) -> StandaloneServer:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "jupyter_conda_store_config.py").write_text(config)
    (workdir / "secret.txt").write_text("a file in the server's root directory\n")
    (workdir / "store").mkdir(exist_ok=True)
    return StandaloneServer(workdir, *args).start()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory, local_channel) -> Iterator[StandaloneServer]:
    """`jupyter conda-store` as the README starts it: no role bindings, no security settings
    (only a channel that works offline)."""
    server = start(
        tmp_path_factory.mktemp("standalone-default"),
        f"c.CondaStore.channels = [{local_channel!r}]\n",
    )
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def database(kind: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the store's own SQLite), or a PostgreSQL URL in a schema of its own, dropped after
    (as conftest's pg_database_url, for a module)."""
    if kind == "sqlite":
        yield None
        return
    postgres_url = request.getfixturevalue("postgres_url")
    schema = f"csj_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def named_server(request, tmp_path_factory, local_channel) -> Iterator[StandaloneServer]:
    """The README's default bindings plus one whose pattern mixes `{username}` with a wildcard
    (so both the literal and the wildcard matching are at stake, in Python and in the SQL of
    both databases); named users; and the terminals extension enabled by the operator's Jupyter
    Server config."""
    workdir = tmp_path_factory.mktemp("standalone-named")
    (workdir / "jupyter_server_config.py").write_text(
        "c.ServerApp.jpserver_extensions = {'jupyter_server_terminals': True}\n"
    )
    with database(request.param, request) as url:
        server = start(
            workdir,
            f"c.CondaStore.channels = [{local_channel!r}]\n"
            "c.CondaStore.role_bindings = {'{username}/*': ['admin'], '{username}-*/*': ['editor'],"
            " 'default/*': ['viewer']}\n"
            + (f"c.CondaStore.database_url = {url!r}\n" if url else ""),
            "--ServerApp.identity_provider_class=tests.authorizers.NamedUserIdentityProvider",
        )
        try:
            yield server
        finally:
            server.stop()


# -- 3. Jupyter Server's own routes ------------------------------------------------------------


def assert_builtin_routes_refused(server: StandaloneServer, token: str, routes: list) -> None:
    answers = {
        (method, path): request(server, method, path, body, token=token)[0]
        for method, path, body in routes
    }
    assert {route: status for route, status in answers.items() if status != 403} == {}
    # Refused before acting: no kernel runs, no file was written or deleted.
    status, model = request(server, "GET", "api/status", token=token)
    assert status == 200 and model["kernels"] == 0, model
    assert not (server.workdir / "planted.txt").exists()
    assert (server.workdir / "secret.txt").exists()
    assert server.process.poll() is None  # api/shutdown did not stop it


def test_the_token_holder_reaches_no_builtin_route(default_server):
    assert_builtin_routes_refused(default_server, default_server.token, BUILTIN_ROUTES)
    # The operator did not enable terminals here: they do not exist at all.
    assert [request(default_server, m, p, b)[0] for m, p, b in TERMINAL_ROUTES] == [404, 404]


def test_a_named_user_reaches_no_builtin_route_terminals_included(named_server):
    assert_builtin_routes_refused(named_server, "user-alice", BUILTIN_ROUTES + TERMINAL_ROUTES)
    assert_builtin_routes_refused(named_server, named_server.token, TERMINAL_ROUTES)


@pytest.mark.parametrize("token", ["server", "user-alice"])
def test_the_status_routes_answer(default_server, named_server, token):
    server = default_server if token == "server" else named_server
    token = server.token if token == "server" else token
    assert request(server, "GET", "api/status", token=token)[0] == 200
    assert request(server, "GET", "api", token="")[0] == 200  # Jupyter Server's version, no login
    status, answer = api(server, "GET", "", token=token)
    assert status == 200 and answer["data"]["version"]


def test_no_credentials_no_access(default_server):
    for token in ("", "wrong-token", default_server.token + "x"):
        assert api(default_server, "GET", "permission/", token=token)[0] == 403
        assert request(default_server, "GET", "api/status", token=token)[0] == 403


# -- 5. the holder of the server's token is the store's administrator --------------------------


def test_the_token_holder_is_one_admin_who_creates_environments(default_server):
    status, first = api(default_server, "GET", "permission/")
    assert status == 200, first
    me = first["data"]
    assert me["entity_roles"] == {"*/*": ["admin"]}
    # The same identity on every request (Jupyter Server alone makes a new random user each time).
    assert api(default_server, "GET", "permission/")[1]["data"]["username"] == me["username"]

    # The primary namespace that permission/ reports takes a POST; so do `default` and others.
    builds = []
    for namespace, name in [
        (me["primary_namespace"], "mine"),
        ("default", "shared"),
        ("team", "tools"),
    ]:
        status, answer = api(
            default_server,
            "POST",
            "specification/",
            {"namespace": namespace, "specification": spec(name)},
        )
        assert status == 200, (namespace, answer)
        builds.append(answer["data"]["build_id"])
    assert [wait_for_build(default_server, build) for build in builds] == ["COMPLETED"] * 3

    status, answer = api(
        default_server,
        "PUT",
        f"environment/{me['primary_namespace']}/mine/",
        {"description": "mine"},
    )
    assert status == 200 and answer["data"]["description"] == "mine"
    status, answer = api(default_server, "GET", "environment/?size=100")
    listed = {(e["namespace"]["name"], e["name"]) for e in answer["data"]}
    assert {(me["primary_namespace"], "mine"), ("default", "shared"), ("team", "tools")} <= listed


def test_a_browser_logged_in_with_the_token_stays_the_admin(default_server):
    """The login cookie set for a token request carries the administrator, not a new user."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, answer = api(
        default_server, "GET", f"permission/?token={default_server.token}", token="", opener=browser
    )
    assert status == 200 and len(jar) >= 1
    admin = answer["data"]["username"]
    status, answer = api(default_server, "GET", "permission/", token="", opener=browser)
    assert status == 200, answer
    assert answer["data"]["username"] == admin and answer["data"]["entity_roles"] == {
        "*/*": ["admin"]
    }


def test_with_authentication_disabled_whoever_connects_is_the_admin(tmp_path, local_channel):
    """No token and no password: there is no credential to hold, and Jupyter Server lets anyone
    in. The store then has one administrator, not a random user per request who can do nothing;
    Jupyter Server's own routes stay closed."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.channels = [{local_channel!r}]\n"
    )
    server = StandaloneServer(tmp_path, token="").start()
    try:
        status, answer = api(server, "GET", "permission/", token="")
        assert status == 200 and answer["data"]["entity_roles"] == {"*/*": ["admin"]}
        # Not token-authenticated: Jupyter Server wants its XSRF cookie and header on a POST.
        xsrf = {"Cookie": "_xsrf=same", "X-XSRFToken": "same"}
        status, answer = api(
            server,
            "POST",
            "specification/",
            {"namespace": answer["data"]["primary_namespace"], "specification": spec("open")},
            token="",
            headers=xsrf,
        )
        assert status == 200, answer
        assert wait_for_build(server, answer["data"]["build_id"]) == "COMPLETED"
        assert (
            request(server, "POST", "api/kernels", {"name": "python3"}, token="", headers=xsrf)[0]
            == 403
        )
    finally:
        server.stop()


def test_a_user_named_like_the_admin_is_not_the_admin(named_server):
    admin = api(named_server, "GET", "permission/")[1]["data"]["username"]
    status, answer = api(named_server, "GET", "permission/", token=f"user-{admin}")
    assert status == 200 and answer["data"]["username"] == admin
    assert "*/*" not in answer["data"]["entity_roles"]
    status, _ = api(
        named_server,
        "POST",
        "specification/",
        {"namespace": "elsewhere", "specification": spec("nope")},
        token=f"user-{admin}",
    )
    assert status == 403


# -- 4. a name is never a pattern --------------------------------------------------------------


@pytest.fixture(scope="module")
def bobs(named_server) -> dict[str, Any]:
    """bob's namespace and environment, `bob-lab` (where `{username}-*` makes bob an editor),
    and alice's, made by their owners (and `bob-lab` by the administrator)."""
    assert api(named_server, "POST", "namespace/bob-lab/")[0] == 200
    made = {}
    for token, namespace, name in [
        ("user-bob", "bob", "bobs"),
        ("user-bob", "bob-lab", "lab"),
        ("user-alice", "alice", "alices"),
    ]:
        status, answer = api(
            named_server,
            "POST",
            "specification/",
            {
                "namespace": namespace,
                "specification": spec(name),
                "environment_description": "untouched",
            },
            token=token,
        )
        assert status == 200, (token, namespace, answer)
        made[(namespace, name)] = answer["data"]["build_id"]
    for build in made.values():
        assert wait_for_build(named_server, build) == "COMPLETED"
    return made


def visible(server: StandaloneServer, token: str) -> dict[str, set]:
    """What a user's lists show: namespaces, environments, builds."""
    shown: dict[str, set] = {}
    for kind, key in [
        ("namespace", lambda n: n["name"]),
        ("environment", lambda e: (e["namespace"]["name"], e["name"])),
        ("build", lambda b: b["id"]),
    ]:
        status, answer = api(server, "GET", f"{kind}/?size=1000", token=token)
        assert status == 200, answer
        shown[kind] = {key(item) for item in answer["data"]}
    return shown


def test_owners_and_strangers_see_what_their_roles_say(named_server, bobs):
    """The positive side, so that the refusals below are not vacuous."""
    bob = visible(named_server, "user-bob")
    assert {("bob", "bobs"), ("bob-lab", "lab")} <= bob["environment"]
    assert {"bob", "bob-lab"} <= bob["namespace"]
    assert bobs[("bob", "bobs")] in bob["build"]
    assert (
        api(
            named_server,
            "PUT",
            "environment/bob-lab/lab/",
            {"description": "by bob"},
            token="user-bob",
        )[0]
        == 200
    )
    alice = visible(named_server, "user-alice")
    assert not {"bob", "bob-lab"} & alice["namespace"]
    assert ("alice", "alices") in alice["environment"]


def test_names_with_regex_and_like_characters_match_only_themselves(named_server):
    """`.` and `_` are valid in names and special in regular expressions and LIKE: through the
    wildcard binding `{username}-*`, user `j.d_x` edits `j.d_x-lab`, and `jxd_x`, `j.dax` do not."""
    assert api(named_server, "POST", "namespace/j.d_x-lab/")[0] == 200
    status, answer = api(
        named_server,
        "POST",
        "specification/",
        {"namespace": "j.d_x-lab", "specification": spec("env")},
        token="user-j.d_x",
    )
    assert status == 200, answer
    assert wait_for_build(named_server, answer["data"]["build_id"]) == "COMPLETED"
    assert ("j.d_x-lab", "env") in visible(named_server, "user-j.d_x")["environment"]
    for other in ("jxd_x", "j.dax", "j.d_x-", "J.D_X"):
        shown = visible(named_server, f"user-{other}")
        assert "j.d_x-lab" not in shown["namespace"] and not shown["environment"], (other, shown)
        assert (
            api(
                named_server,
                "PUT",
                "environment/j.d_x-lab/env/",
                {"description": "x"},
                token=f"user-{other}",
            )[0]
            == 404
        )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_name_made_of_wildcards_gets_nothing_of_bob(named_server, bobs, name):
    token = f"user-{name}"
    status, me = api(named_server, "GET", "permission/", token=token)
    assert status == 200 and me["data"]["username"] == name

    # Single checks: no write, no read, in bob's namespaces.
    writes = {
        "describe": api(
            named_server, "PUT", "environment/bob/bobs/", {"description": "pwned"}, token=token
        ),
        "describe lab": api(
            named_server, "PUT", "environment/bob-lab/lab/", {"description": "pwned"}, token=token
        ),
        "create": api(
            named_server,
            "POST",
            "specification/",
            {"namespace": "bob", "specification": spec("evil")},
            token=token,
        ),
        "create lab": api(
            named_server,
            "POST",
            "specification/",
            {"namespace": "bob-lab", "specification": spec("evil")},
            token=token,
        ),
        "create named": api(
            named_server,
            "POST",
            "specification/",
            {"namespace": "bob", "environment_name": "bobs", "specification": spec("bobs")},
            token=token,
        ),
        "delete env": api(named_server, "DELETE", "environment/bob/bobs/", token=token),
        "delete namespace": api(named_server, "DELETE", "namespace/bob/", token=token),
        "rebuild": api(named_server, "PUT", f"build/{bobs[('bob', 'bobs')]}/", token=token),
    }
    assert {what: status for what, (status, _) in writes.items() if status not in (403, 404)} == {}
    reads = {
        "environment": api(named_server, "GET", "environment/bob/bobs/", token=token)[0],
        "namespace": api(named_server, "GET", "namespace/bob/", token=token)[0],
        "build": api(named_server, "GET", f"build/{bobs[('bob', 'bobs')]}/", token=token)[0],
    }
    assert set(reads.values()) == {404}, reads

    # Lists: nothing of bob's.
    shown = visible(named_server, token)
    assert not {"bob", "bob-lab"} & shown["namespace"], shown
    assert not {("bob", "bobs"), ("bob-lab", "lab")} & shown["environment"], shown
    assert not set(bobs.values()) & shown["build"], shown
    status, answer = api(named_server, "GET", "environment/?namespace=bob", token=token)
    assert status == 200 and answer["data"] == []

    # What permission/ reports matches nothing of bob's either, read as globs (as clients do).
    for pattern in me["data"]["entity_permissions"]:
        for entity in ("bob/bobs", "bob-lab/lab", "bob/*"):
            assert not fnmatch.fnmatchcase(entity, pattern), (pattern, entity)

    # Nothing changed.
    status, answer = api(named_server, "GET", "environment/bob/bobs/")
    assert answer["data"]["description"] == "untouched"
    assert answer["data"]["current_build_id"] == bobs[("bob", "bobs")]


# -- personal mode is unchanged -----------------------------------------------------------------


async def test_under_jupyter_server_the_builtin_routes_and_roles_are_unchanged(jp_fetch):
    """The extension inside `jupyter server`/`jupyter lab` (not the app started): Jupyter
    Server's routes answer, and the token user is admin of everything, `default` first."""
    assert json.loads((await jp_fetch("api", "kernels")).body) == []
    assert "kernelspecs" in json.loads((await jp_fetch("api", "kernelspecs")).body)
    permission = json.loads((await jp_fetch(*API.split("/"), "permission", "")).body)["data"]
    assert permission["entity_roles"] == {"*/*": ["admin"]}
    assert permission["primary_namespace"] == "default"
