"""The ownership ledger: ``ownership`` records, per live object that cannot carry tags (Azure Site Recovery's
policies, mappings and protected items), that the tool created it and with which prune/protect lifecycle.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "ownership",
        sa.Column("object_id", sa.String(1000), nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("prune", sa.Boolean(), nullable=False),
        sa.Column("protect", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_ownership")),
    )


def downgrade() -> None:
    op.drop_table("ownership")
