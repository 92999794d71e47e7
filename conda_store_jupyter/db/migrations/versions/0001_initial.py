"""Initial schema: namespace, specification, environment, build, build_artifact, build_package.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Migrations spell their types out instead of importing the models, which will move on.
Timestamp = sa.DateTime(timezone=True)
LIVE = sa.text("deleted_on IS NULL")


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"

    op.create_table(
        "namespace",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("metadata_", sa.JSON(), nullable=False),
        sa.Column("created_on", Timestamp, nullable=False),
        sa.Column("deleted_on", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_namespace"),
    )
    op.create_index(
        "uq_namespace_name_live",
        "namespace",
        ["name"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )

    op.create_table(
        "specification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("is_lockfile", sa.Boolean(), nullable=False),
        sa.Column("created_on", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_specification"),
        sa.UniqueConstraint("sha256", name="uq_specification_sha256"),
    )

    # environment.current_build_id -> build and build.environment_id -> environment form a cycle.
    # SQLite accepts a reference to a table that does not exist yet (and cannot add a foreign key
    # later); PostgreSQL gets that foreign key once build exists.
    current_build_fk = sa.ForeignKeyConstraint(
        ["current_build_id"],
        ["build.id"],
        name="fk_environment_current_build_id_build",
        ondelete="SET NULL",
    )
    op.create_table(
        "environment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("current_build_id", sa.Integer(), nullable=True),
        sa.Column("created_on", Timestamp, nullable=False),
        sa.Column("updated_on", Timestamp, nullable=False),
        sa.Column("deleted_on", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_environment"),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespace.id"], name="fk_environment_namespace_id_namespace"
        ),
        *([current_build_fk] if sqlite else []),
    )
    op.create_index(
        "uq_environment_namespace_id_name_live",
        "environment",
        ["namespace_id", "name"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )

    op.create_table(
        "build",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("specification_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_info", sa.Text(), nullable=True),
        sa.Column("scheduled_on", Timestamp, nullable=False),
        sa.Column("started_on", Timestamp, nullable=True),
        sa.Column("ended_on", Timestamp, nullable=True),
        sa.Column("heartbeat_on", Timestamp, nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("build_dir", sa.Text(), nullable=True),
        sa.Column("deleted_on", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_build"),
        sa.ForeignKeyConstraint(
            ["environment_id"], ["environment.id"], name="fk_build_environment_id_environment"
        ),
        sa.ForeignKeyConstraint(
            ["specification_id"],
            ["specification.id"],
            name="fk_build_specification_id_specification",
        ),
    )
    op.create_index("ix_build_environment_id", "build", ["environment_id"])
    op.create_index("ix_build_status_scheduled_on", "build", ["status", "scheduled_on"])

    if not sqlite:
        op.create_foreign_key(
            current_build_fk.name,
            "environment",
            "build",
            ["current_build_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "build_artifact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("artifact_type", sa.String(32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_on", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_build_artifact"),
        sa.ForeignKeyConstraint(
            ["build_id"], ["build.id"], name="fk_build_artifact_build_id_build", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_build_artifact_build_id", "build_artifact", ["build_id"])

    op.create_table(
        "build_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("build", sa.String(255), nullable=False),
        sa.Column("build_number", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("subdir", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("md5", sa.String(32), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("manager", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_build_package"),
        sa.ForeignKeyConstraint(
            ["build_id"], ["build.id"], name="fk_build_package_build_id_build", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_build_package_build_id", "build_package", ["build_id"])
    op.create_index("ix_build_package_name", "build_package", ["name"])


def downgrade() -> None:
    op.drop_table("build_package")
    op.drop_table("build_artifact")
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint("fk_environment_current_build_id_build", "environment", "foreignkey")
    op.drop_table("build")
    op.drop_table("environment")
    op.drop_table("specification")
    op.drop_table("namespace")
