"""Alembic environment, configured by `conda_store_jupyter.db.engine.alembic_config`: migrations
run on the connection it passes (inside the caller's locked transaction), or on a fresh engine
for the `sqlalchemy.url` option when authoring revisions."""

from alembic import context

from conda_store_jupyter.db.engine import create_engine_for
from conda_store_jupyter.db.models import Base


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table instead.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = create_engine_for(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as fresh_connection:
            run_migrations(fresh_connection)
    finally:
        engine.dispose()
