"""`jupyter conda-store` as a JupyterHub service: the hub's OAuth for identity, this extension's
API only.

When the hub starts the service (`command`), or an external one is given the service's
environment (`JUPYTERHUB_SERVICE_NAME`, `JUPYTERHUB_API_TOKEN`, `JUPYTERHUB_API_URL`,
`JUPYTERHUB_SERVICE_URL`, `JUPYTERHUB_SERVICE_PREFIX`...), `CondaStoreApp` serves at the
service's URL and prefix with these two classes (hubauth.py) instead of the standalone ones:

- `HubServiceIdentityProvider`: JupyterHub's own identity provider (users' hub tokens in
  `Authorization: token ...`, and the service's OAuth cookie in browsers, with XSRF), plus the
  tokens minted with `POST token/`. Hub users carry their groups and admin flag (`hub_user`),
  which auth.caller_for turns into `{group}` bindings and admin rights.
- `HubServiceAuthorizer`: the routes `StandaloneAuthorizer.serves` allows (this extension's API,
  the status route) for the users JupyterHub lets reach the service (its access scopes); every
  other route of Jupyter Server (kernels, terminals, contents...) is 403 for everyone.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

SERVICE_VARIABLES = ("JUPYTERHUB_SERVICE_NAME", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL")


def running_as_hub_service() -> bool:
    """Whether this process was started as (or configured like) a JupyterHub service."""
    return all(os.environ.get(name) for name in SERVICE_VARIABLES)


def hub_service_server_config() -> dict:
    """ServerApp settings of a hub service: where to listen and under which prefix, from the
    service's environment (the hub chose them), and the identity provider and authorizer."""
    from .hubauth import HubServiceAuthorizer, HubServiceIdentityProvider  # needs jupyterhub

    config: dict = {
        "identity_provider_class": HubServiceIdentityProvider,
        "authorizer_class": HubServiceAuthorizer,
    }
    url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if url:
        parsed = urlparse(url)
        config["ip"] = parsed.hostname or "127.0.0.1"
        if parsed.port:
            config["port"] = parsed.port
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        config["base_url"] = prefix
    return config
