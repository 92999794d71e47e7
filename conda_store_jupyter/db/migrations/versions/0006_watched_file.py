"""watched_file: the specification files of CondaStore.watch_paths and what became of each.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_file",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(255), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_on", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_watched_file"),
    )


def downgrade() -> None:
    op.drop_table("watched_file")
