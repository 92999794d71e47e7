"""Engines, sessions and schema migrations for the two supported backends: SQLite (the embedded
default) and PostgreSQL (shared deployments)."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from ..errors import CondaStoreError

if TYPE_CHECKING:  # imported where used: build processes never migrate
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _parse_url(url: str | URL) -> URL:
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship with; plain postgresql:// would mean psycopg2.
        return parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise CondaStoreError(
            f"unsupported database URL {parsed!r}: use sqlite:///path or postgresql://..."
        )
    return parsed


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once (the mode persists in the file). SQLite answers "database is
    locked" to this pragma without waiting on busy_timeout while another process starts up on a
    fresh file, so wait here."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so the journal-mode switch below also waits for other processes.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer (API reads while a build reports progress).
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def create_engine_for(url: str | URL) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, configured for several processes sharing it."""
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed)
    sa.event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration of the packaged migrations (no alembic.ini). With a connection, the
    migrations run on it; env.py otherwise uses the `sqlalchemy.url` option, e.g. to author a
    revision: `cfg = alembic_config(); cfg.set_main_option("sqlalchemy.url", url);
    alembic.command.revision(cfg, "message", autogenerate=True)`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def _lock_for_migration(connection: Connection) -> None:
    """Begin the transaction the migrations run in, holding a lock that makes a second process
    wait until the first one has committed (it then finds the schema at head: a no-op)."""
    if connection.dialect.name == "sqlite":
        # The write lock of the whole database file; SQLite's DDL is transactional.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # A transaction-scoped advisory lock, keyed by schema so deployments (or tests) living in
    # different schemas of one database don't wait for each other.
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    digest = hashlib.sha256(f"conda-store-jupyter migrations {schema}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _upgrade(engine: Engine) -> None:
    with engine.connect() as connection:
        _lock_for_migration(connection)
        from alembic import command

        command.upgrade(alembic_config(connection), "head")
        connection.commit()


def upgrade_database(engine_or_url: Engine | str | URL) -> None:
    """Apply every pending migration (Alembic `upgrade head`). Safe to call from several
    processes at once against the same database."""
    if isinstance(engine_or_url, Engine):
        _upgrade(engine_or_url)
        return
    engine = create_engine_for(engine_or_url)
    try:
        _upgrade(engine)
    finally:
        engine.dispose()


def open_database(url: str | URL) -> tuple[Engine, sessionmaker[Session]]:
    """Engine + migrated schema + session factory. Objects stay usable after commit."""
    engine = create_engine_for(url)
    upgrade_database(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
