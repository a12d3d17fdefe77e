"""The scope locks table, as ``store/locks.py`` defines it.

A store made before migrations existed (``create_all``) already has it: it is adopted as is.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("locks"):
        return
    op.create_table(
        "locks",
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.String(40), nullable=False),
        sa.Column("command", sa.String(500), nullable=False),
        sa.Column("token", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_locks")),
    )


def downgrade() -> None:
    op.drop_table("locks")
