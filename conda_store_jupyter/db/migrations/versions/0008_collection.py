"""Garbage collection: build.collected_on (its prefix and large artifacts were removed; its log,
lock file and specification stay), build.becomes_current (a restore does not move the
environment unless it was asked by a rollback), and gc_run (what each collection did).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)  # spelled out, as in every migration


def upgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.add_column(sa.Column("collected_on", Timestamp, nullable=True))
        batch.add_column(
            sa.Column("becomes_current", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "gc_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_on", Timestamp, nullable=False),
        sa.Column("ended_on", Timestamp, nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("builds", sa.Integer(), nullable=False),
        sa.Column("packages", sa.Integer(), nullable=False),
        sa.Column("freed_bytes", sa.BigInteger(), nullable=False),
        sa.Column("store_bytes", sa.BigInteger(), nullable=True),
        sa.Column("package_cache_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gc_run")),
    )


def downgrade() -> None:
    op.drop_table("gc_run")
    with op.batch_alter_table("build") as batch:
        batch.drop_column("becomes_current")
        batch.drop_column("collected_on")
