"""build.kernel_requested_on: a kernel of this very build was asked for (a notebook recorded on
it runs there again); the registry keeps one for it while the build has its prefix.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.add_column(
            sa.Column("kernel_requested_on", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.drop_column("kernel_requested_on")
