"""Stored reports: ``reports`` holds, per plan or drift run, the document it produced (the plan JSON or the
drift JSON, redacted), so that ``reconciler show RUN`` can render it again in any format.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_reports_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_runs_kind"), "runs", ["kind"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_kind"), table_name="runs")
    op.drop_table("reports")
