"""`CondaStore`: the service configuration shared by the server extension, the CLI and workers.

Every tunable of the store lives here as a traitlet, so `c.CondaStore.channels = [...]` works the
same in `jupyter_server_config.py`, on the command line and in `jupyter conda-store`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from traitlets import List, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

# Namespace names become directory names and URL segments: keep them boring.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class CondaStore(LoggingConfigurable):
    """Where the store lives and which channels and policies apply to every environment."""

    store_dir = Unicode(
        help="Directory holding build prefixes, artifacts and the shared package cache.",
    ).tag(config=True)

    database_url = Unicode(
        help="SQLAlchemy URL of the store's database (default: a SQLite file in store_dir). "
        "Shared deployments use PostgreSQL, e.g. postgresql+psycopg://user@host/db.",
    ).tag(config=True)

    channels = List(
        Unicode(),
        default_value=["conda-forge"],
        help="Channels used when a specification names none (names or URLs, e.g. file:///...).",
    ).tag(config=True)

    allowed_channels = List(
        Unicode(),
        default_value=[],
        help="Channels a specification may use. Empty means any channel is allowed.",
    ).tag(config=True)

    default_namespace = Unicode(
        "default",
        help="Namespace used when a request names none.",
    ).tag(config=True)

    @default("store_dir")
    def _default_store_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "conda-store")

    @default("database_url")
    def _default_database_url(self) -> str:
        return f"sqlite:///{Path(self.store_dir, 'conda-store.sqlite')}"

    @validate("store_dir")
    def _validate_store_dir(self, proposal: dict) -> str:
        return os.path.abspath(os.path.expanduser(proposal["value"]))

    @validate("default_namespace")
    def _validate_default_namespace(self, proposal: dict) -> str:
        if not NAME_PATTERN.match(proposal["value"]):
            raise TraitError(
                f"CondaStore.default_namespace {proposal['value']!r} is not a valid namespace name "
                "(letters, digits, '.', '_' and '-', starting with a letter or digit)"
            )
        return proposal["value"]
