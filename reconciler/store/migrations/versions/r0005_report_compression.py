"""Compressed reports: ``reports.compressed`` holds a plan's or drift's JSON document zlib-compressed (a
1,000-tenant plan is 35 MB of JSON and 2.7 MB compressed); ``document`` stays for the rows written before,
and is empty in the rows written since.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("compressed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # The older schema reads ``document`` only: put the compressed documents back there first.
    reports = sa.table(
        "reports",
        sa.column("run_id", sa.String),
        sa.column("document", sa.Text),
        sa.column("compressed", sa.LargeBinary),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(reports.c.run_id, reports.c.compressed).where(reports.c.compressed.is_not(None)))
    for run_id, compressed in rows.all():
        text = zlib.decompress(compressed).decode("utf-8")
        conn.execute(sa.update(reports).where(reports.c.run_id == run_id).values(document=text))
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("compressed")
