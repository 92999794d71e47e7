"""`CondaStoreApp`: the Jupyter Server extension, and `jupyter conda-store` (standalone mode)."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from typing import ClassVar

from jupyter_server.extension.application import ExtensionApp
from sqlalchemy.exc import SQLAlchemyError
from traitlets import TraitError, Type, default

from . import __version__, metrics
from .auth import PERSONAL_BINDINGS, SHARED_BINDINGS
from .client_discovery import ServerAddress, find_server
from .config import CondaStore
from .db import open_database
from .errors import CondaStoreError, SpecError
from .executor import BuildExecutor, Executor, executor_class_for
from .handlers import API_PREFIX, PAGES, ROUTES
from .handlers.kernels import RemoteKernelListHandler
from .handlers.remote import RemoteStoreHandler, remote_client
from .handlers.status import UnavailableHandler
from .hub import hub_service_server_config, running_as_hub_service
from .kernels import KernelRegistry
from .metrics import StoreCollector
from .remote_kernels import RemoteKernelSpecManager, RemoteKernelWatch
from .service import CondaStoreService, build_settings
from .service.watched import WatchedSpecifications
from .spec import validate_name
from .standalone import StandaloneAuthorizer, StandaloneIdentityProvider
from .watch import SpecWatch


class CondaStoreApp(ExtensionApp):
    name = "conda_store_jupyter"
    description = "Manage conda environments the conda-store way, inside Jupyter."
    version = __version__

    # `jupyter conda-store` is a service: only this extension, no browser, land on the API.
    load_other_extensions = False
    extension_url = "/conda-store/"  # the page for a browser (handlers/home.py)
    classes = [CondaStore, BuildExecutor, KernelRegistry]

    executor_class = Type(
        default_value=None,
        allow_none=True,
        klass=Executor,
        help="A custom executor: a subclass of conda_store_jupyter.executor.Executor. By "
        "default CondaStore.executor picks one: local (BuildExecutor, builds in child "
        "processes of the server) or celery (CeleryExecutor, builds on Celery workers).",
    ).tag(config=True)

    @default("open_browser")
    def _default_open_browser(self) -> bool:
        return False

    @default("config_file_name")
    def _default_config_file_name(self) -> str:
        return "jupyter_conda_store_config"

    # What `jupyter conda-store` gives Jupyter Server unless its configuration (a config file or
    # the command line) sets them: the service serves this extension's API only, and the holder
    # of the server's token is the store's administrator (see standalone.py).
    standalone_server_defaults: ClassVar[dict[str, type]] = {
        "authorizer_class": StandaloneAuthorizer,
        "identity_provider_class": StandaloneIdentityProvider,
    }

    def _jupyter_server_config(self) -> dict:
        """ServerApp settings applied when this app is the one started (`jupyter conda-store`),
        after every config file and the command line: so only those they do not set."""
        config = super()._jupyter_server_config()
        configured = self.serverapp.config.get("ServerApp", {})
        defaults: dict = dict(self.standalone_server_defaults)
        if running_as_hub_service():
            defaults.update(hub_service_server_config())
        for trait, value in defaults.items():
            # A custom login handler (Jupyter Server's older way) keeps its own identity provider.
            overridden = {trait} | (
                {"login_handler_class"} if trait == "identity_provider_class" else set()
            )
            if not overridden & set(configured):
                config["ServerApp"][trait] = value
        return config

    def _link_jupyter_server_extension(self, serverapp) -> None:
        super()._link_jupyter_server_extension(serverapp)
        # Remote mode's kernels (remote_kernels.py) come from a kernel spec manager of ours:
        # chosen here, before the server makes its managers, unless configured otherwise.
        configured = "kernel_spec_manager_class" in serverapp.config.get("ServerApp", {})
        if not configured and CondaStore(parent=self).remote_url:
            serverapp.kernel_spec_manager_class = RemoteKernelSpecManager

    # Set when the configuration or the database stops the extension from starting: under
    # JupyterLab the API then answers every request with it (the panel shows it), and
    # `jupyter conda-store` exits non-zero.
    startup_error: str | None = None

    def initialize_settings(self) -> None:
        try:
            self._initialize_store()
        except (TraitError, ValueError, CondaStoreError, SQLAlchemyError, OSError) as error:
            message = getattr(error, "message", None) or str(error)
            self.startup_error = f"conda-store-jupyter could not start: {message}"
            self.settings["conda_store_startup_error"] = self.startup_error
            self.log.error(self.startup_error)
            if isinstance(self.serverapp.starter_app, CondaStoreApp):
                sys.exit(1)  # a service with a bad configuration must not look healthy

    remote: ServerAddress | None = None

    def _initialize_store(self) -> None:
        self.conda_store = CondaStore(parent=self)
        if self.conda_store.remote_url and not isinstance(
            self.serverapp.starter_app, CondaStoreApp
        ):
            self._initialize_remote()
            return
        problem = self.conda_store.deployment_problem()
        if problem:
            raise CondaStoreError(problem)
        # Migrations run here, before the server answers anything.
        self.engine, sessions = open_database(self.conda_store.database_url)
        executor_class = self.executor_class or executor_class_for(self.conda_store.executor)
        self.executor = executor_class(
            parent=self,
            sessions=sessions,
            settings=build_settings(self.conda_store),
            conda_store=self.conda_store,
        )
        self.kernels = KernelRegistry(
            parent=self,
            sessions=sessions,
            store_dir=self.conda_store.store_dir,
            # Kernels run in the hub users' own servers: their specs go in the shared store.
            shared_store=running_as_hub_service() or self.conda_store.executor == "celery",
        )
        self.executor.on_build_end = self.kernels.wake
        # Before the server answers anything: no client may see a dead build as BUILDING.
        self.executor.recover()
        self.service = CondaStoreService(self.conda_store, sessions, self._store_changed)
        self.service.ensure_namespace(self.conda_store.default_namespace)
        self.settings["conda_store"] = self.conda_store
        self.settings["conda_store_service"] = self.service
        self.settings["conda_store_kernels"] = self.kernels
        # `jupyter conda-store` serves many users; inside JupyterLab the server's user owns all.
        shared = isinstance(self.serverapp.starter_app, CondaStoreApp)
        self.settings["conda_store_role_bindings"] = self.conda_store.role_bindings or (
            SHARED_BINDINGS if shared else PERSONAL_BINDINGS
        )
        self.settings["conda_store_primary_namespace"] = (
            self._primary_namespace
            if shared
            else lambda _username: self.conda_store.default_namespace
        )
        if shared:
            self._log_access()
        self.log.info(
            "conda-store-jupyter %s: store %s, channels %s, builds run %s",
            __version__,
            self.conda_store.store_dir,
            ", ".join(self.conda_store.channels),
            "on Celery workers"
            if self.conda_store.executor == "celery"
            else "in this server's child processes",
        )

    def _initialize_remote(self) -> None:
        """Remote mode (handlers/remote.py): no database, executor or kernels here."""
        # The configured URL is trusted by configuration, so the server's own credentials go
        # there (the user's hub token, in a JupyterHub user's server).
        token = (
            self.conda_store.remote_token
            or os.environ.get("CONDA_STORE_TOKEN")
            or os.environ.get("JUPYTERHUB_API_TOKEN")
            or None
        )
        self.remote = find_server(self.conda_store.remote_url, token)
        self.settings["conda_store"] = self.conda_store
        self.settings["conda_store_remote"] = self.remote
        self.settings["conda_store_remote_client"] = remote_client()
        self.log.info(
            "conda-store-jupyter %s: remote mode, the API is forwarded to %s (%s)",
            __version__,
            self.remote.url,
            "with a credential" if self.remote.token else "without a credential",
        )

    def _log_access(self) -> None:
        """Say who administers the standalone service and what it serves."""
        identity = self.serverapp.identity_provider
        if isinstance(identity, StandaloneIdentityProvider):
            holder = (
                "anyone who connects (authentication is disabled)"
                if not identity.auth_enabled
                else "the holder of the server's token"
            )
            log = self.log.warning if not identity.auth_enabled else self.log.info
            log(
                "conda-store-jupyter: %s is the store's administrator, %r",
                holder,
                identity.admin_username,
            )
        if isinstance(self.serverapp.authorizer, StandaloneAuthorizer):
            self.log.info(
                "conda-store-jupyter: serving the conda-store API only; Jupyter Server's "
                "kernels, terminals, contents and other routes answer 403"
            )

    def _primary_namespace(self, username: str) -> str:
        try:
            return validate_name("namespace", username)
        except SpecError:
            return self.conda_store.default_namespace

    def initialize_handlers(self) -> None:
        if self.startup_error is not None:
            self.handlers.append((rf"{API_PREFIX}(/.*)?", UnavailableHandler))
            return
        if self.remote is not None:
            # The kernels run here: their builds are described here, the rest is forwarded.
            self.handlers.append((rf"{API_PREFIX}/kernels/?", RemoteKernelListHandler))
            self.handlers.append((rf"{API_PREFIX}(/.*)?", RemoteStoreHandler))
            return
        self.handlers.extend([*PAGES, *ROUTES])

    def _store_changed(self) -> None:
        self.executor.wake()
        self.kernels.wake()

    remote_kernels: RemoteKernelWatch | None = None
    watch: SpecWatch | None = None
    store_metrics: StoreCollector | None = None

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        if self.remote is not None:
            await self._start_remote_kernels(serverapp)
            return
        if self.startup_error is not None:
            return
        if running_as_hub_service():
            # As JupyterHub's single-user extension does: tornado's own XSRF check runs before
            # the user is known, so it would refuse the hub tokens of API calls; Jupyter
            # Server's check, after authentication, still applies to cookie requests.
            serverapp.web_app.settings["xsrf_cookies"] = False
        await self.executor.start()
        await self.kernels.start()
        self.store_metrics = StoreCollector(self.service.sessions, self.service.layout)
        metrics.register(self.store_metrics)
        if self.conda_store.watch_paths:
            self.watch = SpecWatch(
                WatchedSpecifications(
                    self.service,
                    self.service.sessions,
                    paths=list(self.conda_store.watch_paths),
                    namespace=self.conda_store.filesystem_namespace,
                    delete_environments=self.conda_store.watch_deletes_environments,
                    log=self.log,
                ),
                self.service.sessions,
                log=self.log,
            )
            self.watch.start()
        # What is alive now (Jupyter Server, tornado, SQLAlchemy: ~290,000 objects) lives as long
        # as the process: keep it out of the cyclic collector's way, or every full collection
        # walks it all (100-300 ms during which the server answers nothing; see bench/api.py).
        gc.collect()
        gc.freeze()

    async def _start_remote_kernels(self, serverapp) -> None:
        manager = serverapp.kernel_spec_manager
        if not isinstance(manager, RemoteKernelSpecManager):
            self.log.warning(
                "conda-store-jupyter: the central store's environments get no kernels here: "
                "ServerApp.kernel_spec_manager_class is %s, not %s",
                type(manager).__name__,
                RemoteKernelSpecManager.__name__,
            )
            return
        self.remote_kernels = RemoteKernelWatch(
            manager, self.remote, self.settings["conda_store_remote_client"], self.log
        )
        await self.remote_kernels.start()

    async def stop_extension(self) -> None:
        if self.remote is not None:
            if self.remote_kernels is not None:
                await self.remote_kernels.stop()
            await self.settings["conda_store_remote_client"].aclose()
            return
        if self.startup_error is not None:
            return
        if self.store_metrics is not None:
            metrics.unregister(self.store_metrics)
        if self.watch is not None:
            await asyncio.to_thread(self.watch.stop)
        await self.kernels.stop()
        await self.executor.stop()
        self.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Start the service: a Jupyter Server running only this extension. (`jupyter conda-store`
    is `cli.run`, which sends the client commands to the CLI and anything else here.)"""
    CondaStoreApp.launch_instance(argv if argv is not None else sys.argv[1:])
