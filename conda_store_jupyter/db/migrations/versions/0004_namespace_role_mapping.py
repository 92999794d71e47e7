"""namespace_role_mapping: namespaces shared with other namespaces (conda-store's v2 mappings).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespace_role_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("other_namespace", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_on", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespace.id"],
            name="fk_namespace_role_mapping_namespace_id_namespace",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_namespace_role_mapping"),
        sa.UniqueConstraint(
            "namespace_id",
            "other_namespace",
            name="uq_namespace_role_mapping_namespace_id_other_namespace",
        ),
    )
    op.create_index(
        "ix_namespace_role_mapping_namespace_id", "namespace_role_mapping", ["namespace_id"]
    )
    op.create_index(
        "ix_namespace_role_mapping_other_namespace", "namespace_role_mapping", ["other_namespace"]
    )


def downgrade() -> None:
    op.drop_table("namespace_role_mapping")
