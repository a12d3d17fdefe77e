"""The procedure journal: ``procedures`` records each multi-step host procedure (a BIOS rollout's
maintenance, staging, restart, confirmation) ahead of every step, so a run killed half way is finished or
unwound by the next.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("procedure", sa.String(64), nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("host", sa.String(500), nullable=False),
        sa.Column("rollout_group", sa.String(500), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("ours", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(2000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
    )
    op.create_index("ix_procedures_outcome", "procedures", ["outcome"])


def downgrade() -> None:
    op.drop_index("ix_procedures_outcome", table_name="procedures")
    op.drop_table("procedures")
