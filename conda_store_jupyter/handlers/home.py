"""GET `conda-store/`: the service's page for a person with a browser.

API routes answer 403 rather than send anyone to a login page, so a browser needs one page that
does: as a JupyterHub service, visiting it runs the hub's OAuth (no second login) and leaves the
service's cookie and its XSRF cookie, with which a page of the service's origin and path calls
the API (writes send the XSRF token back as `X-XSRFToken`). It says who is signed in, with what
roles, and where the API and its description are.
"""

from __future__ import annotations

from html import escape

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .. import __version__
from ..auth import caller_for
from .base import AUTH_RESOURCE

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>conda-store</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:44rem;padding:0 1rem}}
code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body><h1>conda-store</h1>
<p>Signed in as <strong id="username">{username}</strong>. conda-store-jupyter {version}.</p>
<p>Your roles, besides what others shared with you:</p><ul id="roles">{roles}</ul>
<p>The REST API is at <a href="{api}"><code>{api}</code></a>, described in
<a href="{api}openapi.json"><code>openapi.json</code></a>. Environments are managed from the
conda-store panel of your JupyterLab, or with <code>jupyter conda-store</code> in its
terminal.</p></body></html>
"""


class ServiceHomeHandler(ExtensionHandlerMixin, JupyterHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    def get(self) -> None:
        self.xsrf_token  # noqa: B018 - sets the XSRF cookie the API's cookie callers need
        # The configured bindings (the API adds what other namespaces shared with the caller's).
        caller = caller_for(self.current_user, self.settings["conda_store_role_bindings"])
        roles = "".join(
            f"<li><code>{escape(pattern)}</code>: {escape(', '.join(names))}</li>"
            for pattern, names in caller.roles
        )
        api = self.base_url + "conda-store/api/v1/"
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            PAGE.format(
                username=escape(caller.username),
                version=__version__,
                roles=roles,
                api=escape(api),
            )
        )
