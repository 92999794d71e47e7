"""POST token/: tokens for scripts and CI, on a real `jupyter conda-store` with named users
(tests.authorizers.NamedUserIdentityProvider) and the shared default bindings."""

from __future__ import annotations

import datetime
import time

from .test_namespace_roles import call, create, readable, server  # noqa: F401 -- the fixture
from .test_standalone_surface import API, request


def mint(server, user: str, **body) -> tuple[int, dict]:  # noqa: F811
    return call(server, user, "POST", "token/", body)


def with_token(server, token: str, method: str, path: str, body=None, scheme="token"):  # noqa: F811
    headers = {"Authorization": f"{scheme} {token}"}
    return request(server, method, f"{API}/{path}", body, token="", headers=headers)


def test_a_viewer_token_reads_and_cannot_write(server):  # noqa: F811
    assert create(server, "alice", "alice", "analysis") == 200
    status, answer = mint(server, "alice", role_bindings={"alice/*": ["viewer"]})
    assert status == 200, answer
    token = answer["data"]["token"]
    assert token.startswith("csj_")
    for scheme in ("token", "Bearer"):
        status, environment = with_token(
            server, token, "GET", "environment/alice/analysis/", scheme=scheme
        )
        assert (status, environment["data"]["name"]) == (200, "analysis")
    text = "name: more\ndependencies: [alpha]\n"
    status, answer = with_token(
        server, token, "POST", "specification/", {"namespace": "alice", "specification": text}
    )
    assert status == 403, answer
    assert with_token(server, token, "DELETE", "environment/alice/analysis/")[0] == 403
    status, permission = with_token(server, token, "GET", "permission/")
    assert permission["data"]["username"] == "alice"
    assert permission["data"]["entity_roles"] == {"alice/*": ["viewer"]}
    assert permission["data"]["expiration"] is not None
    # Nothing else: not even default/*, which alice herself reads.
    assert with_token(server, token, "GET", "environment/")[1]["data"][0]["name"] == "analysis"


def test_a_token_carries_no_more_than_its_minter_and_expires(server):  # noqa: F811
    assert create(server, "alice", "alice", "analysis") == 200
    refused = [
        {"role_bindings": {"bob/*": ["viewer"]}},  # not hers
        {"role_bindings": {"default/*": ["editor"]}},  # she only views default
        {"role_bindings": {"*/*": ["viewer"]}},
        {"role_bindings": {"ali*/*": ["viewer"]}},  # wider than alice/*
        {"role_bindings": {"alice/*": ["owner"]}},
        {"role_bindings": {"alice": ["viewer"]}},
        {"role_bindings": ["alice/*"]},
        {"expiration": "2000-01-01T00:00:00Z"},
        {"expiration": "2999-01-01T00:00:00Z"},  # beyond token_max_lifetime
        {"expiration": "tomorrow"},
        {"primary_namespace": "../x"},
        {"unknown": 1},
    ]
    for body in refused:
        status, answer = mint(server, "alice", **body)
        assert status == 400, (body, answer)
        assert answer["message"]
    # With no bindings asked for, the token holds what alice holds.
    status, answer = mint(server, "alice")
    assert status == 200
    token = answer["data"]["token"]
    assert readable(server, "alice") == {
        f"{e['namespace']['name']}/{e['name']}"
        for e in with_token(server, token, "GET", "environment/")[1]["data"]
    }
    # A token minted with a token is no wider, and lives no longer.
    status, answer = with_token(
        server, token, "POST", "token/", {"role_bindings": {"alice/*": ["viewer"]}}
    )
    assert status == 200
    narrow = answer["data"]["token"]
    assert (
        with_token(server, narrow, "POST", "token/", {"role_bindings": {"alice/*": ["admin"]}})[0]
        == 400
    )
    # A short-lived token stops working when it expires.
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    status, answer = mint(server, "alice", expiration=soon.isoformat())
    assert status == 200
    short = answer["data"]["token"]
    assert with_token(server, short, "GET", "environment/alice/analysis/")[0] == 200
    time.sleep(1.5)
    assert with_token(server, short, "GET", "environment/alice/analysis/")[0] == 403
    # An unknown token is nobody.
    assert with_token(server, "csj_" + "x" * 43, "GET", "environment/")[0] == 403
