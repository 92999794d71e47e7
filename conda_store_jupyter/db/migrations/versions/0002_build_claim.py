"""build.claim: the token of the claim a BUILDING build runs under (fencing of taken-over builds).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A build BUILDING when this runs has no claim: no process can still hold it after the
    # upgrade (the server that ran it stopped), and recovery fails it by its NULL claim.
    with op.batch_alter_table("build") as batch:
        batch.add_column(sa.Column("claim", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("build") as batch:
        batch.drop_column("claim")
