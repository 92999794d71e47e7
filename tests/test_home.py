"""The service's page for a browser (handlers/home.py): signed in, it says who and where the API
is; not signed in, it sends the browser to log in (API routes answer 403 instead)."""

from __future__ import annotations

import pytest
from tornado.httpclient import HTTPClientError


async def test_the_page_names_the_user_and_the_api(jp_fetch, jp_base_url):
    response = await jp_fetch("conda-store", "")
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert 'id="username"' in page and f"{jp_base_url}conda-store/api/v1/" in page
    assert "_xsrf=" in response.headers.get("Set-Cookie", "")


async def test_a_browser_without_a_login_is_sent_to_log_in(jp_fetch):
    with pytest.raises(HTTPClientError) as redirected:
        await jp_fetch("conda-store", "", headers={"Authorization": ""}, follow_redirects=False)
    assert redirected.value.code == 302
    assert "login" in redirected.value.response.headers["Location"]
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("conda-store", "api", "v1", "", headers={"Authorization": ""})
    assert refused.value.code == 403
