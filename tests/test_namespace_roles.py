"""Sharing a namespace with another, through conda-store's routes, on a real `jupyter conda-store`
with named users (tests.authorizers.NamedUserIdentityProvider: `token user-<name>`, as they will
come from JupyterHub) and the shared deployment's default bindings ({username}/* admin,
default/* viewer)."""

from __future__ import annotations

import pytest
import yaml

from .servers import StandaloneServer
from .test_standalone_surface import API, request

pytestmark = pytest.mark.local_channel_only


@pytest.fixture
def server(tmp_path, local_channel):
    server = StandaloneServer(
        tmp_path,
        f"--CondaStore.store_dir={tmp_path / 'store'}",
        f"--CondaStore.channels={local_channel}",
        "--ServerApp.identity_provider_class=tests.authorizers.NamedUserIdentityProvider",
    ).start()
    try:
        yield server
    finally:
        server.stop()


def call(server, user: str, method: str, path: str, body=None) -> tuple[int, dict]:
    token = user if user.startswith("hubadmin-") else f"user-{user}"
    return request(server, method, f"{API}/{path}", body, token=token)


def create(server, user: str, namespace: str, name: str) -> int:
    text = yaml.safe_dump({"name": name, "dependencies": ["alpha"]})
    return call(
        server, user, "POST", "specification/", {"namespace": namespace, "specification": text}
    )[0]


def readable(server, user: str) -> set[str]:
    _, answer = call(server, user, "GET", "environment/")
    return {f"{e['namespace']['name']}/{e['name']}" for e in answer["data"]}


def test_sharing_a_namespace_gives_its_role_and_taking_it_back_removes_it(server):
    assert create(server, "alice", "alice", "analysis") == 200
    assert call(server, "bob", "GET", "environment/alice/analysis/")[0] == 404
    assert create(server, "bob", "alice", "intruder") == 403
    assert "alice/analysis" not in readable(server, "bob")

    # alice shares her namespace with bob's, as viewer.
    share = {"other_namespace": "bob", "role": "viewer"}
    assert call(server, "alice", "POST", "namespace/alice/role", share)[0] == 200
    status, roles = call(server, "alice", "GET", "namespace/alice/roles")
    assert status == 200
    assert [(r["namespace"], r["other_namespace"], r["role"]) for r in roles["data"]] == [
        ("alice", "bob", "viewer")
    ]
    status, role = call(server, "alice", "GET", "namespace/alice/role?other_namespace=bob")
    assert (status, role["data"]["role"]) == (200, "viewer")
    assert call(server, "bob", "GET", "environment/alice/analysis/")[0] == 200
    assert "alice/analysis" in readable(server, "bob")
    assert create(server, "bob", "alice", "intruder") == 403  # a viewer does not write
    permissions = call(server, "bob", "GET", "permission/")[1]["data"]
    assert permissions["entity_roles"]["alice/*"] == ["viewer"]
    # Nobody else gains anything, and bob cannot share alice's namespace further.
    assert call(server, "carol", "GET", "environment/alice/analysis/")[0] == 404
    onward = {**share, "other_namespace": "carol"}
    assert call(server, "bob", "POST", "namespace/alice/role", onward)[0] == 403

    # As editor (conda-store's "developer" is the same role), bob writes there.
    editor = {"other_namespace": "bob", "role": "developer"}
    assert call(server, "alice", "PUT", "namespace/alice/role", editor)[0] == 200
    assert call(server, "alice", "GET", "namespace/alice/roles")[1]["data"][0]["role"] == "editor"
    assert create(server, "bob", "alice", "together") == 200

    # Taken back: bob sees nothing of alice's again.
    unshare = {"other_namespace": "bob"}
    assert call(server, "alice", "DELETE", "namespace/alice/role", unshare)[0] == 200
    assert call(server, "bob", "GET", "environment/alice/analysis/")[0] == 404
    assert call(server, "alice", "GET", "namespace/alice/roles")[1]["data"] == []


def test_bad_requests_are_refused_and_change_nothing(server):
    assert create(server, "alice", "alice", "analysis") == 200
    share = {"other_namespace": "bob", "role": "viewer"}
    assert call(server, "alice", "POST", "namespace/alice/role", share)[0] == 200
    cases = [
        ("POST", "namespace/alice/role", share, 409),  # already shared: PUT changes it
        ("POST", "namespace/alice/role", {"other_namespace": "carol", "role": "owner"}, 400),
        ("POST", "namespace/alice/role", {"other_namespace": "../x", "role": "viewer"}, 400),
        ("POST", "namespace/alice/role", {"other_namespace": "carol"}, 400),  # no role
        ("POST", "namespace/alice/role", {**share, "extra": 1}, 400),
        ("PUT", "namespace/alice/role", {"other_namespace": "carol", "role": "viewer"}, 404),
        ("DELETE", "namespace/alice/role", {"other_namespace": "carol"}, 404),
        ("GET", "namespace/alice/role", None, 400),  # no other_namespace
        ("GET", "namespace/nowhere/roles", None, 404),
        ("GET", "namespace/bob/roles", None, 404),  # alice cannot read bob's: as if absent
    ]
    for method, path, body, expected in cases:
        status, answer = call(server, "alice", method, path, body)
        assert status == expected, (method, path, body, answer)
        assert answer["status"] == "error" and answer["message"]
    roles = call(server, "alice", "GET", "namespace/alice/roles")[1]["data"]
    assert [(r["other_namespace"], r["role"]) for r in roles] == [("bob", "viewer")]
    # Deleting every mapping at once.
    assert call(server, "alice", "DELETE", "namespace/alice/roles")[0] == 200
    assert call(server, "alice", "GET", "namespace/alice/roles")[1]["data"] == []


def test_groups_share_their_namespace_and_hub_admins_administer_all(server):
    # alice and bob are in the hub group `team`: editors of `team/*` by the default bindings.
    assert create(server, "alice+team", "team", "shared") == 200
    assert create(server, "bob+team", "team", "other") == 200
    assert {"team/shared", "team/other"} <= readable(server, "bob+team")
    # carol is not in `team`; a user *named* `team` gets that namespace as their own, but a
    # group's name is literal text: a group named `*` gives nothing beyond the namespace `*`.
    assert create(server, "carol", "team", "intruder") == 403
    assert create(server, "carol+*", "team", "intruder") == 403
    assert "team/shared" not in readable(server, "carol+*")
    # Editors do not administer: deleting the group's environment needs admin.
    assert call(server, "bob+team", "DELETE", "environment/team/shared/")[0] == 403
    # A hub admin administers every namespace.
    status, answer = call(server, "hubadmin-dana", "DELETE", "environment/team/shared/")
    assert status == 200, answer["message"]
    # A namespace shared with a group reaches its members.
    assert create(server, "erin", "erin", "notes") == 200
    share = {"other_namespace": "team", "role": "viewer"}
    assert call(server, "erin", "POST", "namespace/erin/role", share)[0] == 200
    assert "erin/notes" in readable(server, "alice+team")
    assert "erin/notes" not in readable(server, "carol")
