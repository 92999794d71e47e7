"""JupyterHub with one central conda store: `jupyter conda-store` as a hub-managed service (the
hub's OAuth for identity; its API at /services/conda-store/conda-store/api/v1/) and a build
worker as a second managed service, on PostgreSQL and Redis.

    createdb conda_store                       # once (PostgreSQL at its local default)
    jupyterhub -f examples/jupyterhub/jupyterhub_config.py

Run it in an empty directory: the hub keeps its database and cookie secret there, and the
store goes to ./conda-store. Users log in on the hub's own login page (DummyAuthenticator: any
password; `carol` is an admin). Settings come from the environment:

    CSJ_CHANNELS        comma-separated channels (default: conda-forge)
    CSJ_DATABASE_URL    default postgresql+psycopg://postgres@127.0.0.1:5432/conda_store
    CSJ_BROKER_URL      default redis://127.0.0.1:6379/0
    CSJ_STORE_DIR       default ./conda-store
    CSJ_SERVICE_URL     where the service listens (default http://127.0.0.1:10202)
    CSJ_QUEUE           the Celery queue (default conda-store)
    CSJ_HUB_URL         the hub's public URL, as users' servers reach it (default
                        http://127.0.0.1:8000)

tests/test_hub.py runs this very file (through a config that loads it and adds its test users).
"""

import os
import shutil
import sys
from pathlib import Path

import jupyterhub

c = get_config()  # noqa: F821 -- defined by JupyterHub when it loads this file

SERVICE = "conda-store"
channels = [ch for ch in os.environ.get("CSJ_CHANNELS", "conda-forge").split(",") if ch]
store_settings = [
    "--CondaStore.executor=celery",
    "--CondaStore.celery_broker_url="
    + os.environ.get("CSJ_BROKER_URL", "redis://127.0.0.1:6379/0"),
    "--CondaStore.database_url="
    + os.environ.get(
        "CSJ_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/conda_store"
    ),
    "--CondaStore.store_dir=" + os.environ.get("CSJ_STORE_DIR", str(Path.cwd() / "conda-store")),
    f"--CondaStore.channels={channels!r}",
    "--CeleryExecutor.queue=" + os.environ.get("CSJ_QUEUE", "conda-store"),
]
# The service should run as an unprivileged user of its own (a hub started by root runs managed
# services as root: in production, start it as an external service under its own account). This
# one-machine example lets it run as root if the hub does.
allow_root = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []
jupyter = shutil.which("jupyter") or str(Path(sys.executable).with_name("jupyter"))

c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"carol"}

c.JupyterHub.services = [
    {
        "name": SERVICE,
        "url": os.environ.get("CSJ_SERVICE_URL", "http://127.0.0.1:10202"),
        # Started by the hub, which passes it its URL, prefix and OAuth client in the
        # environment; it binds at once and then migrates the database.
        "command": [jupyter, "conda-store", *store_settings, *allow_root],
        "oauth_no_confirm": True,
        "display": True,
    },
    {
        # The build worker: no URL, only a process the hub keeps running (on one machine here;
        # on others, run `jupyter conda-store worker` with the same settings).
        "name": f"{SERVICE}-worker",
        "command": [jupyter, "conda-store", "worker", "--hostname=worker@%h", *store_settings],
    },
]

# Every user may reach the service (JupyterHub denies services by default).
ACCESS = f"access:services!service={SERVICE}"
if int(jupyterhub.__version__.split(".")[0]) >= 6:
    c.JupyterHub.extra_user_scopes = {ACCESS}
else:
    c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", ACCESS]}]

# Users' own servers: told where the service is, and given a token that may reach it, so the
# conda-store client and CLI inside them (a terminal, a notebook) act as their user, with no
# login step. Homes under this directory (the spawner's default is /tmp/{username}).
hub_url = os.environ.get("CSJ_HUB_URL", "http://127.0.0.1:8000").rstrip("/")
c.Spawner.environment = {"CONDA_STORE_URL": f"{hub_url}/services/{SERVICE}/conda-store/"}
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", ACCESS]
c.Spawner.oauth_client_allowed_scopes = [ACCESS]
c.SimpleLocalProcessSpawner.home_dir_template = str(Path.cwd() / "home" / "{username}")
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
