"""Leases and liveness: a lock records when its lease ends (``expires_at``, renewed while its apply runs), the
holder's process start time and its run; a run records its process (``pid``, ``process_started``). A lock whose
lease ran out, or whose holder on this host is gone, is free; an apply whose holder is gone is marked
interrupted by the next command that opens the store.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("process_started", sa.String(64), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.String(40), nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("process_started", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("process_started")
        batch.drop_column("pid")
    with op.batch_alter_table("locks") as batch:
        batch.drop_column("run_id")
        batch.drop_column("expires_at")
        batch.drop_column("process_started")
