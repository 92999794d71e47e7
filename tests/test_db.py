"""The persistence layer on both backends: migrations match the models, concurrent upgrades and
queue claims are safe, soft-deleted names can be reused, timestamps are aware UTC."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from conda_store_jupyter.db import (
    Base,
    Build,
    BuildArtifact,
    BuildArtifactType,
    BuildPackage,
    BuildStatus,
    Environment,
    Namespace,
    PackageManager,
    Specification,
    alembic_config,
    claim_next_build,
    create_engine_for,
    open_database,
    upgrade_database,
    utcnow,
)
from conda_store_jupyter.errors import CondaStoreError

SPAWN = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads


@pytest.fixture
def database(database_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine, session_factory = open_database(database_url)
    try:
        yield engine, session_factory
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(database) -> sessionmaker[Session]:
    return database[1]


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def make_environment(
    session: Session, namespace: str = "default", name: str = "demo"
) -> Environment:
    environment = Environment(namespace=Namespace(name=namespace), name=name)
    session.add(environment)
    return environment


def make_specification(session: Session, sha256: str | None = None) -> Specification:
    specification = Specification(
        name="demo",
        spec={"name": "demo", "channels": ["conda-forge"], "dependencies": ["python"]},
        sha256=sha256 or secrets.token_hex(32),
    )
    session.add(specification)
    return specification


def seed_queue(session_factory: sessionmaker[Session], count: int) -> list[int]:
    """`count` QUEUED builds scheduled one second apart; their ids, oldest first."""
    start = utcnow()
    with session_factory() as session:
        environment = make_environment(session)
        specification = make_specification(session)
        builds = [
            Build(
                environment=environment,
                specification=specification,
                scheduled_on=start + dt.timedelta(seconds=index),
            )
            for index in range(count)
        ]
        session.add_all(builds)
        session.commit()
        return [build.id for build in builds]


# -- migrations ---------------------------------------------------------------------------------


def test_migrations_create_the_models_schema(database_url: str):
    engine = create_engine_for(database_url)
    try:
        assert current_revision(engine) is None
        upgrade_database(engine)
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_schema_comparison_sees_a_difference(database):
    """Guards the test above: a schema missing an index is reported."""
    engine, _ = database
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_build_package_name")
    assert [diff[0] for diff in schema_diff(engine)] == ["add_index"]


def test_upgrade_twice_is_a_no_op(database):
    engine, session_factory = database
    with session_factory() as session:
        session.add(Namespace(name="kept"))
        session.commit()

    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    upgrade_database(engine)

    ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    assert ddl == []
    assert current_revision(engine) == head_revision()
    with session_factory() as session:
        assert session.scalars(sa.select(Namespace.name)).all() == ["kept"]


def test_downgrade_to_base_and_upgrade_again(database):
    engine, _ = database
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade_database(engine)
    assert schema_diff(engine) == []


def _upgrade_after_barrier(url: str, barrier: Any) -> None:
    barrier.wait()
    upgrade_database(url)


def test_concurrent_upgrades_of_a_fresh_database_both_succeed(database_url: str):
    barrier = SPAWN.Barrier(2)
    processes = [
        SPAWN.Process(target=_upgrade_after_barrier, args=(database_url, barrier)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]

    engine = create_engine_for(database_url)
    try:
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


# -- engine -------------------------------------------------------------------------------------


def test_sqlite_engine_settings(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path}/a/b/store.sqlite")
    try:
        with engine.connect() as connection:

            def pragma(name: str) -> Any:
                return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 30_000
            assert pragma("synchronous") == 1  # NORMAL
        assert (tmp_path / "a" / "b" / "store.sqlite").is_file()
    finally:
        engine.dispose()


def test_postgresql_engine_defaults_to_psycopg_and_pre_ping():
    engine = create_engine_for("postgresql://user@db.example/conda_store")
    assert engine.dialect.driver == "psycopg"
    assert engine.pool._pre_ping


def test_unsupported_database_is_refused():
    with pytest.raises(CondaStoreError, match="unsupported database URL"):
        create_engine_for("mysql://user@db.example/conda_store")


# -- models -------------------------------------------------------------------------------------


def test_soft_deleted_names_can_be_reused(session_factory):
    with session_factory() as session:
        first = make_environment(session, "team", "demo")
        session.commit()

        # Live duplicates are refused...
        session.add(Namespace(name="team"))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
        session.rollback()
        session.add(Environment(namespace=first.namespace, name="demo"))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
        session.rollback()

        # ...but once deleted, the names are free again; deleted rows stay.
        first.deleted_on = first.namespace.deleted_on = utcnow()
        session.commit()
        second = make_environment(session, "team", "demo")
        session.commit()
        assert second.namespace_id != first.namespace_id
        session.add(Environment(namespace=first.namespace, name="demo"))  # in the old namespace too
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Environment)) == 3


def test_specification_sha256_is_unique(session_factory):
    with session_factory() as session:
        make_specification(session, "a" * 64)
        session.commit()
        make_specification(session, "a" * 64)
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()


def test_timestamps_are_aware_utc(session_factory):
    scheduled = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with session_factory() as session:
        build = Build(
            environment=make_environment(session),
            specification=make_specification(session),
            scheduled_on=scheduled,
        )
        session.add(build)
        session.commit()
        build_id = build.id

    with session_factory() as session:
        build = session.get(Build, build_id)
        assert build.scheduled_on == scheduled
        assert build.scheduled_on.tzinfo == dt.timezone.utc
        assert build.scheduled_on.hour == 1
        assert build.environment.created_on.tzinfo == dt.timezone.utc

        build.started_on = dt.datetime(2026, 1, 2)
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            session.flush()


def test_build_graph_and_cascades(session_factory):
    with session_factory() as session:
        environment = make_environment(session)
        build = Build(environment=environment, specification=make_specification(session))
        environment.current_build = build  # the environment <-> build cycle, in one flush
        build.artifacts.append(
            BuildArtifact(artifact_type=BuildArtifactType.LOGS, key=".artifacts/1/build.log")
        )
        build.packages.append(
            BuildPackage(name="requests", version="2.32.3", manager=PackageManager.PIP)
        )
        session.commit()
        ids = environment.id, build.id

    with session_factory() as session:
        environment = session.get(Environment, ids[0])
        assert environment.current_build.id == ids[1]
        assert environment.builds == [environment.current_build]
        build = environment.current_build
        assert build.status is BuildStatus.QUEUED
        assert build.size == 0
        assert build.specification.spec["dependencies"] == ["python"]
        assert build.artifacts[0].artifact_type is BuildArtifactType.LOGS
        assert build.packages[0].manager is PackageManager.PIP
        # Enums are stored as their plain string values.
        stored = session.execute(
            sa.text(
                "SELECT b.status, p.manager FROM build b JOIN build_package p ON p.build_id = b.id"
            )
        ).one()
        assert tuple(stored) == ("QUEUED", "pip")

        # The database itself cascades (passive deletes), clearing the current build too.
        session.execute(sa.delete(Build).where(Build.id == build.id))
        session.commit()
        for model in (BuildArtifact, BuildPackage):
            assert session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
        session.expire_all()
        assert session.get(Environment, ids[0]).current_build_id is None


# -- queue --------------------------------------------------------------------------------------


def test_claim_takes_the_oldest_queued_build(session_factory):
    ids = seed_queue(session_factory, 3)
    with session_factory() as session:
        session.execute(
            sa.update(Build).where(Build.id == ids[0]).values(status=BuildStatus.CANCELED)
        )
        session.commit()

    before = utcnow()
    with session_factory() as session:
        build = claim_next_build(session, "host:1")
    assert build.id == ids[1]
    assert build.status is BuildStatus.BUILDING
    assert build.worker == "host:1"
    assert build.started_on == build.heartbeat_on >= before

    with session_factory() as session:
        assert session.get(Build, ids[1]).status is BuildStatus.BUILDING  # committed
        assert claim_next_build(session, "host:1").id == ids[2]
        assert claim_next_build(session, "host:1") is None


def test_every_change_of_a_building_build_names_its_claim(session_factory):
    """Completion, failure, cancel and heartbeat race each other: exactly one wins, and a
    taken-over claim can change nothing."""
    from conda_store_jupyter.db import transitions

    ids = seed_queue(session_factory, 3)
    with session_factory() as session:
        first = claim_next_build(session, "host:1")
        second = claim_next_build(session, "host:2")
        third = claim_next_build(session, "host:3")
    assert len({first.claim, second.claim, third.claim}) == 3 and first.claim

    with session_factory() as session, session.begin():
        # Recovery fails the first under the claim it saw; its process then cannot complete it.
        assert transitions.end(session, ids[0], first.claim, BuildStatus.FAILED, "abandoned")
        assert not transitions.complete(session, ids[0], first.claim, 10)
        assert not transitions.heartbeat(session, ids[0], first.claim)
        assert transitions.holder_state(session, ids[0], first.claim) == "lost"
        # The second completes first; a recovery that saw it BUILDING then changes nothing.
        assert transitions.heartbeat(session, ids[1], second.claim)
        assert transitions.complete(session, ids[1], second.claim, 10)
        assert not transitions.end(session, ids[1], second.claim, BuildStatus.FAILED, "late")
        assert transitions.cancel(session, [ids[1]], "late") == []
        # A user cancels the third: its holder learns it, nobody else can claim to hold it.
        assert transitions.cancel(session, [ids[2]], "by request") == [ids[2]]
        assert transitions.holder_state(session, ids[2], third.claim) == "canceled"
        assert transitions.holder_state(session, ids[2], first.claim) == "lost"
        assert not transitions.complete(session, ids[2], third.claim, 10)
    with session_factory() as session:
        statuses = [session.get(Build, build_id).status for build_id in ids]
        assert statuses == [BuildStatus.FAILED, BuildStatus.COMPLETED, BuildStatus.CANCELED]
        assert session.get(Build, ids[0]).status_info == "abandoned"
        # Completing made it current, in the same transaction.
        environment_id = session.get(Build, ids[1]).environment_id
        assert session.get(Environment, environment_id).current_build_id == ids[1]


def _claim_until_empty(url: str, worker: str, barrier: Any, results: Any) -> None:
    engine = create_engine_for(url)
    session_factory = sessionmaker(engine, expire_on_commit=False)
    claimed = []
    barrier.wait()
    while True:
        with session_factory() as session:
            build = claim_next_build(session, worker)
        if build is None:
            break
        claimed.append(build.id)
    engine.dispose()
    results.put((worker, claimed))


def test_concurrent_claims_take_every_build_exactly_once(database_url: str, session_factory):
    ids = seed_queue(session_factory, 50)
    workers = [f"worker:{index}" for index in range(4)]
    barrier, results = SPAWN.Barrier(len(workers)), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=_claim_until_empty, args=(database_url, worker, barrier, results))
        for worker in workers
    ]
    for process in processes:
        process.start()
    claimed = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0] * len(workers)

    all_claimed = [build_id for built in claimed.values() for build_id in built]
    assert sorted(all_claimed) == ids  # every build, none twice
    with session_factory() as session:
        rows = session.execute(sa.select(Build.id, Build.status, Build.worker)).all()
    owner = {build_id: worker for worker, built in claimed.items() for build_id in built}
    assert {(row.id, row.status, row.worker) for row in rows} == {
        (build_id, BuildStatus.BUILDING, owner[build_id]) for build_id in ids
    }
